"""Replays of an agent's turn for the prompt gate: from the run's checkpoint, with its tools.

A recorded run is replayed from its thread's checkpoint just before the agent's node ran
(``nova.tracing.blame.steps.load_run`` reads the steps, subgraphs included): that
checkpoint's state (the thread's messages, the route, recalled memories, the project) is
copied into a fresh in-memory checkpointer and the agent's subgraph loop (agent ⇄ tools,
then the checks) runs again on it with a copy of the catalog in which the agent is the
parent or the candidate spec. Nothing reaches the user's thread: the recorded graph is only read.

No side effect happens in a replay:

- tools that only read (ERP reads, the calculator, memory and glossary look-ups, …,
  ``REPLAY_SAFE``) run as in the real node;
- an ERP write or a mutating MCP tool pauses for the owner's approval before it writes
  (``nova.erp.approval``, ``tools.mcp``): the replay ends there, "would ask for approval",
  and the pause is never answered;
- every other tool (memory and glossary writes, web fetches, pipeline runs, tools added
  later) is replaced by a stand-in that pauses the same way, so the replay ends
  "would call <tool>" without running it;
- failures the replayed nodes meet are not recorded (``ledger_muted``).

A run without a usable checkpoint (no thread recorded, an old or pruned thread, another
checkpoint database, an agent step that is not in it) is replayed as the agent's model
turn alone (system prompt + request, no tools); the replay says which, and why.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage
from langchain_core.tools import BaseTool, StructuredTool

from nova.catalog.loader import Catalog
from nova.catalog.spec import AgentSpec
from nova.messages import message_text
from nova.state import Subgraph

if TYPE_CHECKING:
    from nova.tracing.store import TraceStore

log = logging.getLogger(__name__)

ReplayHow = Literal["checkpoint", "model turn"]

REPLAY_SAFE: frozenset[str] = frozenset(
    {
        "calculator",
        "current_datetime",
        "detect_language",
        "glossary_lookup",
        "memory_search",
        "pipeline_list",
        "project_info",
    }
)
"""Registry tools that only read: they run in a replay (ERP read skills too). Any tool not
named here or among the ERP skills is held, so a tool added later is safe by default."""

HELD_KIND = "replay_held_tool"
"""``type`` of the pause a held tool makes in a replay."""

SUBGRAPHS_WITH_AGENT: tuple[Subgraph, ...] = ("chat", "erp", "translation")
"""Subgraphs whose agent loop a replay can run (pipeline steps are not replayed)."""


@dataclass(frozen=True, slots=True)
class Replay:
    """One replay of an agent's turn."""

    answer: str
    """The agent's final answer ("" when the replay ended at a pause)."""
    how: ReplayHow
    tools: tuple[str, ...] = ()
    """Tools the model called, in order (held ones included)."""
    ended: str = "answered"
    """``answered``, ``would ask for approval: …`` or ``would call …`` (held)."""
    note: str | None = None
    """Why the checkpoint was not used (a model-turn replay), or where it started."""
    messages: tuple[AnyMessage, ...] = ()
    """The thread as the replay left it (for checks that read tool results)."""

    @property
    def paused(self) -> bool:
        """Whether the replay ended before an answer (an approval or a held tool)."""
        return self.ended != "answered"

    def figures(self) -> dict[str, Any]:
        """Return what the gate stores about this replay."""
        return {"how": self.how, "tools": list(self.tools), "ended": self.ended}


@dataclass(frozen=True, slots=True)
class Start:
    """Where a run's agent turn starts: the agent subgraph's state before the agent ran."""

    subgraph: Subgraph
    values: Mapping[str, Any]
    checkpoint: str
    """The checkpoint's id (``thread/checkpoint``), for the gate's figures."""


# --- finding the checkpoint ------------------------------------------------------------------


