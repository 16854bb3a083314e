"""Requests fill pipeline and skill parameters: typed values without a model, the rest with one.

Expected values come from the request's words and from plain SQL on the seeded ERP (its
business date is ``erp_meta.as_of``, 2025-06-30), never from the skills under test.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from graphs.pipeline import PipelineRunner, shipped_pipelines
from nodes.pipeline_params import PARAMS_APPROVAL_KIND, confirm_params
from nodes.request_params import (
    Extraction,
    ParamField,
    Stated,
    extract_params,
    fields_from_pipeline,
    fields_from_schema,
    model_params,
    place,
    split_period_values,
)
from nova.pipelines.templates import before, range_label
from nova.state import NovaContext
from nova.testing import ScriptedChatModel, ScriptedModels, calls, tool_call
from tests.erp_fixtures import erp_db, erp_url, small_erp_file  # noqa: F401 - fixtures

AS_OF = date(2025, 6, 30)


def _sql(url: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
    """Run plain SQL on the test's SQLite ERP (the oracle: no Nova code involved)."""
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        return connection.execute(query, args).fetchall()


def _overdue_customers(url: str, *, more_than: int) -> set[str]:
    """Customers with an open invoice more than ``more_than`` days past due on the ERP's date."""
    rows = _sql(
        url,
        "SELECT DISTINCT c.number FROM invoices i JOIN customers c ON c.id = i.customer_id "
        "WHERE i.status = 'open' AND i.total_cents - i.paid_cents > 0 "
        "AND julianday((SELECT value FROM erp_meta WHERE key = 'as_of')) "
        "- julianday(i.due_date) > ?",
        more_than,
    )
    return {row[0] for row in rows}


def _drafted(text: str) -> set[str]:
    """Customer numbers of the reminder letters in a pipeline answer."""
    return set(re.findall(r"customer no\. (\d+)\)", text))


def _runner(models: ScriptedModels | None = None) -> PipelineRunner:
    return PipelineRunner(model_factory=models or ScriptedModels(), checkpointer=InMemorySaver())


@pytest.fixture
def as_of(erp_url: str) -> Iterator[date]:  # noqa: F811 - the fixture
    """The seeded ERP's business date (checked, so date expectations below hold)."""
    [(value,)] = _sql(erp_url, "SELECT value FROM erp_meta WHERE key = 'as_of'")
    assert date.fromisoformat(value) == AS_OF
    yield AS_OF


# --- through the supervisor graph ---------------------------------------------------------


def test_more_than_30_days_overdue_drafts_exactly_those_customers_via_the_supervisor(
    erp_url: str,  # noqa: F811 - the fixture
    as_of: date,
) -> None:
    from graphs.nova import build_nova_graph

    expected = _overdue_customers(erp_url, more_than=30)
    # The default (14 days) would draft more letters: the test tells the two apart.
    assert expected and expected < _overdue_customers(erp_url, more_than=14)
    # A model is configured for the pipeline's agent; it finds nothing else to fill.
    reader = ScriptedChatModel.repeating(calls(tool_call("FillParameters", assignments=[])))
    graph = build_nova_graph(model_factory=ScriptedModels({"invoice_reminders": reader})).compile(
        checkpointer=InMemorySaver()
    )
    result = graph.invoke(
        {
            "messages": [
                HumanMessage("Send payment reminders for customers more than 30 days overdue")
            ]
        },
        {"configurable": {"thread_id": "remind-30"}},
        context=NovaContext(project="parts-shop"),
    )
    assert result["route"]["agent"] == "invoice_reminders"
    answer = result["messages"][-1]
    assert isinstance(answer, AIMessage)
    run = answer.additional_kwargs["nova_pipeline"]
    assert run["status"] in ("completed", "completed_with_skips"), run["text"]
    assert run["params"]["min_days_overdue"] == 30
    assert run["param_sources"]["min_days_overdue"] == "request"
    assert run["param_sources"]["send"] == "default" and run["params"]["send"] is False
    assert _drafted(answer.content) == expected
    assert "min_days_overdue=30 (request)" in answer.content
    # The model saw the request and was offered only the parameters a scan cannot type.
    [prompt, *_] = reader.received
    assert "more than 30 days overdue" in prompt[-1].content
    assert (
        "- send (boolean" in prompt[-1].content and "- min_days_overdue" not in prompt[-1].content
    )


