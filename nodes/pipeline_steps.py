"""Pipeline step execution: state, deadlines, retries, failure policy, fan-out, results.

``graphs.pipeline.compile_pipeline`` turns a ``PipelineSpec`` into a graph whose nodes are
built here:

- ``start``: validates parameters, fixes the run id and "today", and on a re-run of an
  unfinished run keeps the steps that already succeeded (they are not run again);
- one node per step: checks inputs and the condition, runs the target (skill, agent,
  template, compute) under its deadline and retry policy, and records the outcome;
- ``<step>__item`` / ``<step>__join`` for ``for_each`` steps run in parallel (``Send``);
- ``finish``: the pipeline result, an ``AIMessage`` answer and an ``AgentRun``.

Every attempt runs in a daemon worker thread (sync runs) or under ``asyncio.wait_for``
(async runs), so a hanging step ends at its deadline; its thread is abandoned, never
joined. Failures are structured records (``StepFailure``) in state, one per failed step
or element, for the failure ledger.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import json
import operator
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, NotRequired

from jinja2 import TemplateError
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.config import get_config
from langgraph.errors import GraphBubbleUp
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode
from langgraph.runtime import Runtime
from langgraph.types import Send
from pydantic import BaseModel, ValidationError
from tenacity import (
    AsyncRetrying,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential,
)
from typing_extensions import TypedDict

from nodes.checks import CheckOutcome, CheckResult
from nodes.pipeline_params import MissingParams, confirm_params, describe_params, read_params
from nodes.question_route import PIPELINE_RESULT_KEY
from nodes.request_params import ParamSource
from nodes.resilience import retried_by_client
from nova.catalog import AgentSpec, Catalog
from nova.glossary import Glossary
from nova.models import ModelFactory, ModelUnavailable
from nova.pipelines.spec import ParamsError, PipelineSpec, StepSpec
from nova.pipelines.templates import evaluate, render_text, render_value, template_context
from nova.settings import get_settings
from nova.state import AgentOutcome, AgentRun, NovaContext, RouteDecision

StepStatus = Literal["ok", "skipped", "failed", "cancelled", "mapping"]
FailureKind = Literal["error", "timeout", "needs_model", "tool_error", "bad_input", "check_failed"]
RunStatus = Literal["running", "completed", "completed_with_skips", "failed", "needs_input"]
"""``needs_input``: a required parameter had no value; the run asked the owner for it."""


# --- records ------------------------------------------------------------------------------


class StepError(TypedDict):
    """Why a step or element failed."""

    kind: FailureKind
    type: str
    """Exception class name."""
    message: str


class StepRecord(TypedDict):
    """The outcome of one step in the current run."""

    step: str
    target: str
    status: StepStatus
    attempts: int
    duration_ms: float
    output: NotRequired[Any]
    note: NotRequired[str]
    """Why the step was skipped or cancelled, in words."""
    error: NotRequired[StepError]
    fatal: NotRequired[bool]
    """The failure stopped the pipeline (policy ``fail``)."""
    items: NotRequired[int]
    """Elements of a ``for_each`` step."""
    models: NotRequired[list[str]]
    """Models that agent steps called."""


class ItemRecord(TypedDict):
    """The outcome of one element of a ``for_each`` step."""

    step: str
    index: int
    status: Literal["ok", "failed"]
    attempts: int
    duration_ms: float
    output: NotRequired[Any]
    error: NotRequired[StepError]
    model: NotRequired[str | None]


class StepFailure(TypedDict):
    """One failed step or element, as the failure ledger records it."""

    pipeline: str
    pipeline_version: str
    run_id: str
    project: str
    step: str
    target: str
    item: int | None
    kind: FailureKind
    error_type: str
    message: str
    attempts: int
    policy: Literal["fail", "skip"]
    attempt: int
    """Which attempt of the run (1, or 2+ after resuming) the failure happened in."""
    at: str
    failure_id: NotRequired[str]
    """Its record in the failure ledger, once ``finish`` has written it."""


class RunInfo(TypedDict):
    """The current run of the pipeline on this thread."""

    pipeline: str
    version: str
    run_id: str
    attempt: int
    """1 for a new run, 2+ when an unfinished run is resumed."""
    project: str
    params: dict[str, Any]
    param_sources: NotRequired[dict[str, ParamSource]]
    """Where each parameter's value came from: caller, request, model, thread or default."""
    param_evidence: NotRequired[dict[str, str]]
    """The request's words each value read from the request came from."""
    today: str
    started_at: str
    status: RunStatus
    error: NotRequired[str]
    asks: NotRequired[list[str]]
    """Parameters a ``needs_input`` run asked the owner for (the next turn may answer)."""


class StepSummary(TypedDict):
    """A step in the pipeline result."""

    step: str
    target: str
    status: StepStatus
    attempts: int
    duration_ms: float
    note: NotRequired[str]


class PipelineResult(TypedDict):
    """What a pipeline run produced: status, answer, every step and every failure."""

    pipeline: str
    version: str
    content_version: str
    run_id: str
    attempt: int
    project: str
    status: RunStatus
    output: Any
    text: str
    steps: list[StepSummary]
    failures: list[StepFailure]
    started_at: str
    finished_at: str
    duration_ms: float
    params: NotRequired[dict[str, Any]]
    """The parameters the run used."""
    param_sources: NotRequired[dict[str, ParamSource]]
    """Where each parameter's value came from (see ``RunInfo.param_sources``)."""
    asks: NotRequired[list[str]]
    """The parameters a ``needs_input`` run asked the owner for."""


