"""Write ``evals/datasets/blame_served.yaml``: the served-graph attribution scenarios.

Figures (open amounts, customers, orders) were read with SQL from the standard ERP sample
(``SeedConfig()``) and memories from ``nova/seeds/parts-shop.yaml``: the expected facts
come from the data, not from the code under test. Run ``python -m
evals.make_blame_served_dataset`` after changing the tables below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

OUT = Path(__file__).resolve().parent / "datasets" / "blame_served.yaml"

# (invoice, customer, open cents, order, neighbour invoice, neighbour open cents)
INVOICES = [
    ("INV-2025-00010", "Seifert Autohaus GmbH & Co. KG", 114280, "SO-3799", "INV-2025-00011"),
    ("INV-2025-00059", "Dobes Baumaschinen GmbH", 41594, "SO-3835", "INV-2025-00060"),
    ("INV-2025-00073", "Köster Landbouwmechanisatie B.V.", 7987, "SO-3864", "INV-2025-00074"),
    ("INV-2025-00080", "Winkler Maschinenbau AG", 30576, "SO-3875", "INV-2025-00081"),
    ("INV-2025-00093", "Hethur Automotive AG", 210869, "SO-3887", "INV-2025-00094"),
    ("INV-2025-00174", "Möchlichen Baumaschinen GmbH", 60910, "SO-3967", "INV-2025-00175"),
    ("INV-2025-00214", "Gute Nutzfahrzeuge GmbH & Co. KG", 35706, "SO-4007", "INV-2025-00215"),
    ("INV-2025-00236", "Karz Metallbau AG", 51479, "SO-4033", "INV-2025-00237"),
    ("INV-2025-00269", "Hecker Kfz-Teile KG", 74853, "SO-4065", "INV-2025-00270"),
    ("INV-2025-00299", "Tlustek Kfz-Teile KG", 75779, "SO-4099", "INV-2025-00300"),
    ("INV-2025-00401", "Kitzmann Landtechnik GmbH", 89924, "SO-4197", "INV-2025-00402"),
]
# (customer number, name, open cents)
CUSTOMERS = [
    ("20001", "Nordwind GmbH", 74794),
    ("20004", "Kessler Automotive GmbH", 22275),
    ("20005", "Müller Metallbau GmbH", 62475),
    ("20006", "Weber Landtechnik GmbH", 4874),
    ("20008", "Schmidt Landmaschinen AG", 7511),
    ("20011", "Reuter Landtechnik GmbH", 82282),
    ("20023", "Ortmann Baumaschinen GmbH", 45072),
    ("20035", "Sontag Maschinenbau GmbH", 127194),
    ("20039", "Armstrong Engineering Ltd", 59835),
    ("20048", "Ruppert Hydraulik AG", 49338),
]

# Customers with exactly one invoice 14+ days overdue on 2025-06-30 (one reminder letter).
OVERDUE = [
    ("20001", "Nordwind GmbH", 74794),
    ("20009", "Müller Transporte KG", 3997),
    ("20019", "Möchlichen Baumaschinen GmbH", 60910),
    ("20035", "Sontag Maschinenbau GmbH", 127194),
    ("20038", "Carlier Automobiles SAS", 5548),
    ("20039", "Armstrong Engineering Ltd", 59835),
    ("20044", "Wilms Kfz-Service GmbH", 211357),
    ("20046", "Philippe Mécanique SAS", 15179),
    ("20048", "Ruppert Hydraulik AG", 49338),
    ("20053", "Losekann Maschinenbau e.K.", 13451),
    ("20063", "Vogt Kfz-Service AG", 62460),
]

PREVIOUS_AMOUNT = "{prev:(?<=€)[0-9]+[.][0-9][0-9]}"
"""Template: the first euro amount of the thread's previous answer."""


def money(cents: int) -> str:
    """Format cents the way Nova's ERP answers do (``1,142.80``)."""
    return f"{cents / 100:,.2f}"


def wrong(cents: int) -> str:
    """Return a plausible wrong amount: two digits swapped."""
    text = money(cents)
    return (
        text[:-5] + text[-4] + text[-5] + text[-3:] if text[-5] != text[-4] else money(cents + 900)
    )


INVOICE_QUESTIONS = [
    "Why is invoice {n} still open, and how much is left to pay on it?",
    "Please explain invoice {n} to me: what is still open on it?",
    "The customer disputes invoice {n}, what does it say is still outstanding?",
]


