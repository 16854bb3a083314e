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
        "accountant email",
        # Quoted text is carried content, not the ask.
        "tweet 'erp-product 5.0 is out! is it?' from the company account",
    ],
)
def test_commands_statements_and_fragments_do_not_ask(text: str) -> None:
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
