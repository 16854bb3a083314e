"""Corrected step outputs for blame to replay, and where they come from.

A correction comes from a reference run (the same request run without the fault), from
a re-sample of the step, or from elsewhere (checks that know the right value, in
``nodes.corrections``; the user's feedback, in ``nova.tracing.blame.feedback``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from langchain_core.messages import BaseMessage

from nova.tracing.blame.replay import resample
from nova.tracing.blame.steps import RunSteps, Step
from nova.tracing.serialize import to_jsonable

_VOLATILE_KEYS = frozenset(
    {"id", "tool_call_id", "latency_ms", "created_at", "run_id", "started_at", "ts", "route_id"}
)


@dataclass(frozen=True, slots=True)
class Correction:
    """A replacement for a step's output, and where it came from."""

    source: Literal["reference", "check", "resample", "feedback"]
    writes: Mapping[str, Any]
    note: str = ""


class Corrector(Protocol):
    """Propose corrected outputs for a step (none when it has nothing to offer)."""

    def __call__(self, step: Step, run: RunSteps) -> Iterable[Correction]:
        """Return corrections for ``step``."""
        ...


def normalised(value: Any) -> Any:
    """Return ``value`` as JSON without ids, timings and other run-specific noise."""

    def clean(item: Any) -> Any:
        if isinstance(item, dict):
            return {k: clean(v) for k, v in item.items() if k not in _VOLATILE_KEYS}
        if isinstance(item, list):
            return [clean(v) for v in item]
        return item

    return clean(to_jsonable(value))


class ReferenceCorrector:
    """Corrections from a reference run: the aligned step's output (same path, node, occurrence)."""

    def __init__(self, reference: RunSteps) -> None:
        self.reference = reference.by_key()

    def __call__(self, step: Step, run: RunSteps) -> Iterator[Correction]:
        """Yield the reference step's writes when they differ from ``step``'s."""
        ref = self.reference.get(step.key)
        if ref is None or normalised(ref.writes) == normalised(step.writes):
            return
        yield Correction("reference", _fresh_messages(ref.writes), f"reference run's {ref.key}")


def _fresh_messages(writes: Mapping[str, Any]) -> dict[str, Any]:
    # Reference messages carry the reference run's ids; new ids keep add_messages appending.
    fixed: dict[str, Any] = {}
    for key, value in writes.items():
        if isinstance(value, list) and value and all(isinstance(v, BaseMessage) for v in value):
            fixed[key] = [v.model_copy(update={"id": None}) for v in value]
        elif isinstance(value, BaseMessage):
            fixed[key] = value.model_copy(update={"id": None})
        else:
            fixed[key] = value
    return fixed


class ResampleCorrector:
    """Corrections by re-running the step on the same input (for models that sample)."""

    def __init__(
        self,
        *,
        context: Any = None,
        samples: int = 1,
        applies: Callable[[Step], bool] | None = None,
    ) -> None:
        """Re-run steps ``samples`` times; only those ``applies`` accepts (default: all)."""
        self.context = context
        self.samples = samples
        self.applies = applies

    def __call__(self, step: Step, run: RunSteps) -> Iterator[Correction]:
        """Yield up to ``samples`` re-runs of the step that differ from its output."""
        if self.applies is not None and not self.applies(step):
            return
        seen = [normalised(step.writes)]
        for _ in range(self.samples):
            writes = resample(step, context=self.context)
            if writes is None or normalised(writes) in seen:
                continue
            seen.append(normalised(writes))
            yield Correction("resample", writes, f"re-run of {step.key}")
