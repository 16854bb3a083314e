"""ERP answers say what they filtered on and never mislead: checked against plain SQL."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select, text

from nova.erp import models as m
from nova.erp.db import ErpDatabase, business_date
from nova.erp.followup import plan_followup
from nova.erp.intents import Plan
from nova.erp.render import render_table, render_text
from nova.erp.resolve import NameIndex
from nova.erp.results import SkillResult, percent
from nova.erp.skills import READ_SKILLS, NotFound
from nova.erp.skills.common import closest_names

pytest_plugins = ("tests.erp_fixtures",)


def run(database: ErpDatabase, name: str, **args: object) -> SkillResult[Any]:
    skill = READ_SKILLS[name]
    with database.read_session() as session:
        return skill.run(session, skill.args.model_validate(args))


def first_line(result: SkillResult[Any]) -> str:
    return render_text(result).split("\n", 1)[0]


def _busiest_month_customer(database: ErpDatabase) -> tuple[m.Customer, date, date]:
    """A customer with sales in a month in which others bought too (so its share is < 100%)."""
    with database.read_session() as session:
        month = func.strftime("%Y-%m", m.SalesOrder.order_date)
        busiest = session.execute(
            select(month, func.count(func.distinct(m.SalesOrder.customer_id)))
            .where(m.SalesOrder.status != "cancelled")
            .group_by(month)
            .order_by(func.count(func.distinct(m.SalesOrder.customer_id)).desc())
        ).first()
        assert busiest is not None and busiest[1] > 1
        year, number = map(int, busiest[0].split("-"))
        start = date(year, number, 1)
        end = date(year + number // 12, number % 12 + 1, 1).replace(day=1)
        end = date.fromordinal(end.toordinal() - 1)
        customer = session.scalars(
            select(m.Customer)
            .join(m.SalesOrder, m.SalesOrder.customer_id == m.Customer.id)
            .where(
                m.SalesOrder.status != "cancelled",
                m.SalesOrder.order_date.between(start, end),
            )
            .order_by(m.Customer.number)
        ).first()
        assert customer is not None
        session.expunge(customer)
        return customer, start, end


def _revenue(database: ErpDatabase, start: date, end: date, customer_id: int | None) -> int:
    with database.read_session() as session:
        stmt = (
            select(func.coalesce(func.sum(m.SalesOrderLine.line_total_cents), 0))
            .join(m.SalesOrder, m.SalesOrderLine.order_id == m.SalesOrder.id)
            .where(m.SalesOrder.status != "cancelled", m.SalesOrder.order_date.between(start, end))
        )
        if customer_id is not None:
            stmt = stmt.where(m.SalesOrder.customer_id == customer_id)
        return int(session.scalar(stmt) or 0)


def _customer_month_sales(
    erp_db: ErpDatabase,
) -> tuple[m.Customer, date, date, SkillResult[Any]]:
    """The sales summary of the busiest customer's busiest month, filtered to that customer."""
    customer, start, end = _busiest_month_customer(erp_db)
    result = run(
        erp_db,
        "erp_sales_summary",
        date_from=start.isoformat(),
        date_to=end.isoformat(),
        group_by="none",
        customer=customer.number,
    )
    return customer, start, end, result


def test_a_customer_filter_is_named_in_the_first_line(erp_db: ErpDatabase) -> None:
    customer, _start, _end, result = _customer_month_sales(erp_db)
    line = first_line(result)
    assert customer.name in line and customer.number in line, line
    assert [(f.kind, f.value) for f in result.filters] == [
        ("customer", f"{customer.name} ({customer.number})")
    ]


def test_filtered_sales_shares_are_of_all_sales_in_the_period(erp_db: ErpDatabase) -> None:
    customer, start, end, result = _customer_month_sales(erp_db)
    own = _revenue(erp_db, start, end, customer.id)
    everyone = _revenue(erp_db, start, end, None)
    assert own < everyone
    (row,) = result.rows
    assert row.share_pct == percent(own, everyone) < Decimal(100)
    assert result.fact("all_revenue") == Decimal(everyone) / 100


def test_an_unfiltered_answer_names_no_filter(erp_db: ErpDatabase) -> None:
    result = run(erp_db, "erp_overdue_invoices")
    assert result.filters == [] and not first_line(result).startswith("For ")