# --- typed values, no model -----------------------------------------------------------------


def test_last_week_is_the_week_before_the_erps_business_date(as_of: date) -> None:
    runner = _runner()
    run = runner.run(
        "weekly_sales_report", request="Weekly sales report for last week", thread_id="w-last"
    )
    result = run.result
    assert result["status"] == "completed", result["text"]
    assert result["params"]["week"] == {
        "start": "2025-06-23",
        "end": "2025-06-29",
        "label": "week 26/2025 (2025-06-23 – 2025-06-29)",
    }
    assert result["param_sources"]["week"] == "request"
    steps = (
        runner.graph("weekly_sales_report")
        .get_state({"configurable": {"thread_id": "w-last"}})
        .values["steps"]
    )
    assert steps["weeks"]["output"]["previous"]["start"] == "2025-06-16"


def test_last_month_reports_that_month_against_the_month_before(as_of: date) -> None:
    runner = _runner()
    run = runner.run(
        "weekly_sales_report", request="Sales report for last month, top 3", thread_id="w-month"
    )
    result = run.result
    assert result["status"] == "completed", result["text"]
    assert (result["params"]["week"]["start"], result["params"]["week"]["end"]) == (
        "2025-05-01",
        "2025-05-31",
    )
    assert result["params"]["top"] == 3 and result["param_sources"]["top"] == "request"
    weeks = (
        runner.graph("weekly_sales_report")
        .get_state({"configurable": {"thread_id": "w-month"}})
        .values["steps"]["weeks"]["output"]
    )
    assert (weeks["previous"]["start"], weeks["previous"]["end"]) == ("2025-04-01", "2025-04-30")
    assert "May 2025" in result["text"]


def test_the_month_named_is_the_month_closed(as_of: date) -> None:
    # "the june close" on 30 June: June, not the default last completed month (May).
    result = _runner().run("month_end_close", request="kick off the june month-end close").result
    assert result["status"] == "completed", result["text"]
    assert (result["params"]["month"]["start"], result["params"]["month"]["end"]) == (
        "2025-06-01",
        "2025-06-30",
    )
    assert result["text"].startswith("# Month-end close, June 2025")
    default = _runner().run("month_end_close", request="start the month-end close").result
    assert default["text"].startswith("# Month-end close, May 2025")


def test_into_french_sets_the_language_parameters() -> None:
    request = 'Translate this listing into French: "Leuchtreklame SGN-1042 aus Acryl, 120 x 40 cm."'
    spec = shipped_pipelines()["listing_sync"]
    extraction = extract_params(request, fields_from_pipeline(spec), today=AS_OF)
    assert extraction.values["languages"] == ["fr"]
    assert extraction.values["text"].startswith("Leuchtreklame SGN-1042")
    # Numbers and the SKU inside the quoted text are the text's, not stated parameter values.
    assert extraction.unplaced == [] and extraction.sources["languages"] == "request"
    single = [ParamField("target", "language", "Language to write the reply in")]
    assert extract_params("Answer into French", single, today=AS_OF).values == {"target": "fr"}


def test_for_nordwind_resolves_the_customer_and_drafts_only_its_reminders(
    erp_url: str,  # noqa: F811 - the fixture
    as_of: date,
) -> None:
    [(number,)] = _sql(erp_url, "SELECT number FROM customers WHERE name = 'Nordwind GmbH'")
    run = _runner().run("invoice_reminders", request="Payment reminders for Nordwind")
    result = run.result
    assert result["status"] in ("completed", "completed_with_skips"), result["text"]
    assert result["params"]["customer"] == number
    assert result["param_sources"]["customer"] == "request"
    assert _drafted(result["text"]) == _overdue_customers(erp_url, more_than=13) & {number}


def test_a_name_two_customers_share_is_asked_about_not_guessed(as_of: date) -> None:
    run = _runner().run("invoice_reminders", request="Payment reminders for Müller")
    result = run.result
    assert result["status"] == "failed"
    assert "Which customer do you mean by 'muller'" in result["text"]
    assert "Müller Metallbau GmbH" in result["text"] and "Müller Transporte KG" in result["text"]
    assert all(step["status"] == "cancelled" for step in result["steps"])


