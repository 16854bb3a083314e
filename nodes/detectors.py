"""Blame-time detectors: what the run's own stores say about it, beyond the run-time checks.

The checks judge a turn with what the turn holds. Some faults leave the turn consistent
with itself: an answer that faithfully copies a wrong tool result, a recall that returned
an out-of-date memory, a route the router would not make. When blame looks at a run
afterwards it has more: the tools themselves, the memory store and the router. Each
detector here looks at a final state (the run's, or a replay's) with those, and reports
findings that name the step kind they judge:

* ``tool_rerun`` (``tools``): a read-only lookup (``tools.registry.is_idempotent``) called
  again with the recorded arguments states other figures or documents than the recorded
  result. A moved business day (other dates in the answer) is no evidence either way.
* ``memory_current`` (``recall``): a recalled memory the answer relies on that the store
  holds with another text now, or that a newer memory has superseded.
* ``route_rescore`` (``route``): a classifier decision (method ``semantic``) whose request,
  scored again by the router at the decision's recorded version, goes to another agent.
* ``misquote`` (``agent``): a turn's answer that says what one of that turn's sources says
  with other figures, month names or negation (earlier turns too: a turn-1 misquote that a
  later turn computed from is found where it was made).
* ``arithmetic`` (``agent``): a turn's answer states a figure that the grounded figures it
  cites (and the request's) do not give by any sum, difference, product, quotient or
  percentage (``nova.erp.grounding.miscomputed``); ``ArithmeticCorrector`` recomputes it.
* ``question_route`` (``route``): a question (``nodes.dialogue_act``) routed, in any turn,
  to a fixed-plan pipeline that drafts instead of answering; ``QuestionRouteCorrector``
  replays the route with the router's answering runner-ups.

Every turn of a thread is judged with what that turn ran with: the state keeps only the
last turn's ``route`` and ``memories``, so an earlier turn's are read from the stamp
``respond`` put on its answer (``nodes.supervisor.TURN_KEY``, see ``turn_records``), and a
finding about turn 1 says so; blame then replays that turn's step with the later turns
asked again. ``question_route`` reads a request's dialogue act, questions and information
requests phrased as imperatives ("tell me which…", "remind me of…") alike.

``DetectorEvaluator`` adds the findings to an evaluator's verdict, so blame starts on a run
whose checks passed, and judges each replay by the same evidence. ``ToolRerunCorrector``
and ``RouteRescoreCorrector`` offer the corrected outputs (the memory and number
correctors live in ``nodes.corrections``). A detector that cannot reach its store finds
nothing: detectors only ever add evidence, and fault-free runs must stay unblamed.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from nova.messages import message_text
from nova.tracing.blame.corrections import Correction
from nova.tracing.blame.verdicts import Evaluator, Verdict

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of evidence that a step's output was wrong."""

    detector: str
    judges: str
    """The kind of step it judges (``tools``, ``recall``, ``route``)."""
    detail: str

    @property
    def key(self) -> str:
        """Stable failure key for ``Verdict.failures``."""
        return f"detector:{self.detector}"


Detector = Callable[[Mapping[str, Any]], list[Finding]]


# --- tool results ---------------------------------------------------------------------------


def _calls(messages: Sequence[BaseMessage]) -> dict[str, Mapping[str, Any]]:
    return {
        str(call.get("id")): call
        for message in messages
        if isinstance(message, AIMessage)
        for call in message.tool_calls
        if call.get("id")
    }


def _facts(text: str) -> tuple[Counter[str], frozenset[str]]:
    from nova.erp.grounding import mentions
    from nova.provenance import unfence

    found = mentions(unfence(text))
    stated = Counter(f"{m.kind}:{m.text}" for m in found if m.kind != "date")
    dates = frozenset(m.text for m in found if m.kind == "date")
    return stated, dates