def test_an_empty_answer_for_a_customer_says_whose_it_is(erp_db: ErpDatabase) -> None:
    with erp_db.read_session() as session:
        today = business_date(session)
        overdue = select(m.Invoice.customer_id).where(
            m.Invoice.status == "open",
            m.Invoice.total_cents > m.Invoice.paid_cents,
            m.Invoice.due_date < today,
        )
        customer = session.scalars(
            select(m.Customer).where(m.Customer.id.not_in(overdue)).order_by(m.Customer.number)
        ).first()
        assert customer is not None
        name, number = customer.name, customer.number
    result = run(erp_db, "erp_overdue_invoices", customer=number)
    assert result.rows == []
    line = first_line(result)
    assert line.startswith(f"For customer {name} ({number}): No invoices are overdue"), line


def test_a_status_filter_is_named_too(erp_db: ErpDatabase) -> None:
    result = run(erp_db, "erp_invoice_lookup", status="paid", limit=3)
    assert first_line(result).startswith("For status paid: ")


def test_a_name_that_matches_nothing_is_reported_not_answered(erp_db: ErpDatabase) -> None:
    with pytest.raises(NotFound, match="No customer matches 'Zzyzx Qwerty'"):
        run(erp_db, "erp_overdue_invoices", customer="Zzyzx Qwerty")


def test_an_unknown_name_offers_the_closest_names_only_when_close() -> None:
    index = NameIndex([(1, "20001", "Nordwind GmbH"), (2, "20002", "Baker & Sons Ltd")])
    assert index.lookup("Nordwand Handel") == []
    assert closest_names(index, "Nordwand Handel") == " The closest are: Nordwind GmbH (20001)."
    assert closest_names(index, "Zzyzx Qwerty") == ""


def _open_invoice_with_unapplied_payment(database: ErpDatabase) -> tuple[str, str]:
    """Put an unapplied payment of exactly an open invoice's outstanding amount on its account."""
    with database.write_session() as session:
        invoice = session.scalars(
            select(m.Invoice)
            .where(m.Invoice.status == "open", m.Invoice.total_cents > m.Invoice.paid_cents)
            .order_by(m.Invoice.number)
        ).first()
        assert invoice is not None
        payment = m.Payment(
            number="PAY-2099-00001",
            customer_id=invoice.customer_id,
            invoice_id=None,
            paid_on=invoice.issue_date,
            amount_cents=invoice.total_cents - invoice.paid_cents,
            method="bank_transfer",
            reference="no invoice number given",
        )
        session.add(payment)
        return invoice.number, payment.number


def test_an_invoice_lookup_names_an_unapplied_payment_that_could_settle_it(
    erp_db: ErpDatabase,
) -> None:
    invoice, payment = _open_invoice_with_unapplied_payment(erp_db)
    line = first_line(run(erp_db, "erp_invoice_lookup", invoice_number=invoice))
    assert f"unapplied payment {payment}" in line and f"settles {invoice}" in line, line


def test_an_open_invoice_list_names_the_unapplied_payment_too(erp_db: ErpDatabase) -> None:
    invoice, payment = _open_invoice_with_unapplied_payment(erp_db)
    with erp_db.read_session() as session:
        customer = session.scalar(
            select(m.Customer.number)
            .join(m.Invoice, m.Invoice.customer_id == m.Customer.id)
            .where(m.Invoice.number == invoice)
        )
    result = run(erp_db, "erp_invoice_lookup", customer=customer, status="open", limit=200)
    assert invoice in result.row_ids
    assert f"{payment}" in first_line(result)


def test_an_invoice_without_money_on_account_says_nothing_of_it(erp_db: ErpDatabase) -> None:
    with erp_db.read_session() as session:
        unapplied = select(m.Payment.customer_id).where(m.Payment.invoice_id.is_(None))
        noted = select(m.CreditNote.customer_id)
        invoice = session.scalar(
            select(m.Invoice.number)
            .where(
                m.Invoice.status == "open",
                m.Invoice.customer_id.not_in(unapplied),
                m.Invoice.customer_id.not_in(noted),
            )
            .order_by(m.Invoice.number)
        )
    assert invoice is not None
    assert "not yet matched" not in render_text(
        run(erp_db, "erp_invoice_lookup", invoice_number=invoice)
    )


