"""Turn skill results into answers: a text that cites its rows, and a Rich table for the CLI.

Everything printed is a value of the result (a row field or a fact), formatted; nothing
is computed here, so an answer cannot show a number its query did not return.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from langchain_core.messages import BaseMessage
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from nova.erp.results import AppliedFilter, ErpPayload, Kind, SkillResult, columns_of

PAYLOAD_KEY = "erp"
"""Key of the structured result in a fast-path ``AIMessage.additional_kwargs``."""
WRITE_KEY = "erp_write"
"""Key of a write's outcome in ``AIMessage.additional_kwargs``."""


def fmt(value: Any, kind: Kind = "text") -> str:
    """Format one value for people: ``€1,234.50``, ``12.5%``, ``1,200``, ISO dates."""
    if value is None:
        return "–"
    if kind == "bool" or isinstance(value, bool):
        return "yes" if value else "no"
    if kind == "date" or isinstance(value, date):
        return value.isoformat() if isinstance(value, date) else str(value)
    if kind in ("money", "pct", "days", "int", "qty"):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return str(value)
        if kind == "money":
            sign = "-" if number < 0 else ""
            return f"{sign}€{abs(number):,.2f}"
        if kind == "pct":
            return f"{number}%"
        if number == number.to_integral_value() and kind != "days":
            return f"{int(number):,}"
        return f"{number}"
    return str(value)


def _facts(result: SkillResult[Any]) -> dict[str, str]:
    return {item.key: fmt(item.value, item.kind) for item in result.facts}


def _period(facts: Mapping[str, str]) -> str:
    if "date_from" in facts and "date_to" in facts:
        return f" from {facts['date_from']} to {facts['date_to']}"
    if "date_from" in facts:
        return f" since {facts['date_from']}"
    if "date_to" in facts:
        return f" up to {facts['date_to']}"
    return ""


def _row(result: SkillResult[Any], index: int) -> dict[str, str]:
    row = result.rows[index]
    kinds = {c["key"]: c["kind"] for c in columns_of(result.row_type)}
    return {key: fmt(getattr(row, key), kinds.get(key, "text")) for key in type(row).model_fields}


# Fields listed per row in text answers (the table shows every column).
LINE_FIELDS: dict[str, tuple[str, ...]] = {
    "erp_query": (
        "value",
        "count",
        "order",
        "name",
        "on",
        "status",
        "amount",
        "price",
        "cost",
        "credit_limit",
        "margin",
        "on_hand",
        "stock_value",
        "carrier",
        "tracking",
        "expected",
        "days_late",
        "items",
    ),
    "erp_compare": ("value", "count"),
    "erp_find_customer": ("name", "city", "country", "email", "phone"),
    "erp_find_product": ("name", "status", "unit_price", "available", "supplier"),
    "erp_invoice_lookup": ("customer", "issue_date", "due_date", "total", "outstanding", "status"),
    "erp_overdue_invoices": ("customer", "due_date", "outstanding", "days_overdue"),
    "erp_customer_balance": ("name", "net_balance", "outstanding", "overdue_amount"),
    "erp_payment_history": ("paid_on", "customer", "invoice", "amount", "method"),
    "erp_stock_level": (
        "warehouse",
        "on_hand",
        "reserved",
        "available",
        "reorder_point",
        "incoming",
    ),
    "erp_reorder_candidates": ("name", "available", "reorder_point", "on_order", "supplier"),
    "erp_stock_movements": (
        "sku",
        "moved_on",
        "warehouse",
        "quantity",
        "kind",
        "reference",
        "created_by",
    ),
    "erp_order_status": ("sku", "name", "quantity", "line_total"),
    "erp_customer_orders": ("order_date", "customer", "status", "total", "holds"),
    "erp_sales_summary": ("label", "orders", "units", "revenue", "share_pct"),
    "erp_top_customers": ("rank", "name", "orders", "revenue", "share_pct"),
    "erp_top_products": ("rank", "name", "units", "revenue"),
    "erp_supplier_lead_times": (
        "name",
        "quoted_days",
        "avg_actual_days",
        "received_pos",
        "late_pos",
    ),
    "erp_purchase_orders": (
        "supplier",
        "product_quantity",
        "items",
        "order_date",
        "expected_date",
        "status",
        "total",
    ),
    "erp_price_list": ("name", "list_price", "cost", "margin", "margin_pct", "customer_price"),
    "erp_shipment_status": ("order", "customer", "carrier", "shipped_on", "status", "days_late"),
    "erp_returns": (
        "customer",
        "sku",
        "quantity",
        "reason",
        "status",
        "credit_note",
        "credit_amount",
    ),
}

