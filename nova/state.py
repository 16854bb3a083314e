"""Graph state, input/output schemas and the run context: one module, reducers spelled out.

State values are TypedDicts (plain JSON once checkpointed), so the SDK, Studio and the
checkpointer all see the same shape without custom serialisers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal, NotRequired, Protocol, TypeVar

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from langgraph.runtime import Runtime

# Defined apart so the ledgers can use them without importing LangGraph (``nova inbox``).
from nova.route_types import RouteMethod, Subgraph

AgentOutcome = Literal["answered", "fast_path", "needs_model", "step_limit", "clarify", "error"]


class RouteCandidate(TypedDict):
    """One agent the router considered, with its calibrated probability."""

    agent: str
    score: float


class RouteDecision(TypedDict):
    """Why a request went where it went; also appended to the routing ledger."""

    id: str
    agent: str | None
    """Chosen agent, or ``None`` when Nova asks the user to clarify."""
    subgraph: Subgraph | None
    confidence: float
    margin: float
    """Score of the best candidate minus the second best."""
    candidates: list[RouteCandidate]
    method: RouteMethod
    reason: str
    question: NotRequired[str | None]
    """Clarifying question shown to the user when ``method == "clarify"``."""
    scope: NotRequired[str]
    """Why the turn runs in another project than the one it started in: a run that names
    no project, on a new thread, routed to an ERP agent, is scoped to the project that owns
    the ERP data (``nodes.route_context.data_owner_scope``); the answer says so."""
    similarity: NotRequired[float]
    """Cosine similarity of the request to its nearest catalog example (any agent's), set
    by the classifier: how closely the catalog knows requests like this one."""
    answers: NotRequired[list[str]]
    """The pipeline parameters this turn answers: Nova's previous reply was the routed
    pipeline asking the owner for them (``nodes.question_route.answer_decision``)."""
    catalog_version: str
    router_version: str
    latency_ms: float


class MemoryHit(TypedDict):
    """A recalled memory injected into the agent's context, cited by id."""

    id: str
    text: str
    kind: str
    score: float
    source: NotRequired[str]
    created_at: NotRequired[str]
    """When the memory was stored (ISO 8601, UTC), so answers can date what they cite."""


class ThreadRoute(TypedDict):
    """The router's memory of a thread: where its conversation currently is.

    Kept in the graph state (so it is checkpointed with the thread) and read by the next
    turn's ``route`` node to recognise an elliptical follow-up, and by the ERP fast path
    to resolve one with the earlier turns' parameters.
    """

    agent: str
    subgraph: Subgraph | None
    route_id: str
    """The decision that started this conversation topic (method other than followup)."""
    anchor: str
    """The request that was routed afresh (the topic's full question)."""
    followups: list[str]
    """Follow-ups since ``anchor``, oldest first; the current turn's is last."""


class AgentRun(TypedDict):
    """Which agent (and exactly which version of it) answered, and how it ended."""

    agent: str
    version: str
    content_version: str
    model: str | None
    steps: int
    outcome: AgentOutcome
    detail: NotRequired[str]


CheckStatus = Literal["passed", "failed", "skipped", "error"]
JudgedStep = Literal["agent", "route", "tools"]
"""Which step's output a check judges: the agent's answer, the route, or a tool result."""


class CheckOutcome(TypedDict):
    """One check's verdict as kept in state, traces and the answer's ``nova_checks``."""

    name: str
    passed: bool
    detail: str
    status: CheckStatus
    judges: JudgedStep
    failure_id: NotRequired[str]
    target: NotRequired[str]


class NovaInput(TypedDict):
    """What a caller sends: new messages (Studio shows just this form)."""

    messages: Annotated[list[AnyMessage], add_messages]


class NovaOutput(TypedDict):
    """What a run returns: the conversation, the route taken and the agent that answered."""

    messages: Annotated[list[AnyMessage], add_messages]
    route: RouteDecision | None
    agent_run: AgentRun | None
    answer: str


class NovaState(TypedDict, total=False):
    """Full supervisor state, shared by the subgraphs."""

    messages: Annotated[list[AnyMessage], add_messages]
    request: str
    """Text of the latest human message (set by intake)."""
    instruction: str
    """The owner's instruction in ``request``, without the document, page or message it
    carries ("summarise this: <doc>" -> "summarise this"); what the turn is routed on."""
    project: str
    """Project scope of this turn: the run context's, else the thread's, else the default
    (never from model output)."""
    memories: list[MemoryHit]
    route: RouteDecision | None
    thread_route: ThreadRoute | None
    """The thread's current topic, for routing follow-ups (set by ``route``)."""
    agent_run: AgentRun | None
    agent_steps: int
    """Model turns taken by the current agent in this turn (reset by intake)."""
    answer: str
    summary: str
    """Running summary of older turns (kept when long threads are compacted)."""


@dataclass(frozen=True, slots=True)
class NovaContext:
    """Run-scoped settings, passed as ``context=`` (never read from globals or model output)."""

    project: str | None = None
    """Project scope; ``None`` uses ``NOVA_DEFAULT_PROJECT``."""
    user_id: str | None = None
    """Authenticated user (set by the server's auth on the hosted graph)."""
    model: str | None = None
    """Model override for this run, e.g. ``gpt-4o-mini``."""
    agent: str | None = None
    """Skip routing and send the request straight to this agent."""


def context_user(context: object) -> str | None:
    """Return the ``user_id`` of a run context (a ``NovaContext`` or a mapping), else ``None``."""
    if isinstance(context, Mapping):
        user = context.get("user_id")
    else:
        user = getattr(context, "user_id", None)
    return str(user) if user else None


def current_run_user() -> str | None:
    """Return ``context.user_id`` of the graph run this code executes in (``None`` outside one).

    For code that has no ``Runtime`` at hand (pipeline steps, check nodes typed on config);
    nodes and tools that receive one read the user from ``runtime.context``.
    """
    from langgraph.runtime import get_runtime

    try:
        runtime = get_runtime()
    except (RuntimeError, KeyError):  # not inside a graph run: no run, no user
        return None
    return context_user(getattr(runtime, "context", None))


class AgentLoopState(NovaState, total=False):
    """Nova's state plus the verdicts of the turn's assumption checks (private to a subgraph)."""

    checks: list[CheckOutcome]


_StateT_contra = TypeVar("_StateT_contra", contravariant=True)
_UpdateT_co = TypeVar("_UpdateT_co", covariant=True)


class RuntimeNode(Protocol[_StateT_contra, _UpdateT_co]):
    """A node called as ``node(state, runtime=...)``: what ``StateGraph.add_node`` accepts.

    (A ``Callable[[S, Runtime], U]`` is positional-only, so it does not match LangGraph's
    node protocols, which pass ``runtime`` by keyword.)
    """

    def __call__(self, state: _StateT_contra, runtime: Runtime[NovaContext]) -> _UpdateT_co:
        """Return the node's state update."""
        ...


class ConfigNode(Protocol[_StateT_contra, _UpdateT_co]):
    """A node called as ``node(state, config)``: what ``StateGraph.add_node`` accepts."""

    def __call__(self, state: _StateT_contra, config: RunnableConfig) -> _UpdateT_co:
        """Return the node's state update."""
        ...