def test_a_follow_up_about_the_record_shown_never_lists_everything(erp_db: ErpDatabase) -> None:
    with erp_db.read_session() as session:
        invoice = session.scalar(select(m.Invoice.number).order_by(m.Invoice.number))
        assert invoice is not None
        decision = plan_followup(
            [f"Show me invoice {invoice}", "who is the customer?"], session, READ_SKILLS
        )
    if isinstance(decision, Plan):
        assert decision.skill == "erp_invoice_lookup", decision
        assert getattr(decision.args, "invoice_number", None) == invoice


def test_a_follow_up_naming_its_own_record_is_still_answered_alone(erp_db: ErpDatabase) -> None:
    with erp_db.read_session() as session:
        first, second = session.scalars(
            select(m.Invoice.number).order_by(m.Invoice.number).limit(2)
        ).all()
        decision = plan_followup(
            [f"Show me invoice {first}", f"what about {second}?"], session, READ_SKILLS
        )
    assert isinstance(decision, Plan)
    assert getattr(decision.args, "invoice_number", None) == second


def test_per_product_figures_name_each_product(erp_db: ErpDatabase) -> None:
    result = run(erp_db, "erp_query", subject="stock", measure="on_hand", group_by="product")
    with erp_db.read_session() as session:
        names = {sku: name for sku, name in session.execute(select(m.Product.sku, m.Product.name))}
    assert result.rows
    assert all(row.name == names[row.id] for row in result.rows)
    assert result.rows[0].name in render_text(result)


def test_a_table_leaves_out_columns_no_row_fills(erp_db: ErpDatabase) -> None:
    result = run(erp_db, "erp_query", subject="stock", measure="on_hand", group_by="warehouse")
    assert all(row.name is None for row in result.rows)
    headers = [str(column.header) for column in render_table(result.payload()).columns]
    assert "Name" not in headers and "Group" in headers


def test_one_record_with_many_fields_is_drawn_a_field_per_line(erp_db: ErpDatabase) -> None:
    with erp_db.read_session() as session:
        number = session.scalars(select(m.Customer.number).order_by(m.Customer.number)).first()
    result = run(erp_db, "erp_customer_balance", customer=number)
    assert len(result.rows) == 1
    table = render_table(result.payload())
    assert [str(column.header) for column in table.columns] == ["Field", "Value"]
    assert table.row_count > 5  # one line per field, not a column each
    # Several records keep a column per field.
    many = run(erp_db, "erp_query", subject="stock", measure="on_hand", group_by="warehouse")
    assert "Field" not in [str(c.header) for c in render_table(many.payload()).columns]


def test_one_products_units_are_its_stock_level_not_a_sum(full_erp: ErpDatabase) -> None:
    from nova.erp.intents import plan_request

    with full_erp.read_session() as session:
        sku = session.scalars(select(m.Product.sku).order_by(m.Product.sku)).first()
        one = plan_request(f"{sku} in ulm", session, READ_SKILLS)
        assert isinstance(one, Plan), one
        assert (one.skill, one.args.model_dump()["product"]) == ("erp_stock_level", sku)
        assert one.args.model_dump()["warehouse"] == "ULM"
        stated = render_text(READ_SKILLS[one.skill].run(session, one.args))
        assert "reserved" in stated and "available" in stated  # not one summed figure
        # Units of a whole category are not read as one product's.
        category = session.scalars(select(m.Product.category)).first()
        whole = plan_request(f"units of {category} in ulm", session, READ_SKILLS)
        assert not isinstance(whole, Plan) or whole.args.model_dump().get("product") is None


