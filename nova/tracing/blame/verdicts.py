"""Judging a run's final state: a ``Verdict``, and the assumption checks' evaluator.

Blame asks an evaluator of every replay whether it passes and which failures it still has.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a final state is acceptable, and why not."""

    passed: bool
    reason: str = ""
    failures: frozenset[str] = frozenset()
    """What failed, one stable key each (``check:numbers_grounded``, ``fact:1,142.80``…):
    a replay that fixes some of them and breaks nothing new has corrected a real fault,
    even when a second fault keeps the run failing. Empty: the evaluator does not say."""


Evaluator = Callable[[Mapping[str, Any]], Verdict]


def final_message(values: Mapping[str, Any]) -> AIMessage | None:
    """Return the last AI message of a state."""
    for message in reversed(values.get("messages") or []):
        if isinstance(message, AIMessage):
            return message
    return None


def failed_checks(values: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Return the failed assumption checks attached to a state's final answer."""
    answer = final_message(values)
    return [
        c
        for c in (answer.additional_kwargs.get("nova_checks") or [] if answer else [])
        if isinstance(c, Mapping) and not c.get("passed")
    ]


def checks_evaluator(values: Mapping[str, Any]) -> Verdict:
    """Pass when the run answered and none of the answer's assumption checks failed."""
    answer = final_message(values)
    if answer is None or not (answer.content or answer.tool_calls):
        return Verdict(False, "no answer", frozenset({"no answer"}))
    failed = [str(c.get("name", "?")) for c in failed_checks(values)]
    return Verdict(
        not failed,
        f"failed checks: {', '.join(failed)}" if failed else "checks passed",
        frozenset(f"check:{name}" for name in failed),
    )
