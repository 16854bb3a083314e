"""A pipeline run's parameters: read them, show them before writes, describe them.

``read_params`` fills a pipeline's parameters from the caller, the request
(``nodes.request_params``), the serving agent's model and the previous run on the thread,
and refuses (``ParamsError``) when the request states a value no parameter takes.
``confirm_params`` pauses a pipeline that will write to the ERP with values it inferred,
showing each parameter with its source, until the owner approves.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal

from jinja2 import TemplateError
from langchain_core.language_models import BaseChatModel
from pydantic import ValidationError
from typing_extensions import TypedDict

from nodes.request_params import Extraction, ParamSource, extract_params, fields_from_pipeline
from nova.models import ModelUnavailable
from nova.pipelines.spec import ParamsError, PipelineSpec, validate_params
from nova.pipelines.templates import evaluate, template_context
from nova.state import NovaContext

if TYPE_CHECKING:
    from nodes.pipeline_steps import RunInfo, StepDeps


def _run_model() -> str | None:
    """Return the run's model override (``context.model``), if any."""
    from langgraph.runtime import get_runtime

    try:
        context = get_runtime(NovaContext).context
    except RuntimeError:
        return None
    return context.model if isinstance(context, NovaContext) else None


def _now() -> datetime:
    return datetime.now(UTC)


def _base_today(spec: PipelineSpec, session: Any | None) -> date:
    """Return "today" before any ``date`` parameter: the ERP's business date or the calendar's."""
    if spec.today == "erp" and session is not None:
        from nova.erp.db import business_date

        return business_date(session)
    return date.today()  # noqa: DTZ011 - the owner's local calendar day


def _anchor(given: Mapping[str, Any], base: date) -> date:
    """Return the day relative dates in the request count from: the caller's ``date``, if valid."""
    try:
        return date.fromisoformat(str(given["date"])) if given.get("date") else base
    except ValueError:
        return base  # validation reports the malformed date


def _today(params: Mapping[str, Any], base: date) -> date:
    given = params.get("date")
    if isinstance(given, str) and given:
        try:
            return date.fromisoformat(given)
        except ValueError:
            raise ParamsError(f"date must be YYYY-MM-DD, got {given!r}") from None
    return base


def _previous_values(previous: RunInfo | None) -> dict[str, tuple[Any, ParamSource]]:
    """Return the previous run's values on this thread that were not defaults."""
    if previous is None:
        return {}
    sources = previous.get("param_sources") or {}
    return {
        name: (value, sources.get(name, "caller"))
        for name, value in previous["params"].items()
        if sources.get(name, "caller") != "default"
    }


def _extraction_model(spec: PipelineSpec, deps: StepDeps | None) -> BaseChatModel | None:
    """Return the serving agent's model (for what the scan cannot type), or ``None``."""
    if deps is None or spec.agent is None or spec.agent not in deps.catalog:
        return None
    result = deps.model_factory(deps.catalog[spec.agent], _run_model())
    return None if isinstance(result, ModelUnavailable) else result


def read_params(
    spec: PipelineSpec,
    request: str,
    given: Mapping[str, Any],
    previous: RunInfo | None,
    deps: StepDeps | None,
    *,
    asked: Sequence[str] = (),
) -> tuple[dict[str, Any], Extraction, date]:
    """Fill the pipeline's parameters from the caller, the request, the model and the thread.

    Args:
        spec: The pipeline.
        request: The turn's request.
        given: Values the caller gave.
        previous: The previous run on the thread (its non-default values are reused).
        deps: Catalog and models (the serving agent's model reads what the scan cannot).
        asked: Parameters Nova's previous reply asked the owner for (``MissingParams``):
            when it asked for one text, the request is that text.

    Returns:
        The validated parameters, the extraction (sources, evidence) and "today".

    Raises:
        MissingParams: a required parameter has no value (the run asks for it).
        ParamsError: a stated value fits no parameter, a stated name is ambiguous, or a
            value does not validate; the message says what to do.

    """
    answered = _answered_param(spec, request, asked) if not set(asked) & set(given) else None
    answer = request.strip()
    if answered is not None:
        request = ""  # the whole message is the value asked for: nothing else is read from it
    fields = fields_from_pipeline(spec)
    erp = spec.today == "erp" or any(f.kind in ("customer", "product") for f in fields)
    open_untyped = any(not f.typed and f.name not in given for f in fields)
    model = _extraction_model(spec, deps) if request.strip() and open_untyped else None
    # The pipeline's own words ("reminders", "report") never name a customer.
    vocabulary = frozenset(_words(f"{spec.name} {spec.description}"))
    with contextlib.ExitStack() as stack:
        session = None
        if erp:
            from nova.erp.db import get_erp_database

            session = stack.enter_context(get_erp_database().read_session())
        base = _base_today(spec, session)
        extraction = extract_params(
            request,
            fields,
            today=_anchor(given, base),
            given=given,
            thread=_previous_values(previous),
            session=session,
            model=model,
            ignore=vocabulary,
        )
    problem = extraction.problem(f"pipeline {spec.name!r}", fields)
    if problem:
        raise ParamsError(problem)
    if answered is not None:
        extraction.values[answered] = answer
        extraction.sources[answered] = "request"
        extraction.evidence[answered] = "the answer to the question Nova asked for it"
    missing = missing_params(spec, extraction.values)
    if missing:
        raise MissingParams(spec, missing)
    params = validate_params(spec, extraction.values)
    extraction.complete(fields)
    return params, extraction, _today(params, base)