def test_a_skills_argument_schema_is_filled_the_same_way(
    erp_url: str,  # noqa: F811 - the fixture
    erp_db: Any,  # noqa: F811 - the fixture
    as_of: date,
) -> None:
    from nova.erp.skills import OverdueInvoicesArgs, SalesSummaryArgs

    [(number,)] = _sql(erp_url, "SELECT number FROM customers WHERE name = 'Nordwind GmbH'")
    fields = fields_from_schema(OverdueInvoicesArgs)
    assert {f.name: f.kind for f in fields} == {
        "customer": "customer",
        "min_days_overdue": "integer",
        "limit": "integer",
    }
    with erp_db.read_session() as session:
        read = extract_params(
            "Invoices of Nordwind more than 45 days overdue", fields, today=as_of, session=session
        )
    assert read.values == {"customer": number, "min_days_overdue": 45} and not read.unplaced
    OverdueInvoicesArgs.model_validate(read.values)
    period_fields = fields_from_schema(SalesSummaryArgs)
    read = extract_params("Sales for last week", period_fields, today=as_of)
    assert split_period_values(read.values) == {"date_from": "2025-06-23", "date_to": "2025-06-29"}


# --- stated values are never dropped ----------------------------------------------------------


def test_a_stated_value_no_parameter_takes_stops_the_run_with_a_message(
    erp_url: str,  # noqa: F811 - the fixture
    as_of: date,
) -> None:
    before_count = _sql(erp_url, "SELECT COUNT(*) FROM invoice_reminders")
    run = _runner().run("invoice_reminders", request="Payment reminders for invoices over 500 EUR")
    result = run.result
    assert result["status"] == "failed"
    assert "'over 500 EUR'" in result["text"] or "'500 EUR'" in result["text"]
    assert "did not run with a default" in result["text"]
    assert all(step["status"] == "cancelled" for step in result["steps"])
    assert [f["step"] for f in result["failures"]] == ["start"]
    assert _sql(erp_url, "SELECT COUNT(*) FROM invoice_reminders") == before_count
    # A calendar-week number the weekly report cannot take is reported the same way.
    weekly = _runner().run("weekly_sales_report", request="Weekly sales report for KW 26").result
    assert weekly["status"] == "failed" and "'26' (a number)" in weekly["text"]


def test_an_exclusion_or_an_unknown_name_is_reported_not_read_as_the_customer(
    as_of: date,
) -> None:
    runner = _runner()
    excluded = runner.run(
        "invoice_reminders", request="Payment reminders for all customers except Nordwind"
    ).result
    # Without a model nothing can take an exclusion: the run stops rather than remind Nordwind.
    assert excluded["status"] == "failed" and "'nordwind' (an exclusion)" in excluded["text"]
    unknown = runner.run("invoice_reminders", request="Payment reminders for Zyxel Motors").result
    assert unknown["status"] == "failed"
    assert "'Zyxel Motors' (a name that matches no customer)" in unknown["text"]
    # A model that gives the exclusion to a parameter, quoting it, explains it.
    reader = ScriptedChatModel.repeating(
        calls(
            tool_call(
                "FillParameters",
                assignments=[{"name": "exclude", "value": ["20001"], "quote": "except Nordwind"}],
            )
        )
    )
    with_model = (
        _runner(ScriptedModels({"invoice_reminders": reader}))
        .run("invoice_reminders", request="Payment reminders for all customers except Nordwind")
        .result
    )
    assert with_model["status"] in ("completed", "completed_with_skips"), with_model["text"]
    assert with_model["params"]["exclude"] == ["20001"] and with_model["params"]["customer"] is None
    assert with_model["param_sources"]["exclude"] == "model"


