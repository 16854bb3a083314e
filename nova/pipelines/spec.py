"""The pipeline file schema: steps as validated data, compiled later into a LangGraph subgraph.

A step names exactly one target:

- ``skill``: a tool from Nova's tool registry, called with ``args``;
- ``agent``: a catalog agent; its model receives the rendered ``prompt`` under the agent's
  own system prompt (``translator`` takes ``args: {text, target}`` instead and runs the
  glossary-safe translation engine);
- ``template``: deterministic text rendered from the inputs (no model);
- ``compute``: a deterministic expression whose value (number, list, mapping) is the output.

Steps take ``inputs`` from earlier steps; steps that do not depend on each other run in
parallel. ``for_each`` runs the target once per element of a list (``Send`` fan-out, or
one after another with ``parallel: false``). Every step has a deadline, a retry policy and
a failure policy.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nova.catalog.spec import NAME_PATTERN
from nova.pipelines.defaults import DEFAULT_STEP_DEADLINE_S

STEP_ID_PATTERN = r"^[a-z][a-z0-9_]{0,47}$"
RESERVED_STEP_IDS = frozenset({"start", "finish", "enter", "agent", "tools"})
"""Node names the compiled graph uses itself."""

StepKind = Literal["skill", "agent", "template", "compute"]
ParamType = Literal[
    "string",
    "integer",
    "number",
    "boolean",
    "list",
    "date",
    "period",
    "language",
    "customer",
    "product",
]
FailurePolicy = Literal["fail", "skip"]


class RetryPolicy(BaseModel):
    """How often a failing step is tried again, and how long to wait in between."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attempts: int = Field(default=1, ge=1, le=10)
    """Tries in all; 1 means no retry."""
    backoff_s: float = Field(default=0.5, ge=0, le=60)
    """Wait before the second try; doubled before each later one."""
    max_backoff_s: float = Field(default=10.0, ge=0, le=300)
    """Longest wait between two tries."""


