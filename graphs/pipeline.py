"""The pipeline subgraph, the pipeline compiler and the runner.

``compile_pipeline(spec, deps)`` turns a validated ``PipelineSpec`` into a LangGraph
``StateGraph``::

    START -> start -> <root steps, in parallel> -> ... -> finish -> END

Each step is a node; a step waits for the steps it takes inputs from (a waiting edge),
so independent steps share a super-step and run in parallel, and a step several others
need runs once, its output read by all of them. A ``for_each`` step fans out with ``Send``
(``<step>`` lists the elements, ``<step>__item`` runs one, ``<step>__join`` collects them
in order). See ``nodes.pipeline_steps`` for deadlines, retries and failure policy.

``build_pipeline_graph`` is the ``pipeline`` subgraph of the supervisor: a request routed
to a pipeline agent with a shipped pipeline (``agent:`` in the pipeline file) runs that
pipeline directly, as a compiled subgraph node ``run_<pipeline>`` (no model needed for
deterministic steps); any other pipeline-group agent runs the generic agent ⇄ tools loop.

``PipelineRunner`` runs a pipeline outside the supervisor (CLI, ``pipeline_run`` tool,
evals, benchmarks), with a checkpointer so an interrupted or failed run resumes on the same
thread. ``create_pipeline_cron`` schedules a pipeline on a LangGraph server.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from graphs.common import add_agent_loop, make_entry_check, shared_subgraph
from nodes.agent import current_agent
from nodes.checks import CheckRegistry
from nodes.pipeline_steps import (
    PipelineInput,
    PipelineOutput,
    PipelineResult,
    PipelineState,
    StepDeps,
    StepFailure,
    make_fan_out,
    make_finish_node,
    make_item_node,
    make_join_node,
    make_start_node,
    make_step_node,
)
from nova.catalog import AgentSpec, Catalog, default_catalog
from nova.glossary import Glossary
from nova.inbox.checkpoints import PIPELINE_METADATA_KEY
from nova.ledger.failures import FailureLedger
from nova.models import ModelFactory, default_model_factory
from nova.pipelines import Pipelines, PipelineSpec, StepSpec, load_pipelines
from nova.state import AgentLoopState, NovaContext, current_run_user
from nova.tracing.blame.steps import OWNER_METADATA

PipelineBuilder = StateGraph[PipelineState, NovaContext, PipelineInput, PipelineOutput]


def _project_glossary(project: str) -> Glossary:
    """Return ``project``'s glossary as the run's user sees it (for translator steps)."""
    from memory.glossary import project_glossary

    return project_glossary(project, owner=current_run_user())


def step_deps(
    *,
    catalog: Catalog[AgentSpec] | None = None,
    model_factory: ModelFactory | None = None,
    skills: Mapping[str, BaseTool] | None = None,
    glossary: Callable[[str], Glossary] | None = None,
) -> StepDeps:
    """Return step dependencies (defaults: the catalog, settings' models, the tool registry)."""
    if skills is None:
        from tools.registry import tool_registry

        skills = tool_registry()
    return StepDeps(
        skills=skills,
        catalog=catalog or default_catalog(),
        model_factory=model_factory or default_model_factory,
        glossary=glossary or _project_glossary,
    )


def shipped_pipelines(
    catalog: Catalog[AgentSpec] | None = None, directory: str | None = None
) -> Pipelines:
    """Load the shipped pipelines, checking skills (tool registry) and agents (catalog)."""
    from tools.registry import tool_registry

    catalog = catalog or default_catalog()
    return load_pipelines(directory, skills=set(tool_registry()), agents=set(catalog.names))


def _done_node(step: StepSpec) -> str:
    """Return the node that marks ``step`` finished (its join node for a parallel fan-out)."""
    return f"{step.id}__join" if step.for_each is not None and step.parallel else step.id


def _owner(step: StepSpec) -> dict[str, str] | None:
    """Node metadata naming the agent that runs a step, so blame names it, not the pipeline."""
    return {OWNER_METADATA: step.agent} if step.agent is not None else None


def compile_pipeline(spec: PipelineSpec, deps: StepDeps) -> PipelineBuilder:
    """Build (not compile) the graph of one pipeline.

    Args:
        spec: A validated pipeline (``load_pipelines``/``check_pipeline`` passed).
        deps: Skills, catalog, model factory and glossary the steps run against.

    Raises:
        ValueError: a step names a skill or agent ``deps`` does not have.

    """
    missing = [s.id for s in spec.steps if s.skill is not None and s.skill not in deps.skills]
    missing += [s.id for s in spec.steps if s.agent is not None and s.agent not in deps.catalog]
    if missing:
        raise ValueError(
            f"Pipeline {spec.name!r}: steps {missing} name targets the run does not provide"
        )
    builder: PipelineBuilder = StateGraph(
        PipelineState,
        context_schema=NovaContext,
        input_schema=PipelineInput,
        output_schema=PipelineOutput,
    )
    builder.add_node("start", cast(Any, make_start_node(spec, deps)))
    for step in spec.steps:
        if step.for_each is not None and step.parallel:
            fan_out, route = make_fan_out(spec, step)
            run_item, arun_item = make_item_node(spec, step, deps)
            builder.add_node(step.id, fan_out)
            builder.add_node(
                f"{step.id}__item",
                RunnableLambda(run_item, afunc=arun_item, name=f"{step.id}__item"),
                metadata=_owner(step),
            )
            builder.add_node(f"{step.id}__join", cast(Any, make_join_node(spec, step)))
            builder.add_conditional_edges(step.id, route, [f"{step.id}__item", f"{step.id}__join"])
            builder.add_edge(f"{step.id}__item", f"{step.id}__join")
        else:
            run_step, arun_step = make_step_node(spec, step, deps)
            builder.add_node(
                step.id,
                RunnableLambda(run_step, afunc=arun_step, name=step.id),
                metadata=_owner(step),
            )
    by_id = {step.id: step for step in spec.steps}
    needed: set[str] = set()
    for step in spec.steps:
        upstream = [_done_node(by_id[d]) for d in step.depends_on]
        needed.update(step.depends_on)
        if not upstream:
            builder.add_edge("start", step.id)
        elif len(upstream) == 1:
            builder.add_edge(upstream[0], step.id)
        else:
            builder.add_edge(upstream, step.id)  # waits for all of them
    sinks = [_done_node(step) for step in spec.steps if step.id not in needed]
    builder.add_node("finish", cast(Any, make_finish_node(spec, deps.catalog)))
    builder.add_edge(sinks if len(sinks) > 1 else sinks[0], "finish")
    builder.add_edge(START, "start")
    builder.add_edge("finish", END)
    return builder


# --- the supervisor's pipeline subgraph ----------------------------------------------------


class PipelineGraphState(AgentLoopState, total=False):
    """Nova's state plus what a pipeline run hands back (``checks`` from ``AgentLoopState``)."""

    pipeline_result: PipelineResult | None
    """The last pipeline run's result (status, answer, steps, failures)."""
    failures: list[StepFailure]
    """The last pipeline run's failures, structured, for the failure ledger."""


def build_pipeline_graph(
    *,
    catalog: Catalog[AgentSpec] | None = None,
    model_factory: ModelFactory | None = None,
    pipelines: Pipelines | None = None,
    skills: Mapping[str, BaseTool] | None = None,
    checks: CheckRegistry | None = None,
    ledger: FailureLedger | None = None,
) -> StateGraph[PipelineGraphState, NovaContext, PipelineGraphState, PipelineGraphState]:
    """Build (not compile) the pipeline subgraph: shipped pipelines run directly, others loop.

    ``enter -> run_<pipeline> -> check`` for an agent a shipped pipeline serves (the pipeline
    computes the verdicts it can judge; ``check`` records failures and runs the rest);
    ``enter -> agent ⇄ tools -> check`` for any other pipeline-group agent.

    Args:
        catalog: Agents; the configured catalog by default.
        model_factory: How agent steps and the agent loop get models; settings-driven by default.
        pipelines: Pipelines to serve; the shipped ones by default.
        skills: Tools steps may call; the tool registry by default.
        checks: Assumption checks by name (the ``check`` node); Nova's by default.
        ledger: Failure ledger; the configured one by default.

    """
    catalog = catalog or default_catalog()
    model_factory = model_factory or default_model_factory
    pipelines = pipelines if pipelines is not None else shipped_pipelines(catalog)
    deps = step_deps(catalog=catalog, model_factory=model_factory, skills=skills)
    builder = StateGraph(PipelineGraphState, context_schema=NovaContext)
    builder.add_node("enter", cast(Any, make_entry_check(catalog, "pipeline")))
    served: dict[str, str] = {}
    for spec in pipelines:
        if (
            spec.agent is None
            or spec.agent not in catalog
            or catalog[spec.agent].subgraph != "pipeline"
        ):
            continue
        node = f"run_{spec.name}"
        compiled = compile_pipeline(spec, deps).compile(name=spec.name)
        # LangGraph's default thread pool has min(32, cores + 4) workers; a pipeline's
        # parallel steps need their own limit to overlap on a small machine.
        builder.add_node(node, compiled.with_config(max_concurrency=spec.max_concurrency))
        builder.add_edge(node, "check")
        served[spec.agent] = node
    add_agent_loop(
        builder,  # type: ignore[arg-type]
        catalog=catalog,
        model_factory=model_factory,
        subgraph="pipeline",
        then=END,
        checks=checks,
        ledger=ledger,
    )

    def choose(state: PipelineGraphState) -> str:
        return served.get(current_agent(state, catalog).name, "agent")

    builder.add_edge(START, "enter")
    builder.add_conditional_edges("enter", choose, [*served.values(), "agent"])
    return builder


# Compiled once per process and shared with the supervisor (graphs.common.shared_subgraph).
graph = shared_subgraph("pipeline")


# --- running a pipeline outside the supervisor -------------------------------------------


@dataclass(slots=True)
class PipelineRun:
    """A pipeline run as seen by its caller: the result, or the approvals it waits for."""

    pipeline: str
    thread_id: str
    result: PipelineResult | None = None
    interrupts: list[Any] = field(default_factory=list)
    """Payloads of pending approval requests (the run is paused until resumed)."""

    @property
    def waiting(self) -> bool:
        """Whether the run is paused for approval."""
        return bool(self.interrupts)


StepEvent = Callable[[str, Mapping[str, Any]], None]
"""``on_event(node, update)``: called after each node of the pipeline finishes."""


class PipelineRunner:
    """Run pipelines by name, with checkpointing, resumption and approval handling.

    Args:
        catalog: Agents; the configured catalog by default.
        model_factory: Models for agent steps; settings-driven by default.
        skills: Tools steps may call; the tool registry by default.
        pipelines: Pipelines; the shipped ones by default.
        checkpointer: Where runs are checkpointed (resumable by thread). ``None`` inherits
            the caller's checkpointer when run inside a graph, else keeps nothing.
        glossary: Project id → glossary for translator steps; project glossaries by default.

    """

    def __init__(
        self,
        *,
        catalog: Catalog[AgentSpec] | None = None,
        model_factory: ModelFactory | None = None,
        skills: Mapping[str, BaseTool] | None = None,
        pipelines: Pipelines | None = None,
        checkpointer: BaseCheckpointSaver[Any] | None = None,
        glossary: Callable[[str], Glossary] | None = None,
    ) -> None:
        self.catalog = catalog or default_catalog()
        self.deps = step_deps(
            catalog=self.catalog, model_factory=model_factory, skills=skills, glossary=glossary
        )
        self.pipelines = pipelines if pipelines is not None else shipped_pipelines(self.catalog)
        self.checkpointer = checkpointer
        self._graphs: dict[str, CompiledStateGraph[Any, Any, Any, Any]] = {}

    def graph(self, name: str) -> CompiledStateGraph[Any, Any, Any, Any]:
        """Return the compiled graph of pipeline ``name`` (compiled once)."""
        if name not in self._graphs:
            spec = self.pipelines[name]
            builder = compile_pipeline(spec, self.deps)
            self._graphs[name] = builder.compile(checkpointer=self.checkpointer, name=spec.name)
        return self._graphs[name]

    def _config(self, spec: PipelineSpec, thread_id: str | None) -> RunnableConfig:
        if thread_id is None:  # nested in a running graph: its thread and checkpointer apply
            return {"max_concurrency": spec.max_concurrency}
        return {
            "configurable": {"thread_id": thread_id},
            "max_concurrency": spec.max_concurrency,
            # Checkpoint metadata naming the pipeline: `nova inbox` finds stalled runs by it
            # without loading every thread's state (nova.inbox.checkpoints).
            "metadata": {PIPELINE_METADATA_KEY: spec.name},
        }

    def _payload(
        self,
        name: str,
        thread_id: str,
        params: Mapping[str, Any] | None,
        project: str | None,
        request: str,
        decision: Mapping[str, Any] | None,
    ) -> Any:
        if decision is not None:
            pending = self._pending(name, thread_id)
            # Several elements may wait at once (each its own task): answer the first only.
            return Command(resume={pending[0]: dict(decision)} if pending else dict(decision))
        if self.checkpointer is not None:
            snapshot = self.graph(name).get_state(self._config(self.pipelines[name], thread_id))
            if snapshot.next:  # a crashed or paused run: continue it where it stopped
                return None
        payload: dict[str, Any] = {"request": request, "params": dict(params or {})}
        if project:
            payload["project"] = project
        return payload

    def _pending(self, name: str, thread_id: str) -> list[str]:
        """Ids of the interrupts a paused run waits on, in task order."""
        if self.checkpointer is None:
            return []
        snapshot = self.graph(name).get_state(self._config(self.pipelines[name], thread_id))
        return [item.id for task in snapshot.tasks for item in task.interrupts]

    def _finish(self, name: str, thread_id: str, updates: list[tuple[str, Any]]) -> PipelineRun:
        run = PipelineRun(pipeline=name, thread_id=thread_id)
        for node, update in updates:
            if node == "__interrupt__":
                run.interrupts += [item.value for item in update]
            elif node == "finish" and isinstance(update, Mapping):
                run.result = update.get("pipeline_result")
        return run

    def run(
        self,
        name: str,
        *,
        params: Mapping[str, Any] | None = None,
        project: str | None = None,
        request: str = "",
        thread_id: str | None = None,
        decision: Mapping[str, Any] | None = None,
        model: str | None = None,
        on_event: StepEvent | None = None,
        nested: bool = False,
    ) -> PipelineRun:
        """Run (or resume) pipeline ``name`` and return its result or pending approvals.

        Args:
            name: Pipeline name.
            params: Parameter values (validated against the pipeline's ``params``).
            project: Project scope; the pipeline's own or the default project otherwise.
            request: The request text (for parameters read from it).
            thread_id: Thread to run on; reuse it to resume a failed or paused run.
            decision: Approval decision for a paused run (``{"approved": true, ...}``).
            model: Model override for agent steps.
            on_event: Called with ``(node, update)`` after every node (progress display).
            nested: Run inside the calling graph (a tool or node): its thread, checkpointer
                and interrupts apply, and ``thread_id`` is ignored.

        """
        spec = self.pipelines[name]
        thread_id = thread_id or f"pipeline-{name}-{uuid.uuid4().hex[:12]}"
        payload = (
            self._payload(name, thread_id, params, project, request, decision)
            if not nested
            else {
                "request": request,
                "params": dict(params or {}),
                **({"project": project} if project else {}),
            }
        )
        updates: list[tuple[str, Any]] = []
        context = NovaContext(project=project or spec.project, model=model)
        for chunk in self.graph(name).stream(
            payload,
            self._config(spec, None if nested else thread_id),
            context=context,
            stream_mode="updates",
        ):
            for node, update in chunk.items():
                updates.append((node, update))
                if on_event is not None:
                    on_event(node, update if isinstance(update, Mapping) else {})
        return self._finish(name, thread_id, updates)

    async def arun(
        self,
        name: str,
        *,
        params: Mapping[str, Any] | None = None,
        project: str | None = None,
        request: str = "",
        thread_id: str | None = None,
        decision: Mapping[str, Any] | None = None,
        model: str | None = None,
    ) -> PipelineRun:
        """Run like ``run``, on asyncio: async tools natively, sync ones in worker threads."""
        spec = self.pipelines[name]
        thread_id = thread_id or f"pipeline-{name}-{uuid.uuid4().hex[:12]}"
        payload = self._payload(name, thread_id, params, project, request, decision)
        updates: list[tuple[str, Any]] = []
        context = NovaContext(project=project or spec.project, model=model)
        stream: AsyncIterator[Any] = self.graph(name).astream(
            payload, self._config(spec, thread_id), context=context, stream_mode="updates"
        )
        async for chunk in stream:
            updates += list(chunk.items())
        return self._finish(name, thread_id, updates)


# --- schedules on a LangGraph server -------------------------------------------------------


def pipeline_cron_payload(
    pipeline: PipelineSpec, *, project: str | None = None, request: str | None = None
) -> dict[str, Any]:
    """Return the ``input`` and ``context`` a cron sends to run ``pipeline`` on the ``nova`` graph.

    The run skips routing (``context.agent`` names the pipeline's agent), so the request
    text only matters for parameters read from it.
    """
    if pipeline.agent is None:
        raise ValueError(
            f"Pipeline {pipeline.name!r} serves no catalog agent (agent: in its file); "
            "the nova graph can only run pipelines that an agent serves"
        )
    text = request or f"Run the {pipeline.name.replace('_', ' ')} pipeline."
    context: dict[str, Any] = {"agent": pipeline.agent}
    if project or pipeline.project:
        context["project"] = project or pipeline.project
    return {"input": {"messages": [{"role": "user", "content": text}]}, "context": context}


async def create_pipeline_cron(
    client: Any,
    pipeline: PipelineSpec | str,
    schedule: str,
    *,
    project: str | None = None,
    request: str | None = None,
    assistant_id: str = "nova",
    timezone: str | None = None,
) -> Any:
    """Schedule ``pipeline`` on a LangGraph server with ``client.crons.create``.

    Each firing starts a new thread on the ``nova`` graph whose run goes straight to the
    pipeline's agent (no routing); results land in the server's threads and runs.

    Example::

        from langgraph_sdk import get_client
        client = get_client(url="http://127.0.0.1:2024")
        cron = await create_pipeline_cron(client, "daily_briefing", "0 7 * * 1-5",
                                          project="parts-shop", timezone="Europe/Berlin")
        # later: await client.crons.delete(cron["cron_id"])

    Args:
        client: A ``langgraph_sdk`` async client (``get_client``).
        pipeline: The pipeline, or its name among the shipped pipelines.
        schedule: Cron expression (``minute hour day month weekday``), checked with croniter.
        project: Project scope of the runs.
        request: Request text for the runs (default "Run the <name> pipeline.").
        assistant_id: Assistant or graph id on the server (``nova``).
        timezone: IANA time zone the schedule is read in (server default: UTC).

    Raises:
        ValueError: the schedule is not a valid cron expression.

    """
    spec = pipeline if isinstance(pipeline, PipelineSpec) else shipped_pipelines()[pipeline]
    check_schedule(schedule)
    payload = pipeline_cron_payload(spec, project=project, request=request)
    extra: dict[str, Any] = {"timezone": timezone} if timezone else {}
    return await client.crons.create(
        assistant_id,
        schedule=schedule,
        input=payload["input"],
        context=payload["context"],
        metadata={"nova_pipeline": spec.name, "nova_pipeline_version": spec.version},
        **extra,
    )


def check_schedule(schedule: str) -> None:
    """Raise ``ValueError`` with an example when ``schedule`` is not a cron expression."""
    from croniter import croniter

    if not croniter.is_valid(schedule):
        raise ValueError(
            f"Invalid cron schedule {schedule!r}: use five fields 'minute hour day month weekday', "
            "e.g. '0 7 * * 1-5' for 07:00 on weekdays"
        )