_LABELS = {
    "days_overdue": "days overdue",
    "days_late": "days late",
    "margin_pct": "margin",
    "margin": "margin on list price",
    "share_pct": "share",
    "on_order": "on order",
    "reorder_point": "reorder point",
    "on_hand": "on hand",
    "avg_actual_days": "actual days",
    "quoted_days": "quoted days",
    "received_pos": "POs received",
    "late_pos": "late",
    "customer_price": "customer price",
    "credit_limit": "credit limit",
    "list_price": "list",
    "unit_price": "price",
    "credit_amount": "credited",
    "issue_date": "issued",
    "due_date": "due",
    "paid_on": "paid",
    "order_date": "ordered",
    "expected_date": "expected",
    "shipped_on": "shipped",
    "moved_on": "on",
    "line_total": "line total",
    "overdue_amount": "overdue",
    "created_by": "by",
    "holds": "items",
    "on": "on",
}


_SELF_EXPLAINING = frozenset(
    {"name", "customer", "label", "supplier", "status", "product_quantity", "sku"}
)
"""Fields a line states bare: the value says what it is ("Eifel Filtertechnik", "BLT-9051")."""


def _line(result: SkillResult[Any], index: int) -> str:
    values = _row(result, index)
    # A row type may name a field for what it holds ("Invoice" on a payment's "order").
    columns = {c["key"]: str(c["label"]).lower() for c in columns_of(result.row_type)}
    shown = []
    for key in LINE_FIELDS.get(result.skill, ()):
        value = values.get(key)
        if value is None or value == "–":
            continue
        label = _LABELS.get(key) or columns.get(key) or key.replace("_", " ")
        shown.append(value if key in _SELF_EXPLAINING else f"{label} {value}")
    return f"- {result.rows[index].id}: " + ", ".join(shown)


def _s(count: str, word: str) -> str:
    return f"{count} {word}" if count == "1" else f"{count} {word}s"


def _invoice_phrase(row: Mapping[str, str]) -> str:
    if row["status"] == "paid":
        return "paid in full"
    if row["status"] == "overdue":
        return f"still open, overdue by {row['days_overdue']} days"
    return f"status {row['status']}, not yet due"


def _detailed(result: SkillResult[Any]) -> bool:
    """Describe the one row in full: the request named it, and it was found."""
    return result.focus == "record" and len(result.rows) == 1


def _credits_line(row: Mapping[str, str], facts: Mapping[str, str]) -> str:
    """Name the balance's unapplied payments and credit notes, and what they could settle."""
    if "settles" not in facts:
        return ""
    parts = [
        f"{row[key]} in {label}"
        for key, label in (
            ("unapplied_payments", "unapplied payments"),
            ("open_credits", "credit notes"),
        )
        if set(re.sub(r"\D", "", row[key])) - {"0"}
    ]
    return (
        f" But the account also holds {' and '.join(parts)}, not yet matched: "
        f"{facts['settles']}. Net balance {row['net_balance']}"
        + (" (in the customer's favour)." if row["net_balance"].startswith("-") else ".")
    )


