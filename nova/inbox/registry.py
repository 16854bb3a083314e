"""The inbox's sources: a registry of small functions, one per kind of waiting thing.

A source is a function ``(scope) -> (items newest first, total count)`` registered with
``@inbox_source(name)``; ``collect_inbox`` runs them all and merges their items newest
first. Adding a kind of item (the self-improvement loop's proposals, say) is one function::

    @inbox_source("proposals", "improvement proposals waiting for review")
    def proposals(scope: InboxScope) -> SourceResult:
        pending = pending_candidates(scope.settings)
        return [InboxItem(...) for c in pending[: scope.limit]], len(pending)

A source that fails does not hide the others: its report carries the error in one line.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nova.inbox.model import Inbox, InboxItem, InboxScope, SourceReport

SourceResult = tuple[list[InboxItem], int]
"""A source's answer: its newest items (at most ``scope.limit``) and how many it has."""

SourceFunction = Callable[[InboxScope], SourceResult]


@dataclass(frozen=True, slots=True)
class InboxSource:
    """A registered source."""

    name: str
    description: str
    collect: SourceFunction


_SOURCES: dict[str, InboxSource] = {}


def inbox_source(name: str, description: str) -> Callable[[SourceFunction], SourceFunction]:
    """Register the decorated function as the inbox source ``name``.

    Raises:
        ValueError: Another function is already registered under ``name``.

    """

    def register(function: SourceFunction) -> SourceFunction:
        existing = _SOURCES.get(name)
        if existing is not None and existing.collect is not function:
            raise ValueError(
                f"Inbox source names must be unique: {name!r} is registered by "
                f"{existing.collect.__module__}.{existing.collect.__qualname__}"
            )
        _SOURCES[name] = InboxSource(name=name, description=description, collect=function)
        return function

    return register


def registered_sources() -> list[InboxSource]:
    """Return the registered sources (importing Nova's own first), in registration order."""
    import nova.inbox.sources  # noqa: F401 - registers the built-in sources

    return list(_SOURCES.values())


def collect_inbox(scope: InboxScope, *, sources: Sequence[InboxSource] | None = None) -> Inbox:
    """Run every source for ``scope`` and return their items merged, newest first."""
    items: list[InboxItem] = []
    reports: list[SourceReport] = []
    for source in registered_sources() if sources is None else sources:
        started = time.perf_counter()
        try:
            found, total = source.collect(scope)
        except Exception as error:  # one source's trouble must not hide the rest of the inbox
            first_line = str(error).splitlines()[0] if str(error) else ""
            reports.append(
                SourceReport(
                    name=source.name,
                    error=f"{type(error).__name__}: {first_line}",
                    elapsed_ms=(time.perf_counter() - started) * 1000,
                )
            )
            continue
        items.extend(found)
        reports.append(
            SourceReport(
                name=source.name,
                total=total,
                shown=len(found),
                elapsed_ms=(time.perf_counter() - started) * 1000,
            )
        )
    items.sort(key=lambda item: item.created_at, reverse=True)
    return Inbox(items=items, sources=reports, user=scope.user)
