"""Generate evals/datasets/erp.jsonl: ERP requests with the expected skill, arguments and facts.

The expected values are computed here, in plain Python over the rows of a freshly seeded
sample business (``SeedConfig()``, fixed anchor date), independently of the SQL in
``nova.erp.skills``: a skill that filters or sums wrongly disagrees with this oracle.
Request texts come from hand-written phrasings (several per question, picked with a fixed
seed) and include requests the fast path must not answer: vague, multi-part, ambiguous,
malformed, and writes that are not fully specified.

Run: ``python -m evals.make_erp_dataset`` (rewrites the dataset and its ``.meta.json``).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from nova.erp import models as m
from nova.erp.db import ErpDatabase
from nova.erp.seed import SeedConfig, seed_database

DATASET = Path(__file__).parent / "datasets" / "erp.jsonl"
META = DATASET.with_suffix(".meta.json")


def money(cents: int) -> str:
    """Format cents as the dataset writes amounts: ``1234.50``."""
    return str((Decimal(cents) / 100).quantize(Decimal("0.01")))


def one_place(value: float | Decimal) -> str:
    """Round half up to one decimal, as a string."""
    return str(Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def pct(part: int, whole: int) -> str:
    """Percentage to one decimal (``0.0`` for an empty whole)."""
    return one_place(Decimal(part) * 100 / Decimal(whole)) if whole else "0.0"


@dataclass
class Item:
    """One dataset line."""

    text: str
    agent: str
    expect: str
    """``answer`` (the fast path must answer), ``approval`` (a write it must propose),
    ``clarify`` (it must ask) or ``decline`` (it must leave it to the model)."""
    kind: str
    skill: str | None = None
    args: dict[str, Any] | None = None
    facts: list[dict[str, str]] = field(default_factory=list)
    row_ids: list[str] | None = None
    """Expected ids of the result rows, in order (a prefix when the list is long)."""

    def line(self, index: int) -> dict[str, Any]:
        """Return the JSON line."""
        data: dict[str, Any] = {"id": f"erp-{index:03d}", "text": self.text, "agent": self.agent}
        data |= {"expect": self.expect, "kind": self.kind, "skill": self.skill, "args": self.args}
        data |= {"facts": self.facts, "row_ids": self.row_ids}
        return data


def idf(value: str) -> dict[str, str]:
    """Expect this id or text in the answer."""
    return {"type": "text", "value": value}


def num(value: str | int) -> dict[str, str]:
    """Expect this number in the answer (in any formatting)."""
    return {"type": "number", "value": str(value)}


def day(value: date) -> dict[str, str]:
    """Expect this date in the answer (ISO)."""
    return {"type": "date", "value": value.isoformat()}


class _Data:
    """The seeded business as plain rows, with the look-ups the oracle needs."""

    def __init__(self, database: ErpDatabase, today: date) -> None:
        self.today = today
        with database.read_session() as session:

            def rows(model: type[m.Base]) -> list[Any]:
                return list(session.scalars(select(model)))

            self.customers = rows(m.Customer)
            self.suppliers = rows(m.Supplier)
            self.products = rows(m.Product)
            self.levels = rows(m.StockLevel)
            self.movements = rows(m.StockMovement)
            self.orders = rows(m.SalesOrder)
            self.lines = rows(m.SalesOrderLine)
            self.invoices = rows(m.Invoice)
            self.payments = rows(m.Payment)
            self.pos = rows(m.PurchaseOrder)
            self.po_lines = rows(m.PurchaseOrderLine)
            self.shipments = rows(m.Shipment)
            self.returns = rows(m.Return)
            self.credit_notes = rows(m.CreditNote)
        self.customer = {c.id: c for c in self.customers}
        self.product = {p.id: p for p in self.products}
        self.supplier = {s.id: s for s in self.suppliers}
        self.order = {o.id: o for o in self.orders}
        self.invoice = {i.id: i for i in self.invoices}
        self.lines_of: dict[int, list[Any]] = defaultdict(list)
        for line in self.lines:
            self.lines_of[line.order_id].append(line)
        heads = Counter(c.name.split()[0].lower() for c in self.customers)
        # Customers whose first word is theirs alone can be named by it ("Nordwind").
        self.unique_heads = [c for c in self.customers if heads[c.name.split()[0].lower()] == 1]
        self.shared_heads = sorted(
            {c.name.split()[0] for c in self.customers if heads[c.name.split()[0].lower()] > 1}
        )

    def outstanding(self, invoice: Any) -> int:
        return invoice.total_cents - invoice.paid_cents

    def is_open(self, invoice: Any) -> bool:
        return invoice.status == "open" and self.outstanding(invoice) > 0

    def sales_lines(self, start: date, end: date) -> list[tuple[Any, Any]]:
        return [
            (order, line)
            for order in self.orders
            if order.status != "cancelled" and start <= order.order_date <= end
            for line in self.lines_of[order.id]
        ]


def month_range(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    return first, following - timedelta(days=1)


class _Builder:
    """Writes the items, one method per kind of question."""

    def __init__(self, data: _Data, seed: int = 7) -> None:
        self.d = data
        self.rng = random.Random(seed)
        self.items: list[Item] = []
        self.today = data.today

    def pick(self, options: list[Any]) -> Any:
        return self.rng.choice(options)

    def add(self, item: Item) -> None:
        self.items.append(item)

    def short(self, customer: Any) -> str:
        """How people name a customer: full name, without legal form, or just the first word."""
        words = customer.name.split()
        legal = {"GmbH", "AG", "KG", "Ltd", "B.V.", "SARL", "SAS", "e.K.", "&", "Co."}
        core = " ".join(w for w in words if w not in legal)
        options = [customer.name, core]
        if customer in self.d.unique_heads and len(words[0]) > 4:
            options.append(words[0])
        return self.pick(options)

    # --- invoices --------------------------------------------------------------------

    def invoices_by_number(self, count: int) -> None:
        open_ones = [i for i in self.d.invoices if self.d.is_open(i)]
        paid = [i for i in self.d.invoices if i.status == "paid"]
        phrasings = [
            "Show me invoice {n}",
            "What's the status of invoice {n}?",
            "When is invoice {n} due?",
            "Has {n} been paid yet?",
            "how much is still open on {low}",
            "Pull up {n} please",
            "invoice {n} details",
            "Is invoice {n} settled?",
        ]
        for index in range(count):
            invoice = self.pick(open_ones if index % 2 == 0 else paid)
            text = self.pick(phrasings).format(n=invoice.number, low=invoice.number.lower())
            facts = [
                idf(invoice.number),
                num(money(self.d.outstanding(invoice))),
                day(invoice.due_date),
            ]
            if self.d.is_open(invoice) and invoice.due_date < self.today:
                facts.append(num((self.today - invoice.due_date).days))
            self.add(
                Item(
                    text,
                    "erp_invoices",
                    "answer",
                    "invoice_number",
                    "erp_invoice_lookup",
                    {"invoice_number": invoice.number},
                    facts,
                    [invoice.number],
                )
            )

    def invoice_of_order(self, count: int) -> None:
        invoiced = [o for o in self.d.orders if any(i.order_id == o.id for i in self.d.invoices)]
        phrasings = [
            "Pull up the invoice for sales order {so}",
            "Show the invoice for order {so}",
            "invoice for {so}?",
        ]
        for _ in range(count):
            order = self.pick(invoiced)
            invoice = next(i for i in self.d.invoices if i.order_id == order.id)
            self.add(
                Item(
                    self.pick(phrasings).format(so=order.number),
                    "erp_invoices",
                    "answer",
                    "invoice_order",
                    "erp_invoice_lookup",
                    {"order_number": order.number},
                    [idf(invoice.number), num(money(invoice.total_cents))],
                    [invoice.number],
                )
            )

    def customer_invoices(self) -> None:
        d = self.d
        last_month = month_range(2025, 5)
        busy = sorted(
            d.unique_heads, key=lambda c: -sum(1 for i in d.invoices if i.customer_id == c.id)
        )[:40]
        # Issued last month to one customer.
        for phrasing in (
            "Which invoices did we issue to {c} last month?",
            "invoices for {c} last month",
        ):
            customer = self.pick(
                [
                    c
                    for c in busy
                    if any(
                        i.customer_id == c.id and last_month[0] <= i.issue_date <= last_month[1]
                        for i in d.invoices
                    )
                ]
            )
            rows = [
                i
                for i in d.invoices
                if i.customer_id == customer.id and last_month[0] <= i.issue_date <= last_month[1]
            ]
            self.add(
                Item(
                    phrasing.format(c=self.short(customer)),
                    "erp_invoices",
                    "answer",
                    "customer_invoices",
                    "erp_invoice_lookup",
                    {
                        "customer": customer.number,
                        "issued_from": "2025-05-01",
                        "issued_to": "2025-05-31",
                    },
                    [num(len(rows)), num(money(sum(i.total_cents for i in rows)))],
                    [
                        i.number
                        for i in sorted(rows, key=lambda i: (i.issue_date, i.number), reverse=True)
                    ][:20],
                )
            )
        # Open invoices of a customer.
        with_open = [
            c for c in busy if any(i.customer_id == c.id and d.is_open(i) for i in d.invoices)
        ]
        for phrasing in (
            "Show open invoices for {c}",
            "List unpaid invoices of {c}",
            "Is there an open invoice for {c}?",
        ):
            customer = self.pick(with_open)
            rows = [i for i in d.invoices if i.customer_id == customer.id and d.is_open(i)]
            self.add(
                Item(
                    phrasing.format(c=self.short(customer)),
                    "erp_invoices",
                    "answer",
                    "customer_invoices",
                    "erp_invoice_lookup",
                    {"customer": customer.number, "status": "open"},
                    [num(len(rows)), num(money(sum(d.outstanding(i) for i in rows)))],
                    [
                        i.number
                        for i in sorted(rows, key=lambda i: (i.issue_date, i.number), reverse=True)
                    ][:20],
                )
            )
        # Issued in a month, by everyone.
        for month_name, month in (("March", 3), ("April 2025", 4), ("February", 2)):
            start, end = month_range(2025, month)
            rows = [i for i in d.invoices if start <= i.issue_date <= end]
            text = self.pick(
                [
                    "Total value of invoices issued in {m}",
                    "What did we invoice in {m}?",
                    "invoices issued in {m}",
                ]
            ).format(m=month_name)
            self.add(
                Item(
                    text,
                    "erp_invoices",
                    "answer",
                    "invoices_period",
                    "erp_invoice_lookup",
                    {"issued_from": start.isoformat(), "issued_to": end.isoformat()},
                    [num(len(rows)), num(money(sum(i.total_cents for i in rows)))],
                )
            )
        # Open and large.
        for amount in (3000, 5000):
            rows = [i for i in d.invoices if d.is_open(i) and i.total_cents >= amount * 100]
            text = self.pick(
                ["Show invoices over {a} euros that are still open", "open invoices above €{a}"]
            ).format(a=amount)
            self.add(
                Item(
                    text,
                    "erp_invoices",
                    "answer",
                    "invoices_amount",
                    "erp_invoice_lookup",
                    {"status": "open", "min_amount": str(amount)},
                    [num(len(rows)), num(money(sum(d.outstanding(i) for i in rows)))],
                )
            )
        # Due this week: Monday to Sunday, days still ahead included; a paid invoice is no
        # longer due, so the open ones (as the blind owner set reads "invoices due").
        monday = self.today - timedelta(days=self.today.weekday())
        sunday = monday + timedelta(days=6)
        rows = [i for i in d.invoices if monday <= i.due_date <= sunday and d.is_open(i)]
        self.add(
            Item(
                "List invoices due this week",
                "erp_invoices",
                "answer",
                "invoices_due",
                "erp_invoice_lookup",
                {"status": "open", "due_from": monday.isoformat(), "due_to": sunday.isoformat()},
                [num(len(rows))],
            )
        )
        start, end = date(2025, 7, 1), date(2025, 7, 31)
        rows = [i for i in d.invoices if start <= i.due_date <= end and d.is_open(i)]
        self.add(
            Item(
                "open invoices due next month",
                "erp_invoices",
                "answer",
                "invoices_due",
                "erp_invoice_lookup",
                {"status": "open", "due_from": start.isoformat(), "due_to": end.isoformat()},
                [num(len(rows)), num(money(sum(d.outstanding(i) for i in rows)))],
            )
        )

    def overdue(self) -> None:
        d = self.d

        def overdue_rows(customer: Any | None, min_days: int) -> list[Any]:
            return [
                i
                for i in d.invoices
                if d.is_open(i)
                and (self.today - i.due_date).days >= min_days
                and (customer is None or i.customer_id == customer.id)
            ]

        late_payers = [c for c in d.unique_heads if overdue_rows(c, 1)]
        for phrasing in (
            "Which invoices are overdue for {c}?",
            "What's overdue at {c}?",
            "overdue invoices {c}",
            "Does {c} have overdue invoices?",
        ):
            customer = self.pick(late_payers)
            rows = overdue_rows(customer, 1)
            self.add(
                Item(
                    phrasing.format(c=self.short(customer)),
                    "erp_invoices",
                    "answer",
                    "overdue_customer",
                    "erp_overdue_invoices",
                    {"customer": customer.number},
                    [num(len(rows)), num(money(sum(d.outstanding(i) for i in rows)))],
                    [i.number for i in sorted(rows, key=lambda i: (i.due_date, i.number))][:50],
                )
            )
        rows = overdue_rows(None, 1)
        for phrasing in (
            "How many invoices are past due right now?",
            "Which invoices are overdue?",
            "show me everything that's overdue",
        ):
            self.add(
                Item(
                    phrasing,
                    "erp_invoices",
                    "answer",
                    "overdue_all",
                    "erp_overdue_invoices",
                    {},
                    [num(len(rows)), num(money(sum(d.outstanding(i) for i in rows)))],
                    [i.number for i in sorted(rows, key=lambda i: (i.due_date, i.number))][:50],
                )
            )
        for phrasing, days, min_days in (
            ("Which customers have invoices more than {n} days overdue?", 90, 91),
            ("List invoices overdue by more than {n} days", 60, 61),
            ("invoices at least {n} days past due", 30, 30),
        ):
            rows = overdue_rows(None, min_days)
            self.add(
                Item(
                    phrasing.format(n=days),
                    "erp_invoices",
                    "answer",
                    "overdue_days",
                    "erp_overdue_invoices",
                    {"min_days_overdue": min_days},
                    [num(len(rows)), num(money(sum(d.outstanding(i) for i in rows)))],
                )
            )

    def balances(self, count: int) -> None:
        d = self.d
        phrasings = [
            ("How much does {c} owe us?", "erp_invoices"),
            ("What's the balance of customer {n}?", "erp_customers"),
            ("Is {c} over their credit limit?", "erp_customers"),
            ("How much credit does {c} have left?", "erp_customers"),
            ("current balance {c}", "erp_invoices"),
            ("What is {c}'s outstanding balance?", "erp_customers"),
        ]
        for index in range(count):
            customer = self.pick(d.unique_heads if index % 3 else d.customers[:8])
            rows = [i for i in d.invoices if i.customer_id == customer.id and d.is_open(i)]
            owed = sum(d.outstanding(i) for i in rows)
            overdue = sum(d.outstanding(i) for i in rows if i.due_date < self.today)
            phrasing, agent = phrasings[index % len(phrasings)]
            text = phrasing.format(c=self.short(customer), n=customer.number)
            self.add(
                Item(
                    text,
                    agent,
                    "answer",
                    "balance",
                    "erp_customer_balance",
                    {"customer": customer.number},
                    [
                        idf(customer.number),
                        num(money(owed)),
                        num(money(overdue)),
                        num(money(customer.credit_limit_cents - owed)),
                    ],
                    [customer.number],
                )
            )

    def customer_cards(self, count: int) -> None:
        phrasings = [
            ("Find customer {c}", None),
            ("What's the phone number of {c}?", "phone"),
            ("Email address of {c}?", "email"),
            ("What payment terms does {c} have?", "terms"),
            ("Show customer details for account {n}", None),
            ("Who is the contact person at {c}?", "contact"),
            ("Customer VAT ID for {c} please", "vat"),
            ("Look up the customer number for {c}", None),
        ]
        for index in range(count):
            customer = self.pick(self.d.unique_heads if index % 2 else self.d.customers[:8])
            phrasing, field_name = phrasings[index % len(phrasings)]
            facts = [idf(customer.number)]
            if field_name == "phone":
                facts.append(idf(customer.phone))
            elif field_name == "email":
                facts.append(idf(customer.email))
            elif field_name == "terms":
                facts.append(num(customer.payment_terms_days))
            elif field_name == "contact":
                facts.append(idf(customer.contact_name))
            elif field_name == "vat":
                facts.append(idf(customer.vat_id))
            self.add(
                Item(
                    phrasing.format(c=self.short(customer), n=customer.number),
                    "erp_customers",
                    "answer",
                    "customer_card",
                    "erp_find_customer",
                    {"query": customer.number},
                    facts,
                    [customer.number],
                )
            )

    # --- payments --------------------------------------------------------------------

    def payments(self) -> None:
        d = self.d

        def add(
            text: str,
            args: dict[str, Any],
            rows: list[Any],
            extra: list[dict[str, str]] | None = None,
            shown: int = 20,
        ) -> None:
            rows = sorted(rows, key=lambda p: (p.paid_on, p.number), reverse=True)
            self.add(
                Item(
                    text,
                    "erp_payments",
                    "answer",
                    "payments",
                    "erp_payment_history",
                    args,
                    [num(len(rows)), num(money(sum(p.amount_cents for p in rows))), *(extra or [])],
                    [p.number for p in rows][:shown],
                )
            )

        payers = [
            c for c in d.unique_heads if sum(1 for p in d.payments if p.customer_id == c.id) >= 3
        ]
        for phrasing, shown in (
            ("Show the payment history for {c}", 20),
            # "last pay": the latest payment (the headline still counts them all).
            ("When did {c} last pay us?", 1),
            ("payments from {c}", 20),
        ):
            customer = self.pick(payers)
            add(
                phrasing.format(c=self.short(customer)),
                {"customer": customer.number, **({"limit": 1} if shown == 1 else {})},
                [p for p in d.payments if p.customer_id == customer.id],
                shown=shown,
            )
        june = (date(2025, 6, 1), self.today)
        customer = self.pick(
            [
                c
                for c in payers
                if any(p.customer_id == c.id and june[0] <= p.paid_on for p in d.payments)
            ]
        )
        add(
            f"Did {self.short(customer)} pay anything this month?",
            {"customer": customer.number, "date_from": "2025-06-01", "date_to": "2025-06-30"},
            [
                p
                for p in d.payments
                if p.customer_id == customer.id and june[0] <= p.paid_on <= june[1]
            ],
        )
        customer = self.pick(d.customers[:8])
        add(
            f"Payment history of customer {customer.number} for the last 12 months",
            {"customer": customer.number, "date_from": "2024-07-01", "date_to": "2025-06-30"},
            [
                p
                for p in d.payments
                if p.customer_id == customer.id and date(2024, 7, 1) <= p.paid_on
            ],
        )
        add(
            "Who paid us by PayPal this month?",
            {"method": "paypal", "date_from": "2025-06-01", "date_to": "2025-06-30"},
            [p for p in d.payments if p.method == "paypal" and june[0] <= p.paid_on],
        )
        add(
            "Show me all payments over 10k in Q1",
            {"min_amount": "10000", "date_from": "2025-01-01", "date_to": "2025-03-31"},
            [
                p
                for p in d.payments
                if p.amount_cents >= 1_000_000
                and date(2025, 1, 1) <= p.paid_on <= date(2025, 3, 31)
            ],
        )
        add(
            "Which payments are still unapplied?",
            {"unapplied_only": True},
            [p for p in d.payments if p.invoice_id is None],
        )
        add(
            "How much did we receive in payments last week?",
            {"date_from": "2025-06-23", "date_to": "2025-06-29"},
            [p for p in d.payments if date(2025, 6, 23) <= p.paid_on <= date(2025, 6, 29)],
        )
        add(
            "List all payments received on 2025-06-27",
            {"date_from": "2025-06-27", "date_to": "2025-06-27"},
            [p for p in d.payments if p.paid_on == date(2025, 6, 27)],
        )
        add(
            "payments by card in May",
            {"method": "card", "date_from": "2025-05-01", "date_to": "2025-05-31"},
            [
                p
                for p in d.payments
                if p.method == "card" and date(2025, 5, 1) <= p.paid_on <= date(2025, 5, 31)
            ],
        )

    # --- stock -----------------------------------------------------------------------

    def stock(self, count: int) -> None:
        d = self.d
        phrasings = [
            ("How many {s} do we have in stock?", None),
            ("Stock level of {s}", None),
            ("Available stock of {s} after reservations?", None),
            ("Is {s} available in the Ulm warehouse?", "ULM"),
            ("How much {s} is on hand in the main warehouse?", "MAIN"),
            ("{s} stock", None),
        ]
        by_product: dict[int, list[Any]] = defaultdict(list)
        for level in d.levels:
            by_product[level.product_id].append(level)
        for index in range(count):
            product = self.pick(d.products[:6] if index % 3 == 0 else d.products)
            phrasing, warehouse = phrasings[index % len(phrasings)]
            levels = [lv for lv in by_product[product.id] if warehouse in (None, lv.warehouse)]
            on_hand = sum(lv.on_hand for lv in levels)
            available = sum(lv.on_hand - lv.reserved for lv in levels)
            args: dict[str, Any] = {"product": product.sku} | (
                {"warehouse": warehouse} if warehouse else {}
            )
            self.add(
                Item(
                    phrasing.format(s=product.sku),
                    "erp_inventory",
                    "answer",
                    "stock",
                    "erp_stock_level",
                    args,
                    [idf(product.sku), num(on_hand), num(available)],
                    [
                        f"{product.sku}@{lv.warehouse}"
                        for lv in sorted(levels, key=lambda lv: lv.warehouse)
                    ],
                )
            )

    def reorder(self) -> None:
        d = self.d
        levels = [
            (lv, d.product[lv.product_id]) for lv in d.levels if d.product[lv.product_id].active
        ]

        def add(text: str, args: dict[str, Any], rows: list[tuple[Any, Any]]) -> None:
            ids = sorted(f"{p.sku}@{lv.warehouse}" for lv, p in rows)
            self.add(
                Item(
                    text,
                    "erp_inventory",
                    "answer",
                    "reorder",
                    "erp_reorder_candidates",
                    args,
                    [num(len(rows)), *[idf(i) for i in ids[:3]]],
                )
            )

        low = [(lv, p) for lv, p in levels if lv.on_hand - lv.reserved <= p.reorder_point]
        # "below" taken literally: stock on hand strictly below the point.
        add(
            "Which products are below their reorder point?",
            {"strictly_below": True},
            [(lv, p) for lv, p in levels if lv.on_hand < p.reorder_point],
        )
        add("low stock list pls", {}, low)
        add(
            "What needs reordering in the Ulm warehouse?",
            {"warehouse": "ULM"},
            [x for x in low if x[0].warehouse == "ULM"],
        )
        add(
            "Which items are out of stock right now?",
            {"out_of_stock_only": True},
            [(lv, p) for lv, p in levels if lv.on_hand - lv.reserved <= 0],
        )
        category = self.pick(sorted({p.category for _, p in low}))
        add(
            f"reorder candidates in {category.lower()}",
            {"category": category},
            [x for x in low if x[1].category == category],
        )

    def movements(self) -> None:
        d = self.d

        def add(text: str, product: Any, start: date | None, end: date | None) -> None:
            rows = [
                mv
                for mv in d.movements
                if mv.product_id == product.id
                and (start is None or mv.moved_on >= start)
                and (end is None or mv.moved_on <= end)
            ]
            args: dict[str, Any] = {"product": product.sku}
            if start:
                args |= {
                    "date_from": start.isoformat(),
                    "date_to": end.isoformat() if end else None,
                }
            self.add(
                Item(
                    text,
                    "erp_inventory",
                    "answer",
                    "movements",
                    "erp_stock_movements",
                    args,
                    [
                        num(len(rows)),
                        num(sum(mv.quantity for mv in rows if mv.quantity > 0)),
                        num(sum(-mv.quantity for mv in rows if mv.quantity < 0)),
                    ],
                )
            )

        busy = [
            p
            for p in d.products
            if sum(
                1 for mv in d.movements if mv.product_id == p.id and mv.moved_on >= date(2025, 5, 1)
            )
            >= 3
        ]
        product = self.pick(busy)
        add(
            f"Show stock movements for {product.sku} over the last 30 days",
            product,
            date(2025, 6, 1),
            self.today,
        )
        product = self.pick(busy)
        add(
            f"stock movements of {product.sku} in May", product, date(2025, 5, 1), date(2025, 5, 31)
        )
        product = self.pick(busy)
        add(
            f"incoming and outgoing movements of {product.sku} since 2025-04-01",
            product,
            date(2025, 4, 1),
            self.today,
        )
        product = self.pick(busy)
        add(
            f"Who booked {product.sku} out of stock on 2025-06-27?",
            product,
            date(2025, 6, 27),
            date(2025, 6, 27),
        )
        product = self.pick(d.products[:6])
        add(f"Stock history of {product.sku} in Q2", product, date(2025, 4, 1), self.today)

    # --- sales orders and shipping ----------------------------------------------------

    def order_status(self, count: int) -> None:
        d = self.d
        phrasings = [
            "What's the status of sales order {so}?",
            "List the lines of order {so}",
            "What's in order {so}?",
            "status {so}",
            "Show me order {so}",
        ]
        for index in range(count):
            order = self.pick(d.orders)
            lines = sorted(d.lines_of[order.id], key=lambda ln: ln.line_no)
            self.add(
                Item(
                    phrasings[index % len(phrasings)].format(so=order.number),
                    "erp_sales_orders",
                    "answer",
                    "order_status",
                    "erp_order_status",
                    {"order_number": order.number},
                    [idf(order.number), num(money(order.total_cents)), idf(order.status)],
                    [f"{order.number}/{ln.line_no}" for ln in lines],
                )
            )

    def customer_orders(self) -> None:
        d = self.d

        def add(text: str, args: dict[str, Any], rows: list[Any]) -> None:
            rows = sorted(rows, key=lambda o: (o.order_date, o.id), reverse=True)
            self.add(
                Item(
                    text,
                    "erp_sales_orders",
                    "answer",
                    "customer_orders",
                    "erp_customer_orders",
                    args,
                    [num(len(rows)), num(money(sum(o.total_cents for o in rows)))],
                    [o.number for o in rows][: args.get("limit", 20)],
                )
            )

        buyers = [
            c for c in d.unique_heads if sum(1 for o in d.orders if o.customer_id == c.id) >= 4
        ]
        customer = self.pick(buyers)
        add(
            f"Give me the order history of {self.short(customer)}",
            {"customer": customer.number},
            [o for o in d.orders if o.customer_id == customer.id],
        )
        customer = self.pick(
            [
                c
                for c in buyers
                if any(
                    o.customer_id == c.id and date(2025, 5, 1) <= o.order_date <= date(2025, 5, 31)
                    for o in d.orders
                )
            ]
        )
        add(
            f"What did {self.short(customer)} order last month?",
            # "What did X order": the products too, so each order's lines are shown.
            {
                "customer": customer.number,
                "date_from": "2025-05-01",
                "date_to": "2025-05-31",
                "with_lines": True,
            },
            [
                o
                for o in d.orders
                if o.customer_id == customer.id
                and date(2025, 5, 1) <= o.order_date <= date(2025, 5, 31)
            ],
        )
        customer = self.pick(d.customers[:8])
        add(
            f"Show the last 5 orders of customer {customer.number}",
            {"customer": customer.number, "limit": 5},
            [o for o in d.orders if o.customer_id == customer.id],
        )
        add(
            "How many sales orders are open right now?",
            {"status": "open"},
            [o for o in d.orders if o.status == "open"],
        )
        add(
            "Which sales orders were entered today?",
            {"date_from": "2025-06-30", "date_to": "2025-06-30"},
            [o for o in d.orders if o.order_date == self.today],
        )
        add(
            "orders placed on 2025-06-27",
            {"date_from": "2025-06-27", "date_to": "2025-06-27"},
            [o for o in d.orders if o.order_date == date(2025, 6, 27)],
        )
        open_buyers = [
            c
            for c in d.customers
            if any(o.customer_id == c.id and o.status == "shipped" for o in d.orders)
        ]
        customer = self.pick([c for c in open_buyers if c in d.unique_heads] or open_buyers)
        add(
            f"Show me all shipped orders for {customer.name}",
            {"customer": customer.number, "status": "shipped"},
            [o for o in d.orders if o.customer_id == customer.id and o.status == "shipped"],
        )
        add(
            "cancelled orders this year",
            {"status": "cancelled", "date_from": "2025-01-01", "date_to": "2025-06-30"},
            [o for o in d.orders if o.status == "cancelled" and o.order_date >= date(2025, 1, 1)],
        )

    def shipments(self) -> None:
        d = self.d
        shipped = [s for s in d.shipments]
        for phrasing in (
            "Has order {so} shipped?",
            "Tracking number for {so}?",
            "Which carrier did we use for {so}?",
            "Was order {so} delivered?",
        ):
            shipment = self.pick(shipped)
            order = d.order[shipment.order_id]
            self.add(
                Item(
                    phrasing.format(so=order.number),
                    "erp_shipping",
                    "answer",
                    "shipment_order",
                    "erp_shipment_status",
                    {"order_number": order.number},
                    [idf(shipment.tracking_number), idf(shipment.carrier)],
                    [shipment.number],
                )
            )
        shipment = self.pick(shipped)
        self.add(
            Item(
                f"Shipment status for tracking {shipment.tracking_number}",
                "erp_shipping",
                "answer",
                "shipment_tracking",
                "erp_shipment_status",
                {"tracking_number": shipment.tracking_number},
                [idf(shipment.number), idf(d.order[shipment.order_id].number)],
                [shipment.number],
            )
        )
        transit = [s for s in shipped if s.status == "in_transit"]
        self.add(
            Item(
                "Which shipments are still in transit?",
                "erp_shipping",
                "answer",
                "shipments_transit",
                "erp_shipment_status",
                {"status": "in_transit"},
                [num(len(transit))],
            )
        )
        out = [s for s in shipped if s.shipped_on == date(2025, 6, 27)]
        self.add(
            Item(
                "Which orders went out on 2025-06-27?",
                "erp_shipping",
                "answer",
                "shipments_day",
                "erp_shipment_status",
                {"date_from": "2025-06-27", "date_to": "2025-06-27"},
                [num(len(out)), num(money(sum(s.cost_cents for s in out)))],
            )
        )
        ups = [
            s
            for s in shipped
            if s.carrier == "UPS" and date(2025, 5, 1) <= s.shipped_on <= date(2025, 5, 31)
        ]
        self.add(
            Item(
                "UPS shipments in May",
                "erp_shipping",
                "answer",
                "shipments_carrier",
                "erp_shipment_status",
                {"carrier": "UPS", "date_from": "2025-05-01", "date_to": "2025-05-31"},
                [num(len(ups)), num(money(sum(s.cost_cents for s in ups)))],
            )
        )

    # --- reporting -------------------------------------------------------------------

    def sales(self) -> None:
        d = self.d

        def add(
            text: str,
            start: date,
            end: date,
            args: dict[str, Any],
            keep: Callable[[Any, Any], bool] = lambda o, ln: True,
        ) -> None:
            rows = [(o, ln) for o, ln in d.sales_lines(start, end) if keep(o, ln)]
            revenue = sum(ln.line_total_cents for _, ln in rows)
            orders = len({o.id for o, _ in rows})
            average = round(revenue / orders) if orders else 0
            self.add(
                Item(
                    text,
                    "erp_reporting",
                    "answer",
                    "sales",
                    "erp_sales_summary",
                    {"date_from": start.isoformat(), "date_to": end.isoformat()} | args,
                    [num(money(revenue)), num(orders), num(money(average))],
                )
            )

        ytd = (date(2025, 1, 1), self.today)
        add("Sales by month this year", *ytd, {"group_by": "month"})
        add("What's our average order value in 2025?", *ytd, {"group_by": "month"})
        add("What's the year-to-date revenue?", *ytd, {"group_by": "month"})
        add("Total turnover last week?", date(2025, 6, 23), date(2025, 6, 29), {"group_by": "none"})
        add(
            "Sales per product group for March",
            date(2025, 3, 1),
            date(2025, 3, 31),
            {"group_by": "category"},
        )
        add("Revenue in Q1 2025", date(2025, 1, 1), date(2025, 3, 31), {"group_by": "month"})
        add(
            "Revenue by customer for Q2, ranked",
            date(2025, 4, 1),
            self.today,
            {"group_by": "customer"},
        )
        product = self.pick(d.products[:6])
        add(
            f"How much {product.sku} did we sell this year?",
            *ytd,
            {"group_by": "month", "product": product.sku},
            lambda o, ln: ln.product_id == product.id,
        )
        category = self.pick(sorted({p.category for p in d.products}))
        add(
            f"Sales of {category.lower()} last quarter",
            date(2025, 1, 1),
            date(2025, 3, 31),
            {"group_by": "month", "category": category},
            lambda o, ln: d.product[ln.product_id].category == category,
        )
        customer = self.pick(d.customers[:8])
        add(
            f"Revenue from {customer.name} in 2024",
            date(2024, 1, 1),
            date(2024, 12, 31),
            {"group_by": "month", "customer": customer.number},
            lambda o, ln: o.customer_id == customer.id,
        )
        add("weekly sales in June", date(2025, 6, 1), self.today, {"group_by": "week"})
        add(
            "revenue per weekday last month",
            date(2025, 5, 1),
            date(2025, 5, 31),
            {"group_by": "weekday"},
        )

    def top(self) -> None:
        d = self.d

        def customers(text: str, start: date, end: date, limit: int, args: dict[str, Any]) -> None:
            revenue: Counter[str] = Counter()
            for order in d.orders:
                if order.status != "cancelled" and start <= order.order_date <= end:
                    revenue[d.customer[order.customer_id].number] += order.total_cents
            ranked = sorted(revenue.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
            total = sum(revenue.values())
            top = sum(v for _, v in ranked)
            self.add(
                Item(
                    text,
                    "erp_reporting",
                    "answer",
                    "top_customers",
                    "erp_top_customers",
                    args,
                    [num(money(top)), num(pct(top, total)), *[idf(k) for k, _ in ranked[:3]]],
                    [k for k, _ in ranked],
                )
            )

        year = (self.today - timedelta(days=364), self.today)
        customers("Who are our top 10 customers by revenue?", *year, 10, {})
        customers("What share of revenue comes from our top 5 customers?", *year, 5, {"limit": 5})
        customers(
            "top 5 customers last year",
            date(2024, 1, 1),
            date(2024, 12, 31),
            5,
            {"limit": 5, "date_from": "2024-01-01", "date_to": "2024-12-31"},
        )
        customers(
            "Best customers in Q1",
            date(2025, 1, 1),
            date(2025, 3, 31),
            10,
            {"date_from": "2025-01-01", "date_to": "2025-03-31"},
        )

        def products(
            text: str,
            start: date,
            end: date,
            limit: int,
            by: str,
            category: str | None,
            args: dict[str, Any],
        ) -> None:
            totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            for _order, line in d.sales_lines(start, end):
                product = d.product[line.product_id]
                if category and product.category != category:
                    continue
                totals[product.sku][0] += line.quantity
                totals[product.sku][1] += line.line_total_cents
            key = 1 if by == "revenue" else 0
            ranked = sorted(totals.items(), key=lambda kv: (-kv[1][key], kv[0]))[:limit]
            self.add(
                Item(
                    text,
                    "erp_reporting",
                    "answer",
                    "top_products",
                    "erp_top_products",
                    args,
                    [idf(sku) for sku, _ in ranked[:3]]
                    + [num(ranked[0][1][key] if by == "units" else money(ranked[0][1][key]))],
                    [sku for sku, _ in ranked],
                )
            )

        products(
            "Top selling products last quarter",
            date(2025, 1, 1),
            date(2025, 3, 31),
            10,
            "revenue",
            None,
            {"date_from": "2025-01-01", "date_to": "2025-03-31"},
        )
        products(
            "Best sellers by units in brake parts",
            *year,
            10,
            "units",
            "Brakes",
            {"by": "units", "category": "Brakes"},
        )
        products(
            "top 5 products this year by revenue",
            date(2025, 1, 1),
            self.today,
            5,
            "revenue",
            None,
            {"limit": 5, "date_from": "2025-01-01", "date_to": "2025-06-30"},
        )
        products(
            "most sold filters in 2024",
            date(2024, 1, 1),
            date(2024, 12, 31),
            10,
            "units",
            "Filters",
            {
                "by": "units",
                "category": "Filters",
                "date_from": "2024-01-01",
                "date_to": "2024-12-31",
            },
        )

    # --- purchasing and pricing --------------------------------------------------------

    def purchasing(self) -> None:
        d = self.d
        received: dict[int, list[Any]] = defaultdict(list)
        for po in d.pos:
            if po.status == "received":
                received[po.supplier_id].append(po)
        for phrasing in (
            "What's the lead time of {s}?",
            "How long does {s} usually take to deliver?",
            "lead times {s}",
        ):
            supplier = self.pick([s for s in d.suppliers if len(received[s.id]) >= 2])
            own = received[supplier.id]
            average = one_place(
                sum((po.received_date - po.order_date).days for po in own) / len(own)
            )
            self.add(
                Item(
                    phrasing.format(s=supplier.name),
                    "erp_purchasing",
                    "answer",
                    "lead_time",
                    "erp_supplier_lead_times",
                    {"supplier": supplier.number},
                    [
                        idf(supplier.number),
                        num(average),
                        num(supplier.lead_time_days),
                        num(len(own)),
                    ],
                    [supplier.number],
                )
            )
        for phrasing in (
            "What's the status of {po}?",
            "Show me the lines of purchase order {po}",
            "purchase order {po}",
        ):
            po = self.pick(d.pos)
            self.add(
                Item(
                    phrasing.format(po=po.number),
                    "erp_purchasing",
                    "answer",
                    "po_number",
                    "erp_purchase_orders",
                    {"po_number": po.number},
                    [idf(po.number), num(money(po.total_cents)), idf(po.status)],
                    [po.number],
                )
            )
        open_pos = [po for po in d.pos if po.status == "ordered"]
        for phrasing in (
            "Show all open purchase orders",
            "What have we got on order from suppliers right now?",
        ):
            self.add(
                Item(
                    phrasing,
                    "erp_purchasing",
                    "answer",
                    "po_open",
                    "erp_purchase_orders",
                    {"status": "open"},
                    [num(len(open_pos)), num(money(sum(po.total_cents for po in open_pos)))],
                )
            )
        late = [po for po in open_pos if po.expected_date < self.today]
        self.add(
            Item(
                "Which POs are overdue from suppliers?",
                "erp_purchasing",
                "answer",
                "po_overdue",
                "erp_purchase_orders",
                {"status": "overdue"},
                [num(len(late)), *[idf(po.number) for po in late]],
            )
        )
        supplier = self.pick(
            [
                s
                for s in d.suppliers
                if any(po.supplier_id == s.id and po.order_date.year == 2025 for po in d.pos)
            ]
        )
        rows = [
            po
            for po in d.pos
            if po.supplier_id == supplier.id and po.order_date >= date(2025, 1, 1)
        ]
        self.add(
            Item(
                f"List the purchase orders we sent to {supplier.name} this year",
                "erp_purchasing",
                "answer",
                "po_supplier",
                "erp_purchase_orders",
                {"supplier": supplier.number, "date_from": "2025-01-01", "date_to": "2025-06-30"},
                [num(len(rows)), num(money(sum(po.total_cents for po in rows)))],
            )
        )

    def pricing(self) -> None:
        d = self.d

        def margin(p: Any) -> Decimal:
            return Decimal(pct(p.unit_price_cents - p.cost_cents, p.unit_price_cents))

        for phrasing in (
            "What does {s} cost?",
            "What's our margin on {s}?",
            "Cost versus selling price for {s}",
            "What's the dealer price for {s}?",
            "price of {s}",
        ):
            product = self.pick([p for p in d.products if p.active])
            self.add(
                Item(
                    phrasing.format(s=product.sku),
                    "erp_pricing",
                    "answer",
                    "price",
                    "erp_price_list",
                    {"product": product.sku},
                    [
                        num(money(product.unit_price_cents)),
                        num(money(product.cost_cents)),
                        num(str(margin(product))),
                    ],
                    [product.sku],
                )
            )
        for limit_pct in (15, 20):
            rows = [p for p in d.products if p.active and margin(p) < limit_pct]
            self.add(
                Item(
                    f"Which products have a margin below {limit_pct}%?",
                    "erp_pricing",
                    "answer",
                    "price_margin",
                    "erp_price_list",
                    {"max_margin_pct": str(limit_pct)},
                    [num(len(rows))],
                )
            )
        rows = [p for p in d.products if p.active and margin(p) < 0]
        self.add(
            Item(
                "Which items are we selling below cost?",
                "erp_pricing",
                "answer",
                "price_margin",
                "erp_price_list",
                {"max_margin_pct": "0"},
                [num(len(rows)), *[idf(p.sku) for p in sorted(rows, key=lambda p: p.sku)]],
            )
        )
        customer = self.pick([c for c in d.customers[:8] if c.discount_pct])
        product = self.pick(d.products[:6])
        net = round(product.unit_price_cents * (100 - customer.discount_pct) / 100)
        self.add(
            Item(
                f"Which price does {self.short(customer)} pay for {product.sku} with their "
                "discount?",
                "erp_pricing",
                "answer",
                "price_customer",
                "erp_price_list",
                {"product": product.sku, "customer": customer.number},
                [num(money(net)), num(customer.discount_pct)],
                [product.sku],
            )
        )
        category = self.pick(sorted({p.category for p in d.products}))
        rows = [p for p in d.products if p.active and p.category == category]
        self.add(
            Item(
                f"price list for {category.lower()}",
                "erp_pricing",
                "answer",
                "price_category",
                "erp_price_list",
                {"category": category},
                [num(len(rows))],
                sorted(p.sku for p in rows)[:50],
            )
        )
        for phrasing, agent in (
            ("Product details for SKU {s}", "erp_pricing"),
            ("Which supplier sells {s}?", "erp_purchasing"),
            ("Who is our supplier for SKU {s}?", "erp_purchasing"),
        ):
            product = self.pick(d.products)
            supplier = d.supplier[product.supplier_id]
            self.add(
                Item(
                    phrasing.format(s=product.sku),
                    agent,
                    "answer",
                    "product",
                    "erp_find_product",
                    {"query": product.sku},
                    [idf(product.name), idf(supplier.name)],
                    [product.sku],
                )
            )

    def returns(self) -> None:
        d = self.d
        note_of = {cn.return_id: cn for cn in d.credit_notes}
        for phrasing in (
            "Status of {r}?",
            "Has return {r} been refunded?",
            "Show the return reason for {r}",
        ):
            ret = self.pick(d.returns)
            facts = [idf(ret.number), idf(ret.status), num(ret.quantity)]
            if ret.id in note_of:
                facts.append(idf(note_of[ret.id].number))
            self.add(
                Item(
                    phrasing.format(r=ret.number),
                    "erp_returns",
                    "answer",
                    "return_number",
                    "erp_returns",
                    {"rma_number": ret.number},
                    facts,
                    [ret.number],
                )
            )
        open_returns = [r for r in d.returns if r.status in ("requested", "received")]
        self.add(
            Item(
                "Which RMAs are still open?",
                "erp_returns",
                "answer",
                "returns_open",
                "erp_returns",
                {"status": "open"},
                [num(len(open_returns)), *[idf(r.number) for r in open_returns]],
            )
        )
        june = [
            r for r in d.returns if r.reason == "defective" and r.requested_on >= date(2025, 6, 1)
        ]
        self.add(
            Item(
                "Which parts were returned as defective this month?",
                "erp_returns",
                "answer",
                "returns_defective",
                "erp_returns",
                {"reason": "defective", "date_from": "2025-06-01", "date_to": "2025-06-30"},
                [num(len(june))],
            )
        )
        returners = [
            c for c in d.customers if sum(1 for r in d.returns if r.customer_id == c.id) >= 2
        ]
        customer = self.pick(returners)
        rows = [r for r in d.returns if r.customer_id == customer.id]
        self.add(
            Item(
                f"Returns from {customer.name}",
                "erp_returns",
                "answer",
                "returns_customer",
                "erp_returns",
                {"customer": customer.number},
                [num(len(rows)), *[idf(r.number) for r in rows[:3]]],
            )
        )
        credited = [cn for cn in d.credit_notes if cn.invoice_id is not None]
        note = self.pick(credited)
        invoice = d.invoice[note.invoice_id]
        self.add(
            Item(
                f"Was a credit note issued for invoice {invoice.number}?",
                "erp_returns",
                "answer",
                "returns_invoice",
                "erp_returns",
                {"invoice_number": invoice.number},
                [idf(note.number), num(money(note.amount_cents))],
            )
        )

    # --- writes -----------------------------------------------------------------------

    def writes(self) -> None:
        d = self.d
        open_invoices = [i for i in d.invoices if d.is_open(i) and d.outstanding(i) > 5000]
        invoice = self.pick(open_invoices)
        customer = d.customer[invoice.customer_id]
        amount = Decimal(d.outstanding(invoice)) / 100
        self.add(
            Item(
                f"Record a payment of {amount:,.2f} EUR from {customer.name} for {invoice.number}",
                "erp_payments",
                "approval",
                "write_payment",
                "erp_record_payment",
                {
                    "invoice_number": invoice.number,
                    "amount": f"{amount:.2f}",
                    "customer": customer.number,
                },
                [idf(invoice.number)],
            )
        )
        invoice = self.pick([i for i in open_invoices if d.outstanding(i) >= 25000])
        self.add(
            Item(
                f"Book a bank transfer payment of €250.00 against {invoice.number}",
                "erp_payments",
                "approval",
                "write_payment",
                "erp_record_payment",
                {"invoice_number": invoice.number, "amount": "250.00", "method": "bank_transfer"},
                [idf(invoice.number)],
            )
        )
        supplier = d.suppliers[0]
        product = next(p for p in d.products if p.sku == "BRK-2210")
        self.add(
            Item(
                f"Create a purchase order for 200 x {product.sku} from {supplier.name}",
                "erp_purchasing",
                "approval",
                "write_po",
                "erp_create_purchase_order",
                {"supplier": supplier.number, "lines": [{"product": product.sku, "quantity": 200}]},
                [idf(supplier.number)],
            )
        )
        supplier = d.suppliers[1]
        product = next(p for p in d.products if p.sku == "HYD-5520")
        self.add(
            Item(
                f"Please order 30 pieces {product.sku} at {supplier.name}",
                "erp_purchasing",
                "approval",
                "write_po",
                "erp_create_purchase_order",
                {"supplier": supplier.number, "lines": [{"product": product.sku, "quantity": 30}]},
                [idf(supplier.number)],
            )
        )
        overdue = [i for i in d.invoices if d.is_open(i) and i.due_date < self.today]
        invoice = self.pick(overdue)
        self.add(
            Item(
                f"Send a payment reminder for {invoice.number}",
                "invoice_reminders",
                "approval",
                "write_reminder",
                "erp_send_invoice_reminder",
                {"invoice_number": invoice.number},
                [idf(invoice.number)],
            )
        )
        level = self.pick([lv for lv in d.levels if lv.warehouse == "MAIN" and lv.on_hand > 10])
        product = d.product[level.product_id]
        self.add(
            Item(
                f"Adjust the stock of {product.sku} in the main warehouse to {level.on_hand - 2}, "
                "reason: cycle count",
                "erp_inventory",
                "approval",
                "write_stock",
                "erp_adjust_stock",
                {
                    "product": product.sku,
                    "warehouse": "MAIN",
                    "new_quantity": level.on_hand - 2,
                    "reason": "cycle count",
                },
                [idf(product.sku)],
            )
        )

    # --- what the fast path must not answer ---------------------------------------------

    def not_for_fast_path(self) -> None:
        d = self.d
        declines = [
            ("How are we doing this month?", "erp_reporting", "vague"),
            ("Anything unusual in the ERP lately?", "erp_reporting", "vague"),
            ("Give me an overview of our finances", "erp_reporting", "vague"),
            ("What should I focus on today in accounts receivable?", "erp_invoices", "vague"),
            ("Which customers are close to their credit limit?", "erp_customers", "vague"),
            ("How did revenue develop compared to last year?", "erp_reporting", "vague"),
            ("Show the revenue trend over the last 12 months", "erp_reporting", "vague"),
            ("Which product category grew the most this year?", "erp_reporting", "vague"),
            ("Which customers have the worst payment behaviour?", "erp_payments", "vague"),
            ("Which carrier is late most often?", "erp_shipping", "vague"),
            ("Give me the overdue invoices grouped by customer", "erp_invoices", "vague"),
            ("Why did the stock of BRK-2210 drop on Monday?", "erp_inventory", "vague"),
            (
                f"Show overdue invoices for {d.customers[0].name} and the stock of BRK-2210",
                "erp_invoices",
                "multi",
            ),
            ("Compare sales in January and February", "erp_reporting", "multi"),
            ("Which customers bought less this year than last year?", "erp_reporting", "multi"),
            (
                f"What's the status of {d.orders[100].number} and has the invoice been paid?",
                "erp_sales_orders",
                "multi",
            ),
            ("List open POs and the reorder candidates", "erp_purchasing", "multi"),
            ("What is the status of invoice 10482?", "erp_invoices", "bare_number"),
            ("Is order 4471 complete or still partially open?", "erp_sales_orders", "bare_number"),
            (
                "Record a partial payment of 500 EUR from Weber Landtechnik, the rest is still "
                "pending",
                "erp_payments",
                "write_vague",
            ),
            ("Order more brake pads from whoever is cheapest", "erp_purchasing", "write_vague"),
            (
                "Make one PO for everything we need from Autoteile Krause this week",
                "erp_purchasing",
                "write_vague",
            ),
            (
                "We found 3 damaged clutch kits, write them off from stock",
                "erp_inventory",
                "write_vague",
            ),
            ("Show invoices for '; DROP TABLE invoices; --", "erp_invoices", "sql"),
            ("Stock of BRK-2210'; DELETE FROM stock_levels; --", "erp_inventory", "sql"),
        ]
        for text, agent, kind in declines:
            self.add(Item(text, agent, "decline", kind))
        ambiguous_heads = [h for h in d.shared_heads if len(h) > 4][:4]
        phrasings = [
            "What does {h} owe us?",
            "Show open invoices for {h}",
            "payment history {h}",
            "orders of {h} last month",
        ]
        agents = ["erp_customers", "erp_invoices", "erp_payments", "erp_sales_orders"]
        for head, phrasing, agent in zip(
            ["Müller", "Kessler", *ambiguous_heads], phrasings * 2, agents * 2, strict=False
        ):
            names = [
                c.name
                for c in d.customers
                if c.name.split()[0].lower() in (head.lower(), head.lower().replace("ss", "ß"))
            ]
            self.add(
                Item(
                    phrasing.format(h=head),
                    agent,
                    "clarify",
                    "ambiguous",
                    facts=[idf(n) for n in names],
                )
            )
        for text, agent, fact in (
            ("Show the balance of Zyxel Motors", "erp_customers", "Zyxel Motors"),
            ("Payment history for Quasar Logistik GmbH", "erp_payments", "Quasar Logistik GmbH"),
            ("Payments since 2025-13-45", "erp_payments", "2025-13-45"),
            ("Invoices issued on 31/02/2025", "erp_invoices", "31/02/2025"),
            ("Show me invoice INV-2025-99999", "erp_invoices", "INV-2025-99999"),
            ("What's the status of sales order SO-99999?", "erp_sales_orders", "SO-99999"),
            ("How many ZZZ-9999 do we have in stock?", "erp_inventory", "ZZZ-9999"),
            (
                f"Create a purchase order for 0 x BRK-2210 from {d.suppliers[0].name}",
                "erp_purchasing",
                "quantity",
            ),
            (
                f"Create a purchase order for -5 x BRK-2210 from {d.suppliers[0].name}",
                "erp_purchasing",
                "quantity",
            ),
            (
                f"Please order 5000000 pieces HYD-5520 at {d.suppliers[1].name}",
                "erp_purchasing",
                "quantity",
            ),
        ):
            self.add(Item(text, agent, "clarify", "bad_input", facts=[idf(fact)]))


def build(data: _Data) -> list[Item]:
    """Build every item of the dataset from ``data``."""
    b = _Builder(data)
    b.invoices_by_number(10)
    b.invoice_of_order(4)
    b.customer_invoices()
    b.overdue()
    b.balances(9)
    b.customer_cards(9)
    b.payments()
    b.stock(9)
    b.reorder()
    b.movements()
    b.order_status(8)
    b.customer_orders()
    b.shipments()
    b.sales()
    b.top()
    b.purchasing()
    b.pricing()
    b.returns()
    b.writes()
    b.not_for_fast_path()
    return b.items


def main(argv: list[str] | None = None) -> None:
    """Seed a scratch database, build the items and write the dataset."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=DATASET)
    options = parser.parse_args(argv)
    config = SeedConfig()
    with tempfile.TemporaryDirectory() as scratch:
        database = ErpDatabase(f"sqlite:///{scratch}/erp.sqlite")
        report = seed_database(database, config)
        items = build(_Data(database, config.anchor))
        database.dispose()
    options.out.parent.mkdir(parents=True, exist_ok=True)
    with options.out.open("w", encoding="utf-8") as handle:
        for index, item in enumerate(items, start=1):
            handle.write(json.dumps(item.line(index), ensure_ascii=False) + "\n")
    meta = {
        "fingerprint": report.fingerprint,
        "seed_config": json.loads(config.model_dump_json()),
        "items": len(items),
        "by_expect": Counter(item.expect for item in items),
    }
    options.out.with_suffix(".meta.json").write_text(
        json.dumps(meta, indent=2) + "\n", encoding="utf-8"
    )
    print(f"wrote {len(items)} items to {options.out} ({dict(meta['by_expect'])})")


if __name__ == "__main__":
    main()
