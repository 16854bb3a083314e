"""The pipeline subgraph, the shipped pipelines on a seeded ERP, the pipeline tools, server
crons and the CLI."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.prebuilt import ToolNode
from sqlalchemy import func, select
from typer.testing import CliRunner

from graphs.pipeline import (
    PipelineRunner,
    build_pipeline_graph,
    check_schedule,
    create_pipeline_cron,
    pipeline_cron_payload,
    shipped_pipelines,
)
from nodes.pipeline_steps import pipeline_checks
from nova.catalog import default_catalog
from nova.pipelines import Pipelines, load_pipelines
from nova.pipelines.templates import period
from nova.state import NovaContext, NovaState, RouteDecision
from nova.testing import ScriptedModels, route_to
from tests.erp_fixtures import erp_db, erp_url, small_erp_file  # noqa: F401 - fixtures
from tests.pipeline_fixtures import Skills


def _route(agent: str) -> RouteDecision:
    return route_to(agent, "pipeline", method="explicit", margin=0.5)


def _sales(revenue: str, orders: int) -> dict[str, Any]:
    return {
        "rows": [{"id": "total", "orders": orders, "revenue": revenue}],
        "facts": [
            {"key": "revenue", "value": revenue},
            {"key": "orders", "value": orders},
            {"key": "units", "value": orders * 3},
        ],
    }


def _weekly_skills(this_week: str) -> Skills:
    skills = Skills()
    skills.behaviour["erp_sales_summary"] = lambda count, **kw: (
        _sales("9082.67", 11) if kw["date_from"] == this_week else _sales("4697.49", 6)
    )
    skills.behaviour["erp_top_customers"] = lambda count, **kw: {
        "rows": [
            {
                "rank": 1,
                "name": "Heinrich AG",
                "orders": 3,
                "revenue": "2589.08",
                "share_pct": "28.5",
            }
        ]
    }
    skills.behaviour["erp_top_products"] = lambda count, **kw: {
        "rows": [{"id": "BRK-1333", "rank": 1}]
    }
    return skills


def _graph(skills: Skills, pipelines: Pipelines | None = None, names: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    names = names or tuple(shipped_skill_names())
    pipelines = (
        pipelines
        if pipelines is not None
        else load_pipelines(skills=set(shipped_skill_names()), agents=set(default_catalog().names))
    )
    builder = build_pipeline_graph(
        model_factory=ScriptedModels(), pipelines=pipelines, skills=skills.tools(*names)
    )
    return builder.compile(checkpointer=InMemorySaver())


def shipped_skill_names() -> list[str]:
    return sorted({step.skill for spec in shipped_pipelines() for step in spec.steps if step.skill})


def test_a_routed_pipeline_agent_runs_its_pipeline_without_a_model() -> None:
    # No ERP sample here: the ERP's business date is the calendar's.
    skills = _weekly_skills(period("last_week", date.today())["start"])  # noqa: DTZ011
    graph = _graph(skills)
    request = "Weekly sales report please"
    state = graph.invoke(
        {
            "messages": [HumanMessage(request)],
            "request": request,
            "route": _route("weekly_sales_report"),
            "project": "parts-shop",
        },
        {"configurable": {"thread_id": "w1"}},
        context=NovaContext(project="parts-shop"),
    )
    answer = state["messages"][-1]
    assert isinstance(answer, AIMessage) and answer.name == "weekly_sales_report"
    result = state["pipeline_result"]
    assert result["pipeline"] == "weekly_sales_report" and result["status"] == "completed"
    assert answer.content.startswith(result["text"].split("\n")[0])
    assert "9,082.67 EUR" in answer.content and "+93.4%" in answer.content
    run = state["agent_run"]
    spec = default_catalog()["weekly_sales_report"]
    assert (run["agent"], run["version"], run["content_version"], run["outcome"]) == (
        "weekly_sales_report",
        spec.version,
        spec.content_version,
        "fast_path",
    )
    assert state["failures"] == []
    assert skills.calls["erp_sales_summary"] == 2


def test_a_pipeline_agent_without_a_pipeline_falls_back_to_the_agent_loop() -> None:
    graph = _graph(Skills(), pipelines=Pipelines({}, {}, Path(".")))
    request = "Run my morning briefing"
    state = graph.invoke(
        {
            "messages": [HumanMessage(request)],
            "request": request,
            "route": _route("daily_briefing"),
            "project": "personal",
        },
        {"configurable": {"thread_id": "f1"}},
    )
    assert state["agent_run"]["outcome"] == "needs_model"
    assert "needs a language model" in state["messages"][-1].content


def test_the_served_pipeline_graph_has_a_node_per_shipped_pipeline() -> None:
    from graphs.pipeline import graph

    assert graph.name == "pipeline"
    nodes = set(graph.get_graph().nodes)
    served = {f"run_{spec.name}" for spec in shipped_pipelines() if spec.agent is not None}
    assert len(served) >= 6 and served <= nodes
    # A pipeline no agent serves (improvement_proposals) runs on its schedule, not as a node.
    assert "run_improvement_proposals" not in nodes
    assert {"enter", "agent", "tools", "check"} <= nodes


def test_pipeline_checks_flag_numbers_only_a_model_wrote() -> None:
    spec = shipped_pipelines()["daily_briefing"]
    records: list[Any] = [
        {
            "step": "yesterday",
            "target": "skill:erp_sales_summary",
            "status": "ok",
            "attempts": 1,
            "duration_ms": 1.0,
            "output": {"facts": [{"key": "revenue", "value": "5120.40"}]},
        },
        {
            "step": "priorities",
            "target": "agent:daily_planner",
            "status": "ok",
            "attempts": 1,
            "duration_ms": 1.0,
            "output": "Chase 7 invoices worth 9,999.00",
        },
    ]
    [grounded] = pipeline_checks(
        spec, ("numbers_grounded",), records, "Yesterday: 5,120.40 EUR", ""
    )
    assert grounded["passed"], grounded["detail"]
    [invented] = pipeline_checks(
        spec, ("numbers_grounded",), records, "Chase 7 invoices worth 9,999.00", ""
    )
    assert not invented["passed"] and "9,999.00" in invented["detail"]


def test_month_end_close_on_the_seeded_erp(erp_url: str) -> None:  # noqa: F811
    runner = PipelineRunner(model_factory=ScriptedModels(), checkpointer=InMemorySaver())
    events: list[str] = []
    run = runner.run(
        "month_end_close", thread_id="mec", on_event=lambda node, update: events.append(node)
    )
    result = run.result
    assert result["status"] == "completed", result["text"]
    assert result["text"].startswith("# Month-end close,")
    assert "| 4. Month revenue | done |" in result["text"]
    assert events[0] == "start" and events[-1] == "finish"
    # Every figure in the checklist comes from the ERP queries (no model wrote any).
    state = runner.graph("month_end_close").get_state({"configurable": {"thread_id": "mec"}})
    [check] = state.values["checks"]
    assert check["name"] == "numbers_grounded" and check["passed"], check["detail"]


def test_invoice_reminders_send_each_reminder_only_after_approval(
    erp_url: str,  # noqa: F811 - the fixture
    erp_db: Any,  # noqa: F811 - the fixture
) -> None:
    from nova.erp import models as m

    runner = PipelineRunner(model_factory=ScriptedModels(), checkpointer=InMemorySaver())
    with erp_db.read_session() as session:
        before = session.scalar(select(func.count()).select_from(m.InvoiceReminder))
    params = {"min_days_overdue": 200, "send": True, "channel": "letter"}
    first = runner.run("invoice_reminders", params=params, thread_id="rem-1")
    assert first.waiting, first.result and first.result["text"]
    pending = first.interrupts[0]
    assert "invoice" in json.dumps(pending, default=str).lower()
    run = first
    decisions = 0
    while run.waiting:
        # Approve the first reminder, reject every other one.
        decision = {"approved": decisions == 0, "approver": "tester", "reason": "not now"}
        assert len(run.interrupts) >= 1
        run = runner.run("invoice_reminders", params=params, thread_id="rem-1", decision=decision)
        decisions += 1
        assert decisions < 200
    assert run.result["status"] in ("completed", "completed_with_skips")
    with erp_db.read_session() as session:
        total = session.scalar(select(func.count()).select_from(m.InvoiceReminder))
    assert total - before == 1
    # Running the finished thread again starts a new run; nothing from the old one is re-applied.
    first_total = total
    again = runner.run("invoice_reminders", params={**params, "send": False}, thread_id="rem-1")
    assert again.result["status"] == "completed_with_skips"
    with erp_db.read_session() as session:
        assert session.scalar(select(func.count()).select_from(m.InvoiceReminder)) == first_total


def test_pipeline_tools_list_and_run_in_the_callers_project(erp_url: str) -> None:  # noqa: F811
    from tools.pipelines import pipeline_list, pipeline_run

    listing = json.loads(pipeline_list.invoke({}))
    assert {p["name"] for p in listing} >= {
        "daily_briefing",
        "weekly_sales_report",
        "month_end_close",
    }

    class S(NovaState, total=False):
        out: list[Any]

    def node(state: S) -> dict[str, Any]:
        call = {
            "name": "pipeline_run",
            "args": {"name": "weekly_sales_report", "params": {"top": 3}},
            "id": "c1",
            "type": "tool_call",
        }
        bad = {
            "name": "pipeline_run",
            "args": {"name": "weekly_sales_report", "params": {"weeks": 3}},
            "id": "c2",
            "type": "tool_call",
        }
        result = ToolNode([pipeline_run]).invoke(
            {"messages": [AIMessage("", tool_calls=[call, bad])], "project": "parts-shop"}
        )
        return {"out": result["messages"]}

    builder = StateGraph(S, context_schema=NovaContext)
    builder.add_node("n", node)
    builder.add_edge(START, "n")
    out = builder.compile(checkpointer=InMemorySaver()).invoke(
        {"messages": []},
        {"configurable": {"thread_id": "tool-1"}},
        context=NovaContext(project="parts-shop"),
    )["out"]
    ok, bad = out
    assert isinstance(ok, ToolMessage) and ok.status == "success"
    assert ok.content.startswith("# Weekly sales report")
    assert ok.artifact["project"] == "parts-shop" and ok.artifact["status"] == "completed"
    assert bad.status == "error" and "has no parameter(s) ['weeks']" in bad.content


class _Crons:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, dict[str, Any]]] = []

    async def create(self, assistant_id: str, **kwargs: Any) -> dict[str, Any]:
        self.calls.append((assistant_id, kwargs))
        return {"cron_id": "c1", "schedule": kwargs["schedule"]}


class _Client:
    def __init__(self) -> None:
        self.crons = _Crons()


def test_create_pipeline_cron_schedules_the_nova_graph_for_the_pipelines_agent() -> None:
    client = _Client()
    cron = asyncio.run(
        create_pipeline_cron(
            client, "daily_briefing", "0 7 * * 1-5", project="parts-shop", timezone="Europe/Berlin"
        )
    )
    assert cron["cron_id"] == "c1"
    [(assistant, kwargs)] = client.crons.calls
    assert assistant == "nova"
    assert kwargs["schedule"] == "0 7 * * 1-5" and kwargs["timezone"] == "Europe/Berlin"
    assert kwargs["context"] == {"agent": "daily_briefing", "project": "parts-shop"}
    assert kwargs["input"]["messages"][0]["content"] == "Run the daily briefing pipeline."
    assert kwargs["metadata"]["nova_pipeline"] == "daily_briefing"
    with pytest.raises(ValueError, match="Invalid cron schedule 'every morning'"):
        asyncio.run(create_pipeline_cron(client, "daily_briefing", "every morning"))
    assert (
        pipeline_cron_payload(shipped_pipelines()["month_end_close"])["context"]["project"]
        == "parts-shop"
    )
    check_schedule("*/5 * * * *")


def test_cli_lists_shows_and_runs_pipelines(erp_url: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    from nova.cli import app
    from nova.cli.apps import console

    monkeypatch.setattr(console, "_width", 200)  # a wide terminal: table cells are not folded

    cli = CliRunner()
    listed = cli.invoke(app, ["pipeline", "list"])
    assert listed.exit_code == 0, listed.output
    assert "weekly_sales_report" in listed.output and "month_end_close" in listed.output
    shown = cli.invoke(app, ["pipeline", "show", "invoice_reminders"])
    assert shown.exit_code == 0 and "erp_send_invoice_reminder" in shown.output
    assert (
        "No pipeline named 'weekly_report'"
        in cli.invoke(app, ["pipeline", "show", "weekly_report"]).output
    )
    ran = cli.invoke(app, ["pipeline", "run", "weekly_sales_report", "--param", "top=2", "--json"])
    assert ran.exit_code == 0, ran.output
    result = json.loads(ran.output)
    assert result["status"] == "completed" and result["pipeline"] == "weekly_sales_report"
    status = cli.invoke(
        app, ["pipeline", "status", "weekly_sales_report", "--thread", result["thread"]]
    )
    assert (
        status.exit_code == 0 and "top_customers" in status.output and "completed" in status.output
    )
    bad = cli.invoke(app, ["pipeline", "run", "weekly_sales_report", "--param", "top=lots"])
    assert bad.exit_code == 2 and "top" in bad.output


def test_schedule_loop_runs_at_each_cron_firing() -> None:
    from nova.cli.pipeline import schedule_loop

    now = [datetime(2025, 6, 30, 6, 58, 30).astimezone()]
    slept: list[float] = []
    ran: list[datetime] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += timedelta(seconds=seconds)

    def run_once() -> int:
        ran.append(now[0])
        return 0

    code = schedule_loop("0 7 * * *", run_once, times=2, now=lambda: now[0], sleep=sleep)
    assert code == 0
    assert [(r.day, r.hour, r.minute) for r in ran] == [(30, 7, 0), (1, 7, 0)]
    assert max(slept) <= 60
