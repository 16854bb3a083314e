"""Prompt economy: the tokens Nova sends per request, against a handoff-tools supervisor.

``python -m evals.bench_tokens [--limit N] [--split dev|test|all]`` runs every request of
the routing dataset (``evals/datasets/routing.jsonl``) through two systems in the same
process, with instant scripted models that count what reaches them:

* **Nova**: the whole supervisor graph (intake, memory recall, the hybrid router, the
  routed agent with its prompt, recalled memories and tools; fast paths answer without a
  model), traced as the CLI traces it.
* **Handoff supervisor**, built the common way (langgraph-supervisor's README: a
  ``create_react_agent`` supervisor whose tools are one ``transfer_to_<agent>`` handoff tool
  per agent, each returning ``Command(goto=agent, graph=Command.PARENT)``; every agent a
  ``create_react_agent`` with the same catalog prompt and tools; the agent hands back to
  the supervisor, which answers). Its supervisor is scripted to pick the dataset's agent
  (perfect routing, the baseline's best case); out-of-scope requests it answers itself.

For every model call the prompt is split into system prompt, recalled memories (Nova's
memory block), tool schemas (as OpenAI-style JSON) and history (every other message),
and counted with tiktoken's ``o200k_base`` when its encoding file is available offline,
else with the bundled MiniLM WordPiece tokenizer (``memory.tokens``; a real tokenizer,
within ~10-20% of GPT tokenizers on English); both systems use the same counter, so the
ratio does not depend on it. Completion tokens are not counted (the answers are scripted
and the same on both sides).

It also measures the model path's overhead: for Nova requests whose agent called the
model, the turn's wall time minus the time inside model calls, divided by the model turns
(p50 / p95), against a model that answers instantly. Targets (issue 16): tokens per
answered request <= 0.5x the baseline, overhead p50 <= 50 ms. Requests are reported by
frozen split (``evals.discipline.split_of`` of the request text); quote test figures. The
same overhead through the real client (``ChatOpenAI`` over HTTP against the OpenAI stub,
SQLite checkpointer) is ``evals/bench_model_path.py``: that is the figure for the target.

The data directory needs ``nova setup`` (sample ERP data, project memories, the fitted
router); the figures are printed and written to ``--out`` as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler, CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool, InjectedToolCallId, tool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.graph import MessagesState
from langgraph.prebuilt import InjectedState
from langgraph.types import Command
from pydantic import PrivateAttr

from evals.discipline import split_of
from nova.testing import ScriptedChatModel, calls, says, tool_call

ANSWER = "Done: here is what you asked for."
"""What every scripted agent answers (the same on both sides)."""

DATASET = Path(__file__).parent / "datasets" / "routing.jsonl"


# --- counting ------------------------------------------------------------------------------


def token_counter() -> tuple[Callable[[str], int], str]:
    """Return a token counting function and its name (tiktoken if usable offline)."""
    try:
        import tiktoken

        encoding = tiktoken.get_encoding("o200k_base")
        return (lambda text: len(encoding.encode(text, disallowed_special=()))), "tiktoken o200k"
    except Exception:
        from memory.tokens import count_tokens

        return count_tokens, "MiniLM WordPiece (tiktoken's encoding is not available offline)"


@dataclass(slots=True)
class Parts:
    """Prompt tokens of one or more model calls, by what they carry."""

    system: int = 0
    memories: int = 0
    tools: int = 0
    history: int = 0
    calls: int = 0

    @property
    def total(self) -> int:
        """All prompt tokens."""
        return self.system + self.memories + self.tools + self.history

    def add(self, other: Parts) -> None:
        """Add ``other``'s counts to these."""
        self.system += other.system
        self.memories += other.memories
        self.tools += other.tools
        self.history += other.history
        self.calls += other.calls


def _message_text(message: BaseMessage) -> str:
    text = message.content if isinstance(message.content, str) else json.dumps(message.content)
    if isinstance(message, AIMessage) and message.tool_calls:
        called = [{"name": c["name"], "arguments": c["args"]} for c in message.tool_calls]
        text += json.dumps(called)
    return text


