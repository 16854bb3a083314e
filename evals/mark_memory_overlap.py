"""Mark which paraphrase queries share a name, code or number with their target.

A query *overlaps* its target when it shares with any of its relevant items (case
ignored):

* a capitalised word (a sentence's first word counts unless it is an ordinary word:
  "The", "In", "When", "Work", "Appointment", "Ticket", "A");
* a token containing a digit ("4.1.6", "RE-2507", "3D");
* a code-like token: an inner capital ("iCloud", "XRechnung"), an acronym ("SEPA"), or a
  capitalised word joined by ``-`` / ``.`` / ``+`` ("Next.js", "A-frame"), and each of its
  capitalised or numbered parts.

Lower-case words, however rare, do not count: a query that says "dishwasher" of the
dishwasher's warranty has no lexical anchor keyword search could not also find in a
dozen siblings. The no-overlap slice of ``nova eval memory`` is the queries marked false.

Run ``python -m evals.mark_memory_overlap`` to rewrite the flags, ``--check`` to fail when
a flag is stale.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

DATASETS = Path(__file__).parent / "datasets"
QUERIES = DATASETS / "memory_paraphrase_queries.jsonl"
CORPUS = DATASETS / "memory_corpus.jsonl"

_TOKEN = re.compile(r"\w[\w\-.+@]*[\w+]|\w")
_CODE = re.compile(r"\d|[a-z][A-Z]|[A-Z]{2,}|[A-Z]\w*[-.+]\w")
_PART = re.compile(r"[-.+@']")
ORDINARY_FIRST_WORDS = frozenset({"the", "in", "when", "work", "appointment", "ticket", "a"})


def anchors(text: str) -> set[str]:
    """Return the lower-cased names, codes and numbers of a corpus text."""
    found: set[str] = set()
    for position, token in enumerate(_TOKEN.findall(text)):
        capitalised = token[:1].isupper() and not (
            position == 0 and token.lower() in ORDINARY_FIRST_WORDS
        )
        if capitalised or _CODE.search(token):
            found.add(token.lower())
            found.update(
                part.lower()
                for part in _PART.split(token)
                if len(part) > 1 and (part[:1].isupper() or re.search(r"\d", part))
            )
    return found


def query_tokens(query: str) -> set[str]:
    """Return a query's lower-cased tokens and the parts of its joined ones."""
    words = _TOKEN.findall(query)
    return {w.lower() for w in words} | {p.lower() for w in words for p in _PART.split(w) if p}


def overlaps(query: str, targets: list[str]) -> bool:
    """Whether ``query`` shares a name, code or number with any of ``targets``."""
    asked = query_tokens(query)
    return any(anchors(target) & asked for target in targets)


def main() -> None:
    """Rewrite the ``overlap`` flags of the paraphrase queries (``--check``: only compare)."""
    text_of = {}
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        text_of[item["key"]] = item["text"]
    rows = [json.loads(line) for line in QUERIES.read_text(encoding="utf-8").splitlines()]
    stale = 0
    for row in rows:
        flag = overlaps(row["query"], [text_of[key] for key in row["relevant"]])
        stale += row.get("overlap") != flag
        row["overlap"] = flag
    share = sum(not row["overlap"] for row in rows) / len(rows)
    print(f"{len(rows)} queries, {share:.1%} without overlap; {stale} flags changed")
    if "--check" in sys.argv[1:]:
        sys.exit(1 if stale else 0)
    QUERIES.write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8"
    )


if __name__ == "__main__":
    main()