class InputRef(BaseModel):
    """An input taken from an earlier step."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    step: str = Field(pattern=STEP_ID_PATTERN)
    """The step whose output this input is."""
    optional: bool = False
    """Run even when that step was skipped or failed (the input is then ``None``)."""


class StepSpec(BaseModel):
    """One step of a pipeline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=STEP_ID_PATTERN)
    """Unique within the pipeline; also the node name in the compiled graph."""
    description: str | None = None
    """What the step is for (shown by ``nova pipeline show``)."""
    skill: str | None = None
    """Tool registry name to call (see ``tools.registry``)."""
    agent: str | None = None
    """Catalog agent to run."""
    template: str | None = None
    """Jinja2 text to render (deterministic)."""
    compute: str | None = None
    """Jinja2 expression to evaluate (deterministic); its value is the output."""
    args: dict[str, Any] = Field(default_factory=dict)
    """Arguments of a skill (or of the translator: ``text`` and ``target``); values may be
    templates (``"{{ inputs.period.start }}"`` keeps the value's type)."""
    prompt: str | None = None
    """Text template an agent step sends to its model."""
    # The short form is checked like ``InputRef.step`` here: a bad step id otherwise passed
    # validation and failed later, outside the loader's report (found by fuzzing the loader).
    inputs: dict[str, Annotated[str, Field(pattern=STEP_ID_PATTERN)] | InputRef] = Field(
        default_factory=dict
    )
    """Name → earlier step (``figures: sales``), or ``{step: sales, optional: true}``."""
    after: tuple[str, ...] = ()
    """Steps that must finish first although no output is used."""
    when: str | None = None
    """Jinja2 condition; when false the step is skipped with a note."""
    for_each: str | None = None
    """Jinja2 expression giving a list; the step runs once per element (``item``)."""
    parallel: bool = True
    """With ``for_each``: run each element as its own task, in parallel (``Send``); false
    runs them in order in one task. Keep elements that may pause for approval parallel:
    each approval is then matched to its own element (in one task, an element that does
    not pause on a re-run would shift the answers of the ones after it)."""
    retry: RetryPolicy = RetryPolicy()
    """Retry policy."""
    deadline_s: float = Field(default=DEFAULT_STEP_DEADLINE_S, gt=0, le=3600)
    """Seconds the step may take in all (every try and wait); a step never hangs longer."""
    on_failure: FailurePolicy = "fail"
    """After the last try: ``fail`` stops the pipeline; ``skip`` records a note and goes on."""

    @field_validator("inputs", mode="before")
    @classmethod
    def _normalise_inputs(cls, value: object) -> object:
        if isinstance(value, list):  # shorthand: inputs: [sales, overdue]
            return {str(step): str(step) for step in value}
        return value

    @model_validator(mode="after")
    def _one_target(self) -> StepSpec:
        targets = [
            k for k in ("skill", "agent", "template", "compute") if getattr(self, k) is not None
        ]
        if len(targets) != 1:
            raise ValueError(
                "a step needs exactly one of skill, agent, template or compute; "
                f"got {targets or 'none'}"
            )
        if self.args and targets[0] in ("template", "compute"):
            raise ValueError(f"args belong to skill and translator steps, not {targets[0]} steps")
        if self.prompt is not None and targets[0] != "agent":
            raise ValueError("prompt belongs to agent steps")
        if targets[0] == "agent" and self.agent != "translator" and self.prompt is None:
            raise ValueError(f"agent step {self.agent!r} needs a prompt (what the agent is asked)")
        if self.agent == "translator" and not {"text", "target"} <= set(self.args):
            raise ValueError("a translator step needs args text and target")
        if not self.parallel and self.for_each is None:
            raise ValueError("parallel: false only applies to for_each steps")
        return self

    @property
    def kind(self) -> StepKind:
        """Which kind of target the step names."""
        for kind in ("skill", "agent", "template", "compute"):
            if getattr(self, kind) is not None:
                return kind
        raise AssertionError("validated: one target")

    @property
    def target(self) -> str:
        """``skill:<name>``, ``agent:<name>``, ``template`` or ``compute``."""
        if self.skill:
            return f"skill:{self.skill}"
        if self.agent:
            return f"agent:{self.agent}"
        return self.kind

    @property
    def input_refs(self) -> dict[str, InputRef]:
        """Inputs in their long form."""
        return {
            name: ref if isinstance(ref, InputRef) else InputRef(step=ref)
            for name, ref in self.inputs.items()
        }

    @property
    def depends_on(self) -> tuple[str, ...]:
        """Steps that must finish before this one (inputs, then ``after``), without repeats."""
        seen: dict[str, None] = {}
        for ref in self.input_refs.values():
            seen[ref.step] = None
        for step in self.after:
            seen[step] = None
        return tuple(seen)


