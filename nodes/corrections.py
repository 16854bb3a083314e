"""Blame corrections derived from evidence the run itself holds, for deterministic faults.

A re-sample cannot fix a step that is wrong the same way every time (a model at
temperature 0 that misquotes a figure, a recall that returns an outdated text). These
correctors build the corrected output from what the run had in hand when the step ran:

* ``NumberRepairCorrector``: a model's text (an answer, a pipeline step's letter) that
  says what one of its sources says with other figures, other month names or a negation
  added or dropped, is proposed with the source's values put back. Sources are what the
  step was given and no model wrote: the user's words, tool results, recalled memories,
  skill and template outputs of a pipeline.
* ``MemoryRereadCorrector``: a recall step's memories, each read again by id from the
  memory store, when the text the run recalled is not the memory's text now.

Each correction is only a candidate: blame replays it and keeps it only when the run then
passes its checks (and the user's feedback).
"""

from __future__ import annotations

import difflib
import functools
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from nova.messages import message_text
from nova.tracing.blame.corrections import Correction

_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+|\S")
_MASK = "\x00#"
MIN_SIMILARITY = 0.8
"""Share of the shorter line's tokens (numbers masked) the other must say in the same
order for a source's numbers to be put back: the same sentence with other figures, not
another sentence that shares a few words."""
MIN_MATCHED = 4
"""Fewest tokens two lines must share: "Total: 5" is no evidence for any other total."""