def disagreement(recorded: str, fresh: str) -> str | None:
    """Say how a recorded tool result differs from a re-run's (``None``: they agree).

    Figures and document ids are compared as multisets; wording, order and fences are
    not. When the dates differ (the business day moved since the run), a difference in
    figures proves nothing and the results count as agreeing.
    """
    ours, our_dates = _facts(recorded)
    theirs, their_dates = _facts(fresh)
    if ours == theirs or our_dates != their_dates:
        return None
    only_ours = sorted((ours - theirs).elements())
    only_theirs = sorted((theirs - ours).elements())

    def shown(values: list[str]) -> str:
        return ", ".join(v.split(":", 1)[1] for v in values) or "nothing"

    return f"states {shown(only_ours)} where a re-run states {shown(only_theirs)}"


class ToolReplayer:
    """Re-runs read-only tools by name and arguments, once per distinct call."""

    def __init__(self, tools: Mapping[str, Any] | None = None) -> None:
        """Look tools up in ``tools`` (default: Nova's tool registry)."""
        self._tools = tools
        self._cache: dict[str, ToolMessage | None] = {}

    def _tool(self, name: str) -> Any:
        from tools.registry import is_idempotent, tool_registry

        if not is_idempotent(name):
            return None
        return (self._tools or tool_registry()).get(name)

    def rerun(
        self, name: str, args: Mapping[str, Any], call_id: str = "rerun"
    ) -> ToolMessage | None:
        """Return the tool's result for ``args`` now, or ``None`` when it may not be re-run."""
        key = json.dumps([name, args], sort_keys=True, default=str)
        if key in self._cache:
            return self._cache[key]
        tool = self._tool(name)
        result: ToolMessage | None = None
        if tool is not None:
            try:
                out = tool.invoke(
                    {"name": name, "args": dict(args), "id": call_id, "type": "tool_call"}
                )
                result = out if isinstance(out, ToolMessage) else None
            except Exception:  # a lookup that cannot run now proves nothing about the run
                _log.debug("re-running %s failed", name, exc_info=True)
        self._cache[key] = result
        return result

    def check(
        self, message: ToolMessage, call: Mapping[str, Any]
    ) -> tuple[str, ToolMessage] | None:
        """Return how ``message`` differs from a re-run of ``call``, with the re-run."""
        if message.status == "error":
            return None  # a timeout or refusal is the run's own failure, already noted
        fresh = self.rerun(str(call.get("name")), call.get("args") or {})
        if fresh is None or fresh.status == "error":
            return None
        why = disagreement(message_text(message), message_text(fresh))
        return (why, fresh) if why else None


class ToolRerunDetector:
    """``tool_rerun``: recorded read-only tool results that a re-run contradicts."""

    def __init__(self, replayer: ToolReplayer | None = None) -> None:
        """Re-run tools with ``replayer`` (its cache spans every state it judges)."""
        self.replayer = replayer or ToolReplayer()

    def __call__(self, values: Mapping[str, Any]) -> list[Finding]:
        """Return one finding per contradicted result in the state's messages."""
        messages = list(values.get("messages") or [])
        calls = _calls(messages)
        found = []
        for message in messages:
            if not isinstance(message, ToolMessage):
                continue
            call = calls.get(message.tool_call_id)
            checked = self.replayer.check(message, call) if call else None
            if checked is not None:
                name = call.get("name") if call else message.name
                found.append(Finding("tool_rerun", "tools", f"{name}: {checked[0]}"))
        return found


class ToolRerunCorrector:
    """Propose a ``tools`` step's results as a re-run of its read-only lookups gives them."""

    def __init__(self, replayer: ToolReplayer | None = None) -> None:
        """Re-run tools with ``replayer``."""
        self.replayer = replayer or ToolReplayer()

    def __call__(self, step: Any, run: Any) -> Iterator[Correction]:
        """Yield the step's tool messages with contradicted results replaced."""
        from nova.provenance import PROVENANCE_KEY, stamp

        if step.node != "tools":
            return
        written = step.writes.get("messages")
        messages = written if isinstance(written, list) else [written]
        calls = _calls(list(step.before.values.get("messages") or []))
        fixed: list[Any] = []
        changed = False
        for message in messages:
            call = calls.get(message.tool_call_id) if isinstance(message, ToolMessage) else None
            checked = self.replayer.check(message, call) if call else None
            if checked is None:
                fixed.append(message)
                continue
            fresh = checked[1]
            kwargs = dict(message.additional_kwargs)
            better = message.model_copy(
                update={
                    "content": fresh.content,
                    "artifact": fresh.artifact,
                    "additional_kwargs": kwargs,
                    "id": None,
                }
            )
            if PROVENANCE_KEY in kwargs:
                stamp(better)
            fixed.append(better)
            changed = True
        if changed:
            yield Correction("check", {"messages": fixed}, "tool_rerun: the lookups' results now")