class ParamSpec(BaseModel):
    """A pipeline parameter: given by the caller, read from the request, or defaulted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: ParamType = "string"
    """Value type (``list`` is a list of strings). The typed kinds are read from a request
    without a model: ``date`` (YYYY-MM-DD), ``period`` (a date range ``{start, end, label}``,
    given as ``2025-06-23..2025-06-29`` on the command line), ``language`` (an ISO 639-1
    code), ``customer`` (a customer number or name) and ``product`` (a SKU)."""
    description: str = Field(min_length=3)
    """What the parameter does (shown by ``pipeline_list`` and ``nova pipeline show``)."""
    default: Any = None
    """Value when neither the caller nor the request gives one."""
    required: bool = False
    """The run fails with a clear message when no value is given."""
    from_request: Literal["text", "languages"] | None = None
    """Read from the request when not given: ``text`` (quoted, after a colon, or below the
    first line) or ``languages`` (target languages named in it)."""


class PipelineSpec(BaseModel):
    """A pipeline: parameters and a DAG of steps, as versioned data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    """Unique snake_case name (``nova pipeline run NAME``)."""
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    """Semver, bumped with every change."""
    description: str = Field(min_length=10)
    """What the pipeline produces."""
    agent: str | None = Field(default=None, pattern=NAME_PATTERN)
    """The catalog agent this pipeline serves: a request routed there runs the pipeline."""
    project: str | None = None
    """Project to run in when the caller names none (e.g. the ERP pipelines' ``parts-shop``)."""
    today: Literal["calendar", "erp"] = "calendar"
    """What ``today`` means: the calendar, or the ERP's business date (a seeded sample
    business is frozen at its anchor date). A ``date`` parameter overrides both."""
    params: dict[str, ParamSpec] = Field(default_factory=dict)
    """Parameters by name."""
    steps: tuple[StepSpec, ...] = Field(min_length=1)
    """The steps; order in the file does not matter beyond readability."""
    output: str | None = None
    """The step whose output is the pipeline's answer (default: the last step in the file)."""
    max_concurrency: int = Field(default=32, ge=1, le=256)
    """Most steps (or fan-out elements) running at once."""
    schedule: str | None = None
    """Cron expression the pipeline is meant to run on (``nova pipeline run NAME --every
    scheduled`` uses it); ``None``: run when asked."""

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        from croniter import croniter

        if value is not None and not croniter.is_valid(value):
            raise ValueError(
                f"schedule {value!r} is not a cron expression ('minute hour day month weekday')"
            )
        return value

    @property
    def output_step(self) -> str:
        """The step whose output is the answer."""
        return self.output or self.steps[-1].id

    def step(self, step_id: str) -> StepSpec:
        """Return the step called ``step_id``."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(f"Pipeline {self.name!r} has no step {step_id!r}")

    @property
    def content_version(self) -> str:
        """Hash of the whole definition: changes whenever behaviour can change."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]

    @property
    def version_label(self) -> str:
        """``name@version+content`` as recorded in results and traces."""
        return f"{self.name}@{self.version}+{self.content_version}"


class ParamsError(ValueError):
    """Parameters given to a pipeline are unknown, missing or of the wrong type."""


class PeriodParam(BaseModel):
    """The value of a ``period`` parameter: an inclusive date range and how to call it."""

    model_config = ConfigDict(extra="forbid")

    start: date
    end: date
    label: str | None = None
    """Words for the range ("week 26/2025 (…)", "May 2025"); derived when not given."""

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: object) -> object:
        if isinstance(value, str):  # the command line's "2025-06-23..2025-06-29"
            start, separator, end = value.partition("..")
            if not separator:
                start = end = value
            return {"start": start.strip(), "end": end.strip()}
        return value

    @model_validator(mode="after")
    def _ordered(self) -> PeriodParam:
        if self.end < self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")
        if self.label is None:
            from nova.pipelines.templates import range_label

            self.label = range_label(self.start, self.end)
        return self


_PARAM_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "list": list[str],
    "date": date,
    "period": PeriodParam,
    "language": Annotated[str, Field(pattern=r"^[a-z]{2}$")],
    "customer": Annotated[str, Field(min_length=1, max_length=120)],
    "product": Annotated[str, Field(min_length=1, max_length=120)],
}


def validate_params(spec: PipelineSpec, values: dict[str, Any]) -> dict[str, Any]:
    """Check ``values`` against the pipeline's parameters; fill in defaults.

    Raises:
        ParamsError: naming every unknown, missing or mistyped parameter and the known ones.

    """
    from pydantic import ValidationError, create_model

    unknown = sorted(set(values) - set(spec.params))
    known = ", ".join(f"{name} ({p.type})" for name, p in spec.params.items()) or "none"
    if unknown:
        raise ParamsError(f"Pipeline {spec.name!r} has no parameter(s) {unknown}; known: {known}")
    fields: dict[str, Any] = {
        name: (_PARAM_TYPES[p.type] | None, ... if p.required and p.default is None else p.default)
        for name, p in spec.params.items()
    }
    model = create_model(f"{spec.name}_params", **fields)
    try:
        validated = model.model_validate(values)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, item['loc']))}: {item['msg']}" for item in error.errors()
        )
        raise ParamsError(
            f"Invalid parameters for pipeline {spec.name!r}: {problems}. Known: {known}"
        ) from None
    missing = [
        name for name, p in spec.params.items() if p.required and getattr(validated, name) is None
    ]
    if missing:
        raise ParamsError(f"Pipeline {spec.name!r} needs parameter(s) {missing}; known: {known}")
    return validated.model_dump(mode="json")