class MissingParams(ParamsError):
    """A required parameter has no value: the run asks the owner for it instead of failing."""

    def __init__(self, spec: PipelineSpec, names: list[str]) -> None:
        """Name the parameters ``spec`` still needs, each with its description."""
        self.names = names
        wanted = "; ".join(
            f"{name} ({spec.params[name].description or spec.params[name].type})" for name in names
        )
        super().__init__(
            f"To run {spec.name} I need {wanted}. What should "
            f"{'it' if len(names) == 1 else 'they'} be?"
        )


def missing_params(spec: PipelineSpec, values: Mapping[str, Any]) -> list[str]:
    """Return the required parameters without a default that ``values`` does not fill."""
    return [
        name
        for name, declared in spec.params.items()
        if declared.required and declared.default is None and values.get(name) in (None, "", [])
    ]


def _answered_param(spec: PipelineSpec, request: str, asked: Sequence[str]) -> str | None:
    """Return the parameter the request answers, when Nova asked for one text.

    After "To run listing_sync I need text …?" the owner's next message is that text, and
    nothing else: its numbers and names are the text's, not values of other parameters. A
    question for several values, or for one that is not a string, is not answered by a
    whole message.
    """
    if len(asked) != 1 or not request.strip():
        return None
    name = asked[0]
    declared = spec.params.get(name)
    return name if declared is not None and declared.type == "string" else None


def _words(text: str) -> list[str]:
    from nova.erp.resolve import normalise

    return normalise(text.replace("_", " ")).split()


def side_effects(spec: PipelineSpec, params: Mapping[str, Any], today: date) -> list[str]:
    """Return the steps that write to the ERP and will run with ``params``."""
    from nova.erp.writes import WRITE_SKILLS

    context = template_context(
        inputs={}, params=params, request="", project="", today=today, now=_now()
    )
    steps = []
    for step in spec.steps:
        if step.skill not in WRITE_SKILLS:
            continue
        try:
            runs = step.when is None or bool(evaluate(step.when, context))
        except (TemplateError, TypeError, ValueError, ArithmeticError):
            runs = True  # depends on inputs not known yet: it may run
        if runs:
            steps.append(step.id)
    return steps


PARAMS_APPROVAL_KIND: Literal["pipeline_params_approval"] = "pipeline_params_approval"
"""``type`` of the interrupt that shows a pipeline's parameters before it writes anything."""


class ParamsApprovalRequest(TypedDict):
    """The interrupt payload: the parameters a writing pipeline will use, and their sources."""

    type: Literal["pipeline_params_approval"]
    pipeline: str
    params: list[dict[str, Any]]
    """``{name, value, source}`` (``evidence``: the request's words, when read from it)."""
    writes: list[str]
    """Steps that will write (each still asks for its own approval)."""
    how_to_answer: str


def params_approval(
    spec: PipelineSpec, params: Mapping[str, Any], extraction: Extraction, writes: list[str]
) -> ParamsApprovalRequest:
    """Build the confirmation a writing pipeline shows before it runs with inferred values."""
    listed = []
    for name, value in params.items():
        entry: dict[str, Any] = {
            "name": name,
            "value": value,
            "source": extraction.sources.get(name, "default"),
        }
        if name in extraction.evidence:
            entry["evidence"] = extraction.evidence[name]
        listed.append(entry)
    return ParamsApprovalRequest(
        type=PARAMS_APPROVAL_KIND,
        pipeline=spec.name,
        params=listed,
        writes=writes,
        how_to_answer=(
            'Resume with Command(resume={"approved": true, "approver": "<your name>"}) to run '
            'with these parameters, or Command(resume={"approved": false, "reason": "..."}) '
            "to stop."
        ),
    )


def confirm_params(
    spec: PipelineSpec, params: Mapping[str, Any], extraction: Extraction, today: date
) -> None:
    """Pause for the owner's go-ahead when a writing pipeline runs on values it inferred.

    Values the caller gave explicitly were seen by the caller; values read from the request,
    by a model or from the thread were not, so they are shown before anything is written.

    Raises:
        ParamsError: the owner said no (the run stops before any step).

    """
    inferred = {s for s in extraction.sources.values() if s in ("request", "model", "thread")}
    writes = side_effects(spec, params, today) if inferred else []
    if not writes:
        return
    from langgraph.types import interrupt

    from nova.erp.approval import ApprovalDecision

    answer = interrupt(params_approval(spec, params, extraction, writes))
    try:
        decision = ApprovalDecision.model_validate(answer)
    except ValidationError as error:
        raise ParamsError(
            f"not run: the answer to the parameter check is invalid ({error})"
        ) from None
    if not decision.approved:
        raise ParamsError(
            f"not run: the parameters were not approved ({decision.reason or 'no reason given'})"
        )


def describe_params(params: Mapping[str, Any], sources: Mapping[str, str]) -> str:
    """Return ``name=value (source)`` for each parameter, as answers and the CLI show them."""
    return ", ".join(
        f"{name}={json.dumps(value, ensure_ascii=False, default=str)} "
        f"({sources.get(name, 'default')})"
        for name, value in params.items()
    )
