"""Blame-time detectors judge every turn of a thread, with the route and recall each turn had.

The state keeps only the last turn's ``route`` and ``memories``; ``respond`` stamps each
turn's on its answer (``nodes.supervisor.TURN_KEY``), so an earlier turn's misroute or
outdated memory is found in that turn. Also: information requests phrased as imperatives
(``nodes.dialogue_act``) and figures computed by two operations (``nova.erp.grounding``).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from nodes.detectors import (
    ArithmeticCorrector,
    ArithmeticDetector,
    MemoryCurrentDetector,
    QuestionRouteDetector,
    RouteRescoreDetector,
    turn_records,
)
from nodes.supervisor import TURN_KEY, respond
from nova.erp.grounding import miscomputed, ungrounded
from tests.test_blame_detectors import Item, Store


class Router:
    version = "r1"
    catalog_version = "c1"

    def route(self, text: str) -> dict[str, Any]:
        agent = "calculator" if "discount" in text else "erp_customers"
        return {"agent": agent, "method": "semantic", "confidence": 0.9, "reason": "x"}


def _route(agent: str, subgraph: str = "erp", **changes: Any) -> dict[str, Any]:
    return {
        "id": f"route-{agent}",
        "agent": agent,
        "subgraph": subgraph,
        "method": "semantic",
        "router_version": "r1",
        "catalog_version": "c1",
        **changes,
    }


def _stamped(text: str, route: dict[str, Any] | None, memories: list[Any] = ()) -> AIMessage:  # type: ignore[assignment]
    return AIMessage(text, additional_kwargs={TURN_KEY: {"route": route, "memories": memories}})


def _thread(first_route: dict[str, Any] | None, memories: list[Any] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    return {
        "project": "parts-shop",
        "messages": [
            HumanMessage("How much does Kessler Automotive GmbH owe us?"),
            _stamped("Kessler Automotive GmbH owes €222.75.", first_route, memories),
            HumanMessage("And how much would that be with a 2% early-payment discount off?"),
            AIMessage("With 2% off, 222.75 EUR becomes 218.30 EUR."),
        ],
        "route": _route("calculator", "chat"),
        "instruction": "And how much would that be with a 2% early-payment discount off?",
        "memories": [],
    }


def test_respond_stamps_the_turns_route_and_memories_on_its_answer() -> None:
    route = _route("erp_customers")
    hits = [{"id": "m1", "text": "note", "kind": "fact", "score": 0.7}]
    answer = AIMessage("owes €222.75", id="a1")
    update = respond({"messages": [HumanMessage("q"), answer], "route": route, "memories": hits})  # type: ignore[typeddict-item]
    assert update["answer"] == "owes €222.75"
    messages = update["messages"]
    assert isinstance(messages, list) and len(messages) == 1
    stamped = messages[0]
    assert isinstance(stamped, AIMessage)
    assert stamped.id == "a1" and stamped.content == answer.content
    assert stamped.additional_kwargs[TURN_KEY] == {"route": route, "memories": hits}
    # Already stamped alike: nothing to replace.
    again = respond({"messages": [stamped], "route": route, "memories": hits})  # type: ignore[typeddict-item]
    assert "messages" not in again


def test_turn_records_read_earlier_turns_from_their_stamp_and_the_last_from_state() -> None:
    records = turn_records(_thread(_route("erp_payments")))
    assert [(r.number, r.last) for r in records] == [(1, False), (2, True)]
    assert records[0].route is not None and records[0].route["agent"] == "erp_payments"
    assert records[0].instruction == "How much does Kessler Automotive GmbH owe us?"
    assert records[1].route is not None and records[1].route["agent"] == "calculator"
    # A thread from before the stamp: the earlier turn has no route.
    assert turn_records(_thread(None))[0].route is None


def test_an_earlier_turns_misroute_is_found_in_that_turn_and_a_right_one_is_not() -> None:
    detector = RouteRescoreDetector(Router)
    found = detector(_thread(_route("erp_payments")))
    assert [(f.detector, f.judges) for f in found] == [("route_rescore", "route")]
    assert found[0].detail.startswith("turn 1: routed to erp_payments")
    assert detector(_thread(_route("erp_customers"))) == []
    assert detector(_thread(None)) == []
    # A route that is not the classifier's own (a follow-up, memory) is not re-scored.
    assert detector(_thread(_route("erp_payments", method="followup"))) == []


MINIMUM = "The parts shop has a minimum order value of 50 EUR for business customers."


def _memory_thread(recalled: str) -> dict[str, Any]:
    hit = {"id": "m1", "text": recalled, "kind": "decision", "score": 0.8}
    return {
        "project": "parts-shop",
        "messages": [
            HumanMessage("What do you remember about our minimum order value?"),
            _stamped("From our notes: " + recalled, _route("memory_curator", "chat"), [hit]),
            HumanMessage("And how much would that be with a 2% discount taken off?"),
            AIMessage("With 2% off, 75 EUR becomes 73.5 EUR."),
        ],
        "route": _route("calculator", "chat"),
        "memories": [],
    }


def test_an_outdated_memory_recalled_in_an_earlier_turn_is_found_in_that_turn() -> None:
    store = Store(Item("m1", MINIMUM))
    found = MemoryCurrentDetector(store)(_memory_thread(MINIMUM.replace("50", "75")))
    assert [(f.detector, f.judges) for f in found] == [("memory_current", "recall")]
    assert found[0].detail.startswith("turn 1: [mem:m1]")
    assert MemoryCurrentDetector(store)(_memory_thread(MINIMUM)) == []


def _catalog(**subgraphs: str) -> dict[str, Any]:
    return {name: SimpleNamespace(subgraph=subgraph) for name, subgraph in subgraphs.items()}


CANDIDATES = [
    {"agent": "invoice_reminders", "score": 0.9},
    {"agent": "erp_payments", "score": 0.06},
]


def test_an_imperative_that_asks_for_information_sent_to_a_fixed_plan_is_found() -> None:
    catalog = _catalog(invoice_reminders="pipeline", erp_payments="erp")
    detector = QuestionRouteDetector(catalog)
    route = _route("invoice_reminders", "pipeline", candidates=CANDIDATES)
    for request in (
        "Remind me of our reminder policy for late payers",
        "Tell me which fee we charge on payment reminders",
        "Show me our rules for payment reminders",
    ):
        found = detector({"request": request, "route": route})
        assert [f.detector for f in found] == ["question_route"], request
    # Imperatives that ask the plan to act: no finding.
    for request in (
        "Draft me the payment reminders for Nordwind GmbH",
        "Draft payment reminders for Nordwind GmbH",
        "Send them the reminders when they are ready",
    ):
        assert detector({"request": request, "route": route}) == [], request


def test_an_earlier_turns_question_sent_to_a_fixed_plan_is_read_from_its_stamp() -> None:
    catalog = _catalog(invoice_reminders="pipeline", erp_payments="erp")
    detector = QuestionRouteDetector(catalog)
    route = _route("invoice_reminders", "pipeline", candidates=CANDIDATES)
    state: dict[str, Any] = {
        "messages": [
            HumanMessage("Tell me which fee we charge on payment reminders"),
            _stamped("# Payment reminders ...", route),
            HumanMessage("Draft reminders for Kessler only"),
            AIMessage("# Payment reminders ..."),
        ],
        "route": route,
        "request": "Draft reminders for Kessler only",
    }
    found = detector(state)
    assert [f.detail.split(" asks")[0] for f in found] == ["turn 1"]
    # The same thread whose first turn drafted on request: nothing.
    state["messages"][0] = HumanMessage("Draft payment reminders for Nordwind GmbH")
    assert detector(state) == []


PLAIN = "Nordwind GmbH owes €747.94 on 1 open invoice; 12 days overdue, as of 2025-06-30."
BALANCE = (
    "Nordwind GmbH owes €747.94 on 1 open invoice; 12 days overdue, as of 2025-06-30. "
    "Credit limit €1,069.88 left."
)
ASKED = "If Nordwind GmbH pays 249 of what they owe now and 186 next month, what is left?"
RIGHT = "Nordwind GmbH owes €747.94; after payments of 249.00 and 186.00, 312.94 EUR is left."


def test_a_figure_two_operations_give_from_the_shown_figures_is_grounded() -> None:
    assert ungrounded(RIGHT, [PLAIN], ASKED, arithmetic=True) == []
    assert miscomputed(RIGHT, [PLAIN], ASKED) == []
    # A wrong figure stays ungrounded (no chain over the shown figures gives it).
    wrong = RIGHT.replace("312.94", "321.94")
    assert [m.text for m in ungrounded(wrong, [PLAIN], ASKED, arithmetic=True)] == ["321.94"]
    # Without arithmetic nothing is derived; whole numbers are never chained.
    assert [m.text for m in ungrounded(RIGHT, [PLAIN], ASKED)] == ["312.94"]
    whole = "Owes €747.94; after payments of 249 and 186, 313 EUR is left."
    assert [m.text for m in ungrounded(whole, [PLAIN], ASKED, arithmetic=True)] == ["313"]


def _chained(answer: str) -> list[Any]:
    call = {"name": "erp_customer_balance", "args": {"customer": "20001"}, "id": "c1"}
    return [
        HumanMessage(ASKED),
        AIMessage("", tool_calls=[call]),
        ToolMessage(BALANCE, tool_call_id="c1", name="erp_customer_balance"),
        AIMessage(answer),
    ]


def test_a_wrong_chained_figure_is_recomputed_from_three_figures() -> None:
    detector = ArithmeticDetector()
    assert detector({"messages": _chained(RIGHT)}) == []
    # 1,069.88 - 747.94 (the credit left, which the answer does not show): no operation
    # over the shown figures gives it, so it is miscomputed; the three-figure result is
    # offered (the nearest chain), after the single operations.
    off = RIGHT.replace("312.94", "321.94")
    found = detector({"messages": _chained(off)})
    assert [(f.detector, f.judges) for f in found] == [("arithmetic", "agent")]
    (result,) = miscomputed(off, [BALANCE], ASKED)
    assert [str(v) for v in result.recomputed][-1] == "312.94"
    messages = _chained(off)
    step = SimpleNamespace(
        node="agent",
        before=SimpleNamespace(values={"messages": messages[:-1]}),
        writes={"messages": [messages[-1]]},
    )
    texts = [c.writes["messages"][-1].content for c in ArithmeticCorrector()(step, None)]
    assert RIGHT in texts
    # One payment taken off only (747.94 - 249): a single operation gives it, no finding.
    assert detector({"messages": _chained(RIGHT.replace("312.94", "498.94"))}) == []