def test_a_callers_value_explains_the_same_stated_value_and_refuses_a_different_one(
    as_of: date,
) -> None:
    spec = shipped_pipelines()["invoice_reminders"]
    fields = fields_from_pipeline(spec)
    request = "Send payment reminders for customers more than 30 days overdue"
    # An agent calling pipeline_run passes the request and the value it read from it.
    same = extract_params(request, fields, today=as_of, given={"min_days_overdue": 30})
    assert same.problem("invoice_reminders", fields) is None
    assert same.sources == {"min_days_overdue": "caller"}
    runner = _runner()
    other = runner.run("invoice_reminders", request=request, params={"min_days_overdue": 14})
    assert other.result["status"] == "failed"
    assert "'30' for min_days_overdue, but it was given as 14" in other.result["text"]


def test_a_number_goes_to_the_parameter_its_words_name() -> None:
    fields = [
        ParamField("top", "integer", "How many top customers to list", 5),
        ParamField("min_days_overdue", "integer", "Only invoices at least this many days past due"),
    ]
    read = extract_params("top 3 customers more than 60 days overdue", fields, today=AS_OF)
    assert read.values == {"top": 3, "min_days_overdue": 60}
    # Two parameters equally close: the number is not guessed onto either.
    twins = [
        ParamField("a_days", "integer", "Days before"),
        ParamField("b_days", "integer", "Days after"),
    ]
    placed = place([Stated("number", "7", 7, ("days",))], twins, {})
    assert placed.values == {} and [s.text for s in placed.unplaced] == ["7"]


def test_the_model_fills_only_what_it_can_quote_and_reports_the_rest() -> None:
    fields = [
        ParamField("send", "boolean", "Send the reminders", False),
        ParamField("channel", "string", "email or letter", "email"),
    ]
    model = ScriptedChatModel.from_script(
        [
            calls(
                tool_call(
                    "FillParameters",
                    assignments=[
                        {"name": "channel", "value": "letter", "quote": "by letter"},
                        {"name": "send", "value": True, "quote": "right away please"},
                    ],
                    unmatched=["with a 5% fee", "a made-up phrase"],
                )
            )
        ]
    )
    request = "Draft the reminders by letter with a 5% fee"
    read = model_params(model, request, fields, {})
    assert read.values == {"channel": "letter"} and read.sources == {"channel": "model"}
    assert read.evidence == {"channel": "by letter"}
    assert [s.text for s in read.unplaced] == ["with a 5% fee"]
    assert any("send" in note for note in read.notes)


def test_values_from_the_previous_run_on_the_thread_are_reused_and_named(as_of: date) -> None:
    runner = _runner()
    first = runner.run(
        "invoice_reminders",
        request="Payment reminders for invoices more than 45 days overdue",
        thread_id="rem-thread",
    ).result
    assert first["param_sources"]["min_days_overdue"] == "request"
    again = runner.run("invoice_reminders", thread_id="rem-thread").result
    assert again["params"]["min_days_overdue"] == 45
    assert again["param_sources"]["min_days_overdue"] == "thread"
    assert again["param_sources"]["send"] == "default"


# --- writing pipelines show their parameters first ------------------------------------------------


def test_a_writing_pipeline_shows_its_parameters_with_sources_before_it_runs(
    erp_url: str,  # noqa: F811 - the fixture
    as_of: date,
) -> None:
    reader = ScriptedChatModel.repeating(
        calls(
            tool_call(
                "FillParameters",
                assignments=[
                    {"name": "send", "value": True, "quote": "send them"},
                    {"name": "channel", "value": "letter", "quote": "by letter"},
                ],
            )
        )
    )
    runner = _runner(ScriptedModels({"invoice_reminders": reader}))
    request = "Payment reminders for customers more than 200 days overdue, send them by letter"
    reminders = _sql(erp_url, "SELECT COUNT(*) FROM invoice_reminders")
    first = runner.run("invoice_reminders", request=request, thread_id="w1")
    assert first.waiting
    [shown] = first.interrupts
    assert shown["type"] == PARAMS_APPROVAL_KIND and shown["writes"] == ["send"]
    by_name = {p["name"]: p for p in shown["params"]}
    assert by_name["min_days_overdue"] == {
        "name": "min_days_overdue",
        "value": 200,
        "source": "request",
        "evidence": "200",
    }
    assert (by_name["send"]["value"], by_name["send"]["source"]) == (True, "model")
    assert by_name["send"]["evidence"] == "send them"
    assert (by_name["channel"]["source"], by_name["exclude"]["source"]) == ("model", "default")
    # Nothing ran before the answer: no step has a record, no reminder was written.
    state = runner.graph("invoice_reminders").get_state({"configurable": {"thread_id": "w1"}})
    assert not state.values.get("steps")
    # Approved: the per-reminder approvals follow, each for its own write.
    approved = runner.run(
        "invoice_reminders",
        thread_id="w1",
        decision={"approved": True, "approver": "tester"},
    )
    assert approved.waiting and approved.interrupts[0]["type"] == "erp_write_approval"
    # Rejected on another thread: the run stops before any step.
    second = runner.run("invoice_reminders", request=request, thread_id="w2")
    assert second.interrupts[0]["type"] == PARAMS_APPROVAL_KIND
    stopped = runner.run(
        "invoice_reminders",
        thread_id="w2",
        decision={"approved": False, "approver": "tester", "reason": "wrong channel"},
    ).result
    assert stopped["status"] == "failed" and "wrong channel" in stopped["text"]
    assert all(step["status"] == "cancelled" for step in stopped["steps"])
    assert _sql(erp_url, "SELECT COUNT(*) FROM invoice_reminders") == reminders