def _settled_by(result: SkillResult[Any]) -> str:
    """Name the unapplied payments and credit notes that could settle the invoices shown."""
    facts = _facts(result)
    if "settled_by" not in facts:
        return ""
    whose = (
        "the customer's account holds money not yet matched to it"
        if _detailed(result)
        else "for some invoices shown, the customer's account holds money not yet matched"
    )
    return f" But {whose}: {facts['settled_by']} (check before chasing)."


def _headline(result: SkillResult[Any]) -> str:
    return _headline_of(result) + (
        _settled_by(result)
        if result.skill in ("erp_invoice_lookup", "erp_overdue_invoices")
        else ""
    )


def _headline_of(result: SkillResult[Any]) -> str:
    facts = _facts(result)
    rows = [_row(result, i) for i in range(len(result.rows))]
    first = rows[0] if rows else {}
    skill = result.skill
    count = fmt(result.total_rows, "int")
    if skill in ("erp_query", "erp_compare"):
        # The query (and a comparison of two plans) states its own reading first.
        return str(facts["reading"])
    if skill == "erp_find_customer":
        if _detailed(result):
            r = first
            blocked = "; the account is blocked" if r["blocked"] == "yes" else ""
            return (
                f"{r['name']} (customer {r['id']}): contact {r['contact']}, {r['email']}, "
                f"{r['phone']}; "
                f"{r['address']}, {r['region']}, {r['country']}; VAT ID {r['vat_id']}. Payment "
                "terms "
                f"{r['payment_terms_days']} days, credit limit {r['credit_limit']}, discount "
                f"{r['discount_pct']}%{blocked}."
            )
        return f"{_s(count, 'customer')} match:"
    if skill == "erp_customer_balance" and result.focus == "list":
        if not rows:
            return f"No customer owes anything (as of {result.as_of})."
        ranked_by = str(facts["ranked_by"])
        basis = (
            " (open invoices less unapplied payments and credit notes)"
            if ranked_by == "net balance"
            else ""
        )
        # "Who owes us the most": the answer is the first one, so the headline names it.
        top = first[ranked_by.replace(" ", "_")]
        return (
            f"{first['name']} (customer {first['id']}) owes the most: {ranked_by} {top}. "
            f"{_s(count, 'customer')} owe money, {facts['total']} in total {ranked_by}"
            f"{basis}, as of {result.as_of}:"
        )
    if skill == "erp_customer_balance":
        r = first
        over = " That is over the credit limit." if facts.get("over_limit") == "yes" else ""
        oldest = f" (oldest due {r['oldest_due_date']})" if r["oldest_due_date"] != "–" else ""
        return (
            f"{r['name']} (customer {r['id']}) owes {r['outstanding']} on "
            f"{_s(r['open_invoices'], 'open invoice')}; "
            f"{r['overdue_amount']} of it is on "
            f"{_s(r['overdue_invoices'], 'overdue invoice')}{oldest}, "
            f"as of {result.as_of}. Credit limit {r['credit_limit']}, {r['credit_available']} "
            f"left.{over}{_credits_line(r, facts)}"
        )
    if skill == "erp_invoice_lookup":
        if _detailed(result):
            r = first
            order = f", order {r['order']}" if r["order"] != "–" else ""
            paid_by = f" Payments: {facts['payments']}." if "payments" in facts else ""
            return (
                f"Invoice {r['id']} to {r['customer']} (customer {r['customer_number']}{order}): "
                "issued "
                f"{r['issue_date']}, due {r['due_date']}; total {r['total']}, paid {r['paid']}, "
                "outstanding "
                f"{r['outstanding']}, {_invoice_phrase(r)} (as of {result.as_of}).{paid_by}"
            )
        if not rows:
            return f"No invoices match{_period(facts)}."
        return (
            f"{_s(count, 'invoice')}{_period(facts)}: invoiced {facts['total']}, "
            f"outstanding {facts['outstanding']} (as of {result.as_of})."
        )
    if skill == "erp_overdue_invoices":
        days = facts["min_days_overdue"]
        at_least = "" if days == "1" else f" at least {days} days"
        if not rows:
            return f"No invoices are{at_least} overdue as of {result.as_of}."
        return (
            f"{_s(count, 'invoice')}{at_least} overdue as of {result.as_of}, "
            f"from {_s(facts['customers'], 'customer')}: {facts['outstanding']} outstanding."
        )
    if skill == "erp_payment_history":
        if not rows:
            return f"No payments match{_period(facts)}."
        text = f"{_s(count, 'payment')}{_period(facts)}, {facts['total']} in total."
        if "latest" in facts:
            text += f" The latest: {facts['latest']}."
        if "avg_days_to_pay" in facts:
            text += (
                f" On average paid {facts['avg_days_to_pay']} days after the invoice date "
                f"({facts['avg_days_late']} days relative to the due date)."
            )
        return text
    if skill == "erp_find_product":
        if _detailed(result):
            r = first
            inactive = (
                " (inactive: no longer in the range)" if r.get("status") == "inactive" else ""
            )
            return (
                f"{r['id']} {r['name']}{inactive} ({r['category']}): price {r['unit_price']}, cost "
                f"{r['cost']}, "
                f"margin {r['margin_pct']}; {r['on_hand']} on hand, {r['available']} available; "
                f"supplier {r['supplier']}"
                + (f" (lead time {r['lead_time']})." if r.get("lead_time") else ".")
            )
        return f"{_s(count, 'product')} match:"
    if skill == "erp_stock_level":
        if not rows:
            return "No stock records match."
        name = (
            f"{first['sku']} {first['name']}"
            if len({r["sku"] for r in rows}) == 1
            else "These products"
        )
        return (
            f"{name}: {facts['on_hand']} on hand, {facts['reserved']} reserved, "
            f"{facts['available']} "
            f"available; {facts['on_order']} on order from suppliers (as of {result.as_of})."
        )
    if skill == "erp_reorder_candidates":
        if result.title == "Out of stock":
            if not rows:
                return f"Nothing is out of stock as of {result.as_of}."
            return f"{_s(count, 'item')} with nothing available as of {result.as_of}:"
        if result.title == "Below reorder point":
            trigger = facts.get("available_at_or_below")
            also = (
                f" ({trigger} with available stock, on hand less reserved, at or below it)"
                if trigger is not None
                else ""
            )
            if not rows:
                return (
                    "Nothing has its stock on hand strictly below its reorder point in any "
                    f"warehouse as of {result.as_of}{also}."
                )
            return (
                f"{_s(count, 'item')} with stock on hand strictly below the reorder point, per "
                f"warehouse, as of {result.as_of}{also}:"
            )
        strict = facts.get("on_hand_below")
        other = (
            f" (compared by stock on hand, {strict} strictly below it)"
            if strict is not None
            else ""
        )
        if not rows:
            return (
                "Nothing has its available stock (on hand less reserved) at or below its "
                f"reorder point in any warehouse as of {result.as_of}{other}."
            )
        return (
            f"{_s(count, 'item')} with available stock (on hand less reserved) at or below "
            f"the reorder point, per warehouse, as of {result.as_of}{other}:"
        )
    if skill == "erp_stock_movements":
        if not rows:
            return f"No stock movements{_period(facts)}."
        return (
            f"{_s(count, 'stock movement')}{_period(facts)}: {facts['in']} in, {facts['out']} out, "
            f"net {facts['net']}."
        )
    if skill == "erp_order_status":
        text = (
            f"Sales order {facts['order']} from {facts['customer']} (customer "
            f"{facts['customer_number']}), "
            f"ordered {facts['order_date']}: status {facts['status']}, total {facts['total']}."
        )
        if facts.get("customer_reference", "–") != "–":
            text += f" Customer reference {facts['customer_reference']}."
        if "shipment" in facts:
            delivered = (
                f", delivered {facts['delivered_on']}"
                if facts["delivered_on"] != "–"
                # "where's order 4907 at": the shipment's own status and when it is due.
                else f", not yet delivered (shipment status {facts['shipment_status']}, "
                f"expected {facts['expected_delivery']})"
            )
            text += (
                f" Shipped {facts['shipped_on']} with {facts['carrier']} ({facts['shipment']}, "
                "tracking "
                f"{facts['tracking_number']}){delivered}."
            )
        if "invoice" in facts:
            text += (
                f" Invoice {facts['invoice']}: {facts['invoice_status']}, "
                f"{facts['invoice_outstanding']} "
                "outstanding."
            )
        return text + " Lines:"
    if skill == "erp_customer_orders":
        if not rows:
            return f"No sales orders match{_period(facts)}."
        holds = (
            f" The one shown, {rows[0]['id']}, holds {facts['contents']}."
            if "contents" in facts
            else ""
        )
        cancelled = facts.get("cancelled", "0")
        if cancelled != "0" and result.rows and any(r.status != "cancelled" for r in result.rows):
            return (
                f"{_s(count, 'sales order')}{_period(facts)}, worth {facts['total']} "
                f"({cancelled} cancelled; without them "
                f"{_s(facts['not_cancelled'], 'order')}, worth {facts['not_cancelled_total']})"
                f":{holds}"
            )
        return f"{_s(count, 'sales order')}{_period(facts)}, worth {facts['total']}:{holds}"
    if skill == "erp_sales_summary":
        share = (
            f" That is {facts['share_pct']} of all sales in the period ({facts['all_revenue']})."
            if "all_revenue" in facts
            else ""
        )
        return (
            f"Sales{_period(facts)}: revenue {facts['revenue']} from "
            f"{_s(facts['orders'], 'order')} "
            f"({facts['units']} units), average order value {facts['average_order_value']}."
            f"{share}"
        )
    if skill == "erp_top_customers":
        return (
            f"Top {len(rows)} customers by revenue{_period(facts)}: {facts['top_revenue']} "
            "together, "
            f"{facts['top_share_pct']} of all revenue ({facts['revenue']})."
        )
    if skill == "erp_top_products":
        return f"Top {len(rows)} products by {facts['ranked_by']}{_period(facts)}:"
    if skill == "erp_supplier_lead_times":
        if _detailed(result):
            r = first
            return (
                f"{r['name']} ({r['id']}) quotes {r['quoted_days']} days; actual average "
                f"{r['avg_actual_days']} "
                f"days over {r['received_pos']} received POs, {r['late_pos']} of them late "
                f"({r['on_time_pct']} on time)."
                + (f" Contact: {r['email']}, phone {r['phone']}." if r.get("email") else "")
            )
        chosen = f" {facts['filters']}" if "filters" in facts else ""
        averages = ""
        if "avg_quoted_days" in facts:
            averages = f"; on average {facts['avg_quoted_days']} days quoted"
            if "avg_actual_days" in facts:
                averages += f", {facts['avg_actual_days']} days actual (received POs)"
        order = facts.get("ordered_by", "fastest actual average first")
        return f"Lead times of {_s(count, 'supplier')}{chosen}{averages}, {order}:"
    if skill == "erp_purchase_orders":
        if _detailed(result):
            r = first
            received = f", received {r['received_date']}" if r["received_date"] != "–" else ""
            late = f", {r['days_late']} days late" if r["days_late"] != "–" else ""
            lines = "; ".join(v for k, v in facts.items() if k.startswith("line_"))
            return (
                f"{r['id']} to {r['supplier']} for {r['warehouse']}: ordered {r['order_date']}, "
                "expected "
                f"{r['expected_date']}, status {r['status']}{received}{late}; total {r['total']}."
                + (f" Lines: {lines}." if lines else "")
            )
        if not rows:
            return f"No purchase orders match{_period(facts)}."
        return f"{_s(count, 'purchase order')}{_period(facts)}, worth {facts['total']}:"
    if skill == "erp_price_list":
        who = (
            f" for {facts['customer']} ({facts['discount_pct']}% discount)"
            if "customer" in facts
            else ""
        )
        if _detailed(result):
            r = first
            net = f"; their price {r['customer_price']}" if r["customer_price"] != "–" else ""
            return (
                f"{r['id']} {r['name']}{who}: list price {r['list_price']}, cost {r['cost']}, "
                f"margin {r['margin']} ({r['margin_pct']}){net}."
            )
        if not rows:
            return "No products match."
        return f"{_s(count, 'product')}{who}:"
    if skill == "erp_shipment_status":
        if _detailed(result):
            r = first
            state = f"delivered {r['delivered_on']}" if r["delivered_on"] != "–" else "in transit"
            late = f", {r['days_late']} days late" if r["days_late"] != "–" else ", on time"
            return (
                f"Shipment {r['id']} for order {r['order']} ({r['customer']}): {r['carrier']} "
                f"{r['service']}, "
                f"tracking {r['tracking_number']}, shipped {r['shipped_on']}, expected "
                f"{r['expected_delivery']}, "
                f"{state}{late}; shipping cost {r['cost']}."
            )
        # The period dates the shipping unless the request dated the delivery.
        dated = " delivered" if facts.get("dated_by") else ""
        if not rows:
            return f"No shipments match{dated}{_period(facts)} (as of {result.as_of})."
        return (
            f"{_s(count, 'shipment')}{dated}{_period(facts)}, {facts['late']} late, shipping cost "
            f"{facts['cost']} (as of {result.as_of}):"
        )
    if skill == "erp_returns":
        if _detailed(result):
            r = first
            received = f", received {r['received_on']}" if r["received_on"] != "–" else ""
            credit = (
                f"; credit note {r['credit_note']} for {r['credit_amount']}"
                if r["credit_note"] != "–"
                else ""
            )
            return (
                f"Return {r['id']} from {r['customer']} (order {r['order']}): {r['quantity']} x "
                f"{r['sku']}, "
                f"reason {r['reason'].replace('_', ' ')}, requested {r['requested_on']}, status "
                f"{r['status']}{received}{credit}."
            )
        if not rows:
            return f"No returns match{_period(facts)}."
        units, credited = facts["units"], facts["credited"]
        return f"{_s(count, 'return')}{_period(facts)}, {units} units, credited {credited}:"
    return f"{result.title}: {_s(count, 'row')}."