# --- memories -------------------------------------------------------------------------------


class MemoryCurrentDetector:
    """``memory_current``: recalled memories the answer relies on that are out of date."""

    def __init__(self, store: Any = None, user: str | None = None) -> None:
        """Read ``store`` (default: the configured one) as ``user``'s view."""
        self.store = store
        self.user = user

    def __call__(self, values: Mapping[str, Any]) -> list[Finding]:
        """Return one finding per superseded or since-changed memory a turn's answer uses.

        Every turn is read, with the memories recalled for it: a turn-1 answer built on an
        outdated memory is found in turn 1, after later turns too.
        """
        project = values.get("project")
        if not project:
            return []
        found = []
        try:
            for record in turn_records(values):
                final = record.final_answer
                answer = _answer_only(message_text(final)) if final is not None else ""
                if not record.memories or not answer:
                    continue
                for detail in self._stale(project, record.memories, answer):
                    where = "" if record.last else f"turn {record.number}: "
                    found.append(Finding("memory_current", "recall", where + detail))
            return found
        except Exception:  # no memory store: no evidence
            _log.debug("memory_current could not read the memory store", exc_info=True)
            return []

    def _stale(self, project: str, hits: Sequence[Mapping[str, Any]], answer: str) -> Iterator[str]:
        from nodes.consistency import answer_uses_memory

        if self.store is None:
            from memory.store import default_memory_store

            self.store = default_memory_store().for_owner(self.user)
        store = self.store
        for hit in hits:
            memory_id, text = str(hit.get("id") or ""), str(hit.get("text") or "")
            item = store.get(project, memory_id) if memory_id else None
            if item is None or not answer_uses_memory(answer, memory_id, text):
                continue
            newer = getattr(item, "superseded_by", None)
            if newer and store.get(project, newer) is not None:
                yield f"[mem:{memory_id}]: superseded by [mem:{newer}]"
            elif getattr(item, "text", text) != text:
                yield f"[mem:{memory_id}]: the store holds another text for it now"


def _final_text(values: Mapping[str, Any]) -> str:
    for message in reversed(values.get("messages") or []):
        if isinstance(message, AIMessage):
            return _answer_only(message_text(message))
    return ""


# --- answers that misquote their sources ----------------------------------------------------


def _turns(messages: Sequence[BaseMessage]) -> list[list[BaseMessage]]:
    turns: list[list[BaseMessage]] = []
    for message in messages:
        if isinstance(message, HumanMessage) or not turns:
            turns.append([])
        turns[-1].append(message)
    return turns


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """One turn of a thread as the detectors judge it: its messages, route and recall."""

    number: int
    messages: list[BaseMessage]
    route: Mapping[str, Any] | None
    memories: list[Mapping[str, Any]]
    instruction: str
    """What the turn was routed on (the owner's instruction, without carried text)."""
    last: bool

    @property
    def final_answer(self) -> AIMessage | None:
        """The turn's last answer: its last AI message that calls no tool (``None``: none)."""
        answers = [m for m in self.messages if isinstance(m, AIMessage) and not m.tool_calls]
        return answers[-1] if answers else None


def _stamp(turn: Sequence[BaseMessage]) -> Mapping[str, Any] | None:
    from nodes.supervisor import TURN_KEY

    for message in reversed(turn):
        if isinstance(message, AIMessage) and isinstance(
            message.additional_kwargs.get(TURN_KEY), Mapping
        ):
            stamp: Mapping[str, Any] = message.additional_kwargs[TURN_KEY]
            return stamp
    return None


def _instruction(request: str) -> str:
    from nova.provenance import defences_on, split_instruction

    request = request.strip()
    return split_instruction(request).instruction if defences_on() else request