def test_only_inferred_values_pause_a_writing_pipeline() -> None:
    spec = shipped_pipelines()["invoice_reminders"]
    params = {"send": True, "min_days_overdue": 200}
    # Outside a graph an interrupt raises: returning proves no pause was asked for.
    given = Extraction(sources={"send": "caller", "min_days_overdue": "caller"})
    confirm_params(spec, params, given, AS_OF)
    drafts_only = Extraction(sources={"send": "default", "min_days_overdue": "request"})
    confirm_params(spec, {**params, "send": False}, drafts_only, AS_OF)
    inferred = Extraction(sources={"send": "caller", "min_days_overdue": "request"})
    with pytest.raises(RuntimeError):
        confirm_params(spec, params, inferred, AS_OF)


def test_period_helpers_name_and_step_back_weeks_and_months() -> None:
    assert range_label(date(2025, 6, 23), date(2025, 6, 29)).startswith("week 26/2025")
    assert range_label(date(2025, 2, 1), date(2025, 2, 28)) == "February 2025"
    assert before({"start": "2025-03-01", "end": "2025-03-31"})["start"] == "2025-02-01"
    assert before({"start": "2025-03-01", "end": "2025-03-31"})["end"] == "2025-02-28"
    assert before({"start": "2025-06-10", "end": "2025-06-12"}) == {
        "start": "2025-06-07",
        "end": "2025-06-09",
        "label": "2025-06-07 – 2025-06-09",
    }


def test_cli_run_reads_the_request_and_shows_each_parameters_source(
    erp_url: str,  # noqa: F811 - the fixture
    as_of: date,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    from typer.testing import CliRunner

    from nova.cli import app
    from nova.cli.apps import console

    monkeypatch.setattr(console, "_width", 200)  # a wide terminal: the status line stays whole
    request = "Payment reminders for customers more than 30 days overdue"
    shown = CliRunner().invoke(app, ["pipeline", "run", "invoice_reminders", "--request", request])
    assert shown.exit_code == 0, shown.output
    assert "min_days_overdue=30 (request)" in shown.output
    assert "send=false (default)" in shown.output
    as_json = CliRunner().invoke(
        app, ["pipeline", "run", "invoice_reminders", "--request", request, "--json"]
    )
    assert as_json.exit_code == 0, as_json.output
    result = json.loads(as_json.output)
    assert result["params"]["min_days_overdue"] == 30
    assert result["param_sources"]["min_days_overdue"] == "request"
    assert _drafted(result["text"]) == _overdue_customers(erp_url, more_than=30)


def test_weeks_fill_a_day_count_in_days() -> None:
    # "more than 3 weeks late" was refused: no parameter took the bare 3.
    spec = shipped_pipelines()["invoice_reminders"]
    request = "kick off dunning for stuff more than 3 weeks late, show me the letters first"
    extraction = extract_params(request, fields_from_pipeline(spec), today=AS_OF)
    assert extraction.values["min_days_overdue"] == 21
    assert extraction.unplaced == []