@dataclass(slots=True)
class RecordedRuns:
    """The graph runs were recorded with, and its checkpoints, opened on first use.

    Args:
        graph: The compiled root graph with the checkpointer the runs used, or a function
            returning it (called once, when a run with a thread is first replayed);
            ``None``: no checkpoints, every replay is a model turn.
        traces: The trace store, for a run's start time (which turn of its thread it was).

    """

    graph: Any = None
    traces: TraceStore | None = None
    _graph: Any = field(default=None, init=False)
    _broken: str | None = field(default=None, init=False)
    _starts: dict[tuple[str, str | None, str], Start | str] = field(
        default_factory=dict, init=False
    )

    def _root(self) -> Any:
        if self._graph is None and self._broken is None:
            try:
                built = hasattr(self.graph, "get_state_history")
                self._graph = self.graph if built or self.graph is None else self.graph()
            except Exception as error:  # the recorded graph cannot be built: say so per case
                first = str(error).splitlines()[0][:200] if str(error) else ""
                self._broken = (
                    f"the recorded graph cannot be built ({type(error).__name__}: {first})"
                )
                log.info("No checkpoint replays: %s", error)
        return self._graph

    def start(
        self, agent: str, *, thread_id: str | None, run_id: str | None, request: str
    ) -> Start | str:
        """Return where ``agent``'s turn of the run starts, or why it cannot be found."""
        if not thread_id:
            return "the run recorded no thread"
        key = (thread_id, run_id, agent)
        if key not in self._starts:
            self._starts[key] = self._find(agent, thread_id, run_id, request)
        return self._starts[key]

    def _find(self, agent: str, thread_id: str, run_id: str | None, request: str) -> Start | str:
        from nova.tracing.blame.steps import load_run

        graph = self._root()
        if graph is None:
            return self._broken or "no checkpoints were given to the gate"
        try:
            steps = load_run(graph, thread_id, thread=True)
        except LookupError:
            return f"thread {thread_id} has no checkpoints (pruned, or another checkpoint database)"
        wanted = request.strip()
        found = [
            step
            for step in steps.steps
            if step.node == "agent"
            and step.agent == agent
            and len(step.path) == 1
            and step.path[0] in SUBGRAPHS_WITH_AGENT
            and not step.before.values.get("agent_steps")
            and str(step.before.values.get("request") or "").strip() == wanted
        ]
        if not found:
            return f"no step of {agent} answering this request in thread {thread_id}"
        # The run's own turn: the first such step after the run started, when its trace
        # says when; else the newest turn that asked the same request.
        started = self._started_at(run_id)
        after = [
            s
            for s in found
            if started and s.before.created_at and _when(s.before.created_at) >= started
        ]
        step = after[0] if after else found[-1]
        checkpoint = step.before.config.get("configurable", {}).get("checkpoint_id", "?")
        subgraph = next(s for s in SUBGRAPHS_WITH_AGENT if s == step.path[0])
        return Start(subgraph, dict(step.before.values), f"{thread_id}/{checkpoint}")

    def _started_at(self, run_id: str | None) -> datetime | None:
        if self.traces is None or not run_id:
            return None
        from nova.tracing.store import TraceNotFound

        try:
            return _when(self.traces.get(run_id, steps=False).started_at)
        except TraceNotFound:
            return None


def _when(value: str | datetime) -> datetime:
    """Return a timestamp as an aware UTC datetime (checkpoints keep ISO text, traces not)."""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@contextlib.contextmanager
def open_recorded(traces: TraceStore | None = None) -> Iterator[RecordedRuns]:
    """Open the configured checkpoints with Nova's graph (built only if a replay needs it)."""
    stack = contextlib.ExitStack()

    def graph() -> Any:
        # graphs/ and memory/ sit above nova/ in the stack: imported when a replay needs them.
        from graphs.nova import default_nova_graph
        from memory.checkpoint import open_checkpointer

        checkpointer = stack.enter_context(open_checkpointer())
        return default_nova_graph().copy(update={"checkpointer": checkpointer})

    with stack:
        yield RecordedRuns(graph, traces)


# --- tools in a replay -----------------------------------------------------------------------


def _held(tool: BaseTool) -> BaseTool:
    """Return a stand-in for ``tool`` that pauses instead of running (the replay ends there)."""
    name = tool.name

    def pause(**args: Any) -> str:
        from langgraph.types import interrupt

        interrupt({"type": HELD_KIND, "tool": name, "args": {k: str(v) for k, v in args.items()}})
        return "not run in a replay"

    return StructuredTool(
        name=name,
        description=tool.description,
        args_schema=tool.args_schema if tool.args_schema is not None else {"type": "object"},
        func=pause,
    )


def replay_tools(names: Iterable[str]) -> list[BaseTool]:
    """Resolve tools for a replay: readers as they are, ERP writes as is (they ask), others held."""
    from nova.erp.skills import READ_SKILLS
    from nova.erp.writes import WRITE_SKILLS
    from tools.registry import get_tools

    runs = REPLAY_SAFE | frozenset(READ_SKILLS) | frozenset(WRITE_SKILLS)
    return [tool if tool.name in runs else _held(tool) for tool in get_tools(names)]


# --- replaying -------------------------------------------------------------------------------


def with_agent(catalog: Catalog[AgentSpec], spec: AgentSpec) -> Catalog[AgentSpec]:
    """Return ``catalog`` with ``spec`` in place of the agent of its name."""
    return replace(catalog, agents={**catalog.agents, spec.name: spec})


def _pause_text(values: Any) -> str:
    kind = values.get("type") if isinstance(values, Mapping) else None
    if kind == HELD_KIND:
        return f"would call {values.get('tool')} (not run in a replay)"
    if isinstance(values, Mapping):
        change = values.get("change")
        what = (
            change.get("action")
            if isinstance(change, Mapping)
            else values.get("tool") or values.get("name")
        )
        return f"would ask for approval: {kind or 'approval'}" + (f" ({what})" if what else "")
    return "would ask for approval"