def turn_records(values: Mapping[str, Any]) -> list[TurnRecord]:
    """Return each turn of ``values``' thread with the route and memories it ran with.

    The state keeps only the latest turn's ``route`` and ``memories``; an earlier turn's
    come from the stamp ``respond`` put on its answer (``nodes.supervisor.TURN_KEY``). A
    turn without a stamp (a thread from before it, a run that ended early) has neither.
    """
    turns = _turns(list(values.get("messages") or [])) or [[]]
    records = []
    for number, turn in enumerate(turns, start=1):
        last = number == len(turns)
        request = " ".join(message_text(m) for m in turn if isinstance(m, HumanMessage))
        if last:
            route = values.get("route")
            memories = values.get("memories") or []
            instruction = _route_text(values) or _instruction(request)
        else:
            stamp = _stamp(turn) or {}
            route = stamp.get("route")
            memories = stamp.get("memories") or []
            instruction = _instruction(request)
        records.append(
            TurnRecord(
                number,
                turn,
                route if isinstance(route, Mapping) else None,
                [m for m in memories if isinstance(m, Mapping)],
                instruction,
                last,
            )
        )
    return records


class MisquoteDetector:
    """``misquote``: an answer that says what one of its sources says, with other values.

    Each turn's answer is set against that turn's sources (the user's words, tool results
    and the memories recalled for it): a sentence aligned with a source
    sentence whose figures, month names or negation differ (``repair_numbers``). Figures
    computed from the sources stand in no source sentence's place and are left alone. A
    turn-1 misquote stays in the thread, so it is found after a later turn too.
    """

    def __call__(self, values: Mapping[str, Any]) -> list[Finding]:
        """Return one finding per turn whose answer misquotes a source."""
        from nodes.corrections import repair_numbers
        from nova.provenance import unfence

        found = []
        for record in turn_records(values):
            number, turn = record.number, record.messages
            final = record.final_answer
            if final is None:
                continue
            answer = _answer_only(message_text(final))
            sources = [
                unfence(message_text(m)) for m in turn if isinstance(m, HumanMessage | ToolMessage)
            ]
            sources += [str(m.get("text", "")) for m in record.memories]
            if answer and repair_numbers(answer, sources) is not None:
                found.append(
                    Finding("misquote", "agent", f"turn {number}'s answer misquotes a source")
                )
        return found


def _answer_only(text: str) -> str:
    return text.split("\n\n⚠ Nova flagged this answer:", 1)[0].strip()


# --- answers that compute wrongly -----------------------------------------------------------


class ArithmeticDetector:
    """``arithmetic``: an answer whose computed figure its own cited figures do not give.

    Each turn's answer is recomputed from the grounded figures it states and the figures of
    the user's request (``nova.erp.grounding.miscomputed``): "owes 48.74; after a payment of
    24.00, 42.74 is left" cites 48.74 and 24, which give 24.74, not 42.74. Sources are the
    thread's tool results up to that turn, the user's words and the turn's memories.
    """

    def __call__(self, values: Mapping[str, Any]) -> list[Finding]:
        """Return one finding per turn whose answer holds a miscomputed figure."""
        found = []
        for number, answer, request, sources in _turn_answers(values):
            from nova.erp.grounding import miscomputed

            for wrong in miscomputed(answer, sources, request):
                given = ", ".join(str(v) for v in wrong.recomputed) or "nothing"
                found.append(
                    Finding(
                        "arithmetic",
                        "agent",
                        f"turn {number}'s answer states {wrong.mention.text}, which its "
                        f"figures do not give (they give {given})",
                    )
                )
        return found