def erp_invoice_turn(number: str) -> dict[str, Any]:
    request = INVOICE_QUESTIONS[int(number[-2:]) % 3].format(n=number)
    return {
        "request": request,
        "agent": "erp_invoices",
        "script": {
            "*": {
                "calls": [[{"tool": "erp_invoice_lookup", "args": {"invoice_number": number}}]],
                "answer": "{r0}",
            }
        },
    }


def erp_balance_turn(name: str, number: str) -> dict[str, Any]:
    return {
        "request": f"{name} called about their account, what do they still owe us?",
        "agent": "erp_customers",
        "script": {
            "*": {
                "calls": [[{"tool": "erp_customer_balance", "args": {"customer": number}}]],
                "answer": "{r0}",
            }
        },
    }


def discount_follow_up(amount: str = PREVIOUS_AMOUNT) -> dict[str, Any]:
    """Return a calculator turn taking 2% off the figure ``amount`` picks from the last answer."""
    return {
        "request": "And how much would that be with a 2% early-payment discount taken off?",
        "agent": "calculator",
        "script": {
            "*": {
                "calls": [
                    [{"tool": "calculator", "args": {"expression": f"round({amount} * 0.98, 2)"}}]
                ],
                "answer": f"With 2% off, {amount} EUR becomes {{r0}} EUR.",
            }
        },
    }


def share_follow_up(rate: str, base: int = 240) -> dict[str, Any]:
    """Return a calculator turn applying the rate ``rate`` picks (last answer) to ``base``."""
    return {
        "request": f"And how much is that percentage of {base} EUR?",
        "agent": "calculator",
        "script": {
            "*": {
                "calls": [
                    [{"tool": "calculator", "args": {"expression": f"{base} * {rate} / 100"}}]
                ],
                "answer": f"On {base} EUR that is {{r0}} EUR.",
            }
        },
    }


def letter_script() -> dict[str, Any]:
    """Return the reminder pipeline's drafter script: the letter it was given, as written."""
    return {"email_drafter": {"answer": "{input_after:Output only the letter.}"}}


