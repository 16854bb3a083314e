"""Memory items: what one stored memory is, its content-hash id and its Chroma metadata.

An item's id is a hash of its project and its normalised text, so saving the same fact
twice (differing only in case, spacing, Unicode form or a final full stop) is one item.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, get_args

from nova.projects import MemoryKind
from nova.state import MemoryHit

__all__ = [
    "MEMORY_KINDS",
    "SUPERSEDABLE_KINDS",
    "MemoryItem",
    "MemoryKind",
    "NewMemory",
    "SaveResult",
    "content_words",
    "memory_id",
    "normalise_text",
    "restates",
]

MEMORY_KINDS: tuple[MemoryKind, ...] = get_args(MemoryKind)
SUPERSEDABLE_KINDS: frozenset[MemoryKind] = frozenset({"decision", "preference"})
"""Kinds where a newer, very similar item replaces the older one (see ``memory.store``)."""

_SPACE = re.compile(r"\s+")
_TRAILING = re.compile(r"[\s.!;:,]+$")
MAX_TEXT_CHARS = 8000
"""Longest memory text accepted; documents are chunked well below this on import."""


def normalise_text(text: str) -> str:
    """Return the form of ``text`` that decides identity: NFKC, case-folded, single-spaced."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _TRAILING.sub("", _SPACE.sub(" ", text).strip())


_WORD = re.compile(r"[^\W_][\w-]*")
_VALUE_WORDS = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday "
    "montag dienstag mittwoch donnerstag freitag samstag sonntag "
    "january february march april may june july august september october november december "
    "januar februar märz juni juli oktober dezember".split()
)
"""Words that are values (a day, a month), like numbers: an update may change them."""
_STOPWORDS = frozenset(
    "a an the and or but of to in on at by for with from as is are was were be been being it its "
    "this that these those we our us i my me you your they their them he she his her will would "
    "shall should can could may might must do does did not no now then than so also only just "
    "very per about into over under after before until up out all any each every some such new "
    "der die das den dem des und oder ein eine einen ist sind war mit von zu zum zur im am für "
    "auf nicht ab bis jetzt nur auch".split()
)


def content_words(text: str) -> frozenset[str]:
    """Return the words of ``text`` that carry its subject (case-folded).

    Names, codes (``BRK-1001``) and ordinary words, without numbers, day and month names
    and function words: what stays the same when a statement is updated with new values.
    """
    words = set()
    for match in _WORD.finditer(text):
        word = match.group().casefold()
        if not word.isdigit() and word not in _VALUE_WORDS and word not in _STOPWORDS:
            words.add(word)
    return frozenset(words)


def restates(older: str, newer: str) -> bool:
    """Return whether ``newer`` repeats every content word of ``older`` (it may add some).

    True for "Payment terms are 30 days net" → "Payment terms are now 14 days net"; false
    for "The spring campaign …" → "The summer campaign …" or "Acme gets 5 percent off" →
    "Baker gets 8 percent off", which embed almost identically but are different facts.
    """
    return content_words(older) <= content_words(newer)


def memory_id(project: str, text: str) -> str:
    """Return the content-hash id of ``text`` in ``project`` (16 hex digits)."""
    digest = hashlib.sha256(f"{project}\n{normalise_text(text)}".encode()).hexdigest()
    return digest[:16]


def _timestamp(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


@dataclass(frozen=True, slots=True)
class NewMemory:
    """A memory to save: its text, kind, where it came from and an optional topic key."""

    text: str
    kind: MemoryKind = "fact"
    source: str = "user"
    """Who or what said it: ``user``, ``agent:<name>``, ``seed:<file>``, a file path, …"""
    topic: str | None = None
    """Subject key: a newer item of the same kind and topic supersedes the older one."""

    def __post_init__(self) -> None:
        text = self.text.strip()
        if not text:
            raise ValueError("A memory needs some text; got an empty string")
        if len(text) > MAX_TEXT_CHARS:
            raise ValueError(
                f"A memory holds at most {MAX_TEXT_CHARS} characters (got {len(text)}); "
                "import long documents with `nova memory import`, which chunks them"
            )
        if self.kind not in MEMORY_KINDS:
            raise ValueError(
                f"Unknown memory kind {self.kind!r}; use one of: {', '.join(MEMORY_KINDS)}"
            )
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "topic", (self.topic or "").strip().lower() or None)


@dataclass(frozen=True, slots=True)
class MemoryItem:
    """One stored memory, with its provenance and its place in a supersession chain."""

    id: str
    project: str
    text: str
    kind: MemoryKind
    source: str
    created_at: datetime
    updated_at: datetime
    topic: str | None = None
    supersedes: str | None = None
    """Id of the item this one replaced."""
    superseded_by: str | None = None
    """Id of the newer item that replaced this one; such items are kept but not recalled."""

    @property
    def active(self) -> bool:
        """Whether the item is current (not superseded)."""
        return self.superseded_by is None

    def metadata(self) -> dict[str, str | float | bool]:
        """Return the item's Chroma metadata (``""`` stands for "none": Chroma stores no nulls)."""
        return {
            "kind": self.kind,
            "source": self.source,
            "created_ts": self.created_at.timestamp(),
            "updated_ts": self.updated_at.timestamp(),
            "topic": self.topic or "",
            "supersedes": self.supersedes or "",
            "superseded_by": self.superseded_by or "",
            "active": self.active,
        }

    @classmethod
    def from_record(
        cls, project: str, item_id: str, text: str, metadata: dict[str, object]
    ) -> MemoryItem:
        """Rebuild an item from what Chroma returned for it."""
        kind = str(metadata.get("kind", "fact"))
        return cls(
            id=item_id,
            project=project,
            text=text,
            kind=kind if kind in MEMORY_KINDS else "fact",
            source=str(metadata.get("source", "")),
            created_at=_timestamp(float(metadata.get("created_ts", 0.0))),  # type: ignore[arg-type]
            updated_at=_timestamp(float(metadata.get("updated_ts", 0.0))),  # type: ignore[arg-type]
            topic=str(metadata.get("topic") or "") or None,
            supersedes=str(metadata.get("supersedes") or "") or None,
            superseded_by=str(metadata.get("superseded_by") or "") or None,
        )

    def hit(self, score: float) -> MemoryHit:
        """Return this item as a recalled ``MemoryHit`` with ``score`` and its date."""
        hit = MemoryHit(
            id=self.id, text=self.text, kind=self.kind, score=round(score, 4), source=self.source
        )
        if self.created_at.timestamp() > 0:  # records from before dates were stored have none
            hit["created_at"] = self.created_at.isoformat(timespec="seconds")
        return hit


@dataclass(frozen=True, slots=True)
class SaveResult:
    """What saving one memory did."""

    item: MemoryItem
    status: Literal["created", "existing"]
    """``existing``: the same text was already stored; only its ``updated_at`` moved."""
    superseded: tuple[str, ...] = field(default=())
    """Ids of older items this one replaced."""