def _turn_answers(values: Mapping[str, Any]) -> Iterator[tuple[int, str, str, list[str]]]:
    """Yield each turn's number, final answer, request and the sources it could cite."""
    from nodes.consistency import tool_result_sources
    from nova.provenance import unfence

    seen: list[BaseMessage] = []
    for record in turn_records(values):
        number, turn = record.number, record.messages
        seen += turn
        final = record.final_answer
        if final is None:
            continue
        answer = _answer_only(message_text(final))
        if not answer or "erp_clarify" in final.additional_kwargs:
            continue  # a question back to the user computes nothing
        request = " ".join(message_text(m) for m in turn if isinstance(m, HumanMessage))
        looked_up = tool_result_sources(seen)
        if not looked_up:
            continue  # nothing looked up to compute from (a pipeline's text has its own sources)
        sources = [unfence(s) for s in looked_up]
        sources += [message_text(m) for m in seen if isinstance(m, HumanMessage)]
        sources += [str(m.get("text", "")) for m in record.memories]
        yield number, answer, request, sources


class ArithmeticCorrector:
    """Propose an ``agent`` step's answer with a miscomputed figure recomputed from its own."""

    def __call__(self, step: Any, run: Any) -> Iterator[Correction]:
        """Yield the answer with each wrong figure replaced by a recomputation, nearest first."""
        if step.node != "agent":
            return
        written = step.writes.get("messages")
        listed = written if isinstance(written, list) else [written]
        last = listed[-1] if listed else None
        if not isinstance(last, AIMessage) or last.tool_calls or not isinstance(last.content, str):
            return
        before = step.before.values
        state = {**before, "messages": [*(before.get("messages") or []), *listed]}
        answers = list(_turn_answers(state))
        if not answers:
            return
        from nova.erp.grounding import miscomputed

        _, answer, request, sources = answers[-1]
        wrong = miscomputed(answer, sources, request)
        if not wrong:
            return
        for rank in range(max(len(w.recomputed) for w in wrong)):
            text = last.content
            for item in sorted(wrong, key=lambda w: w.mention.start, reverse=True):
                if not item.recomputed:
                    continue
                value = item.recomputed[min(rank, len(item.recomputed) - 1)]
                start = text.find(item.mention.text, item.mention.start)
                if start < 0:
                    start = text.find(item.mention.text)
                if start < 0:
                    continue
                shown = _written_like(value, item.mention.text)
                text = text[:start] + shown + text[start + len(item.mention.text) :]
            if text == last.content:
                return
            better = last.model_copy(update={"content": text, "id": None})
            yield Correction(
                "check",
                {**step.writes, "messages": [*listed[:-1], better]},
                "arithmetic: the answer's figures recomputed",
            )


def _written_like(value: Any, original: str) -> str:
    """Format ``value`` with ``original``'s decimals and thousands separator."""
    places = len(original.rsplit(".", 1)[1]) if "." in original else 0
    grouped = "," in original
    return f"{value:{',' if grouped else ''}.{places}f}"


# --- routes ---------------------------------------------------------------------------------


def _rescored(route: Mapping[str, Any], request: str, router: Any) -> Mapping[str, Any] | None:
    """Return the router's decision for ``request`` now, when it may be compared to ``route``."""
    if route.get("method") != "semantic" or not request.strip() or router is None:
        return None
    if route.get("router_version") != getattr(router, "version", None):
        return None  # refitted since: the recorded version cannot be scored again
    if route.get("catalog_version") != getattr(router, "catalog_version", None):
        return None
    decision: Mapping[str, Any] = router.route(request)
    return decision if decision.get("method") == "semantic" else None


def _route_text(values: Mapping[str, Any]) -> str:
    return str(values.get("instruction") or values.get("request") or "")


class RouteRescoreDetector:
    """``route_rescore``: a classifier's decision the router, asked again, does not make."""

    def __init__(self, router: Callable[[], Any] | None = None) -> None:
        """Score requests with ``router()`` (default: Nova's shared router)."""
        self.router = router or _nova_router

    def __call__(self, values: Mapping[str, Any]) -> list[Finding]:
        """Return a finding per turn whose route is not the router's decision.

        Every turn is read (an earlier turn's route from its answer's stamp): a turn-1
        misroute that turn 2 built on is found in turn 1.
        """
        found: list[Finding] = []
        router: Any = None
        for record in turn_records(values):
            route = record.route
            if not isinstance(route, Mapping) or not route.get("agent"):
                continue
            try:
                router = router or self.router()
                again = _rescored(route, record.instruction, router)
            except Exception:  # no router (not fitted, no encoder): no evidence
                _log.debug("route_rescore could not score the request", exc_info=True)
                return found
            if again is None or again.get("agent") == route.get("agent"):
                continue
            where = "" if record.last else f"turn {record.number}: "
            found.append(
                Finding(
                    "route_rescore",
                    "route",
                    f"{where}routed to {route.get('agent')}, but the router at version "
                    f"{route.get('router_version')} sends the request to {again.get('agent')} "
                    f"({float(again.get('confidence') or 0):.2f})",
                )
            )
        return found