SINGLE_ROW_SKILLS = frozenset({"erp_customer_balance"})


def _names(headline: str, item: AppliedFilter) -> bool:
    """Whether ``headline`` already says ``item``: its name or its number, as whole words."""
    name, _, code = item.value.partition(" (")
    return any(
        re.search(rf"(?<!\w){re.escape(said)}(?!\w)", headline, re.IGNORECASE)
        for said in (name, code.removesuffix(")"))
        if said
    )


def with_filters(result: SkillResult[Any], headline: str) -> str:
    """Put the filters ``result`` applied before ``headline``, unless it names them already.

    A figure for one customer or one status must never read as the business's own:
    "For customer Nordwind GmbH (20001): Sales from 2025-04-01 to 2025-04-30: …".
    """
    unsaid = [item for item in result.filters if not _names(headline, item)]
    if not unsaid:
        return headline
    return f"For {', '.join(item.describe() for item in unsaid)}: {headline}"


def render_text(result: SkillResult[Any]) -> str:
    """Write the answer for ``result``: a headline from its facts, its rows, and the ids cited.

    The first line names every filter the result applied (``with_filters``).
    """
    lines = [with_filters(result, _headline(result))]
    detailed = _detailed(result) and result.skill not in ("erp_order_status", "erp_stock_level")
    single = result.skill in SINGLE_ROW_SKILLS and result.focus == "record"
    if result.rows and not detailed and not single:
        lines += [_line(result, i) for i in range(len(result.rows))]
        if result.total_rows > len(result.rows):
            lines.append(f"(Showing {len(result.rows)} of {result.total_rows}.)")
    if result.has_fact("readings"):
        lines.append(str(result.fact("readings")))  # how each figure of a comparison was read
    if result.rows:
        lines.append("Sources: " + ", ".join(result.row_ids))
    return "\n".join(lines)