class CountingModel(ScriptedChatModel):
    """An instant scripted model that counts the prompt tokens of every call it gets.

    ``policy(messages)`` decides the answer; tools bound with ``bind_tools`` arrive as
    OpenAI-style schemas (as ``ChatOpenAI`` sends them) and are counted with the prompt.
    """

    policy: Callable[[list[BaseMessage]], AIMessage] = lambda _messages: says(ANSWER)
    count: Callable[[str], int] = len
    memory_header: str = ""

    _parts: Parts = PrivateAttr(default_factory=Parts)
    _seconds: list[float] = PrivateAttr(default_factory=lambda: [0.0])

    @property
    def parts(self) -> Parts:
        """Prompt tokens of every call so far."""
        return self._parts

    @property
    def model_seconds(self) -> float:
        """Seconds spent inside this model's calls so far."""
        return self._seconds[0]

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind the tools' OpenAI schemas, so each call sees (and counts) them."""
        schemas = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=schemas)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        from langchain_core.outputs import ChatGeneration

        started = time.perf_counter()
        call = Parts(calls=1)
        for message in messages:
            text = _message_text(message)
            if isinstance(message, SystemMessage):
                system, marker, memories = (
                    text.partition(self.memory_header) if self.memory_header else (text, "", "")
                )
                call.system += self.count(system)
                call.memories += self.count(marker + memories) if marker else 0
            else:
                call.history += self.count(text)
        if tools := kwargs.get("tools"):
            call.tools += self.count(json.dumps(tools))
        self.parts.add(call)
        answer = self.policy(messages)
        self._seconds[0] += time.perf_counter() - started
        return ChatResult(generations=[ChatGeneration(message=answer)])


# --- the two systems -----------------------------------------------------------------------


def build_nova(model: CountingModel) -> Any:
    """Nova's supervisor graph with every agent on ``model``."""
    from langgraph.checkpoint.memory import InMemorySaver

    from graphs.nova import build_nova_graph
    from nova.catalog import default_catalog
    from nova.testing import ScriptedModels

    models = ScriptedModels({name: model for name in default_catalog().names})
    return build_nova_graph(model_factory=models).compile(checkpointer=InMemorySaver())


SUPERVISOR_PROMPT = (
    "You are a team supervisor managing these agents:\n{agents}\n"
    "For each request, hand it to the one agent best suited with its transfer tool; "
    "when the agent is done, answer the user. If no agent fits, answer yourself."
)


def build_handoff_supervisor(supervisor: CountingModel, agent: CountingModel) -> Any:
    """Build a supervisor with one handoff tool per agent, as langgraph-supervisor shows."""
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.prebuilt import create_react_agent

    from nova.catalog import default_catalog
    from tools.registry import get_tools

    catalog = default_catalog()

    def handoff(name: str, description: str) -> BaseTool:
        tool_name = f"transfer_to_{name}"

        @tool(tool_name, description=f"Ask the {name} agent for help. {description}")
        def transfer(
            state: Annotated[MessagesState, InjectedState],
            tool_call_id: Annotated[str, InjectedToolCallId],
        ) -> Command:
            done = ToolMessage(f"Successfully transferred to {name}", tool_call_id=tool_call_id)
            return Command(
                goto=name,
                update={"messages": [*state["messages"], done]},
                graph=Command.PARENT,
            )

        return transfer

    agents = list(catalog.agents.values())
    listing = "\n".join(f"- {spec.name}: {spec.description}" for spec in agents)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # create_react_agent's deprecation notice
        boss = create_react_agent(
            supervisor,
            tools=[handoff(spec.name, spec.description) for spec in agents],
            prompt=SUPERVISOR_PROMPT.format(agents=listing),
            name="supervisor",
        )
        builder = StateGraph(MessagesState)
        builder.add_node(boss, destinations=(*[spec.name for spec in agents], END))
        builder.add_edge(START, "supervisor")
        for spec in agents:
            worker = create_react_agent(
                agent, tools=get_tools(spec.tools), prompt=spec.prompt.strip(), name=spec.name
            )
            builder.add_node(spec.name, worker)
            builder.add_edge(spec.name, "supervisor")
    return builder.compile(checkpointer=InMemorySaver())


def supervisor_policy(expected: list[str | None]) -> Callable[[list[BaseMessage]], AIMessage]:
    """Transfer a new request to ``expected[0]``; answer once an agent has answered."""

    def decide(messages: list[BaseMessage]) -> AIMessage:
        if isinstance(messages[-1], HumanMessage) and expected[0] is not None:
            return calls(tool_call(f"transfer_to_{expected[0]}"))
        return says(ANSWER)

    return decide


# --- the run -------------------------------------------------------------------------------