class RouteRescoreCorrector:
    """Propose the router's own decision for a ``route`` step that ``route_rescore`` flags."""

    def __init__(self, catalog: Any, router: Callable[[], Any] | None = None) -> None:
        """Name subgraphs from ``catalog``; score with ``router()`` (default: Nova's)."""
        self.catalog = catalog
        self.router = router or _nova_router

    def __call__(self, step: Any, run: Any) -> Iterator[Correction]:
        """Yield the re-scored route (and the thread's topic it implies)."""
        from nodes.route_context import next_thread_route

        route = step.writes.get("route") if step.node == "route" else None
        if not isinstance(route, Mapping) or not route.get("agent"):
            return
        before = step.before.values
        request = _route_text(before)
        try:
            again = _rescored(route, request, self.router())
        except Exception:
            return
        agent = again.get("agent") if again else None
        if again is None or agent == route.get("agent") or agent not in self.catalog:
            return
        corrected = {
            **again,
            "id": route.get("id"),
            "subgraph": self.catalog[agent].subgraph,
            "reason": f"re-scored by the router (was {route.get('agent')}): {again.get('reason')}",
        }
        topic = next_thread_route(corrected, request, before.get("thread_route"))  # type: ignore[arg-type]
        yield Correction(
            "check",
            {"route": corrected, "thread_route": topic},
            f"route_rescore: {agent}",
        )


FIXED_PLAN_SUBGRAPH = "pipeline"
"""The subgraph that runs an agent's fixed plan of skills to produce a document (a letter,
a report): it performs a task and never answers a question."""


def _request(values: Mapping[str, Any]) -> str:
    text = _route_text(values)
    if text.strip():
        return text
    humans = [m for m in values.get("messages") or [] if isinstance(m, HumanMessage)]
    return message_text(humans[-1]) if humans else ""


def _answering_candidates(route: Mapping[str, Any], catalog: Any) -> list[str]:
    """Return the router's other candidates that answer questions (no fixed plan), best first."""
    found = []
    for candidate in route.get("candidates") or []:
        agent = candidate.get("agent") if isinstance(candidate, Mapping) else None
        if agent and agent != route.get("agent") and agent in catalog:
            if catalog[agent].subgraph != FIXED_PLAN_SUBGRAPH:
                found.append(str(agent))
    return found


class QuestionRouteDetector:
    """``question_route`` (``route``): a question routed to an agent that only performs a task.

    The request's dialogue act (``nodes.dialogue_act``) says it asks for information; the
    chosen agent runs a fixed plan that drafts a document, and the router ranked an agent
    that answers as runner-up. "What did we decide about the fee on payment reminders?"
    sent to the reminder-letters pipeline asks and is answered with letters. Blame confirms
    it by replaying the route with that runner-up (``QuestionRouteCorrector``). Every turn
    is read: an earlier turn's question answered by a fixed plan is found in that turn.
    """

    def __init__(self, catalog: Any = None) -> None:
        """Read agents' subgraphs from ``catalog`` (default: Nova's)."""
        self.catalog = catalog

    def __call__(self, values: Mapping[str, Any]) -> list[Finding]:
        """Return a finding per turn whose question went to a fixed plan."""
        from nodes.dialogue_act import dialogue_act

        if self.catalog is None:
            from nova.catalog import default_catalog

            self.catalog = default_catalog()
        found = []
        for record in turn_records(values):
            where = "" if record.last else f"turn {record.number} "
            route = record.route
            if route is None and not record.last:
                # No stamp (an older thread): each answer is signed by the agent that wrote
                # it; the route step's own record confirms it when corrected.
                request = " ".join(
                    message_text(m) for m in record.messages if isinstance(m, HumanMessage)
                )
                agents = {m.name for m in record.messages if isinstance(m, AIMessage) and m.name}
                drafted = sorted(a for a in agents if self._fixed_plan(a))
                act = dialogue_act(request)
                if drafted and len(agents) == 1 and act.seeks_information:
                    found.append(
                        Finding(
                            "question_route",
                            "route",
                            f"{where}asks ({act.evidence}), but {drafted[0]} runs a fixed "
                            "plan that drafts",
                        )
                    )
                continue
            if not isinstance(route, Mapping) or route.get("subgraph") != FIXED_PLAN_SUBGRAPH:
                continue
            request = _request(values) if record.last else record.instruction
            act = dialogue_act(request)
            answering = _answering_candidates(route, self.catalog) if act.seeks_information else []
            if answering:
                found.append(
                    Finding(
                        "question_route",
                        "route",
                        f"{where or 'the request '}asks ({act.evidence}), but "
                        f"{route.get('agent')} runs a fixed plan that drafts; the router's "
                        f"runner-up {answering[0]} answers",
                    )
                )
        return found

    def _fixed_plan(self, agent: str) -> bool:
        return agent in self.catalog and self.catalog[agent].subgraph == FIXED_PLAN_SUBGRAPH