def scenarios() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(**item: Any) -> None:
        out.append(item)

    # --- ERP: the agent path (the fast path declines these phrasings) ------------------------
    for number, _customer, cents, _order, neighbour in INVOICES[:6]:
        slug = number[-5:]
        add(
            id=f"erp-neighbour-invoice-{slug}",
            subgraph="erp",
            label="neighbour_invoice",
            turns=[erp_invoice_turn(number)],
            faults=[
                {"kind": "tool_args", "agent": "*", "at": 0, "args": {"invoice_number": neighbour}}
            ],
            truth={"step": "erp/agent#1"},
            feedback={
                "text": f"wrong invoice: {number} has {money(cents)} open",
                "facts": [number, money(cents)],
            },
        )
        add(
            id=f"erp-changed-number-{slug}",
            subgraph="erp",
            label="answer_changes_number",
            turns=[erp_invoice_turn(number)],
            faults=[{"kind": "model_text", "agent": "*", "replace": [money(cents), wrong(cents)]}],
            truth={"step": "erp/agent#2"},
            feedback={"text": f"the amount is {money(cents)}", "facts": [money(cents)]},
        )
        add(
            id=f"erp-clean-invoice-{slug}",
            subgraph="erp",
            label="agent_invoice",
            turns=[erp_invoice_turn(number)],
        )
    for number, _customer, cents, order, _ in INVOICES[6:11]:
        slug = number[-5:]
        add(
            id=f"erp-copied-wrong-output-{slug}",
            subgraph="erp",
            label="wrong_tool_output_copied",
            turns=[erp_invoice_turn(number)],
            faults=[
                {
                    "kind": "tool_output",
                    "tool": "erp_invoice_lookup",
                    "replace": [money(cents), wrong(cents)],
                }
            ],
            truth={"step": "erp/tools#1"},
            feedback={"text": f"the amount is {money(cents)}", "facts": [money(cents)]},
        )
        add(
            id=f"erp-cross-reference-{order.lower()}",
            subgraph="erp",
            label="trap_cross_reference",
            turns=[
                {
                    "request": f"Which invoice belongs to order {order}?",
                    "agent": "erp_invoices",
                    "script": {
                        "*": {
                            "calls": [
                                [{"tool": "erp_invoice_lookup", "args": {"order_number": order}}]
                            ],
                            "answer": "{r0}",
                        }
                    },
                }
            ],
        )
        add(
            id=f"erp-fast-path-invoice-{slug}",
            subgraph="erp",
            label="fast_path",
            turns=[
                {"request": f"What is the status of invoice {number}?", "agent": "erp_invoices"}
            ],
        )
    for index, (number, name, cents) in enumerate(CUSTOMERS):
        other_number, _, _ = CUSTOMERS[(index + 1) % len(CUSTOMERS)]
        slug = number
        add(
            id=f"erp-other-customer-{slug}",
            subgraph="erp",
            label="other_customer",
            turns=[erp_balance_turn(name, number)],
            faults=[
                {"kind": "tool_args", "agent": "*", "at": 0, "args": {"customer": other_number}}
            ],
            truth={"step": "erp/agent#1"},
            feedback={
                "text": f"{name} owes {money(cents)}, that was another customer",
                "facts": [name, money(cents)],
            },
        )
        if index < 5:
            add(
                id=f"erp-clean-balance-{slug}",
                subgraph="erp",
                label="agent_balance",
                turns=[erp_balance_turn(name, number)],
            )
        else:
            add(
                id=f"erp-balance-wrong-output-{slug}",
                subgraph="erp",
                label="wrong_tool_output_copied",
                turns=[erp_balance_turn(name, number)],
                faults=[
                    {
                        "kind": "tool_output",
                        "tool": "erp_customer_balance",
                        "replace": [money(cents), wrong(cents)],
                    }
                ],
                truth={"step": "erp/tools#1"},
                feedback={"text": f"they owe {money(cents)}", "facts": [money(cents)]},
            )
    # Misroutes without a document number: the real router picks right, the fault moves it.
    for index, (number, name, cents) in enumerate(CUSTOMERS[:6]):
        to = ["erp_sales_orders", "erp_payments", "general_chat"][index % 3]
        add(
            id=f"route-misroute-no-document-{number}",
            subgraph="erp",
            label="misroute_no_document",
            turns=[{"request": f"How much does {name} owe us?", "agent": "erp_customers"}],
            faults=[{"kind": "misroute", "to": to}],
            truth={"step": "route#1", "agent": "router"},
            feedback={
                "text": f"this was for erp_customers: {name} owes {money(cents)}",
                "facts": [money(cents)],
                "route": "erp_customers",
            },
        )
        add(
            id=f"erp-fast-path-balance-{number}",
            subgraph="erp",
            label="fast_path",
            turns=[{"request": f"How much does {name} owe us?", "agent": "erp_customers"}],
        )
    # Two faults in one run: a wrong call (earlier) and a changed number (later).
    for number, _customer, cents, _order, neighbour in INVOICES[:4]:
        slug = number[-5:]
        add(
            id=f"erp-two-faults-{slug}",
            subgraph="erp",
            label="two_faults",
            turns=[erp_invoice_turn(number)],
            faults=[
                {
                    "kind": "tool_output",
                    "tool": "erp_invoice_lookup",
                    "replace": [money(cents), wrong(cents)],
                },
                {"kind": "model_text", "agent": "*", "replace": [number, neighbour]},
            ],
            truth={"step": "erp/tools#1"},
            feedback={"text": f"{number} has {money(cents)} open", "facts": [number, money(cents)]},
        )

    # --- multi-turn: a turn-1 mistake carried into turn 2 -----------------------------------
    small = [i for i in INVOICES if i[2] < 100000]
    for number, _customer, cents, _order, _neighbour in small[:5]:
        slug = number[-5:]
        follow = discount_follow_up()
        discounted = f"{round(cents * 0.98 / 100, 2)}"
        add(
            id=f"multi-turn-carried-{slug}",
            subgraph="erp",
            label="turn1_fault_carried",
            turns=[erp_invoice_turn(number), follow],
            faults=[
                {
                    "kind": "model_text",
                    "agent": "*",
                    "turn": 1,
                    "replace": [money(cents), wrong(cents)],
                }
            ],
            truth={"turn": 1, "step": "erp/agent#2"},
            feedback={
                "text": f"the invoice has {money(cents)} open, so 2% off is {discounted}",
                "facts": [discounted],
            },
        )
        add(
            id=f"multi-turn-clean-{slug}",
            subgraph="erp",
            label="trap_computed_number",
            turns=[erp_invoice_turn(number), follow],
        )

    # An earlier turn's misroute carried into turn 2: the state keeps only turn 2's route,
    # so the fault is found by the route each turn's answer was stamped with.
    for index, (number, name, cents) in enumerate(CUSTOMERS[:6]):
        to = ["erp_payments", "erp_invoices", "general_chat"][index % 3]
        discounted = f"{round(cents * 0.98 / 100, 2)}"
        turns = [erp_balance_turn(name, number), discount_follow_up()]
        add(
            id=f"multi-turn-misroute-{number}",
            subgraph="erp",
            label="turn1_misroute_carried",
            turns=turns,
            faults=[{"kind": "misroute", "turn": 1, "to": to}],
            truth={"turn": 1, "step": "route#1", "agent": "router"},
            feedback={
                "text": f"{name} owes {money(cents)}, so 2% off is {discounted}",
                "facts": [discounted],
            },
        )
        if index < 3:
            add(
                id=f"multi-turn-clean-balance-{number}",
                subgraph="erp",
                label="trap_computed_number",
                turns=turns,
            )

    # --- chat and memory ---------------------------------------------------------------------
    memory_questions = [
        (
            "late-payer",
            "What do you remember about how late Baker & Sons pays?",
            "Baker",
            "20 to 40 days",
            "10 to 20 days",
        ),
        (
            "restocking",
            "Remind me what we decided about the restocking fee",
            "restocking fee",
            "10 percent",
            "15 percent",
        ),
        (
            "minimum-order",
            "What do you remember about our minimum order value?",
            "minimum order",
            "50 EUR",
            "75 EUR",
        ),
        (
            "credit-limit",
            "What do you remember about credit limits for new customers?",
            "credit limits",
            "5,000 EUR",
            "2,500 EUR",
        ),
        (
            "brake-prices",
            "Remind me what we decided about brake part list prices",
            "4 percent",
            "4 percent",
            "6 percent",
        ),
        (
            "carriers",
            "What do you remember about our shipping carriers?",
            "pallets",
            "Dachser",
            "Schenker",
        ),
        (
            "stock-counts",
            "Remind me what we decided about stock counts",
            "stock counts",
            "June and December",
            "March and September",
        ),
    ]
    for slug, question, word, right, bad in memory_questions:
        turn = {
            "request": question,
            "agent": "memory_curator",
            "script": {"*": {"answer": "From our notes: {mem:" + word + "}"}},
        }
        add(
            id=f"chat-memory-number-{slug}",
            subgraph="chat",
            label="trap_memory_number",
            turns=[turn],
        )
        add(
            id=f"chat-stale-memory-{slug}",
            subgraph="chat",
            label="superseded_memory",
            turns=[turn],
            faults=[{"kind": "recall", "replace": [right, bad]}],
            truth={"step": "recall#1", "agent": "memory"},
            feedback={"text": f"that is out of date: it is {right}", "facts": [right]},
        )
        add(
            id=f"chat-answer-changed-{slug}",
            subgraph="chat",
            label="answer_changes_number",
            turns=[turn],
            faults=[
                {"kind": "model_text", "agent": "*", "replace": [right, bad], "resample": "repeat"}
            ],
            truth={"step": "*/agent#1"},
            feedback={"text": f"our notes say {right}", "facts": [right]},
        )
    # A real misroute of the served router (no document number): a question about the
    # reminder policy goes to the invoice_reminders pipeline.
    for slug, question in [
        ("reminder-policy", "Remind me of our reminder policy for late payers"),
        ("reminder-fee", "What did we decide about the fee on payment reminders?"),
    ]:
        add(
            id=f"route-natural-misroute-{slug}",
            subgraph="chat",
            label="misroute_no_document",
            natural=True,
            turns=[
                {
                    "request": question,
                    "agent": "memory_curator",
                    "script": {"*": {"answer": "From our notes: {mem:first payment reminder}"}},
                }
            ],
            faults=[{"kind": "misroute"}],
            truth={"step": "route#1", "agent": "router"},
            feedback={
                "text": "this was for memory_curator: I asked about our policy",
                "facts": ["7 days after the due date"],
                "route": "memory_curator",
            },
        )
    # A superseded memory recalled in turn 1, carried into turn 2's computation.
    carried_memories = [
        (
            "minimum-order",
            "What do you remember about our minimum order value?",
            "minimum order",
            ("value of 50 EUR", "value of 75 EUR"),
            discount_follow_up("{prev:[0-9]+(?= EUR for business)}"),
            "49.0",
        ),
        (
            "restocking",
            "Remind me what we decided about the restocking fee",
            "restocking fee",
            ("a 10 percent restocking", "a 15 percent restocking"),
            share_follow_up("{prev:[0-9]+(?= percent restocking)}"),
            "24.0",
        ),
        (
            "brake-prices",
            "Remind me what we decided about brake part list prices",
            "list prices for brake",
            ("by 4 percent", "by 6 percent"),
            share_follow_up("{prev:[0-9]+(?= percent on)}"),
            "9.6",
        ),
    ]
    for slug, question, word, (right, bad), follow, result in carried_memories:
        turns = [
            {
                "request": question,
                "agent": "memory_curator",
                "script": {"*": {"answer": "From our notes: {mem:" + word + "}"}},
            },
            follow,
        ]
        add(
            id=f"multi-turn-stale-memory-{slug}",
            subgraph="chat",
            label="turn1_stale_memory_carried",
            turns=turns,
            faults=[{"kind": "recall", "turn": 1, "replace": [right, bad]}],
            truth={"turn": 1, "step": "recall#1", "agent": "memory"},
            feedback={"text": f"our notes say {right}, so it is {result}", "facts": [result]},
        )
        add(
            id=f"multi-turn-clean-memory-{slug}",
            subgraph="chat",
            label="trap_computed_number",
            turns=turns,
        )
    # Information requests phrased as imperatives, which the served router sends to the
    # invoice_reminders pipeline (a real misroute: the pipeline drafts letters).
    for slug, request in [
        ("tell-which-fee", "Tell me which fee we charge on payment reminders"),
        ("show-rules", "Show me our rules for payment reminders"),
        ("tell-what-decided", "Tell me what we decided about sending payment reminders"),
        ("remind-when-second", "Remind me when we send the second payment reminder"),
    ]:
        add(
            id=f"route-natural-imperative-{slug}",
            subgraph="chat",
            label="misroute_imperative_question",
            natural=True,
            turns=[
                {
                    "request": request,
                    "agent": "memory_curator",
                    "script": {"*": {"answer": "From our notes: {mem:first payment reminder}"}},
                }
            ],
            faults=[{"kind": "misroute"}],
            truth={"step": "route#1", "agent": "router"},
            feedback={
                "text": "this was for memory_curator: I asked about our policy",
                "facts": ["7 days after the due date"],
                "route": "memory_curator",
            },
        )
    # Imperatives that ask the pipeline to act, addressed to the owner ("draft me …").
    for number, name, _cents in OVERDUE[:2]:
        add(
            id=f"pipeline-letter-clean-imperative-{number}",
            subgraph="pipeline",
            label="pipeline_letter",
            turns=[
                {
                    "request": f"Draft me the payment reminders for {name}",
                    "agent": "invoice_reminders",
                    "script": letter_script(),
                }
            ],
        )
    # A figure computed from three (a balance less two payments): right (trap) and wrong.
    for number, name, cents in CUSTOMERS[:6]:
        now, later = (cents // 100) // 3, (cents // 100) // 4
        left = money(cents - (now + later) * 100)
        turn = {
            "request": (
                f"If {name} pays {now} of what they owe now and {later} next month, what is left?"
            ),
            "agent": "erp_customers",
            "script": {
                "*": {
                    "calls": [[{"tool": "erp_customer_balance", "args": {"customer": number}}]],
                    "answer": (
                        f"{name} owes €{money(cents)}; after payments of {now}.00 and "
                        f"{later}.00, {left} EUR is left."
                    ),
                }
            },
        }
        add(
            id=f"erp-chained-difference-{number}",
            subgraph="erp",
            label="trap_computed_number",
            turns=[turn],
        )
        add(
            id=f"erp-wrong-chained-difference-{number}",
            subgraph="erp",
            label="answer_changes_chained_number",
            turns=[turn],
            faults=[
                {
                    "kind": "model_text",
                    "agent": "*",
                    "replace": [left, wrong(cents - (now + later) * 100)],
                }
            ],
            truth={"step": "erp/agent#2"},
            feedback={"text": f"{left} is left, not what you said", "facts": [left]},
        )
    # A correct difference computed from a grounded balance (trap), and a wrong one.
    for number, name, cents in CUSTOMERS[:6]:
        paid = (cents // 100) // 2
        left = money(cents - paid * 100)
        turn = {
            "request": f"If {name} pays {paid} of what they owe, what is left?",
            "agent": "erp_customers",
            "script": {
                "*": {
                    "calls": [[{"tool": "erp_customer_balance", "args": {"customer": number}}]],
                    "answer": (
                        f"{name} owes €{money(cents)}; after a payment of {paid}.00, "
                        f"{left} EUR is left."
                    ),
                }
            },
        }
        add(
            id=f"erp-computed-difference-{number}",
            subgraph="erp",
            label="trap_computed_number",
            turns=[turn],
        )
        add(
            id=f"erp-wrong-difference-{number}",
            subgraph="erp",
            label="answer_changes_number",
            turns=[turn],
            faults=[
                {"kind": "model_text", "agent": "*", "replace": [left, wrong(cents - paid * 100)]}
            ],
            truth={"step": "erp/agent#2"},
            feedback={"text": f"{left} is left, not what you said", "facts": [left]},
        )

    # --- translation -------------------------------------------------------------------------
    phrases = [
        (
            "shipped",
            "Your order has shipped.",
            "Ihre Bestellung wurde versandt.",
            "wurde versandt",
            "wurde nicht versandt",
        ),
        (
            "in-stock",
            "The brake disc is in stock again.",
            "Die Bremsscheibe ist wieder auf Lager.",
            "ist wieder",
            "ist nicht wieder",
        ),
        (
            "paid",
            "We have received your payment.",
            "Wir haben Ihre Zahlung erhalten.",
            "haben Ihre Zahlung erhalten",
            "haben Ihre Zahlung nicht erhalten",
        ),
        (
            "invoice-paid",
            "The invoice has been paid.",
            "Die Rechnung wurde bezahlt.",
            "wurde bezahlt",
            "wurde nicht bezahlt",
        ),
        (
            "returns",
            "Returns are accepted.",
            "Rücksendungen werden angenommen.",
            "werden angenommen",
            "werden abgelehnt",
        ),
        (
            "cancel",
            "The order can still be cancelled.",
            "Die Bestellung kann noch storniert werden.",
            "kann noch",
            "kann nicht mehr",
        ),
    ]
    for slug, english, german, keep, broken in phrases:
        turn = {
            "request": f'Translate into German: "{english}"',
            "agent": "translator",
            "script": {"translator": {"answer": "{input}", "replace": [[english, german]]}},
        }
        add(
            id=f"translation-clean-{slug}",
            subgraph="translation",
            label="translation",
            turns=[turn],
        )
        add(
            id=f"translation-inverted-{slug}",
            subgraph="translation",
            label="translation_meaning",
            turns=[turn],
            faults=[{"kind": "model_text", "agent": "translator", "replace": [keep, broken]}],
            truth={"step": "translation/translate_chunk#1", "agent": "translator"},
            feedback={"text": f"the translation is wrong, it should say {german}", "facts": [keep]},
        )
    for slug, english, german, keep, _broken in phrases[:3]:
        add(
            id=f"translation-misroute-{slug}",
            subgraph="translation",
            label="misroute_no_document",
            turns=[
                {
                    "request": f'Translate into German: "{english}"',
                    "agent": "translator",
                    "script": {"translator": {"answer": "{input}", "replace": [[english, german]]}},
                }
            ],
            faults=[{"kind": "misroute", "to": "proofreader"}],
            truth={"step": "route#1", "agent": "router"},
            feedback={
                "text": "this was for the translator",
                "facts": [keep],
                "route": "translator",
            },
        )

    # --- pipelines ---------------------------------------------------------------------------
    letter = {"email_drafter": {"answer": "{input_after:Output only the letter.}"}}
    for index, (number, name, cents) in enumerate(OVERDUE[:8]):
        turn = {
            "request": f"Draft payment reminders for {name}",
            "agent": "invoice_reminders",
            "script": letter,
        }
        add(
            id=f"pipeline-letter-amount-{number}",
            subgraph="pipeline",
            label="pipeline_letter_amount",
            turns=[turn],
            faults=[
                {
                    "kind": "model_text",
                    "agent": "email_drafter",
                    "replace": [money(cents), wrong(cents)],
                }
            ],
            truth={
                "step": "pipeline/run_invoice_reminders/polished__item#1",
                "agent": "email_drafter",
            },
            feedback={
                "text": f"the letter says the wrong amount: {money(cents)}",
                "facts": [f"Total open: {money(cents)}"],
            },
        )
        if index < 5:
            add(
                id=f"pipeline-letter-clean-{number}",
                subgraph="pipeline",
                label="pipeline_letter",
                turns=[turn],
            )
    for number, name, cents in OVERDUE[8:11]:
        add(
            id=f"pipeline-misroute-{number}",
            subgraph="pipeline",
            label="misroute_no_document",
            turns=[
                {
                    "request": f"Draft payment reminders for {name}",
                    "agent": "invoice_reminders",
                    "script": letter,
                }
            ],
            faults=[{"kind": "misroute", "to": "erp_invoices"}],
            truth={"step": "route#1", "agent": "router"},
            feedback={
                "text": "this was for invoice_reminders",
                "facts": [money(cents)],
                "route": "invoice_reminders",
            },
        )
    # A proofreader upstream of the content pipeline's join (article -> summary -> result).
    drafts = [
        ("hamburg", "Our new Hamburg warehouse opens in May. It stocks 400 filtres.", "400", "40"),
        (
            "brakes",
            "Brake part prices rise by 4 percent in August. Order befor then.",
            "4 percent",
            "14 percent",
        ),
        (
            "returns",
            "Returns are accepted within 30 days if unused. Pleese keep the box.",
            "are accepted",
            "are not accepted",
        ),
        (
            "season",
            "Service season runs from March to May. Order filtres early.",
            "March to May",
            "June to August",
        ),
    ]
    for slug, draft, keep, bad in drafts:
        corrected = (
            draft.replace("filtres", "filters")
            .replace("parcells", "parcels")
            .replace("befor ", "before ")
            .replace("Pleese", "Please")
        )
        turn = {
            "request": f"Run the content pipeline on my blog draft: {draft}",
            "agent": "content_pipeline",
            "script": {
                "proofreader": {"answer": corrected},
                "summarizer": {"answer": "Teaser: {input_after:only what the post says.}"},
            },
        }
        add(
            id=f"pipeline-content-clean-{slug}",
            subgraph="pipeline",
            label="pipeline_content",
            turns=[turn],
        )
        add(
            id=f"pipeline-proofread-changed-{slug}",
            subgraph="pipeline",
            label="pipeline_upstream_of_join",
            turns=[turn],
            faults=[{"kind": "model_text", "agent": "proofreader", "replace": [keep, bad]}],
            truth={"step": "pipeline/run_content_pipeline/proofread#1", "agent": "proofreader"},
            feedback={
                "text": f"the proofreader changed the text: it says {keep}",
                "facts": [f"## Article\n{corrected}"],
            },
        )
        if slug in ("hamburg", "brakes"):
            add(
                id=f"pipeline-summary-changed-{slug}",
                subgraph="pipeline",
                label="answer_changes_number",
                turns=[turn],
                faults=[{"kind": "model_text", "agent": "summarizer", "replace": [keep, bad]}],
                truth={"step": "pipeline/run_content_pipeline/summary#1", "agent": "summarizer"},
                feedback={
                    "text": f"the teaser is wrong: {keep}",
                    "facts": [f"Teaser: {corrected}"],
                },
            )
    add(
        id="pipeline-weekly-report",
        subgraph="pipeline",
        label="pipeline_report",
        turns=[
            {"request": "Run the weekly sales report for last week", "agent": "weekly_sales_report"}
        ],
    )
    return out


def main() -> None:
    """Write the dataset."""
    header = (
        "# Served-graph attribution scenarios (issue 14 item 6), written by\n"
        "# evals/make_blame_served_dataset.py. Run: nova eval blame --served\n"
    )
    text = yaml.safe_dump(scenarios(), sort_keys=False, allow_unicode=True, width=100)
    OUT.write_text(header + text, encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
