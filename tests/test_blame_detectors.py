"""Blame-time detectors: tools re-run, memories as stored, the router asked again; first faults."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import StructuredTool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from nodes.detectors import (
    ArithmeticCorrector,
    ArithmeticDetector,
    DetectorEvaluator,
    Finding,
    MemoryCurrentDetector,
    MisquoteDetector,
    QuestionRouteCorrector,
    QuestionRouteDetector,
    RouteRescoreCorrector,
    RouteRescoreDetector,
    ToolReplayer,
    ToolRerunCorrector,
    ToolRerunDetector,
    disagreement,
)
from nova.tracing.blame.attribution import blame
from nova.tracing.blame.corrections import Correction
from nova.tracing.blame.steps import RunSteps, Step, load_run
from nova.tracing.blame.verdicts import Verdict
from tools.registry import declare_idempotent

RECORDED = "Invoice INV-2025-00236: total €541.79, outstanding €541.79 (as of 2025-06-30)."
TRUE = "Invoice INV-2025-00236: total €514.79, outstanding €514.79 (as of 2025-06-30)."


def _step(node: str, before: Mapping[str, Any], writes: Mapping[str, Any]) -> Any:
    return SimpleNamespace(node=node, before=SimpleNamespace(values=before), writes=writes)


# --- tool results -----------------------------------------------------------------------------


def test_a_rerun_disagrees_on_figures_not_on_wording_or_a_moved_business_day() -> None:
    why = disagreement(RECORDED, TRUE)
    assert why is not None and "541.79" in why and "514.79" in why
    assert disagreement(RECORDED, RECORDED.replace("Invoice", "Rechnung")) is None
    # Another "as of" date: the data may have moved on since the run, so no evidence.
    assert disagreement(RECORDED, TRUE.replace("2025-06-30", "2025-07-01")) is None


def _lookup_tools(answer: str) -> dict[str, Any]:
    calls: list[dict[str, Any]] = []

    def lookup(invoice_number: str) -> str:
        calls.append({"invoice_number": invoice_number})
        return answer

    read = declare_idempotent(
        StructuredTool.from_function(lookup, name="test_invoice_lookup", description="Look up.")
    )
    write = StructuredTool.from_function(lookup, name="test_invoice_write", description="Write.")
    return {read.name: read, write.name: write, "calls": calls}


def _tool_turn(name: str, content: str) -> list[Any]:
    call = {"name": name, "args": {"invoice_number": "INV-2025-00236"}, "id": "c1"}
    return [
        HumanMessage("What is open on INV-2025-00236?"),
        AIMessage("", tool_calls=[call]),
        ToolMessage(content, tool_call_id="c1", name=name),
        AIMessage(content),
    ]


def test_a_read_only_lookup_whose_rerun_disagrees_is_found_and_corrected_once() -> None:
    tools = _lookup_tools(TRUE)
    replayer = ToolReplayer(tools)
    detector = ToolRerunDetector(replayer)
    found = detector({"messages": _tool_turn("test_invoice_lookup", RECORDED)})
    assert [(f.detector, f.judges) for f in found] == [("tool_rerun", "tools")]
    assert detector({"messages": _tool_turn("test_invoice_lookup", TRUE)}) == []
    # A tool that did not declare itself read-only is never called again.
    assert detector({"messages": _tool_turn("test_invoice_write", RECORDED)}) == []
    assert tools["calls"] == [{"invoice_number": "INV-2025-00236"}]  # cached per call

    turn = _tool_turn("test_invoice_lookup", RECORDED)
    step = _step("tools", {"messages": turn[:2]}, {"messages": [turn[2]]})
    corrections = list(ToolRerunCorrector(replayer)(step, None))
    assert len(corrections) == 1
    fixed = corrections[0].writes["messages"][0]
    assert isinstance(fixed, ToolMessage) and fixed.content == TRUE
    assert fixed.tool_call_id == "c1"
    # Nothing to offer for a result the re-run confirms, or for another kind of step.
    good = _tool_turn("test_invoice_lookup", TRUE)
    confirmed = _step("tools", {"messages": good[:2]}, {"messages": [good[2]]})
    assert list(ToolRerunCorrector(replayer)(confirmed, None)) == []
    answer = _step("agent", {}, {"messages": [turn[2]]})
    assert list(ToolRerunCorrector(replayer)(answer, None)) == []


# --- memories ---------------------------------------------------------------------------------


@dataclass
class Item:
    id: str
    text: str
    superseded_by: str | None = None


class Store:
    def __init__(self, *items: Item) -> None:
        self.items = {item.id: item for item in items}

    def get(self, project: str, item_id: str) -> Item | None:
        return self.items.get(item_id)


FEE = "The parts shop charges a 10 percent restocking fee on returns."


def _memory_state(text: str, answer: str) -> dict[str, Any]:
    return {
        "project": "parts-shop",
        "memories": [{"id": "m1", "text": text, "kind": "decision", "score": 0.7}],
        "messages": [HumanMessage("restocking fee?"), AIMessage(answer)],
    }


def test_a_recalled_memory_the_store_now_holds_otherwise_or_superseded_is_found() -> None:
    stale = FEE.replace("10", "15")
    store = Store(Item("m1", FEE))
    found = MemoryCurrentDetector(store)(_memory_state(stale, "From our notes: " + stale))
    assert [(f.detector, f.judges) for f in found] == [("memory_current", "recall")]
    # As stored: nothing; not used by the answer: nothing.
    assert MemoryCurrentDetector(store)(_memory_state(FEE, "From our notes: " + FEE)) == []
    assert MemoryCurrentDetector(store)(_memory_state(stale, "We ship with DHL.")) == []
    superseded = Store(Item("m1", FEE, superseded_by="m2"), Item("m2", FEE.replace("10", "12")))
    found = MemoryCurrentDetector(superseded)(_memory_state(FEE, "From our notes: " + FEE))
    assert found and "superseded by [mem:m2]" in found[0].detail


# --- answers -------------------------------------------------------------------------------


def _answered(tool_text: str, answer: str) -> list[Any]:
    call = {"name": "erp_invoice_lookup", "args": {}, "id": f"c{len(answer)}"}
    return [
        HumanMessage("What is open on INV-2025-00236?"),
        AIMessage("", tool_calls=[call]),
        ToolMessage(tool_text, tool_call_id=call["id"], name="erp_invoice_lookup"),
        AIMessage(answer),
    ]


def test_a_misquote_is_found_in_the_turn_that_made_it_and_computed_figures_are_not() -> None:
    detector = MisquoteDetector()
    faithful = _answered(TRUE, TRUE)
    assert detector({"messages": faithful}) == []
    # Turn 1 changed a figure of its source; turn 2 computed from it (no source of its own).
    later = [HumanMessage("And with 2% off?"), AIMessage("With 2% off, 541.79 EUR is 530.95 EUR.")]
    found = detector({"messages": [*_answered(TRUE, RECORDED), *later]})
    assert [(f.detector, f.judges) for f in found] == [("misquote", "agent")]
    assert "turn 1" in found[0].detail
    assert detector({"messages": [*faithful, *later]}) == []
    # A memory of the last turn is a source: its months may not change either.
    memory = "Stock counts happen twice a year, in the last week of June and December."
    state = {
        "memories": [{"id": "m", "text": memory}],
        "messages": [
            HumanMessage("When are stock counts?"),
            AIMessage(
                "From our notes: " + memory.replace("June and December", "March and September")
            ),
        ],
    }
    assert [f.detector for f in detector(state)] == ["misquote"]


# --- routes -----------------------------------------------------------------------------------


class Router:
    version = "r1"
    catalog_version = "c1"

    def route(self, text: str) -> dict[str, Any]:
        return {"agent": "erp_customers", "method": "semantic", "confidence": 0.9, "reason": "x"}


def _route(agent: str, **changes: Any) -> dict[str, Any]:
    return {
        "id": "route-1",
        "agent": agent,
        "subgraph": "erp",
        "method": "semantic",
        "router_version": "r1",
        "catalog_version": "c1",
        **changes,
    }


def test_a_route_the_router_does_not_make_at_its_recorded_version_is_found_and_corrected() -> None:
    detector = RouteRescoreDetector(Router)
    request = {"request": "How much does Kessler Automotive GmbH owe us?"}
    found = detector({**request, "route": _route("erp_payments")})
    assert [(f.detector, f.judges) for f in found] == [("route_rescore", "route")]
    assert detector({**request, "route": _route("erp_customers")}) == []
    # Not the classifier's own choice, or another router version: nothing to compare.
    assert detector({**request, "route": _route("erp_payments", method="memory")}) == []
    assert detector({**request, "route": _route("erp_payments", router_version="r0")}) == []

    catalog = {"erp_customers": SimpleNamespace(subgraph="erp")}
    step = _step("route", request, {"route": _route("erp_payments")})
    corrections = list(RouteRescoreCorrector(catalog, Router)(step, None))
    assert len(corrections) == 1
    route = corrections[0].writes["route"]
    assert route["agent"] == "erp_customers" and route["subgraph"] == "erp"
    assert corrections[0].writes["thread_route"]["agent"] == "erp_customers"


def _catalog(**subgraphs: str) -> dict[str, Any]:
    return {name: SimpleNamespace(subgraph=subgraph) for name, subgraph in subgraphs.items()}


def test_a_question_sent_to_a_fixed_plan_is_found_and_routed_to_the_answering_runner_up() -> None:
    catalog = _catalog(invoice_reminders="pipeline", tone_editor="translation", notes="chat")
    detector = QuestionRouteDetector(catalog)
    candidates = [
        {"agent": "invoice_reminders", "score": 0.9},
        {"agent": "tone_editor", "score": 0.06},
        {"agent": "notes", "score": 0.04},
    ]
    route = _route("invoice_reminders", subgraph="pipeline", candidates=candidates)
    asks = {"request": "What did we decide about the fee on payment reminders?"}
    found = detector({**asks, "route": route})
    assert [(f.detector, f.judges) for f in found] == [("question_route", "route")]
    assert "tone_editor" in found[0].detail
    # A command for the plan, a question to an agent that answers, or no answering
    # candidate: nothing to say.
    assert detector({"request": "Draft reminders for overdue invoices", "route": route}) == []
    assert detector({**asks, "route": _route("notes", subgraph="chat")}) == []
    alone = _route("invoice_reminders", subgraph="pipeline", candidates=candidates[:1])
    assert detector({**asks, "route": alone}) == []
    # The request read from the thread when the state has no routed text.
    thread = {"messages": [HumanMessage(asks["request"])], "route": route}
    assert [f.detector for f in detector(thread)] == ["question_route"]
    # An earlier turn's question answered by a fixed plan is found in that turn; a later
    # turn that asks the plan for more letters is no question.
    earlier = [
        HumanMessage(asks["request"]),
        AIMessage("# Payment reminders ...", name="invoice_reminders"),
        HumanMessage("Thanks, now draft them for Kessler only"),
        AIMessage("# Payment reminders ...", name="invoice_reminders"),
    ]
    last = _route("invoice_reminders", subgraph="pipeline")
    found = detector({"messages": earlier, "route": last})
    assert [f.detail.split(" asks")[0] for f in found] == ["turn 1"]
    answered = [earlier[0], AIMessage("7 days after the due date.", name="notes"), *earlier[2:]]
    assert detector({"messages": answered, "route": last}) == []

    corrections = list(
        QuestionRouteCorrector(catalog)(_step("route", asks, {"route": route}), None)
    )
    assert [c.writes["route"]["agent"] for c in corrections] == ["tone_editor", "notes"]
    first = corrections[0].writes["route"]
    # Not the classifier's decision any more, so route_rescore does not re-judge the replay.
    assert first["subgraph"] == "translation" and first["method"] == "question_route"
    assert corrections[0].writes["thread_route"]["agent"] == "tone_editor"
    command = {"request": "Draft reminders for overdue invoices"}
    assert (
        list(QuestionRouteCorrector(catalog)(_step("route", command, {"route": route}), None)) == []
    )


def _balance(answer: str) -> list[Any]:
    call = {"name": "erp_customer_balance", "args": {"customer": "20006"}, "id": "c1"}
    return [
        HumanMessage("If Weber Landtechnik GmbH pays 24 of what they owe, what is left?"),
        AIMessage("", tool_calls=[call]),
        ToolMessage(
            "Weber Landtechnik GmbH owes €48.74 on 1 open invoice, as of 2025-06-30.",
            tool_call_id="c1",
            name="erp_customer_balance",
        ),
        AIMessage(answer),
    ]


def test_an_answer_that_computes_wrongly_from_its_own_figures_is_found_and_recomputed() -> None:
    detector = ArithmeticDetector()
    wrong = "Weber Landtechnik GmbH owes €48.74; after a payment of 24.00, 42.74 EUR is left."
    right = wrong.replace("42.74", "24.74")
    found = detector({"messages": _balance(wrong)})
    assert [(f.detector, f.judges) for f in found] == [("arithmetic", "agent")]
    assert "42.74" in found[0].detail and "24.74" in found[0].detail
    assert detector({"messages": _balance(right)}) == []
    # A percentage of a cited figure is arithmetic too; a figure a source states is quoted.
    assert detector({"messages": _balance("€48.74 owed; 50 percent of it is 24.37 EUR.")}) == []
    # Nothing looked up (a pipeline's text, a chat answer): no operands to recompute from.
    assert detector({"messages": [HumanMessage("pay 24 of 48.74?"), AIMessage("42.74")]}) == []
    # A later turn computing from turn 1's lookup is judged in its own turn.
    later = [HumanMessage("And if they pay 10.00?"), AIMessage("Then 24.74 EUR of 48.74 is left.")]
    found = detector({"messages": [*_balance(right), *later]})
    assert [f.detail.split("'")[0] for f in found] == ["turn 2"]
    later[-1] = AIMessage("Then 38.74 EUR of 48.74 is left.")
    assert detector({"messages": [*_balance(right), *later]}) == []

    messages = _balance(wrong)
    step = _step("agent", {"messages": messages[:-1]}, {"messages": [messages[-1]]})
    corrections = list(ArithmeticCorrector()(step, None))
    assert corrections and corrections[0].writes["messages"][-1].content == right
    fixed = _step("agent", {"messages": messages[:-1]}, {"messages": [AIMessage(right)]})
    assert list(ArithmeticCorrector()(fixed, None)) == []


def test_findings_fail_a_passing_verdict_and_add_their_keys() -> None:
    def finds(values: Mapping[str, Any]) -> list[Finding]:
        return [Finding("tool_rerun", "tools", "x")] if values.get("bad") else []

    evaluator = DetectorEvaluator(lambda v: Verdict(True, "checks passed"), [finds])
    assert evaluator({}).passed
    verdict = evaluator({"bad": True})
    assert not verdict.passed and verdict.failures == {"detector:tool_rerun"}


# --- two faults: the first bad assumption -----------------------------------------------------


class Chain(TypedDict, total=False):
    lookup: int
    answer: str


def _two_fault_graph() -> Any:
    builder = StateGraph(Chain)
    builder.add_node("lookup", lambda s: {"lookup": 541})  # wrong (514)
    builder.add_node("answer", lambda s: {"answer": f"INV-11 has {s['lookup']}"})  # wrong id
    builder.add_edge(START, "lookup")
    builder.add_edge("lookup", "answer")
    builder.add_edge("answer", END)
    return builder.compile(checkpointer=InMemorySaver())


def _judge(values: Mapping[str, Any]) -> Verdict:
    failures = set()
    if values.get("lookup") != 514:
        failures.add("detector:tool_rerun")
    if not values.get("answer"):
        failures.add("no answer")
    elif not str(values["answer"]).startswith("INV-10"):
        failures.add("check:numbers_grounded")
    return Verdict(not failures, ", ".join(sorted(failures)), frozenset(failures))


@dataclass
class Fixed:
    key: str
    writes: Mapping[str, Any]

    def __call__(self, step: Step, run: RunSteps) -> Iterator[Correction]:
        if step.key == self.key:
            yield Correction("check", self.writes, "test")


def test_with_two_faults_the_earliest_step_whose_correction_fixes_part_is_named() -> None:
    graph = _two_fault_graph()
    graph.invoke({}, {"configurable": {"thread_id": "t"}})
    run = load_run(graph, "t")
    correctors = [
        Fixed("lookup#1", {"lookup": 514}),
        Fixed("answer#1", {"answer": "INV-10 has 541"}),
    ]
    result = blame(run, evaluator=_judge, correctors=correctors)
    assert result.method == "first_fault"
    assert result.blamed is not None and result.blamed.key == "lookup#1"
    assert "detector:tool_rerun" in result.explanation
    # A correction that fixes nothing, or fixes one failure and causes another, is no
    # evidence: nothing is named.
    useless = [Fixed("lookup#1", {"lookup": 7})]
    assert blame(run, evaluator=_judge, correctors=useless).method == "not_attributed"
    trade = [Fixed("answer#1", {"answer": ""})]
    assert blame(run, evaluator=_judge, correctors=trade).method == "not_attributed"
    # An evaluator that does not say what failed keeps the old answer: not attributed.
    plain = blame(run, evaluator=lambda v: Verdict(_judge(v).passed), correctors=correctors)
    assert plain.method == "not_attributed" and plain.blamed is None


def test_blame_inputs_judge_by_the_detectors_unless_the_owner_called_the_run_good() -> None:
    from nodes.check_node import blame_inputs
    from nova.catalog import default_catalog

    catalog = default_catalog()
    said = SimpleNamespace(agent=None, answer=None)
    plain, _ = blame_inputs(catalog, {})
    bad, _ = blame_inputs(catalog, {}, feedback=SimpleNamespace(rating="bad", **vars(said)))
    good, _ = blame_inputs(catalog, {}, feedback=SimpleNamespace(rating="good", **vars(said)))
    assert isinstance(plain, DetectorEvaluator) and isinstance(bad, DetectorEvaluator)
    assert not isinstance(good, DetectorEvaluator)
    assert good({"messages": [AIMessage("fine")]}).passed