class QuestionRouteCorrector:
    """Propose the router's answering runner-up for a question sent to a fixed plan."""

    def __init__(self, catalog: Any) -> None:
        """Name subgraphs from ``catalog``."""
        self.catalog = catalog

    def __call__(self, step: Any, run: Any) -> Iterator[Correction]:
        """Yield the route with the runner-up (and the thread's topic it implies)."""
        from nodes.route_context import next_thread_route

        route = step.writes.get("route") if step.node == "route" else None
        if not isinstance(route, Mapping) or not route.get("agent"):
            return
        before = step.before.values
        if route.get("subgraph") != FIXED_PLAN_SUBGRAPH:
            return
        from nodes.dialogue_act import dialogue_act

        if not dialogue_act(_request(before)).seeks_information:
            return
        for agent in _answering_candidates(route, self.catalog):
            corrected = {
                **route,
                "agent": agent,
                "subgraph": self.catalog[agent].subgraph,
                # Not the classifier's own decision any more: route_rescore must not re-judge it.
                "method": "question_route",
                "reason": f"the request asks; a runner-up of {route.get('agent')}, which drafts",
            }
            topic = next_thread_route(corrected, _request(before), before.get("thread_route"))  # type: ignore[arg-type]
            yield Correction(
                "check", {"route": corrected, "thread_route": topic}, f"question_route: {agent}"
            )


def _nova_router() -> Any:
    from nodes.router import nova_router

    return nova_router()


# --- the evaluator --------------------------------------------------------------------------


class DetectorEvaluator:
    """An evaluator with the detectors' findings added: any finding fails the state."""

    def __init__(self, base: Evaluator, detectors: Sequence[Detector]) -> None:
        """Judge by ``base``, then by each of ``detectors``."""
        self.base = base
        self.detectors = list(detectors)

    def __call__(self, values: Mapping[str, Any]) -> Verdict:
        """Return ``base``'s verdict, failed and extended by any finding."""
        verdict = self.base(values)
        findings = [finding for detector in self.detectors for finding in detector(values)]
        if not findings:
            return verdict
        notes = "; ".join(f"{f.detector} ({f.judges}): {f.detail}" for f in findings)
        reason = notes if verdict.passed else f"{verdict.reason}; {notes}"
        return Verdict(False, reason, verdict.failures | {f.key for f in findings})


def blame_detectors(
    *, user: str | None = None, replayer: ToolReplayer | None = None, catalog: Any = None
) -> list[Detector]:
    """Return Nova's detectors (``replayer`` shared with ``ToolRerunCorrector``)."""
    return [
        RouteRescoreDetector(),
        QuestionRouteDetector(catalog),
        MemoryCurrentDetector(user=user),
        ToolRerunDetector(replayer),
        MisquoteDetector(),
        ArithmeticDetector(),
    ]