def from_checkpoint(
    spec: AgentSpec,
    catalog: Catalog[AgentSpec],
    start: Start,
    model_factory: Any,
    *,
    tool_resolver: Callable[[Iterable[str]], list[BaseTool]] = replay_tools,
) -> Replay:
    """Run ``spec``'s agent loop again from ``start`` on a scratch thread (see module)."""
    from langgraph.checkpoint.memory import InMemorySaver

    from graphs.common import build_agent_subgraph
    from nova.state import NovaContext
    from nova.tracing.failures import ledger_muted

    # The loop every agent subgraph adds (agent ⇄ tools, then the checks); the fast path
    # before it is not replayed, since the run went past it to the agent.
    graph = build_agent_subgraph(
        start.subgraph,
        catalog=with_agent(catalog, spec),
        model_factory=model_factory,
        tool_resolver=tool_resolver,
    ).compile(checkpointer=InMemorySaver(), name=f"replay-{start.subgraph}")
    config: Any = {"configurable": {"thread_id": f"replay-{uuid.uuid4().hex}"}}
    before = list(start.values.get("messages") or [])
    known = {m.id for m in before if getattr(m, "id", None)}
    values = {k: v for k, v in start.values.items() if k in graph.channels}
    with ledger_muted():
        # The state goes in as the subgraph's entry step wrote it: the agent runs next.
        graph.update_state(config, values, as_node="enter")
        graph.invoke(None, config, context=NovaContext(project=start.values.get("project")))
    state = graph.get_state(config)
    messages = list(state.values.get("messages") or [])
    new = [m for m in messages[len(before) :] if getattr(m, "id", None) not in known]
    calls = tuple(c["name"] for m in new if isinstance(m, AIMessage) for c in m.tool_calls)
    answers = [m for m in new if isinstance(m, AIMessage) and not m.tool_calls]
    ended = "answered"
    if state.interrupts:
        ended = _pause_text(state.interrupts[0].value)
    elif not answers:
        ended = "no answer"
    return Replay(
        answer="" if ended != "answered" else message_text(answers[-1]),
        how="checkpoint",
        tools=calls,
        ended=ended,
        note=f"from checkpoint {start.checkpoint}",
        messages=tuple(messages),
    )


def model_turn(spec: AgentSpec, request: str, model_factory: Any, why: str) -> Replay:
    """Replay ``spec``'s model turn alone: its prompt and the request, no tools."""
    from nova.models import ModelUnavailable

    model = model_factory(spec, None)
    if isinstance(model, ModelUnavailable):
        raise RuntimeError(model.message)
    reply = model.invoke([SystemMessage(spec.prompt), HumanMessage(request)])
    answer = message_text(reply)
    return Replay(
        answer=answer,
        how="model turn",
        note=why,
        messages=(HumanMessage(request), AIMessage(answer)),
    )


@dataclass(slots=True)
class Replayer:
    """Replays runs of one catalog's agents with a given spec (parent or candidate).

    A replay is made once per spec content and run: the parent, replayed for each of
    several candidates, is judged on the same answers.
    """

    catalog: Catalog[AgentSpec] | None
    """The catalog in force (``None``: no checkpoint replays, model turns only)."""
    model_factory: Any
    recorded: RecordedRuns | None = None
    _done: dict[tuple[str, str | None, str | None, str], Replay] = field(
        default_factory=dict, init=False, repr=False
    )

    def __call__(
        self,
        spec: AgentSpec,
        *,
        request: str,
        thread_id: str | None = None,
        run_id: str | None = None,
    ) -> Replay:
        """Replay the run from its checkpoint if it has one, else its model turn (noted)."""
        key = (spec.content_version, thread_id, run_id, request)
        if key not in self._done:
            self._done[key] = self._replay(spec, request, thread_id, run_id)
        return self._done[key]

    def _replay(
        self, spec: AgentSpec, request: str, thread_id: str | None, run_id: str | None
    ) -> Replay:
        start: Start | str = "no checkpoints were given to the gate"
        if self.recorded is not None and self.catalog is not None:
            start = self.recorded.start(
                spec.name, thread_id=thread_id, run_id=run_id, request=request
            )
        if isinstance(start, Start) and self.catalog is not None:
            try:
                return from_checkpoint(spec, self.catalog, start, self.model_factory)
            except Exception as error:  # a replay that cannot run is judged on the model turn
                log.info("Checkpoint replay of %s failed: %s", run_id or thread_id, error)
                start = f"the checkpoint replay failed ({type(error).__name__}: {error})"
        return model_turn(spec, request, self.model_factory, str(start))