def merge_records(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    """Merge step/element records; a ``None`` value removes the record (a fresh try)."""
    merged = dict(old or {})
    for key, value in (new or {}).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


class PipelineInput(TypedDict, total=False):
    """What a caller gives a pipeline graph (the supervisor passes its state; these are read)."""

    request: str
    project: str
    params: dict[str, Any]
    route: RouteDecision | None


class PipelineOutput(TypedDict, total=False):
    """What a pipeline graph hands back to its caller."""

    messages: Annotated[list[AnyMessage], add_messages]
    agent_run: AgentRun | None
    pipeline_result: PipelineResult | None
    failures: list[StepFailure]
    """This run's failures (structured), for the failure ledger."""
    checks: list[CheckOutcome]
    """Verdicts of the serving agent's catalog checks, computed from the step outputs."""


class PipelineState(TypedDict, total=False):
    """The state of one compiled pipeline (checkpointed: partial results survive a crash)."""

    messages: Annotated[list[AnyMessage], add_messages]
    request: str
    project: str
    params: dict[str, Any]
    route: RouteDecision | None
    run: RunInfo
    steps: Annotated[dict[str, StepRecord], merge_records]
    items: Annotated[dict[str, ItemRecord], merge_records]
    failure_log: Annotated[list[StepFailure], operator.add]
    """Every failure on this thread, over all runs and resumptions."""
    failures: list[StepFailure]
    pipeline_result: PipelineResult | None
    agent_run: AgentRun | None
    checks: list[CheckOutcome]


class ItemTask(TypedDict):
    """Input of one ``<step>__item`` task (sent with ``Send``)."""

    index: int
    item: Any
    context: dict[str, Any]
    run: RunInfo


# --- dependencies and errors ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StepDeps:
    """What steps run against: skills, agents, models and glossaries (injected for tests)."""

    skills: Mapping[str, BaseTool]
    catalog: Catalog[AgentSpec]
    model_factory: ModelFactory
    glossary: Callable[[str], Glossary]
    """Project id → glossary, for translator steps."""


class StepFailed(Exception):
    """A step's target failed in a way that has a kind (see ``FailureKind``)."""

    kind: FailureKind = "error"
    retryable = True


class NeedsModel(StepFailed):
    """An agent step has no model (``ModelUnavailable``); retrying cannot help."""

    kind = "needs_model"
    retryable = False


class BadInput(StepFailed):
    """A template, argument or condition could not be evaluated; retrying cannot help."""

    kind = "bad_input"
    retryable = False


class ToolFailed(StepFailed):
    """A skill answered with an error message (unknown customer, bad date, …)."""

    kind = "tool_error"
    retryable = False


class CheckFailed(StepFailed):
    """An assumption check on a step's output failed (e.g. a translation lost a term)."""

    kind = "check_failed"


class StepTimeout(StepFailed, TimeoutError):
    """An attempt did not finish within the step's deadline."""

    kind = "timeout"


_PERMANENT = (
    GraphBubbleUp,
    ValidationError,
    TypeError,
    KeyError,
    AttributeError,
    NotImplementedError,
)


def _retryable(error: BaseException) -> bool:
    if isinstance(error, StepFailed):
        return error.retryable
    if isinstance(error, _PERMANENT) or retried_by_client(error):
        # The OpenAI client has already retried a model call's transient errors.
        return False
    status = getattr(error, "status_code", None)
    return not (isinstance(status, int) and 400 <= status < 500 and status not in (408, 425, 429))


def _failure_kind(error: BaseException) -> FailureKind:
    if isinstance(error, StepFailed):
        return error.kind
    if isinstance(error, TimeoutError):
        return "timeout"
    if isinstance(error, ValidationError):
        return "bad_input"
    return "error"


def _error(error: BaseException) -> StepError:
    message = str(error) or type(error).__name__
    return StepError(kind=_failure_kind(error), type=type(error).__name__, message=message)


def json_safe(value: Any) -> Any:
    """Turn a step output into plain JSON values (checkpointable, renderable, comparable)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_safe(v) for v in value]
    return json.loads(json.dumps(value, default=str))


# --- running one call under a deadline and a retry policy ----------------------------------


def _in_daemon_thread(fn: Callable[[], Any]) -> concurrent.futures.Future[Any]:
    """Run ``fn`` in a daemon thread with the caller's context (config, callbacks, runtime)."""
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()
    context = contextvars.copy_context()

    def target() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(context.run(fn))
        except BaseException as error:
            future.set_exception(error)

    threading.Thread(target=target, name="nova-pipeline-step", daemon=True).start()
    return future


@dataclass(slots=True)
class Attempted:
    """Outcome of running a call under a policy."""

    output: Any = None
    model: str | None = None
    error: BaseException | None = None
    attempts: int = 0
    duration_ms: float = 0.0


def _retrying_kwargs(step: StepSpec) -> dict[str, Any]:
    return {
        "stop": stop_after_attempt(step.retry.attempts) | stop_before_delay(step.deadline_s),
        "wait": wait_exponential(multiplier=step.retry.backoff_s, max=step.retry.max_backoff_s),
        "retry": retry_if_exception(_retryable),
        "reraise": True,
    }


def _timeout(step: StepSpec) -> StepTimeout:
    return StepTimeout(
        f"step {step.id!r} did not finish within its deadline of {step.deadline_s:g} s"
    )


def run_with_policy(step: StepSpec, call: Callable[[], tuple[Any, str | None]]) -> Attempted:
    """Run ``call`` with the step's retries, each attempt bounded by what is left of the deadline.

    Interrupts (approval requests) propagate; every other error ends in ``Attempted.error``.
    """
    started = time.monotonic()
    deadline = started + step.deadline_s
    result = Attempted()
    try:
        for attempt in Retrying(**_retrying_kwargs(step)):
            with attempt:
                result.attempts += 1
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _timeout(step)
                try:
                    result.output, result.model = _in_daemon_thread(call).result(timeout=remaining)
                except concurrent.futures.TimeoutError:
                    raise _timeout(step) from None
    except GraphBubbleUp:
        raise
    except Exception as error:
        result.error = error
    result.duration_ms = round((time.monotonic() - started) * 1000, 1)
    return result


async def arun_with_policy(
    step: StepSpec,
    call: Callable[[], tuple[Any, str | None]],
    native: Callable[[], Awaitable[tuple[Any, str | None]]] | None = None,
) -> Attempted:
    """Run like ``run_with_policy`` on asyncio: ``native`` for async targets, else a thread."""
    started = time.monotonic()
    deadline = started + step.deadline_s
    result = Attempted()
    try:
        async for attempt in AsyncRetrying(**_retrying_kwargs(step)):
            with attempt:
                result.attempts += 1
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _timeout(step)
                pending = (
                    native() if native is not None else asyncio.wrap_future(_in_daemon_thread(call))
                )
                try:
                    result.output, result.model = await asyncio.wait_for(pending, remaining)
                except TimeoutError:
                    raise _timeout(step) from None
    except GraphBubbleUp:
        raise
    except Exception as error:
        result.error = error
    result.duration_ms = round((time.monotonic() - started) * 1000, 1)
    return result


# --- the targets ----------------------------------------------------------------------------


def _tool_output(message: ToolMessage) -> Any:
    if message.status == "error":
        raise ToolFailed(str(message.content))
    if message.artifact is not None:
        return json_safe(message.artifact)
    content = message.content
    if isinstance(content, str):
        try:
            return json.loads(content)
        except ValueError:
            return content
    return json_safe(content)


def _model_name(model: BaseChatModel) -> str:
    return (
        getattr(model, "model_name", None) or getattr(model, "model", None) or type(model).__name__
    )


def _text(reply: Any) -> str:
    content = getattr(reply, "content", reply)
    if isinstance(content, str):
        return content
    return "".join(b if isinstance(b, str) else str(b.get("text", "")) for b in content)


@dataclass(frozen=True, slots=True)
class StepCall:
    """One execution of a step's target with a rendered context (one element for ``for_each``)."""

    step: StepSpec
    deps: StepDeps
    context: Mapping[str, Any]
    call_id: str
    """Stable across retries and resumptions: the tool call id (writes are idempotent on it)."""

    def _render(self, value: Any) -> Any:
        try:
            return render_value(value, self.context)
        except (TemplateError, TypeError, ValueError, ArithmeticError) as error:
            raise BadInput(
                f"cannot render the arguments of step {self.step.id!r}: {error}"
            ) from None

    def _tool_request(self) -> tuple[ToolNode, dict[str, Any]]:
        step = self.step
        tool = self.deps.skills[step.skill or ""]
        args = self._render(step.args)
        if not isinstance(args, dict):
            raise BadInput(f"args of step {step.id!r} must render to a mapping")
        call = {"name": tool.name, "args": json_safe(args), "id": self.call_id, "type": "tool_call"}
        # ToolNode injects ToolRuntime (project, context, store) exactly as in an agent's loop;
        # errors other than a tool's own error message reach the retry policy.
        node = ToolNode([tool], handle_tool_errors=False)
        payload = {
            "messages": [AIMessage("", tool_calls=[call])],
            "project": self.context["project"],
            "request": self.context["request"],
        }
        return node, payload

    def run(self) -> tuple[Any, str | None]:
        """Run the target synchronously; return (output, model name if a model was called)."""
        match self.step.kind:
            case "skill":
                node, payload = self._tool_request()
                return _tool_output(node.invoke(payload)["messages"][-1]), None
            case "agent":
                return self._agent()
            case "template":
                try:
                    return render_text(self.step.template or "", self.context), None
                except (TemplateError, TypeError, ValueError, ArithmeticError) as error:
                    raise BadInput(f"template of step {self.step.id!r}: {error}") from None
            case "compute":
                try:
                    return json_safe(evaluate(self.step.compute or "", self.context)), None
                except (TemplateError, TypeError, ValueError, ArithmeticError) as error:
                    raise BadInput(f"compute of step {self.step.id!r}: {error}") from None
        raise AssertionError(self.step.kind)

    def native(self) -> Callable[[], Awaitable[tuple[Any, str | None]]] | None:
        """Return an awaitable form of the call when the target is natively async (async tools)."""
        if self.step.kind != "skill":
            return None
        tool = self.deps.skills[self.step.skill or ""]
        if getattr(tool, "coroutine", None) is None:
            return None

        async def run() -> tuple[Any, str | None]:
            node, payload = self._tool_request()
            result = await node.ainvoke(payload)
            return _tool_output(result["messages"][-1]), None

        return run

    def _agent(self) -> tuple[Any, str | None]:
        step = self.step
        spec = self.deps.catalog[step.agent or ""]
        context = _run_context()
        model = self.deps.model_factory(spec, context.model)
        if isinstance(model, ModelUnavailable):
            raise NeedsModel(model.message)
        if spec.name == "translator":
            return self._translate(spec, model)
        try:
            prompt = render_text(step.prompt or "", self.context)
        except (TemplateError, TypeError, ValueError) as error:
            raise BadInput(f"prompt of step {step.id!r}: {error}") from None
        system = f"{spec.prompt.strip()}\n\nCurrent project: {self.context['project']}."
        reply = model.invoke([SystemMessage(system), HumanMessage(prompt)])
        return _text(reply), _model_name(model)

    def _translate(self, spec: AgentSpec, model: BaseChatModel) -> tuple[Any, str | None]:
        from nodes.translation import ADVISORY_CHECKS, translate_text

        args = self._render(self.step.args)
        text, target = args.get("text"), args.get("target")
        if not isinstance(text, str) or not text.strip():
            raise BadInput(f"step {self.step.id!r}: the translator needs a non-empty text")
        if not isinstance(target, str) or len(target) != 2:
            raise BadInput(
                f"step {self.step.id!r}: target must be an ISO 639-1 code, got {target!r}"
            )
        outcome = translate_text(
            text,
            target.lower(),
            model,
            glossary=self.deps.glossary(self.context["project"]),
            base_prompt=spec.prompt,
        )
        failed = [c for c in outcome.checks if not c.passed and c.name not in ADVISORY_CHECKS]
        if failed:
            raise CheckFailed("; ".join(f"{c.name}: {c.detail}" for c in failed))
        output = {
            "target": outcome.job.target,
            "source": outcome.job.source_code,
            "text": outcome.text,
            "checks": [
                {"name": c.name, "passed": c.passed, "detail": c.detail} for c in outcome.checks
            ],
        }
        return output, _model_name(model)


def _run_context() -> NovaContext:
    """Return the run's ``NovaContext`` (a step runs inside the graph, so the runtime is there)."""
    from langgraph.runtime import get_runtime

    try:
        context = get_runtime(NovaContext).context
    except RuntimeError:
        return NovaContext()
    return context if isinstance(context, NovaContext) else NovaContext()


# --- node bodies ---------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _halted(state: PipelineState) -> str | None:
    run = state.get("run")
    if run and run["status"] == "failed":
        # Not the error itself: every cancelled step's note repeats this reason.
        return "the pipeline could not start"
    if run and run["status"] == "needs_input":
        return f"waiting for {', '.join(run.get('asks') or ['input'])}"
    for record in (state.get("steps") or {}).values():
        if record.get("fatal"):
            return f"step {record['step']!r} failed"
    return None


def _failure(
    spec: PipelineSpec,
    run: RunInfo,
    step: StepSpec,
    error: StepError,
    attempts: int,
    item: int | None,
) -> StepFailure:
    return StepFailure(
        pipeline=spec.name,
        pipeline_version=spec.version,
        run_id=run["run_id"],
        project=run["project"],
        step=step.id,
        target=step.target,
        item=item,
        kind=error["kind"],
        error_type=error["type"],
        message=error["message"],
        attempts=attempts,
        policy=step.on_failure,
        attempt=run["attempt"],
        at=_now().isoformat(timespec="seconds"),
    )


def _record(step: StepSpec, status: StepStatus, **extra: Any) -> StepRecord:
    record = StepRecord(
        step=step.id, target=step.target, status=status, attempts=0, duration_ms=0.0
    )
    record.update(extra)  # type: ignore[typeddict-item]
    return record


def _describe(record: StepRecord) -> str:
    if "error" in record:
        return f"{record['status']}: {record['error']['message']}"
    return f"{record['status']}: {record.get('note', '')}".rstrip(": ")


def _context(state: PipelineState, inputs: Mapping[str, Any], item: Any = None) -> dict[str, Any]:
    run = state["run"]
    return template_context(
        inputs=inputs,
        params=run["params"],
        request=state.get("request") or "",
        project=run["project"],
        today=date.fromisoformat(run["today"]),
        now=_now(),
        item=item,
    )


@dataclass(frozen=True, slots=True)
class Ready:
    """A step cleared to run, with its template context (and list, for ``for_each``)."""

    context: dict[str, Any]
    items: list[Any] | None = None


def _prepare(spec: PipelineSpec, step: StepSpec, state: PipelineState) -> Ready | dict[str, Any]:
    """Decide whether ``step`` runs: a ``Ready``, or the state update that ends it here."""
    records = state.get("steps") or {}
    done = records.get(step.id)
    if done is not None and done["status"] == "ok":
        return {}  # succeeded in an earlier attempt of this run: never re-run
    if reason := _halted(state):
        return {"steps": {step.id: _record(step, "cancelled", note=f"not run: {reason}")}}
    inputs: dict[str, Any] = {}
    for name, ref in step.input_refs.items():
        source = records.get(ref.step)
        if source is not None and source["status"] == "ok":
            inputs[name] = source.get("output")
        elif ref.optional:
            inputs[name] = None
        else:
            why = _describe(source) if source else "did not run"
            note = f"input {name!r} is missing: step {ref.step!r} {why}"
            return {"steps": {step.id: _record(step, "skipped", note=note)}}
    context = _context(state, inputs)
    run = state["run"]
    try:
        if step.when is not None and not evaluate(step.when, context):
            return {
                "steps": {step.id: _record(step, "skipped", note=f"condition not met: {step.when}")}
            }
        items = None
        if step.for_each is not None:
            items = evaluate(step.for_each, context)
            if not isinstance(items, list | tuple):
                raise BadInput(f"for_each must give a list, got {type(items).__name__}")
            items = json_safe(list(items))
    except (TemplateError, TypeError, ValueError, ArithmeticError, BadInput) as error:
        failure = (
            BadInput(f"step {step.id!r}: {error}") if not isinstance(error, BadInput) else error
        )
        return _failed(spec, run, step, failure, attempts=0, duration_ms=0.0)
    return Ready(context, items)


def _failed(
    spec: PipelineSpec,
    run: RunInfo,
    step: StepSpec,
    error: BaseException,
    *,
    attempts: int,
    duration_ms: float,
    item: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    info = _error(error)
    fatal = step.on_failure == "fail"
    record = _record(
        step,
        "failed" if fatal else "skipped",
        attempts=attempts,
        duration_ms=duration_ms,
        error=info,
        fatal=fatal,
        note=f"{'failed' if fatal else 'skipped after failing'}: {info['message']}",
        **extra,
    )
    return {
        "steps": {step.id: record},
        "failure_log": [_failure(spec, run, step, info, attempts, item)],
    }


def _ok(step: StepSpec, attempted: Attempted, **extra: Any) -> dict[str, Any]:
    record = _record(
        step,
        "ok",
        attempts=attempted.attempts,
        duration_ms=attempted.duration_ms,
        output=json_safe(attempted.output),
        **extra,
    )
    if attempted.model:
        record["models"] = [attempted.model]
    return {"steps": {step.id: record}}


def _call_id(run: RunInfo, step: StepSpec, index: int | None = None) -> str:
    suffix = "" if index is None else f"-{index}"
    return f"pl-{run['run_id']}-{step.id}{suffix}"


def make_step_node(
    spec: PipelineSpec, step: StepSpec, deps: StepDeps
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """Build the (sync, async) node functions of a step without parallel fan-out.

    A ``for_each`` step with ``parallel: false`` runs its elements one after another here,
    each under the step's policy (so each may pause for approval in turn).
    """

    def outcome(
        state: PipelineState, ready: Ready, results: list[tuple[int | None, Attempted]]
    ) -> dict[str, Any]:
        run = state["run"]
        if ready.items is None:
            attempted = results[0][1]
            if attempted.error is not None:
                return _failed(
                    spec,
                    run,
                    step,
                    attempted.error,
                    attempts=attempted.attempts,
                    duration_ms=attempted.duration_ms,
                )
            return _ok(step, attempted)
        return _gather(
            spec, step, run, [_item_record(step, i or 0, a) for i, a in results], len(ready.items)
        )

    def calls(state: PipelineState, ready: Ready) -> list[tuple[int | None, StepCall]]:
        run = state["run"]
        if ready.items is None:
            return [(None, StepCall(step, deps, ready.context, _call_id(run, step)))]
        return [
            (i, StepCall(step, deps, {**ready.context, "item": item}, _call_id(run, step, i)))
            for i, item in enumerate(ready.items)
        ]

    def run_step(state: PipelineState) -> dict[str, Any]:
        ready = _prepare(spec, step, state)
        if not isinstance(ready, Ready):
            return ready
        results = [(i, run_with_policy(step, call.run)) for i, call in calls(state, ready)]
        return outcome(state, ready, results)

    async def arun_step(state: PipelineState) -> dict[str, Any]:
        ready = _prepare(spec, step, state)
        if not isinstance(ready, Ready):
            return ready
        results = [
            (i, await arun_with_policy(step, call.run, call.native()))
            for i, call in calls(state, ready)
        ]
        return outcome(state, ready, results)

    return run_step, arun_step


def _item_record(step: StepSpec, index: int, attempted: Attempted) -> ItemRecord:
    record = ItemRecord(
        step=step.id,
        index=index,
        status="ok" if attempted.error is None else "failed",
        attempts=attempted.attempts,
        duration_ms=attempted.duration_ms,
        model=attempted.model,
    )
    if attempted.error is None:
        record["output"] = json_safe(attempted.output)
    else:
        record["error"] = _error(attempted.error)
    return record


def _gather(
    spec: PipelineSpec, step: StepSpec, run: RunInfo, records: list[ItemRecord], count: int
) -> dict[str, Any]:
    """Turn element records into the step's record: outputs in order, failures by policy."""
    ordered = sorted(records, key=lambda r: r["index"])
    failed = [r for r in ordered if r["status"] == "failed"]
    attempts = sum(r["attempts"] for r in ordered)
    duration = max((r["duration_ms"] for r in ordered), default=0.0)
    models = sorted({model for r in ordered if (model := r.get("model"))})
    extra: dict[str, Any] = {"items": count}
    if models:
        extra["models"] = models
    log = _element_failures(spec, run, step, failed, count)
    outputs = [r.get("output") for r in ordered if r["status"] == "ok"]
    if failed and step.on_failure == "fail":
        first = failed[0]["error"]
        record = _record(
            step,
            "failed",
            attempts=attempts,
            duration_ms=duration,
            error=first,
            fatal=True,
            note=f"failed: {len(failed)} of {count} element(s) failed; first: {first['message']}",
            **extra,
        )
        return {"steps": {step.id: record}, "failure_log": log}
    if failed and not outputs:
        # Every element failed: the step has no output, so its dependents see it as skipped.
        first = failed[0]["error"]
        record = _record(
            step,
            "skipped",
            attempts=attempts,
            duration_ms=duration,
            error=first,
            fatal=False,
            note=f"skipped after failing: all {count} element(s) failed; first: {first['message']}",
            **extra,
        )
        return {"steps": {step.id: record}, "failure_log": log}
    note = (
        {
            "note": f"{len(failed)} of {count} element(s) skipped after failing; "
            f"first: {failed[0]['error']['message']}"
        }
        if failed
        else {}
    )
    record = _record(
        step, "ok", attempts=attempts, duration_ms=duration, output=outputs, **extra, **note
    )
    return {"steps": {step.id: record}, "failure_log": log}


def _element_failures(
    spec: PipelineSpec, run: RunInfo, step: StepSpec, failed: list[ItemRecord], count: int
) -> list[StepFailure]:
    """One failure record per distinct error of a step's elements, naming how many had it.

    Fifty reminders drafted without a model fail fifty times with the same message; fifty
    ledger records (and fifty inbox lines offering a retry) said one thing fifty times.
    Elements with different errors still get a record each.
    """
    groups: dict[tuple[str, str, str], list[ItemRecord]] = {}
    for record in failed:
        if "error" in record:
            error = record["error"]
            groups.setdefault((error["kind"], error["type"], error["message"]), []).append(record)
    log = []
    for same in groups.values():
        first = same[0]
        error = first["error"]
        if len(same) > 1:
            indexes = ", ".join(str(r["index"]) for r in same[:10])
            more = ", …" if len(same) > 10 else ""
            error = StepError(
                kind=error["kind"],
                type=error["type"],
                message=f"{error['message']} ({len(same)} of {count} elements: {indexes}{more})",
            )
        attempts = sum(r["attempts"] for r in same)
        log.append(_failure(spec, run, step, error, attempts, first["index"]))
    return log


def _item_key(step: StepSpec, index: int) -> str:
    return f"{step.id}#{index}"


def make_fan_out(
    spec: PipelineSpec, step: StepSpec
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """Build a parallel ``for_each`` step: the node that lists the elements, and the router.

    The node records the step as ``mapping`` with its element count; the router sends one
    ``<step>__item`` task per element not yet done (``Send``), or goes straight to
    ``<step>__join`` when there is nothing to run.
    """

    def fan_out(state: PipelineState) -> dict[str, Any]:
        ready = _prepare(spec, step, state)
        if not isinstance(ready, Ready):
            return ready
        items = ready.items or []
        record = _record(
            step,
            "mapping",
            items=len(items),
            output={"items": items, "context": _portable(ready.context)},
        )
        return {"steps": {step.id: record}}

    def route(state: PipelineState) -> list[Send] | str:
        record = (state.get("steps") or {}).get(step.id)
        if record is None or record["status"] != "mapping":
            return f"{step.id}__join"
        done = state.get("items") or {}
        payload = record["output"]
        sends = [
            Send(
                f"{step.id}__item",
                ItemTask(index=i, item=item, context=payload["context"], run=state["run"]),
            )
            for i, item in enumerate(payload["items"])
            if _item_status(done, _item_key(step, i)) != "ok"
        ]
        return sends or f"{step.id}__join"

    return fan_out, route


def _item_status(done: Mapping[str, ItemRecord], key: str) -> str | None:
    record = done.get(key)
    return record["status"] if record is not None else None


def _portable(context: Mapping[str, Any]) -> dict[str, Any]:
    """Return what a ``Send`` carries of a template context (JSON; ``period``, ``now`` rebuilt)."""
    return {
        "inputs": json_safe(context["inputs"]),
        "params": json_safe(context["params"]),
        "request": context["request"],
        "project": context["project"],
        "today": context["today"].isoformat(),
    }


def make_item_node(
    spec: PipelineSpec, step: StepSpec, deps: StepDeps
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """Build the (sync, async) node that runs one element of a parallel ``for_each`` step."""

    def call_for(task: ItemTask) -> StepCall:
        portable = task["context"]
        context = template_context(
            inputs=portable["inputs"],
            params=portable["params"],
            request=portable["request"],
            project=portable["project"],
            today=date.fromisoformat(portable["today"]),
            now=_now(),
            item=task["item"],
        )
        return StepCall(step, deps, context, _call_id(task["run"], step, task["index"]))

    def run_item(task: ItemTask) -> dict[str, Any]:
        attempted = run_with_policy(step, call_for(task).run)
        return {
            "items": {_item_key(step, task["index"]): _item_record(step, task["index"], attempted)}
        }

    async def arun_item(task: ItemTask) -> dict[str, Any]:
        call = call_for(task)
        attempted = await arun_with_policy(step, call.run, call.native())
        return {
            "items": {_item_key(step, task["index"]): _item_record(step, task["index"], attempted)}
        }

    return run_item, arun_item


def make_join_node(spec: PipelineSpec, step: StepSpec) -> Callable[[PipelineState], dict[str, Any]]:
    """Build ``<step>__join``: collect the elements' records into the step's record."""

    def join(state: PipelineState) -> dict[str, Any]:
        record = (state.get("steps") or {}).get(step.id)
        if record is None or record["status"] != "mapping":
            return {}  # skipped, cancelled or already done before the fan-out
        count = record.get("items", 0)
        done = state.get("items") or {}
        records = [done[_item_key(step, i)] for i in range(count) if _item_key(step, i) in done]
        return _gather(spec, step, state["run"], records, count)

    return join


# --- start and finish ------------------------------------------------------------------------


def _stopped_at_start(
    spec: PipelineSpec,
    state: PipelineState,
    project: str,
    started_at: str,
    error: ParamsError,
    status: Literal["needs_input", "failed"],
    asks: list[str] | None = None,
) -> dict[str, Any]:
    """Return the state update of a run that stops at ``start``: its parameters don't fit.

    The run is recorded with ``status`` and the error (and a ``failure_log`` entry at
    ``start``, kind ``bad_input``); the previous run's step records are cleared.
    """
    run = RunInfo(
        pipeline=spec.name,
        version=spec.version,
        run_id=uuid.uuid4().hex[:12],
        attempt=1,
        project=project,
        params=dict(state.get("params") or {}),
        today=date.today().isoformat(),  # noqa: DTZ011
        started_at=started_at,
        status=status,
        error=str(error),
    )
    if asks is not None:
        run["asks"] = asks
    failure = StepFailure(
        pipeline=spec.name,
        pipeline_version=spec.version,
        run_id=run["run_id"],
        project=project,
        step="start",
        target="params",
        item=None,
        kind="bad_input",
        error_type=type(error).__name__,
        message=str(error),
        attempts=0,
        policy="fail",
        attempt=run["attempt"],
        at=started_at,
    )
    clear = {key: None for key in state.get("steps") or {}}
    return {"run": run, "steps": clear, "failure_log": [failure]}


def make_start_node(
    spec: PipelineSpec, deps: StepDeps | None = None
) -> Callable[[PipelineState, Runtime[NovaContext]], dict[str, Any]]:
    """Build ``start``: parameters, project, run id and "today"; resume or start afresh.

    Parameters come from the caller, the request (``nodes.request_params``; a stated value
    that fits no parameter stops the run with a message), the serving agent's model (for
    ``deps``' catalog and models), the previous run on the thread, then the defaults. A
    pipeline that will write with values it inferred first shows them for approval.

    A run that did not complete (a step failed the pipeline, or the process died) is
    resumed when the same thread is invoked again with the same parameters: steps that
    succeeded keep their results and are not run again; the others are cleared for a retry.
    """

    def start(state: PipelineState, runtime: Runtime[NovaContext]) -> dict[str, Any]:
        context = runtime.context or NovaContext()
        project = (
            context.project
            or spec.project
            or state.get("project")
            or get_settings().default_project
        )
        previous = state.get("run")
        base: dict[str, Any] = {"pipeline_result": None, "failures": []}
        started_at = _now().isoformat(timespec="milliseconds")
        try:
            route = state.get("route")
            asked = (
                list(previous.get("asks") or [])
                if previous is not None and previous["status"] == "needs_input"
                else list(route.get("answers") or [] if route else [])
            )
            params, extraction, today_date = read_params(
                spec,
                state.get("request") or "",
                state.get("params") or {},
                previous,
                deps,
                asked=asked,
            )
            confirm_params(spec, params, extraction, today_date)
            today = today_date.isoformat()
        except MissingParams as error:
            # Not a failed run: the owner is asked, and the next turn on the thread can
            # answer. The ask is still recorded (as a bad input at ``start``), so `nova
            # failures list` shows pipelines that were routed requests they could not run.
            return base | _stopped_at_start(
                spec, state, project, started_at, error, "needs_input", asks=error.names
            )
        except ParamsError as error:
            return base | _stopped_at_start(spec, state, project, started_at, error, "failed")
        resume = (
            previous is not None
            and previous["status"] not in ("completed", "completed_with_skips")
            and previous["params"] == params
            and previous["version"] == spec.version
        )
        records = state.get("steps") or {}
        items = state.get("items") or {}
        if resume:
            assert previous is not None
            clear_steps = {k: None for k, r in records.items() if r["status"] != "ok"}
            clear_items = {k: None for k, r in items.items() if r["status"] != "ok"}
            run = RunInfo(
                **{
                    **previous,
                    "attempt": previous["attempt"] + 1,
                    "status": "running",
                    "started_at": started_at,
                }
            )
            run.pop("error", None)
        else:
            clear_steps = {k: None for k in records}
            clear_items = {k: None for k in items}
            run = RunInfo(
                pipeline=spec.name,
                version=spec.version,
                run_id=uuid.uuid4().hex[:12],
                attempt=1,
                project=project,
                params=params,
                param_sources=dict(extraction.sources),
                param_evidence=dict(extraction.evidence),
                today=today,
                started_at=started_at,
                status="running",
            )
        return base | {"run": run, "steps": clear_steps, "items": clear_items, "project": project}

    return start


def _answer_text(output: Any) -> str:
    if output is None:
        return ""
    if isinstance(output, str):
        return output
    return "```json\n" + json.dumps(output, indent=2, ensure_ascii=False, default=str) + "\n```"


def make_finish_node(
    spec: PipelineSpec, catalog: Catalog[AgentSpec]
) -> Callable[[PipelineState, RunnableConfig], dict[str, Any]]:
    """Build ``finish``: the result, the answer, the agent-run record; ledger the failures."""

    def finish(state: PipelineState, config: RunnableConfig) -> dict[str, Any]:
        run = state["run"]
        records = state.get("steps") or {}
        ordered = [records[s.id] for s in spec.steps if s.id in records]
        agent_name = _agent_name(spec, state)
        failures = record_step_failures(
            spec,
            [
                f
                for f in state.get("failure_log") or []
                if f["run_id"] == run["run_id"] and f["attempt"] == run["attempt"]
            ],
            agent=catalog.agents.get(agent_name),
            config=config,
        )
        halted = _halted(state)
        skipped = [r for r in ordered if r["status"] in ("skipped", "cancelled")]
        status: RunStatus = (
            "needs_input"
            if run["status"] == "needs_input"
            else "failed"
            if halted
            else ("completed_with_skips" if skipped else "completed")
        )
        output_record = records.get(spec.output_step)
        output = (
            output_record.get("output")
            if output_record and output_record["status"] == "ok"
            else None
        )
        finished = _now()
        started = datetime.fromisoformat(run["started_at"])
        lines = []
        if status == "needs_input":
            lines.append(run.get("error") or "")
        elif halted:
            lines.append(f"The {spec.name} pipeline failed: {halted}.")
            if run.get("error"):
                lines.append(run["error"].rstrip(".") + ".")
            elif thread := thread_id():
                lines.append(
                    f"Steps that succeeded are kept: run it again on thread {thread} "
                    f"(nova pipeline run {spec.name} --thread {thread}) to resume from the "
                    "failed step."
                )
            if ids := [f["failure_id"][:12] for f in failures if "failure_id" in f]:
                lines.append(f"Recorded as failure {', '.join(ids)} (nova failures show {ids[0]}).")
        body = _answer_text(output)
        status_line = _status_line(spec, run, ordered, status)
        # A run that asks for a value says only that: the reply is the owner's question to
        # answer (and a reply ending in "?" makes the next turn a follow-up).
        parts = (
            ("\n".join(lines),)
            if status == "needs_input"
            else ("\n".join(lines), body, status_line)
        )
        text = "\n\n".join(part for part in parts if part)
        summaries = [
            StepSummary(
                step=r["step"],
                target=r["target"],
                status=r["status"],
                attempts=r["attempts"],
                duration_ms=r["duration_ms"],
                **({"note": r["note"]} if "note" in r else {}),  # type: ignore[typeddict-item]
            )
            for r in ordered
        ]
        result = PipelineResult(
            pipeline=spec.name,
            version=spec.version,
            content_version=spec.content_version,
            run_id=run["run_id"],
            attempt=run["attempt"],
            project=run["project"],
            status=status,
            output=output,
            text=text,
            steps=summaries,
            failures=failures,
            started_at=run["started_at"],
            finished_at=finished.isoformat(timespec="milliseconds"),
            duration_ms=round((finished - started).total_seconds() * 1000, 1),
            params=run["params"],
            param_sources=run.get("param_sources") or {},
        )
        if status == "needs_input":
            result["asks"] = list(run.get("asks") or [])
        models = sorted({m for r in ordered for m in r.get("models", [])})
        agent = catalog.agents.get(agent_name)
        checks = pipeline_checks(
            spec, agent.checks if agent else (), ordered, body, state.get("request") or ""
        )
        message = AIMessage(
            text,
            name=agent_name,
            additional_kwargs={PIPELINE_RESULT_KEY: result, "nova_checks": checks},
        )
        return {
            "run": {**run, "status": status},
            "pipeline_result": result,
            "failures": failures,
            "checks": checks,
            "messages": [message],
            "agent_run": _agent_run(spec, catalog, agent_name, status, failures, ordered, models),
        }

    return finish


def record_step_failures(
    spec: PipelineSpec,
    failures: list[StepFailure],
    *,
    agent: AgentSpec | None,
    config: RunnableConfig,
) -> list[StepFailure]:
    """Write each failed step of this run to the failure ledger; return them with their ids.

    Step failures end inside the pipeline (the policy skips the step or halts the run with
    an answer saying so), so no exception reaches the run's ``FailureRecorder``: without
    this they never reached ``nova failures list``. Records that could not be written keep
    no id (``record_failure`` logs why and never raises).
    """
    from nova.tracing.failures import current_run, record_failure

    where = current_run(config)
    # The pipeline as the root graph (`nova pipeline run`, the runner) resumes through its
    # own command; `nova failures retry` resumes the supervisor's graph.
    resume = (
        {"resume": f"nova pipeline run {spec.name} --thread {where.thread_id}"}
        if where.thread_id and "|" not in where.checkpoint_ns
        else {}
    )
    recorded: list[StepFailure] = []
    for failure in failures:
        if "failure_id" in failure:
            recorded.append(failure)
            continue
        item = "" if failure["item"] is None else f" (element {failure['item']})"
        record = record_failure(
            "step_failed",
            config=config,
            error_type=failure["error_type"],
            message=f"pipeline {spec.name}, step {failure['step']}{item}: {failure['message']}",
            node=failure["step"],
            agent=agent.name if agent else spec.agent,
            agent_version=agent.version_label if agent else spec.version,
            project=failure["project"],
            details={
                "pipeline": spec.name,
                "pipeline_version": spec.version,
                "pipeline_run": failure["run_id"],
                "step": failure["step"],
                "target": failure["target"],
                "item": failure["item"],
                "step_kind": failure["kind"],
                "attempts": failure["attempts"],
                "policy": failure["policy"],
                **resume,
            },
        )
        recorded.append(failure if record is None else {**failure, "failure_id": record.id})
    return recorded


def _outcome(result: CheckResult) -> CheckOutcome:
    return CheckOutcome(
        name=result.name,
        passed=result.passed,
        detail=result.detail,
        status="passed" if result.passed else "failed",
        judges="agent",
    )


def pipeline_checks(
    spec: PipelineSpec,
    declared: tuple[str, ...],
    ordered: list[StepRecord],
    answer: str,
    request: str,
) -> list[CheckOutcome]:
    """Run the serving agent's declared checks the pipeline can judge from its own steps.

    ``numbers_grounded``: every number in the answer must come from a deterministic step
    (skills, templates, computations: what no model wrote) or the request; a number only a
    model step produced is flagged, also when a later template embeds the model's text (a
    step fed by a model step is a source only for what it adds, not for the model's text
    it carries). ``glossary_preserved`` / ``target_language``: the
    verdicts of the translator steps, combined. Checks the pipeline cannot judge are left
    to the ``check`` node.
    """
    checks: list[CheckOutcome] = []
    if not answer:
        return checks
    if "numbers_grounded" in declared:
        from nodes.checks import numbers_grounded

        checks.append(
            _outcome(numbers_grounded(answer, grounded_sources(spec, ordered), request=request))
        )
    translated = [
        item
        for r in ordered
        if r["status"] == "ok" and r["target"] == "agent:translator"
        for item in _as_list(r.get("output"))
        if isinstance(item, dict)
    ]
    for name in ("glossary_preserved", "target_language"):
        if name not in declared or not translated:
            continue
        verdicts = [
            (item["target"], c)
            for item in translated
            for c in item.get("checks", [])
            if c["name"] == name
        ]
        failed = [f"{target}: {c['detail']}" for target, c in verdicts if not c["passed"]]
        detail = "; ".join(failed) or f"{len(verdicts)} translation(s): " + "; ".join(
            f"{target}: {c['detail']}" for target, c in verdicts
        )
        checks.append(_outcome(CheckResult(name, not failed, detail)))
    return checks


def grounded_sources(spec: PipelineSpec, ordered: list[StepRecord]) -> list[str]:
    """Return the texts a pipeline's answer may take numbers from: what no model wrote.

    Skill, template and computation outputs count; a model step's output does not, and a
    deterministic step downstream of a model step (a summary template embedding a drafted
    letter) counts with the model's text taken out of it.
    """
    by_id = {step.id: step for step in spec.steps}
    outputs = {r["step"]: r.get("output") for r in ordered if r["status"] == "ok"}
    model_text: list[str] = []
    tainted: set[str] = set()
    for step in spec.steps:
        if step.kind == "agent":
            tainted.add(step.id)
            if step.id in outputs:
                model_text += [t for t in _strings(outputs[step.id]) if len(t.strip()) >= 8]
        elif tainted & set(step.depends_on):
            tainted.add(step.id)
    model_text.sort(key=len, reverse=True)
    sources = []
    for step_id, output in outputs.items():
        if by_id[step_id].kind == "agent":
            continue
        if step_id in tainted:
            output = _without(output, model_text)
        sources.append(json.dumps(output, ensure_ascii=False, default=str))
    return sources


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    return []


def _without(value: Any, texts: list[str]) -> Any:
    if isinstance(value, str):
        for text in texts:
            value = value.replace(text, " ")
        return value
    if isinstance(value, dict):
        return {key: _without(item, texts) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without(item, texts) for item in value]
    return value


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _agent_name(spec: PipelineSpec, state: PipelineState) -> str:
    route = state.get("route")
    agent = route.get("agent") if route else None
    return agent or spec.agent or spec.name


def _status_line(
    spec: PipelineSpec, run: RunInfo, ordered: list[StepRecord], status: RunStatus
) -> str:
    counts: dict[str, int] = {}
    for record in ordered:
        counts[record["status"]] = counts.get(record["status"], 0) + 1
    tally = ", ".join(f"{n} {s}" for s, n in counts.items())
    resumed = f", resumed (attempt {run['attempt']})" if run["attempt"] > 1 else ""
    lines = [
        f"— pipeline {spec.name} {spec.version} · {status.replace('_', ' ')} · {tally} · "
        f"run {run['run_id']}{resumed}"
    ]
    if sources := run.get("param_sources"):
        lines.append("  parameters: " + describe_params(run["params"], sources))
    for record in ordered:
        if "note" in record:
            lines.append(f"  • {record['step']} {record['note']}")
    return "\n".join(lines)


def _agent_run(
    spec: PipelineSpec,
    catalog: Catalog[AgentSpec],
    agent_name: str,
    status: RunStatus,
    failures: list[StepFailure],
    ordered: list[StepRecord],
    models: list[str],
) -> AgentRun:
    outcome: AgentOutcome
    if status == "needs_input":
        outcome = "clarify"
    elif status == "failed":
        fatal = [r for r in ordered if r.get("fatal")]
        needs_model = any(r.get("error", {}).get("kind") == "needs_model" for r in fatal)
        outcome = "needs_model" if needs_model else "error"
    else:
        outcome = "answered" if models else "fast_path"
    agent = catalog.agents.get(agent_name)
    ran = sum(1 for r in ordered if r["status"] == "ok")
    detail = f"pipeline {spec.version_label}: {status}; {ran}/{len(spec.steps)} steps ok" + (
        f"; {len(failures)} failure(s)" if failures else ""
    )
    return AgentRun(
        agent=agent_name,
        version=agent.version if agent else spec.version,
        content_version=agent.content_version if agent else spec.content_version,
        model=", ".join(models) or None,
        steps=ran,
        outcome=outcome,
        detail=detail,
    )


def thread_id() -> str | None:
    """Return the thread id of the run this is called in (for resume hints), if any."""
    try:
        return str(get_config().get("configurable", {}).get("thread_id") or "") or None
    except RuntimeError:
        return None