def render_tool_text(result: SkillResult[Any]) -> str:
    """Write the tool message a model reads: the answer plus every returned row as JSON lines."""
    import json

    payload = result.payload()
    rows = "\n".join(json.dumps(row, ensure_ascii=False) for row in payload["rows"])
    facts = json.dumps({f["key"]: f["value"] for f in payload["facts"]}, ensure_ascii=False)
    return (
        f"{render_text(result)}\n\nas_of: {payload['as_of']}\nfacts: {facts}\n"
        f"rows ({payload['row_count']} of {payload['total_rows']}):\n{rows}"
    )


_WIDE = 5
"""More fields than this in a one-record result are drawn one per line."""


def render_table(payload: ErpPayload) -> Table:
    """Draw a result payload as a Rich table (money right-aligned; facts in the caption)."""
    table = Table(title=payload["title"], title_justify="left", show_lines=False)
    # A column no row fills (a product name beside months, a list's unused fields) is noise.
    columns = [
        column
        for column in payload["columns"]
        if column["key"] == "id"
        or any(row.get(column["key"]) is not None for row in payload["rows"])
    ]
    if len(payload["rows"]) == 1 and len(columns) > _WIDE:
        # One record with many fields (a balance, a shipment): a column per field folds
        # each heading and value into slivers on a terminal; a field per line reads.
        table.add_column("Field")
        table.add_column("Value", overflow="fold")
        row = payload["rows"][0]
        for column in columns:
            table.add_row(column["label"], fmt(row.get(column["key"]), column["kind"]))
    else:
        for column in columns:
            numeric = column["kind"] in ("money", "pct", "days", "int", "qty")
            table.add_column(
                column["label"], justify="right" if numeric else "left", overflow="fold"
            )
        for row in payload["rows"]:
            table.add_row(*(fmt(row.get(c["key"]), c["kind"]) for c in columns))
    facts = [f"{f['label']}: {fmt(f['value'], f['kind'])}" for f in payload["facts"]]
    caption = [f"as of {payload['as_of']}"]
    if payload["total_rows"] > payload["row_count"]:
        caption.append(f"showing {payload['row_count']} of {payload['total_rows']}")
    table.caption = " · ".join(facts + caption)
    return table


