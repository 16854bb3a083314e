"""The served graph with a scripted world: real router, recall, ERP, subgraphs and checks.

``ServedWorld`` builds the real supervisor (``graphs.nova.build_nova_graph``) once, in the
data directory the caller set up (seeded ERP database, Chroma memory seeded from the
project files), with three seams a scenario fills in:

* **models**: every agent's model is a ``PolicyChatModel`` whose turn is a function of its
  prompt (the scenario's script, rendered from the tool results, memories and input it
  sees), so a replay with a corrected input yields a corrected output;
* **faults**: the router (a proxy over Nova's shared router), recall (a proxy over the
  memory store) and tools (copies of the registry's tools) apply the active scenario's
  faults; everything else is Nova's own code;
* **re-samples**: a model turn re-run by ``nova.tracing.blame.replay.resample`` (its fork's
  thread starts with ``resample-``) is a new draw: a ``fixed`` fault is gone, a ``repeat``
  fault recurs. A replay (``blame-`` thread) with the same prompt position reproduces the fault,
  as a model at temperature 0 would.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import BaseTool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.config import get_config

from evals.blame.policies import PolicyChatModel
from evals.blame_served.scenarios import AgentScript, Fault, Scenario
from nova.catalog import AgentSpec, default_catalog
from nova.models import ModelResult, ModelUnavailable
from nova.state import RouteDecision
from nova.testing import tool_call

_FIELD = re.compile(r"\{(r\d+(?:\.[a-z_]+)?|mem:[^}]+|prev:[^}]+|input|input_after:[^}]+)\}")
_ROW = re.compile(r"^\{.*\}$")
_MEMORY_TAGS = re.compile(r"^[\s\-*•]*(\[[^\]]*\]\s*)?(\([a-z]+\)\s*)?")


def _thread() -> str:
    try:
        return str(get_config().get("configurable", {}).get("thread_id") or "")
    except RuntimeError:
        return ""


def _last_human(messages: Sequence[BaseMessage]) -> int:
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return index
    return -1


def _results(messages: Sequence[BaseMessage]) -> list[str]:
    start = _last_human(messages)
    return [str(m.content) for m in messages[start + 1 :] if isinstance(m, ToolMessage)]


def _first_row(result: str) -> dict[str, Any]:
    for line in result.splitlines():
        if _ROW.match(line.strip()):
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict):
                return row
    return {}


def render(template: str, messages: Sequence[BaseMessage]) -> str:
    """Fill a script template from the prompt (see ``AgentScript``)."""
    results = _results(messages)
    memory = "\n".join(str(m.content) for m in messages if isinstance(m, SystemMessage))
    start = _last_human(messages)
    given = str(messages[start].content) if start >= 0 else ""
    previous = next(
        (
            str(m.content)
            for m in reversed(messages[: max(start, 0)])
            if isinstance(m, AIMessage) and m.content
        ),
        "",
    )

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("r"):
            index, _, field = name[1:].partition(".")
            if int(index) >= len(results):
                return "?"
            result = results[int(index)]
            return str(_first_row(result).get(field, "?")) if field else result.splitlines()[0]
        if name.startswith("mem:"):
            word = name[4:].lower()
            found = [line for line in memory.splitlines() if word in line.lower()]
            return _MEMORY_TAGS.sub("", found[0]).strip() if found else "?"
        if name.startswith("prev:"):
            hit = re.search(name[5:], previous)
            return hit.group(0) if hit else "?"
        if name.startswith("input_after:"):
            return given.split(name[12:], 1)[-1].strip()
        return given

    return _FIELD.sub(fill, template)


class ServedWorld:
    """The served graph plus the active scenario's scripts and faults."""

    def __init__(self) -> None:
        self.catalog = default_catalog()
        self.scenario: Scenario | None = None
        self.faults: list[Fault] = []
        self.turn = 1
        self.graph = self._build()

    # --- scenario ------------------------------------------------------------------------

    @contextmanager
    def active(self, scenario: Scenario, *, faulty: bool) -> Iterator[None]:
        """Make ``scenario`` (with or without its faults) the one the seams serve."""
        self.scenario, self.faults, self.turn = scenario, list(scenario.faults) if faulty else [], 1
        try:
            yield
        finally:
            self.scenario, self.faults = None, []

    def _faults(self, kind: str, turn: int | None = None) -> list[Fault]:
        turn = self.turn if turn is None else turn
        return [f for f in self.faults if f.kind == kind and f.turn == turn]

    def _script(self, agent: str, messages: Sequence[BaseMessage]) -> tuple[int, AgentScript]:
        assert self.scenario is not None
        humans = sum(1 for m in messages if isinstance(m, HumanMessage))
        turns = self.scenario.turns
        for turn in (humans, self.turn, *range(1, len(turns) + 1)):
            if 1 <= turn <= len(turns):
                script = turns[turn - 1].script
                if agent in script or "*" in script:
                    return turn, script.get(agent) or script["*"]
        raise LookupError(agent)

    # --- models --------------------------------------------------------------------------

    def models(self, spec: AgentSpec, run_override: str | None) -> ModelResult:
        """Model factory: the active scenario's scripted model for ``spec``, if any."""
        scenario = self.scenario
        if scenario is None or not any(
            spec.name in t.script or "*" in t.script for t in scenario.turns
        ):
            return ModelUnavailable(spec.name, "no script for this agent (served attribution)")
        return PolicyChatModel(
            policy=functools.partial(self._answer, spec.name), model_name=f"served:{spec.name}"
        )

    def _answer(self, agent: str, messages: Sequence[BaseMessage]) -> AIMessage:
        turn, script = self._script(agent, messages)
        start = _last_human(messages)
        position = sum(1 for m in messages[start + 1 :] if isinstance(m, AIMessage))
        if position < len(script.calls):
            answer = AIMessage(
                content="",
                tool_calls=[
                    tool_call(call.tool, **{k: _fill(v, messages) for k, v in call.args.items()})
                    for call in script.calls[position]
                ],
            )
        else:
            text = render(script.answer, messages)
            for old, new in script.replace:
                text = text.replace(old, new)
            answer = AIMessage(content=text)
        resampled = _thread().startswith("resample-")
        for fault in self.faults:
            if fault.turn != turn or fault.agent not in (agent, "*"):
                continue
            at = len(script.calls) if fault.at == "last" else fault.at
            if at != position or (resampled and fault.resample == "fixed"):
                continue
            if fault.kind == "tool_args" and answer.tool_calls:
                first = answer.tool_calls[0]
                answer = AIMessage(
                    content="",
                    tool_calls=[
                        tool_call(fault.tool or first["name"], **(fault.args or {})),
                        *answer.tool_calls[1:],
                    ],
                )
            elif fault.kind == "model_text" and fault.replace:
                answer = AIMessage(
                    content=str(answer.content).replace(*fault.replace),
                    tool_calls=answer.tool_calls,
                )
        return answer

    # --- router, recall and tools ----------------------------------------------------------

    def _router(self) -> Any:
        from nodes.router import nova_router

        world = self

        class FaultyRouter:
            def __init__(self, inner: Any) -> None:
                self._inner = inner

            def __getattr__(self, name: str) -> Any:
                return getattr(self._inner, name)

            def route(self, text: str) -> RouteDecision:
                decision: RouteDecision = self._inner.route(text)
                for fault in world._faults("misroute"):
                    if fault.to:
                        spec = world.catalog[fault.to]
                        return RouteDecision(
                            {**decision, "agent": spec.name, "subgraph": spec.subgraph}
                        )
                return decision

        return FaultyRouter(nova_router())

    def _memory(self) -> Any:
        from memory.store import default_memory_store

        world = self

        class FaultyMemory:
            def __init__(self, inner: Any) -> None:
                self._inner = inner

            def __getattr__(self, name: str) -> Any:
                return getattr(self._inner, name)

            def for_owner(self, owner: str | None) -> Any:
                return FaultyMemory(self._inner.for_owner(owner))

            def search(self, project: str, text: str, **kwargs: Any) -> list[dict[str, Any]]:
                hits: list[dict[str, Any]] = self._inner.search(project, text, **kwargs)
                for fault in world._faults("recall"):
                    if fault.replace:
                        old, new = fault.replace
                        hits = [{**hit, "text": str(hit["text"]).replace(old, new)} for hit in hits]
                return hits

        return FaultyMemory(default_memory_store())

    def _tool(self, tool: BaseTool) -> BaseTool:
        original = getattr(tool, "func", None)
        if original is None:
            return tool
        world = self

        @functools.wraps(original)
        def faulty(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            for fault in world._faults("tool_output"):
                if fault.tool != tool.name or not fault.replace:
                    continue
                old, new = fault.replace
                if isinstance(result, tuple):
                    result = (str(result[0]).replace(old, new), *result[1:])
                else:
                    result = str(result).replace(old, new)
            return result

        return tool.model_copy(update={"func": faulty})

    def _build(self) -> Any:
        from graphs.nova import build_nova_graph
        from tools.registry import tool_registry

        registry = tool_registry()
        saved = dict(registry)
        registry.update({name: self._tool(tool) for name, tool in saved.items()})
        try:
            builder = build_nova_graph(
                model_factory=self.models, router=self._router, memory=self._memory
            )
        finally:
            registry.clear()
            registry.update(saved)
        return builder.compile(checkpointer=InMemorySaver(), name="nova")


def _fill(value: Any, messages: Sequence[BaseMessage]) -> Any:
    return render(value, messages) if isinstance(value, str) else value