class NodeTimer(BaseCallbackHandler):
    """Time the agent node and the model calls inside it (Nova's own share of a model turn)."""

    def __init__(self) -> None:
        self._open: dict[UUID, float] = {}
        self.node_s = 0.0
        self.model_s = 0.0
        self.node_runs = 0
        self._in_node = 0

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Start the clock of an agent node."""
        metadata = kwargs.get("metadata") or {}
        if kwargs.get("name") == "agent" and metadata.get("langgraph_node") == "agent":
            self._open[run_id] = time.perf_counter()
            self._in_node += 1

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Stop the clock of an agent node."""
        if (started := self._open.pop(run_id, None)) is not None:
            self.node_s += time.perf_counter() - started
            self.node_runs += 1
            self._in_node -= 1

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, **kwargs: Any
    ) -> None:
        """Start the clock of a model call made by an agent node."""
        if self._in_node:
            self._open[run_id] = time.perf_counter()

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Stop the clock of a model call."""
        if (started := self._open.pop(run_id, None)) is not None:
            self.model_s += time.perf_counter() - started


@dataclass(slots=True)
class Side:
    """One system's figures over a set of requests."""

    requests: int = 0
    answered: int = 0
    model_free: int = 0
    parts: Parts = field(default_factory=Parts)

    def per_answered(self) -> float:
        """Prompt tokens per answered request."""
        return self.parts.total / self.answered if self.answered else 0.0


@dataclass(slots=True)
class Report:
    """What the benchmark prints, as written to the JSON report."""

    counter: str
    requests: int
    split: str
    nova: dict[str, Any]
    baseline: dict[str, Any]
    ratio: float
    overhead_ms_p50: float
    overhead_ms_p95: float
    overhead_turns: int
    agent_node_overhead_ms_p50: float
    """The agent node alone (prompt, tools, model client, timeout thread, usage, checks)."""
    by_split: dict[str, dict[str, float]]
    created_at: str = ""


def _figures(side: Side) -> dict[str, Any]:
    n = max(side.answered, 1)
    return {
        "requests": side.requests,
        "answered": side.answered,
        "model_free": side.model_free,
        "model_calls": side.parts.calls,
        "tokens": side.parts.total,
        "tokens_per_answered": round(side.per_answered(), 1),
        "system_per_answered": round(side.parts.system / n, 1),
        "memories_per_answered": round(side.parts.memories / n, 1),
        "tools_per_answered": round(side.parts.tools / n, 1),
        "history_per_answered": round(side.parts.history / n, 1),
    }


def run(cases: list[dict[str, Any]], *, project: str) -> tuple[Report, dict[str, Side]]:
    """Run ``cases`` through both systems; return the report and each split's sides."""
    from nodes.recall import MEMORY_HEADER
    from nova.state import NovaContext
    from nova.tracing import flush_traces, tracing_callbacks

    count, counter = token_counter()
    nova_model = CountingModel(count=count, memory_header=MEMORY_HEADER)
    nova = build_nova(nova_model)
    expected: list[str | None] = [None]
    boss = CountingModel(count=count, policy=supervisor_policy(expected))
    worker = CountingModel(count=count)
    baseline = build_handoff_supervisor(boss, worker)
    timer = NodeTimer()
    callbacks = [*tracing_callbacks(exporters=False), timer]

    sides = {name: {"nova": Side(), "baseline": Side()} for name in ("dev", "test")}
    overhead_ms: list[float] = []
    node_overhead_ms: list[float] = []
    # Warm-up: encoder, router, Chroma, ERP database.
    nova.invoke(
        {"messages": [HumanMessage("hello")]},
        {"configurable": {"thread_id": "warm-up"}},
        context=NovaContext(project=project),
    )
    for number, case in enumerate(cases, start=1):
        split = split_of(case["text"])
        request = {"messages": [HumanMessage(case["text"])]}

        before = Parts()
        before.add(nova_model.parts)
        model_seconds = nova_model.model_seconds
        node_s, node_model_s, node_runs = timer.node_s, timer.model_s, timer.node_runs
        started = time.perf_counter()
        values = nova.invoke(
            request,
            {"configurable": {"thread_id": uuid.uuid4().hex}, "callbacks": callbacks},
            context=NovaContext(project=project),
        )
        wall = time.perf_counter() - started
        used = Parts(
            system=nova_model.parts.system - before.system,
            memories=nova_model.parts.memories - before.memories,
            tools=nova_model.parts.tools - before.tools,
            history=nova_model.parts.history - before.history,
            calls=nova_model.parts.calls - before.calls,
        )
        side = sides[split]["nova"]
        side.requests += 1
        side.parts.add(used)
        outcome = (values.get("agent_run") or {}).get("outcome")
        if values.get("answer"):
            side.answered += 1
        if outcome == "fast_path":
            side.model_free += 1
        if used.calls:
            in_model = nova_model.model_seconds - model_seconds
            overhead_ms.append((wall - in_model) * 1000 / used.calls)
        agent_turns = timer.node_runs - node_runs
        if agent_turns:
            in_node = (timer.node_s - node_s) - (timer.model_s - node_model_s)
            node_overhead_ms.append(in_node * 1000 / agent_turns)

        expected[0] = case["agent"]
        before_boss, before_worker = boss.parts.total, worker.parts.total
        calls_before = boss.parts.calls + worker.parts.calls
        parts_before = Parts()
        parts_before.add(boss.parts)
        parts_before.add(worker.parts)
        result = baseline.invoke(request, {"configurable": {"thread_id": uuid.uuid4().hex}})
        after = Parts()
        after.add(boss.parts)
        after.add(worker.parts)
        side = sides[split]["baseline"]
        side.requests += 1
        side.parts.add(
            Parts(
                system=after.system - parts_before.system,
                memories=after.memories - parts_before.memories,
                tools=after.tools - parts_before.tools,
                history=after.history - parts_before.history,
                calls=after.calls - calls_before,
            )
        )
        del before_boss, before_worker
        last = result["messages"][-1]
        if isinstance(last, AIMessage) and last.content:
            side.answered += 1
        if number % 100 == 0:
            print(f"  {number}/{len(cases)} requests", file=sys.stderr)
    flush_traces()

    total = {"nova": Side(), "baseline": Side()}
    for by_side in sides.values():
        for name, side in by_side.items():
            total[name].requests += side.requests
            total[name].answered += side.answered
            total[name].model_free += side.model_free
            total[name].parts.add(side.parts)
    ratio = total["nova"].per_answered() / max(total["baseline"].per_answered(), 1e-9)
    by_split = {
        split: {
            "nova_tokens_per_answered": round(pair["nova"].per_answered(), 1),
            "baseline_tokens_per_answered": round(pair["baseline"].per_answered(), 1),
            "ratio": round(
                pair["nova"].per_answered() / max(pair["baseline"].per_answered(), 1e-9), 3
            ),
            "requests": pair["nova"].requests,
        }
        for split, pair in sides.items()
    }
    quantiles = statistics.quantiles(overhead_ms, n=20) if len(overhead_ms) > 1 else [0.0] * 19
    report = Report(
        counter=counter,
        requests=len(cases),
        split="all",
        nova=_figures(total["nova"]),
        baseline=_figures(total["baseline"]),
        ratio=round(ratio, 3),
        overhead_ms_p50=round(statistics.median(overhead_ms), 1) if overhead_ms else 0.0,
        overhead_ms_p95=round(quantiles[18], 1),
        overhead_turns=len(overhead_ms),
        agent_node_overhead_ms_p50=(
            round(statistics.median(node_overhead_ms), 2) if node_overhead_ms else 0.0
        ),
        by_split=by_split,
    )
    return report, total