def _write_panel(outcome: Mapping[str, Any]) -> RenderableType:
    change = outcome.get("change") or {}
    table = Table(
        title=f"{outcome.get('status', '')}: {change.get('action', outcome.get('action', ''))}",
        title_justify="left",
    )
    table.add_column("Field")
    table.add_column("Before")
    table.add_column("After")
    before = change.get("before") or {}
    after = change.get("after") or {}
    for key in list(dict.fromkeys([*before, *after])):
        table.add_row(key, str(before.get(key, "–")), str(after.get(key, "–")))
    return Group(Text(str(outcome.get("message", ""))), table)


def render_erp_answer(message: BaseMessage) -> RenderableType:
    """Return a Rich renderable for an ERP answer: its text and a table of its rows.

    Works on fast-path ``AIMessage``s (``additional_kwargs["erp"]``) and on write outcomes
    (``additional_kwargs["erp_write"]``); any other message renders as its text.
    """
    text = Text(message.text)
    payload = message.additional_kwargs.get(PAYLOAD_KEY)
    if isinstance(payload, dict) and payload.get("columns"):
        headline = text.plain.split("\n", 1)[0]
        if not payload.get("rows"):
            return Text(headline)  # an empty table adds nothing to "No invoices match"
        return Group(Text(headline), render_table(payload))  # type: ignore[arg-type]
    outcome = message.additional_kwargs.get(WRITE_KEY)
    if isinstance(outcome, dict):
        return _write_panel(outcome)
    return text
