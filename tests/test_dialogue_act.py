"""The request's dialogue act, read from its grammar (``nodes.dialogue_act``)."""

from __future__ import annotations

import pytest

from nodes.dialogue_act import dialogue_act


@pytest.mark.parametrize(
    "text",
    [
        "Who is our accountant?",
        "when's the tüv due on the car",
        "whats on PO-2025-0120",
        "kessler quote - where are we",
        "is the Hoffmann invoice paid",
        "do we have CLT-1749 in stock",
        "Did they confirm the meeting",
        "tax prepayment dates + amount?",
        "How much is 15% of 2340",
        # A first clause asked with its own question mark, then the reason for asking.
        "frau schulz's email? want to send her the june stuff",
    ],
)
def test_questions_ask(text: str) -> None:
    assert dialogue_act(text).act == "question", dialogue_act(text)


@pytest.mark.parametrize(
    "text",
    [
        "pay my gym membership fee",
        "do the month end close",
        "Book a hotel room in Hamburg for two nights",
        "remember: acme now wants deliveries on thursdays, not tuesdays",
        "email the accountant",
        "send reminders",
        # Quoted text is carried content, not the ask.
        "tweet 'erp-product 5.0 is out! is it?' from the company account",
    ],
)
def test_commands_and_statements_do_not_ask(text: str) -> None:
    assert dialogue_act(text).act == "other", dialogue_act(text)


@pytest.mark.parametrize(
    "text", ["can you pay my gym fee?", "Could you book the van for Saturday", "would you send it"]
)
def test_a_modal_question_to_nova_is_a_polite_command(text: str) -> None:
    act = dialogue_act(text)
    assert act.act == "indirect_request"
    assert not act.asks


def test_the_evidence_names_the_clause() -> None:
    assert dialogue_act("invoice INV-2024-00165 - is it paid?").evidence == (
        "opens with an inverted 'is'"
    )


@pytest.mark.parametrize(
    "text",
    [
        "Remind me of our reminder policy for late payers",
        "Tell me which fee we charge on payment reminders",
        "please tell me what we decided about the restocking fee",
        "Tell us about the returns rule",
        "Show me our credit limits for new customers",
        "Check whether INV-2025-00236 was paid",
        "Explain how the reminder fee works",
    ],
)
def test_an_imperative_whose_object_is_information_seeks_information(text: str) -> None:
    act = dialogue_act(text)
    assert act.act == "information_request", act
    assert act.seeks_information and not act.asks  # the memory route keeps to questions


@pytest.mark.parametrize(
    "text",
    [
        "Draft payment reminders for Nordwind GmbH",
        "Draft me the payment reminders for Nordwind GmbH",
        "Draft me a letter to Kessler",
        "pay what we owe Kessler",
        "Send them the reminders when they are ready",
        "Remind me to pay the rent",
        "Run the content pipeline on my blog draft: Our new warehouse opens in May.",
        "Run the weekly sales report for last week",
    ],
)
def test_an_imperative_to_act_does_not_seek_information(text: str) -> None:
    act = dialogue_act(text)
    assert act.act == "other", act
    assert not act.seeks_information


def test_an_imperative_for_information_with_a_question_mark_stays_a_question() -> None:
    # The question mark read it as a question before imperatives were read: unchanged.
    assert dialogue_act("Remind me what we decided about the restocking fee?").act == "question"
    assert dialogue_act("Who is our accountant?").seeks_information


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        # No word can be a verb, the first cannot be one: a terse lookup.
        ("accountant email", True),
        ("nordwind phone no", True),
        ("monthly tax prepayment amount", True),
        # A first word that can be a verb reads as an imperative; one word is no fragment.
        ("list overdue invoices", False),
        ("invoice reminders", False),
        ("accountant", False),
        # Too long to be a lookup without a verb.
        ("accountant email and phone number and office address", False),
    ],
)
def test_a_verbless_fragment_is_a_lookup_memory_may_answer(text: str, fragment: bool) -> None:
    act = dialogue_act(text)
    assert (act.act == "fragment") is fragment, act
    assert act.asks is fragment
    assert not act.seeks_information  # blame does not count "weekly sales report" as asking


@pytest.mark.parametrize(
    "text",
    [
        "neon seller at the fair asks when signcraft pays out",
        "reseller at the fair asks what commission we pay",
        "the customer asks if we can ship to them",
    ],
)
def test_a_question_passed_on_seeks_information(text: str) -> None:
    act = dialogue_act(text)
    assert act.act == "information_request" and act.seeks_information, act


@pytest.mark.parametrize(
    "text",
    [
        "draft a reply, he asks when we pay out",
        "draft a reply he asks when we pay out",
        "customer asks when we pay out, write him back",
    ],
)
def test_a_task_about_a_passed_on_question_is_no_question(text: str) -> None:
    assert not dialogue_act(text).seeks_information