def test_customers_listed_for_owing_show_what_each_owes(full_erp: ErpDatabase) -> None:
    # "customers that still owe money" without the amounts would hide the answer: each row
    # carries the net balance the condition selected it by (checked here in plain SQL).
    result = run(
        full_erp, "erp_query", subject="customers", customer_condition="owing", list_rows=True
    )
    assert result.rows
    with full_erp.read_session() as session:
        for row in result.rows[:10]:
            net = session.execute(
                text(
                    "SELECT (SELECT COALESCE(SUM(total_cents - paid_cents), 0) FROM invoices"
                    "        WHERE customer_id = c.id AND status = 'open')"
                    " - (SELECT COALESCE(SUM(amount_cents), 0) FROM payments"
                    "    WHERE customer_id = c.id AND invoice_id IS NULL)"
                    " - (SELECT COALESCE(SUM(amount_cents), 0) FROM credit_notes"
                    "    WHERE customer_id = c.id AND invoice_id IN"
                    "      (SELECT id FROM invoices WHERE status = 'open'))"
                    " FROM customers c WHERE c.number = :number"
                ),
                {"number": row.id},
            ).scalar_one()
            assert row.amount == Decimal(net) / 100
    assert "owing €" in render_text(result)


def test_a_rolling_window_grouped_by_month_counts_whole_months(full_erp: ErpDatabase) -> None:
    # "orders per month, last 6 months" (2024-12-31 .. 2025-06-30 when today is 30 June):
    # six calendar groups, not a one-day December stub and six more.
    with full_erp.read_session() as session:
        today = business_date(session)
    start = today - relativedelta(months=6) + timedelta(days=1)
    result = run(
        full_erp, "erp_query", subject="orders", measure="count", group_by="month",
        date_from=start.isoformat(), date_to=today.isoformat(),
    )  # fmt: skip
    assert len(result.rows) == 6
    assert "whole months" in render_text(result)
    # A window that starts mid-month on purpose is kept as asked.
    since = run(
        full_erp, "erp_query", subject="orders", measure="count", group_by="month",
        date_from=today.replace(month=3, day=15).isoformat(), date_to=today.isoformat(),
    )  # fmt: skip
    assert "whole months" not in render_text(since)


def test_owing_customers_state_the_open_invoice_reading_too(full_erp: ErpDatabase) -> None:
    # "owe" is the net balance or the open invoices: the list is the first, the headline
    # also gives the second (checked in plain SQL), so either reading finds its figures.
    result = run(
        full_erp, "erp_query", subject="customers", customer_condition="owing",
        country="CH", list_rows=True,
    )  # fmt: skip
    with full_erp.read_session() as session:
        customers, cents = session.execute(
            text(
                "SELECT COUNT(DISTINCT c.id), SUM(i.total_cents - i.paid_cents) FROM customers c"
                " JOIN invoices i ON i.customer_id = c.id AND i.status = 'open'"
                " WHERE c.country = 'CH'"
            )
        ).one()
    headline = render_text(result).splitlines()[0]
    assert "on open invoices alone" in headline
    assert f"{customers} customers, €{Decimal(cents) / 100:,.2f}" in render_text(result)


def test_one_order_shown_lists_what_it_holds(full_erp: ErpDatabase) -> None:
    with full_erp.read_session() as session:
        number = session.scalars(select(m.Customer.number).order_by(m.Customer.id)).first()
    result = run(full_erp, "erp_customer_orders", customer=number, limit=1)
    shown = result.rows[0].id
    with full_erp.read_session() as session:
        skus = session.scalars(
            select(m.Product.sku)
            .join(m.SalesOrderLine, m.SalesOrderLine.product_id == m.Product.id)
            .join(m.SalesOrder, m.SalesOrder.id == m.SalesOrderLine.order_id)
            .where(m.SalesOrder.number == shown)
        ).all()
    headline = render_text(result).split("\n", 1)[0]
    assert skus and all(sku in headline for sku in skus)


def test_one_invoice_states_the_payments_booked_against_it(erp_db: ErpDatabase) -> None:
    with erp_db.read_session() as session:
        number, paid_on, cents = session.execute(
            select(m.Invoice.number, m.Payment.paid_on, m.Payment.amount_cents)
            .join(m.Payment, m.Payment.invoice_id == m.Invoice.id)
            .order_by(m.Invoice.number)
        ).first()
    result = run(erp_db, "erp_invoice_lookup", invoice_number=number)
    headline = render_text(result).splitlines()[0]
    # "when was it paid": the date and amount of each payment, not only the paid total.
    assert f"on {paid_on.isoformat()}, €{cents / 100:,.2f}" in headline
