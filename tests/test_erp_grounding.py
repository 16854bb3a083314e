"""numbers_grounded, and no invented numbers in any fast-path answer over the whole dataset."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from evals.erp_eval import fast_path_graph, load_dataset, route_for, run_fast_path
from nodes.checks import CHECKS, CheckContext, numbers_grounded
from nova.erp.db import ErpDatabase
from nova.erp.grounding import ungrounded

pytest_plugins = ("tests.erp_fixtures",)

TOOL = json.dumps(
    {"id": "INV-2025-00412", "total": "1234.50", "due": "2025-03-31", "rows": 3, "pct": "12.5"}
)


@pytest.mark.parametrize(
    "answer",
    [
        "INV-2025-00412 is €1,234.50, due 2025-03-31.",
        "Outstanding: 1234.5 EUR (12.5%).",
        "Es sind €1.234,50 offen.",
        "About €1,235 is open.",
        "1. INV-2025-00412\n2. nothing else",
    ],
)
def test_grounded_answers_pass(answer: str) -> None:
    result = numbers_grounded(answer, [TOOL], request="")
    assert result.passed, result.detail


@pytest.mark.parametrize(
    ("answer", "bad"),
    [
        ("INV-2025-00412 is €1,243.50.", "1,243.50"),
        ("Due 2025-04-30.", "2025-04-30"),
        ("See INV-2025-00413.", "INV-2025-00413"),
        ("That is 17 days late.", "17"),
    ],
)
def test_invented_numbers_are_flagged(answer: str, bad: str) -> None:
    result = numbers_grounded(answer, [TOOL])
    assert not result.passed and bad in result.detail


def test_numbers_from_the_request_are_fine() -> None:
    assert numbers_grounded(
        "Invoices over 5,000 EUR: INV-2025-00412.", [TOOL], request="over 5000 euros"
    ).passed
    assert not numbers_grounded("Invoices over 5,000 EUR: INV-2025-00412.", [TOOL]).passed


def test_registered_check_reads_tool_messages_and_fast_path_payloads() -> None:
    message = AIMessage(
        "Total €1,234.50.", additional_kwargs={"erp": {"rows": [{"total": "1234.50"}]}}
    )
    context = CheckContext(
        request="total?",
        answer=message.content,
        agent=None,
        route=None,
        project=None,
        messages=[HumanMessage("total?"), message],
    )
    (outcome,) = CHECKS.run(["numbers_grounded"], context)
    assert outcome["status"] == "passed"
    wrong = AIMessage("Total €9.99.", additional_kwargs={"erp": {"rows": [{"total": "1234.50"}]}})
    context = CheckContext(
        request="total?",
        answer=wrong.content,
        agent=None,
        route=None,
        project=None,
        messages=[HumanMessage("total?"), wrong],
    )
    assert CHECKS.run(["numbers_grounded"], context)[0]["status"] == "failed"


def test_no_fast_path_answer_states_a_number_its_query_did_not_return(
    full_erp: ErpDatabase,
) -> None:
    """Every answer the fast path gives over the whole ERP dataset is grounded in its own rows."""
    graph = fast_path_graph(full_erp)
    answered = 0
    for case in load_dataset():
        values = graph.invoke(
            {
                "messages": [HumanMessage(case.text)],
                "request": case.text,
                "route": route_for(case.agent),
            },
            {"configurable": {"thread_id": case.id}},
        )
        message = values["messages"][-1] if values.get("messages") else None
        payload = message.additional_kwargs.get("erp") if message is not None else None
        if payload is None:
            continue
        answered += 1
        missing = ungrounded(values["answer"], [json.dumps(payload, ensure_ascii=False)])
        assert not missing, f"{case.id} {case.text!r}: {[m.text for m in missing]} not in its rows"
    assert answered >= 140


def test_fast_path_meets_its_targets_on_the_dataset(full_erp: ErpDatabase) -> None:
    report, results = run_fast_path(load_dataset(), full_erp)
    assert report.cases >= 150
    assert report.coverage >= 0.70, report.outcomes
    assert report.answer_correctness == 1.0, [r.id for r in results if not r.correct][:10]
    assert report.decline_correct == 1.0 and report.clarify_correct == 1.0
