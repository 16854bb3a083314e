"""The route node's memory fusion: which questions memory answers instead of the classifier.

``memory_decision`` is fed made-up decisions and hits over the real catalog, so each of its
four signals (memory relevance, dialogue act, classifier confidence, the ERP agent's data)
is checked on its own; the graph-level case ("Who is our accountant?") is in
``tests/test_followup.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nodes.route_context import STRONG_MEMORY_SCORE, memory_decision
from nova.catalog import default_catalog
from nova.erp.db import ErpDatabase
from nova.erp.followup import ErpMention, erp_mention
from nova.state import MemoryHit, RouteCandidate, RouteDecision
from nova.testing import route_to

pytest_plugins = ("tests.erp_fixtures",)

MEMORY_AGENTS = ("memory_curator", "project_briefing")


def _hit(score: float, kind: str = "fact") -> list[MemoryHit]:
    return [
        MemoryHit(id="m1", text="The owner's accountant is Frau Schulz.", kind=kind, score=score)
    ]


def _mention(value: ErpMention) -> Callable[[str], ErpMention]:
    return lambda text: value


def _decide(
    decision: RouteDecision,
    text: str,
    hits: list[MemoryHit],
    *,
    mention: ErpMention = "none",
    erp_data: bool = True,
    allows: Callable[[str], bool] | None = None,
    erp_reads: Callable[[str], bool] | None = None,
    calculates: Callable[[str], bool] | None = None,
    erp_dated: Callable[[str], bool] | None = None,
) -> RouteDecision | None:
    return memory_decision(
        decision,
        text,
        hits,
        default_catalog(),
        fallback_agent="general_chat",
        erp_mention=_mention(mention),
        memory_agents=MEMORY_AGENTS,
        erp_data=erp_data,
        allows=allows,
        erp_reads=erp_reads,
        calculates=calculates,
        erp_dated=erp_dated,
    )


def test_a_question_the_erp_has_nothing_to_look_up_for_goes_to_memory() -> None:
    moved = _decide(
        route_to("erp_customers", "erp", confidence=0.96), "Who is our accountant?", _hit(0.7)
    )
    assert moved is not None
    assert moved["method"] == "memory"
    assert moved["agent"] == "memory_curator"
    assert moved["subgraph"] == "chat"
    assert moved["confidence"] == 0.7
    assert "opens with the interrogative 'Who'" in moved["reason"]
    assert "names nothing of the ERP" in moved["reason"]


def test_an_action_request_is_never_answered_from_memory() -> None:
    # A strong memory matches its words ("goes to the gym"), but the request asks to act.
    for decision in (
        route_to("erp_payments", "erp", confidence=0.3),
        route_to(None, None, method="clarify"),
    ):
        assert _decide(decision, "pay my gym membership fee", _hit(0.9)) is None
    assert (
        _decide(route_to(None, None, method="clarify"), "can you pay my gym fee?", _hit(0.9))
        is None
    )


def test_a_weak_or_non_answering_memory_moves_nothing() -> None:
    decision = route_to("erp_customers", "erp", confidence=0.96)
    assert _decide(decision, "Who is our accountant?", _hit(STRONG_MEMORY_SCORE - 0.01)) is None
    assert _decide(decision, "Who is our accountant?", _hit(0.9, kind="summary")) is None


def test_an_erp_entity_keeps_the_erp_route_where_the_project_holds_the_erp() -> None:
    decision = route_to("erp_customers", "erp", confidence=0.3)
    text = "Who is the contact at Baker & Sons?"
    assert _decide(decision, text, _hit(0.9), mention="entity") is None
    # Where the project has no ERP data, the entity cannot be looked up: evidence decides.
    moved = _decide(decision, text, _hit(0.9), mention="entity", erp_data=False)
    assert moved is not None and moved["method"] == "memory"


def test_an_erp_agent_in_a_project_without_the_erp_gives_way_to_memory() -> None:
    # "pro tier rheintal - price per user?" in the ERP product's project: the pricing agent
    # is sure of its words, but that project holds no ERP data to look anything up in.
    sure = route_to("erp_pricing", "erp", confidence=0.95)
    text = "pro tier rheintal - price per user?"
    moved = _decide(sure, text, _hit(0.7), mention="entity", erp_data=False)
    assert moved is not None and moved["method"] == "memory"
    assert "holds no ERP data for erp_pricing" in moved["reason"]
    # A weak memory still moves nothing.
    assert _decide(sure, text, _hit(STRONG_MEMORY_SCORE - 0.01), erp_data=False) is None


def test_erp_words_alone_leave_it_to_the_classifier_against_the_memory() -> None:
    text = "returns still waiting to be processed?"
    sure = route_to("erp_returns", "erp", confidence=1.0)
    assert _decide(sure, text, _hit(0.6), mention="word") is None
    unsure = route_to("erp_returns", "erp", confidence=0.5)
    moved = _decide(unsure, text, _hit(0.6), mention="word")
    assert moved is not None
    assert "less sure of erp_returns (0.50)" in moved["reason"]


def test_a_non_erp_pick_moves_only_when_memory_is_surer_than_the_classifier() -> None:
    text = "my day rate for new clients?"
    assert _decide(route_to("daily_planner", "chat", confidence=0.8), text, _hit(0.6)) is None
    moved = _decide(route_to("daily_planner", "chat", confidence=0.4), text, _hit(0.6))
    assert moved is not None and moved["agent"] == "memory_curator"


def test_an_agent_that_answers_from_memory_is_kept() -> None:
    decision = route_to("project_briefing", "chat", confidence=0.2)
    assert _decide(decision, "what did we decide on pricing?", _hit(0.9)) is None


def test_an_abstention_on_a_question_memory_answers_is_routed_to_memory() -> None:
    decision = route_to(None, None, method="clarify", confidence=0.1)
    decision["candidates"] = [
        RouteCandidate(agent="erp_invoices", score=0.1),
        RouteCandidate(agent="project_briefing", score=0.01),
    ]
    decision["question"] = "Which do you mean?"
    moved = _decide(decision, "when's the tüv due on the car", _hit(0.8))
    assert moved is not None
    assert moved["agent"] == "project_briefing"  # the memory agent the classifier ranks first
    assert "question" not in moved
    assert "the classifier abstained (clarify)" in moved["reason"]


def test_the_memory_agent_must_be_enabled_in_the_project() -> None:
    decision = route_to("erp_customers", "erp", confidence=0.9)
    moved = _decide(
        decision, "Who is our accountant?", _hit(0.7), allows=lambda name: name != "memory_curator"
    )
    assert moved is not None and moved["agent"] == "project_briefing"
    assert _decide(decision, "Who is our accountant?", _hit(0.7), allows=lambda name: False) is None


@pytest.mark.parametrize("method", ["explicit", "followup", "llm"])
def test_only_the_classifiers_own_decisions_are_reconsidered(method: str) -> None:
    decision = route_to("erp_customers", "erp", method=method, confidence=0.1)  # type: ignore[arg-type]
    assert _decide(decision, "Who is our accountant?", _hit(0.9)) is None


def test_a_question_closer_to_a_memory_than_to_any_example_goes_to_memory() -> None:
    # The classifier is sure (0.75), but the nearest catalog example is further from the
    # request (0.40) than the memory that answers it (0.49).
    text = "which days does jana work"
    planner = route_to("daily_planner", "chat", confidence=0.75)
    planner["similarity"] = 0.40
    moved = _decide(planner, text, _hit(0.49))
    assert moved is not None and moved["agent"] == "memory_curator"
    assert "closer to the memory" in moved["reason"]
    planner["similarity"] = 0.80  # a request the catalog knows well keeps its agent
    assert _decide(planner, text, _hit(0.49)) is None
    # An ERP agent competes with memory through its data, not its examples.
    erp = route_to("erp_returns", "erp", confidence=0.99)
    erp["similarity"] = 0.40
    assert _decide(erp, "return rate this year?", _hit(0.6), mention="word") is None


def test_a_name_the_erp_does_not_hold_goes_to_the_memory_that_does() -> None:
    # "kessler landtechnik": the ERP knows other Kesslers, memory knows this one's contact.
    moved = _decide(
        route_to("erp_customers", "erp", confidence=0.99),
        "who's our contact at kessler landtechnik now",
        _hit(0.75),
        mention="unknown",
    )
    assert moved is not None and moved["method"] == "memory"
    assert "names someone the ERP does not hold" in moved["reason"]


def test_only_a_name_continued_by_other_records_words_is_unknown_to_the_erp(
    full_erp: ErpDatabase,
) -> None:
    with full_erp.read_session() as session:
        grade = {text: erp_mention(text, session) for text in _NAMES}
    assert grade == _NAMES


_NAMES: dict[str, ErpMention] = {
    # "landtechnik" belongs to other customers' names, to none of the Kesslers'.
    "who's our contact at kessler landtechnik now": "unknown",
    "kessler automotive contact": "entity",
    "kessler balance": "entity",
    "hochreiter landtechnik phone": "entity",
    "dobes baumaschinen email": "entity",
    "invoices of kessler landtechnik in may": "entity",  # a period: the ERP has things to read
    "who is our accountant": "none",
}


def test_a_verbless_fragment_moves_to_memory_only_when_memory_is_surer() -> None:
    # "taglines for the 5.0 warehouse app" has no verb, like "accountant email": its form
    # does not say whether it asks, so being nearer a memory than any example is not enough.
    brainstorm = route_to("brainstormer", "chat", confidence=0.77)
    brainstorm["similarity"] = 0.43
    assert _decide(brainstorm, "taglines for the 5.0 warehouse app", _hit(0.63)) is None
    unsure = route_to("email_drafter", "chat", confidence=0.4)
    moved = _decide(unsure, "accountant email", _hit(0.7))
    assert moved is not None and "verbless fragment" in moved["reason"]


def test_an_erp_request_no_skill_reads_goes_to_the_memory_that_holds_it() -> None:
    decision = route_to("erp_pricing", "erp", confidence=0.99)
    text = "brake prices going up when and by how much?"

    def moved_with(reads: bool, score: float = 0.68) -> RouteDecision | None:
        hits = _hit(score, kind="decision")
        return _decide(decision, text, hits, mention="entity", erp_reads=lambda r: reads)

    # The ERP reads it: the entity keeps the ERP route, however strong the memory.
    assert moved_with(True) is None
    moved = moved_with(False)
    assert moved is not None and moved["method"] == "memory"
    assert "no ERP skill of erp_pricing reads it" in moved["reason"]
    # A weak memory moves nothing, read or not.
    assert moved_with(False, score=STRONG_MEMORY_SCORE - 0.01) is None


def test_a_memory_that_clearly_leads_answers_only_where_the_classifier_abstained() -> None:
    from nodes.route_context import LEADING_MEMORY_MARGIN, LEADING_MEMORY_SCORE

    def hits(top: float, runner_up: float) -> list[MemoryHit]:
        return [
            MemoryHit(id="m1", text="On holiday 1 to 14 August in Lisbon.", kind="fact", score=top),
            MemoryHit(id="m2", text="Dates are written day first.", kind="preference",
                      score=runner_up),
        ]  # fmt: skip

    abstained = route_to(None, None, method="clarify", confidence=0.05)
    below = STRONG_MEMORY_SCORE - 0.01
    moved = _decide(abstained, "when am i off in august", hits(below, 0.29))
    assert moved is not None and moved["method"] == "memory"
    assert "ahead of the next" in moved["reason"]
    # Not ahead enough, or too weak: asked back as before.
    close = below - LEADING_MEMORY_MARGIN / 2
    assert _decide(abstained, "when am i off in august", hits(below, close)) is None
    weak = LEADING_MEMORY_SCORE - 0.01
    assert _decide(abstained, "when am i off in august", hits(weak, 0.1)) is None
    # A classifier pick is only moved by a strong memory, leading or not.
    picked = route_to("daily_planner", "chat", confidence=0.3)
    assert _decide(picked, "when am i off in august", hits(below, 0.1)) is None


def test_an_unread_erp_request_about_a_period_stays_with_the_erp() -> None:
    # "any stock corrections since last monday?" asks what the records hold for a span;
    # a standing memory ("stock counts happen twice a year") is no answer to it.
    decision = route_to("erp_inventory", "erp", confidence=1.0)
    text = "any stock corrections since last monday?"

    def moved_with(dated: bool) -> RouteDecision | None:
        return _decide(
            decision,
            text,
            _hit(0.54),
            mention="entity",
            erp_reads=lambda r: False,
            erp_dated=lambda r: dated,
        )

    assert moved_with(True) is None
    undated = moved_with(False)
    assert undated is not None and undated["method"] == "memory"


def test_erp_dated_reads_the_period_from_the_request(erp_db: ErpDatabase) -> None:
    from nodes.router import erp_dated

    assert erp_dated("any stock corrections since last monday?")
    assert erp_dated("which day in june had the most orders")
    assert not erp_dated("brake prices going up when and by how much?")
    assert not erp_dated("cutoff for same day shipping?")


def test_a_calculation_from_the_requests_own_figures_stays_with_the_calculator() -> None:
    decision = route_to("calculator", "chat", confidence=0.82)
    text = "if mrr goes from 58k up 3% every month, where are we after 12 months"
    assert _decide(decision, text, _hit(0.9), calculates=lambda r: True) is None
    moved = _decide(decision, text, _hit(0.9), calculates=lambda r: False)
    assert moved is not None and moved["method"] == "memory"


def test_memory_takes_an_unread_erp_request_only_from_an_agent_without_a_model() -> None:
    from nodes.router import _has_model
    from nova.models import ModelUnavailable
    from nova.testing import ScriptedChatModel

    catalog = default_catalog()
    assert not _has_model(
        "erp_pricing", catalog, lambda spec, run: ModelUnavailable(spec.name, "none"), None
    )
    assert _has_model("erp_pricing", catalog, lambda spec, run: ScriptedChatModel(), None)
    assert not _has_model("erp_pricing", catalog, None, None)


def _contact_hits() -> list[MemoryHit]:
    return [
        MemoryHit(
            id="pref",
            text="The owner prefers email over phone for anything that needs a written record.",
            kind="preference",
            score=0.57,
        ),
        MemoryHit(
            id="acct",
            text="The owner's accountant is Frau Schulz, schulz@kanzlei-schulz.de.",
            kind="fact",
            score=0.49,
        ),
    ]


@pytest.mark.parametrize(
    "text", ["accountant email", "frau schulz's email? want to send her the june stuff"]
)
def test_a_contact_detail_memory_states_is_looked_up_not_drafted(text: str) -> None:
    # The classifier is sure of the drafter ("email", "send"), but the request names an
    # address and no writing, and a recalled memory states one: it is the answer.
    moved = _decide(route_to("email_drafter", "chat", confidence=0.99), text, _contact_hits())
    assert moved is not None and moved["agent"] == "memory_curator"
    assert "[mem:acct]" in moved["reason"] and "email address" in moved["reason"]


@pytest.mark.parametrize(
    ("text", "hits"),
    [
        # Writing asked for: the drafter keeps it.
        ("write an email to my accountant about the q2 documents", _contact_hits()),
        # No memory holds an address: nothing to look up.
        ("accountant email", _contact_hits()[:1]),
    ],
)
def test_a_contact_request_stays_with_the_drafter_otherwise(
    text: str, hits: list[MemoryHit]
) -> None:
    assert _decide(route_to("email_drafter", "chat", confidence=0.99), text, hits) is None


def test_a_question_sent_to_an_agent_that_carries_out_tasks_goes_to_a_leading_memory() -> None:
    # The email drafter's examples are all tasks; a "who" question is none of them, and the
    # memory that answers it leads the others (below the strong relevance).
    from nodes.route_context import task_agent

    catalog = default_catalog()
    assert task_agent(catalog["email_drafter"]) and not task_agent(catalog["erp_invoices"])
    hits = [
        MemoryHit(id="mails", text="Jana answers the seller mails.", kind="fact", score=0.40),
        MemoryHit(id="other", text="Sellers pay a 12% fee.", kind="fact", score=0.30),
    ]
    text = "who's answering the seller mails these days?"
    moved = _decide(route_to("email_drafter", "chat", confidence=0.9), text, hits)
    assert moved is not None and moved["agent"] == "memory_curator"
    assert "carries out tasks" in moved["reason"]
    # A task asked as a question about carried text stays with the task agent.
    carried = 'what does it say in english: "Dzień dobry, zamówienie PO-2025-0125 jest opóźnione"'
    assert _decide(route_to("translator", "chat", confidence=0.9), carried, hits) is None
    # A command is not a question, however well a memory matches it.
    command = "draft a note to the seller mails team"
    assert _decide(route_to("email_drafter", "chat", confidence=0.9), command, hits) is None


def test_an_imperative_that_asks_for_a_stored_fact_goes_to_memory_like_a_question() -> None:
    # "remind me how long …" asks what "how long …?" asks; the reminder pipeline it resembles
    # would act (draft payment reminders), which nothing in the request asks for.
    hits = [
        MemoryHit(
            id="returns",
            text="Customers can send parts back within 30 days in the original packaging.",
            kind="fact",
            score=0.45,
        ),
        MemoryHit(id="other", text="Reminders go out at 14 days overdue.", kind="fact", score=0.3),
    ]
    text = "remind me how long customers have to send parts back"
    moved = _decide(route_to("invoice_reminders", "pipeline", confidence=0.43), text, hits)
    assert moved is not None and moved["agent"] == "memory_curator"
    # Asked to act, the same pipeline keeps the request.
    command = "send payment reminders to customers 30 days overdue"
    assert _decide(route_to("invoice_reminders", "pipeline", confidence=0.9), command, hits) is None