@functools.lru_cache(maxsize=4096)
def _tokens(text: str) -> tuple[tuple[str, int, int], ...]:
    # Cached: blame offers corrections for every step of a run, each against the same
    # sources (a pipeline's skill outputs are read once per step otherwise).
    return tuple((m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(text))


@functools.lru_cache(maxsize=1024)
def _vocabulary(text: str) -> frozenset[str]:
    return frozenset(t[0].casefold() for t in _tokens(text))


@functools.lru_cache(maxsize=1024)
def _source_lines(text: str) -> tuple[tuple[tuple[str, int, int], ...], ...]:
    return tuple(_tokens(line) for line in _lines(text))


MONTHS = frozenset(
    "january february march april may june july august september october november december "
    "januar februar märz mai juni juli oktober dezember".split()
)
"""Calendar names a model copies and must not change (English and German)."""
_MONTH_MASK = "\x00M"


def _is_negation(word: str) -> bool:
    from nodes.checks import negations_in

    return any((negations_in(word, language) or 0) > 0 for language in ("en", "de"))


def _masked(tokens: Sequence[tuple[str, int, int]]) -> list[str]:
    masked = []
    for token in tokens:
        word = token[0]
        if word[0].isdigit():
            masked.append(_MASK)
        elif word.casefold() in MONTHS:
            masked.append(_MONTH_MASK)
        else:
            masked.append(word.casefold())
    return masked


def _lines(text: str) -> list[str]:
    return [
        line.strip() for line in re.split(r"\n+|(?<=[.!?])\s+(?=[A-ZÄÖÜ])", text) if line.strip()
    ]


def _ungrounded(text: str, sources: list[str]) -> set[str]:
    # Stated numbers only: a figure a source states otherwise in the same sentence is
    # suspect even when some sum or ratio of two source numbers happens to give it.
    from nova.erp.grounding import Grounds, mentions

    grounds = Grounds.of(sources)
    return {
        m.text
        for m in mentions(text, skip_list_indices=True)
        if m.kind == "number" and not grounds.supports(m)
    }


def model_written(record: Any) -> bool:
    """Whether a pipeline record (a step's or an element's) holds a model's output."""
    return isinstance(record, Mapping) and bool(record.get("model") or record.get("models"))


def repair_numbers(text: str, sources: Iterable[str]) -> str | None:
    """Return ``text`` with the values a source says otherwise put back from that source.

    Each line of ``text`` is aligned (numbers and month names masked) with the source line
    that says most of it in the same order (among rows alike in shape, the one whose values
    agree most); when they are alike enough, the numbers of a line that holds a number no
    source states, a month name no source uses, and a negation word the model added or
    dropped are set back to the source's. Returns ``None`` when nothing was repaired (or
    the result would hold a number no source states).
    """
    pool = [s for s in sources if s.strip()]
    if not pool:
        return None
    wrong = _ungrounded(text, pool)
    used = frozenset().union(*(_vocabulary(source) for source in pool))
    candidates = [line for source in pool for line in _source_lines(source)]
    repaired = text
    changed = False
    for line in _lines(text):
        ours = _tokens(line)
        suspect = any(
            t[0] in wrong
            or (t[0].casefold() in MONTHS and t[0].casefold() not in used)
            or _is_negation(t[0])
            for t in ours
        )
        if not suspect:
            continue
        best: tuple[float, int, Sequence[tuple[str, int, int]]] | None = None
        for theirs in candidates:
            matcher = difflib.SequenceMatcher(None, _masked(ours), _masked(theirs), autojunk=False)
            blocks = matcher.get_matching_blocks()
            # How much of the shorter line the other says in the same order (a letter may
            # wrap a draft's sentence in a greeting; an answer may quote part of a memory).
            matched = sum(b.size for b in blocks)
            covered = matched / max(min(len(ours), len(theirs)), 1)
            # Among rows alike in shape ("INV-1 has 5 open", "INV-2 has 7 open") the one
            # whose values agree most with ours is the one we quote.
            same = sum(
                ours[b.a + i][0] == theirs[b.b + i][0] for b in blocks for i in range(b.size)
            )
            if (
                matched >= MIN_MATCHED
                and covered >= MIN_SIMILARITY
                and (best is None or (covered, same) > best[:2])
            ):
                best = (covered, same, theirs)
        if best is None:
            continue
        fixed = _apply_source(line, ours, best[2], wrong, used)
        if fixed != line and not _ungrounded(fixed, pool):
            repaired = repaired.replace(line, fixed)
            changed = True
    return repaired if changed else None


def _apply_source(
    line: str,
    ours: Sequence[tuple[str, int, int]],
    theirs: Sequence[tuple[str, int, int]],
    wrong: set[str],
    used: Set[str],
) -> str:
    """Set ``line``'s wrong values back to the aligned source tokens (edits from the end)."""
    matcher = difflib.SequenceMatcher(None, _masked(ours), _masked(theirs), autojunk=False)
    # A line with a figure no source states says what the source says with other figures
    # ("10 to 20 days" for "20 to 40 days"): every aligned number that differs is set back.
    misquoted = any(t[0] in wrong for t in ours)
    edits: list[tuple[int, int, str]] = []
    for tag, a1, a2, b1, b2 in matcher.get_opcodes():
        if tag == "equal":
            for offset in range(a2 - a1):
                mine, source = ours[a1 + offset], theirs[b1 + offset]
                word = mine[0].casefold()
                if mine[0] == source[0]:
                    continue
                if (mine[0][0].isdigit() and misquoted) or (word in MONTHS and word not in used):
                    edits.append((mine[1], mine[2], source[0]))
        elif tag == "insert" and all(_is_negation(t[0]) for t in theirs[b1:b2]):
            # The model dropped the source's negation: put it back before our next word.
            at = ours[a1][1] if a1 < len(ours) else len(line)
            words = " ".join(t[0] for t in theirs[b1:b2])
            edits.append((at, at, words + " "))
        elif tag == "delete" and all(_is_negation(t[0]) for t in ours[a1:a2]):
            # The model added a negation the source does not say: take it out.
            end = ours[a2][1] if a2 < len(ours) else ours[a2 - 1][2]
            edits.append((ours[a1][1], end, ""))
    for start, stop, new in sorted(edits, reverse=True):
        line = line[:start] + new + line[stop:]
    return line


def _sources(values: Mapping[str, Any]) -> list[str]:
    """Return the texts a step was given that no model wrote (user, tools, memories, skills)."""
    found: list[str] = []
    for message in values.get("messages") or []:
        if isinstance(message, HumanMessage | ToolMessage):
            found.append(message_text(message))
    found += [
        str(m.get("text", "")) for m in values.get("memories") or [] if isinstance(m, Mapping)
    ]
    if values.get("request"):
        found.append(str(values["request"]))
    for key in ("steps", "items"):
        records = values.get(key)
        if not isinstance(records, Mapping):
            continue
        for record in records.values():
            # A pipeline record a model produced is not a source for another model's text.
            if isinstance(record, Mapping) and not model_written(record):
                found += list(_strings(record.get("output")))
    return found


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


class NumberRepairCorrector:
    """Propose a model's text with its sources' numbers put back (``numbers_grounded``'s fix).

    Applies to an ``agent`` step's answer (an AI message without tool calls) and to a
    pipeline step or element written by a model (``model_written``).
    """

    def __call__(self, step: Any, run: Any) -> Iterator[Correction]:
        """Yield the step's writes with repaired numbers, when any could be repaired."""
        sources = _sources(step.before.values)
        if not sources:
            return
        writes = dict(step.writes)
        changed = False
        messages = writes.get("messages")
        if step.node == "agent" and messages is not None:
            listed = messages if isinstance(messages, list) else [messages]
            fixed: list[BaseMessage] = []
            for message in listed:
                text = message.content if isinstance(message, AIMessage) else None
                if isinstance(text, str) and not message.tool_calls:
                    better = repair_numbers(text, sources)
                    if better is not None:
                        message = message.model_copy(update={"content": better, "id": None})
                        changed = True
                fixed.append(message)
            writes["messages"] = fixed
        for key in ("steps", "items"):
            records = writes.get(key)
            if not isinstance(records, Mapping):
                continue
            new_records = dict(records)
            for name, record in records.items():
                if not model_written(record):
                    continue
                output = record.get("output")
                if isinstance(output, str):
                    better = repair_numbers(output, sources)
                    if better is not None:
                        new_records[name] = {**record, "output": better}
                        changed = True
            writes[key] = new_records
        if changed:
            yield Correction("check", writes, "the sources' figures, months and negations")


class RecallCorrector(ABC):
    """Propose a recall step's hits with some memories replaced; subclasses say which and how.

    Shared by the memory correctors: each reads the store for the step's project and offers
    the hits back (one correction) when at least one memory is replaced.
    """

    reason = "memory_fresh"
    """Why the correction is offered, as the blame report says it."""

    def __init__(self, store: Any = None) -> None:
        """Read memories from ``store``; the configured memory store by default."""
        self.store = store

    @abstractmethod
    def replacement(self, project: str, hit: Mapping[str, Any]) -> dict[str, Any] | None:
        """Return the hit to use instead of ``hit``, or ``None`` to keep it."""

    def __call__(self, step: Any, run: Any) -> Iterator[Correction]:
        """Yield the recall step's hits with the replacements in place, if any."""
        hits = step.writes.get("memories") if step.node == "recall" else None
        project = step.before.values.get("project")
        if not hits or not project:
            return
        if self.store is None:
            from memory.store import default_memory_store

            self.store = default_memory_store()
        replaced = []
        changed = False
        for hit in hits:
            better = self.replacement(project, hit)
            if better is None:
                replaced.append(hit)
                continue
            changed = True
            replaced.append(better)
        if changed:
            yield Correction("check", {"memories": replaced}, self.reason)


class MemoryRereadCorrector(RecallCorrector):
    """Propose a recall step's memories as the store holds them now (by id).

    A memory recalled with a text the store no longer holds for that id was out of date
    when the run used it (edited or corrected since).
    """

    reason = "memory_fresh: memories as stored now"

    def replacement(self, project: str, hit: Mapping[str, Any]) -> dict[str, Any] | None:
        """Return ``hit`` with the memory's current text, or ``None`` if it is unchanged."""
        try:
            item = self.store.get(project, hit.get("id", ""))
        except Exception:
            item = None
        text = getattr(item, "text", None)
        if item is None or not isinstance(text, str) or text == hit.get("text"):
            return None
        return {**hit, "text": text}