def _print(report: Report) -> None:
    print(f"Prompt tokens per answered request ({report.requests} requests, {report.counter})")
    header = f"{'':<28}{'Nova':>10}{'handoff sup.':>14}"
    print(header)
    keys = [
        ("tokens_per_answered", "total"),
        ("system_per_answered", "  system prompts"),
        ("memories_per_answered", "  recalled memories"),
        ("tools_per_answered", "  tool schemas"),
        ("history_per_answered", "  history"),
        ("model_calls", "model calls (all requests)"),
        ("model_free", "answered without a model"),
        ("answered", "answered"),
    ]
    for key, label in keys:
        print(f"{label:<28}{report.nova[key]:>10}{report.baseline[key]:>14}")
    print(f"ratio Nova / handoff supervisor: {report.ratio:.3f}  (target <= 0.5)")
    for split, figures in report.by_split.items():
        if not figures["requests"]:
            continue
        print(
            f"  {split}: {figures['requests']} requests, Nova "
            f"{figures['nova_tokens_per_answered']} vs {figures['baseline_tokens_per_answered']}"
            f" tokens, ratio {figures['ratio']}"
        )
    print(
        f"Nova's time outside the model per model turn (instant model, {report.overhead_turns} "
        f"requests): p50 {report.overhead_ms_p50} ms, p95 {report.overhead_ms_p95} ms "
        "(target p50 <= 50 ms)"
    )
    print(
        "  of which in the agent node around the model call: "
        f"p50 {report.agent_node_overhead_ms_p50} ms"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the figures and write the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--limit", type=int, default=0, help="First N requests (0: all).")
    parser.add_argument("--split", choices=("dev", "test", "all"), default="all")
    parser.add_argument("--project", default="parts-shop", help="Project every request runs in.")
    parser.add_argument(
        "--out", type=Path, default=Path(tempfile.gettempdir()) / "nova-bench-tokens.json"
    )
    args = parser.parse_args(argv)
    cases = [json.loads(line) for line in args.dataset.read_text().splitlines() if line.strip()]
    if args.split != "all":
        cases = [case for case in cases if split_of(case["text"]) == args.split]
    if args.limit:
        cases = cases[: args.limit]
    report, _ = run(cases, project=args.project)
    report.split = args.split
    report.created_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    _print(report)
    args.out.write_text(json.dumps(asdict(report), indent=2))
    print(f"report: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
