"""Prompt candidates, with scripted models whose answers depend on the prompt they get.

The seeded defect: the general_chat agent's prompt does not state Germany's standard VAT
rate, so its model answers 16%; the user says 19%. The rewriting model proposes one edit
that states the rate (fixes it) and one that makes every VAT answer 19% (fixes it too,
but breaks a run the user called good: the reduced rate, 7%). The gate promotes the
first and rejects the second.

The gate's replays: a run recorded with a checkpointer is replayed from the checkpoint
before the agent ran, through the agent's loop with its tools (a candidate that has the
model use the calculator fixes an amount; one that would save to memory ends at a pause),
and the user's thread keeps its checkpoints; a run whose thread is gone falls back to the
model turn and the figures say so; an ERP write stops at its approval, and the ERP is
unchanged. A candidate that breaks the agent's eval suite beyond
noise (exact McNemar) is rejected there.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from router_fixtures import write_agent_catalog, write_router_config

from nova.catalog import default_catalog
from nova.improve import CandidateStore, accept, improve
from nova.improve.versions import store_for
from nova.ledger.feedback import FeedbackLedger
from nova.settings import get_settings
from nova.testing import PromptDependentChatModel

pytest_plugins = ("tests.erp_fixtures",)

GOOD_EDIT = "Germany's standard VAT rate is 19%."
BREAKING_EDIT = "Whatever VAT rate is asked about, answer 19%."


def _respond(messages: list[BaseMessage]) -> str:
    system, request = str(messages[0].content), str(messages[-1].content)
    if system.startswith("You improve the system prompt"):
        current = request.split("Current prompt:\n", 1)[1].split("\n\nRuns the user", 1)[0]
        variant = "proposal 2 of" in request
        edit = BREAKING_EDIT if variant else GOOD_EDIT
        return (
            "The prompt never states the VAT rate, so the model guessed 16%.\n"
            f"<prompt>\n{current}\n{edit}\n</prompt>"
        )
    if "reduced" in request:
        return (
            "The reduced VAT rate is 19%."
            if BREAKING_EDIT in system
            else "The reduced VAT rate is 7%."
        )
    if "VAT" in request:
        return "German VAT is 19%." if "19%" in system else "German VAT is 16%."
    return "Hello."


@pytest.fixture
def model() -> PromptDependentChatModel:
    return PromptDependentChatModel(respond=_respond)


@pytest.fixture
def catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "catalog"
    folder = write_agent_catalog(root / "agents")
    write_router_config(root / "router.yaml")
    monkeypatch.setenv("NOVA_CATALOG_DIR", str(folder))
    get_settings.cache_clear()
    ledger = FeedbackLedger()
    ledger.record(
        "bad",
        run_id="run-vat",
        request="What is the German VAT rate?",
        given_answer="German VAT is 16%.",
        answer="19%",
        routed_agent="general_chat",
    )
    ledger.record(
        "good",
        run_id="run-reduced",
        request="What is the reduced VAT rate?",
        given_answer="The reduced VAT rate is 7%.",
        routed_agent="general_chat",
    )
    return folder


def _factory(model: PromptDependentChatModel) -> Any:
    return lambda spec, override: model


def _digest(folder: Path) -> str:
    return hashlib.sha256(
        b"".join(p.read_bytes() for p in sorted(folder.glob("*.yaml")))
    ).hexdigest()


def test_seeded_prompt_defect_is_fixed_by_a_promoted_candidate(
    catalog: Path, model: PromptDependentChatModel
) -> None:
    before = _digest(catalog)
    assert "19%" not in default_catalog()["general_chat"].prompt
    report = improve(None, yes=True, model_factory=_factory(model), prompt_candidates=2)
    prompts = [c for c in report.candidates if c.kind == "prompt"]
    assert len(prompts) == 2
    [promoted] = report.promoted
    assert promoted.kind == "prompt" and promoted.agent == "general_chat"
    assert GOOD_EDIT in promoted.change["prompt"] and promoted.status == "promoted"
    assert promoted.gate is not None and promoted.gate["targeted"]["wins"] == 1
    assert "run-vat" in promoted.evidence
    # The agent now runs the promoted prompt; the installed file is unchanged.
    spec = default_catalog()["general_chat"]
    assert GOOD_EDIT in spec.prompt and default_catalog().promoted == {"general_chat": 1}
    assert _digest(catalog) == before
    [v0, v1] = store_for(None).history("general_chat")
    assert v1.parent == v0.hash and v1.candidate == promoted.id
    assert (
        model.invoke([*_system(spec.prompt), *_human("What is the German VAT rate?")]).text
        == "German VAT is 19%."
    )
    # The bad run is answered now: a second run proposes nothing for it.
    again = improve(None, yes=True, model_factory=_factory(model))
    assert [c for c in again.candidates if c.kind == "prompt"] == []


def test_candidate_that_fixes_the_target_but_breaks_a_good_run_is_rejected(
    catalog: Path, model: PromptDependentChatModel
) -> None:
    report = improve(None, yes=False, model_factory=_factory(model), prompt_candidates=2)
    [breaking] = [c for c in report.candidates if BREAKING_EDIT in c.change.get("prompt", "")]
    gate = breaking.gate or {}
    assert gate["targeted"]["wins"] == 1  # it does fix the seeded defect...
    assert gate["regression"]["losses"] == 1  # ...but the reduced-rate run goes wrong
    assert breaking.status == "failed" and "recorded good run" in gate["why"]
    with pytest.raises(ValueError, match="only a candidate that passed the gate"):
        accept(breaking.id)
    assert BREAKING_EDIT not in default_catalog()["general_chat"].prompt
    assert CandidateStore().get(breaking.id).status == "failed"


def _system(text: str) -> list[BaseMessage]:
    from langchain_core.messages import SystemMessage

    return [SystemMessage(text)]


def _human(text: str) -> list[BaseMessage]:
    from langchain_core.messages import HumanMessage

    return [HumanMessage(text)]


# --- replays from the run's checkpoint, with the agent's tools ----------------------------------

TOOL_EDIT = "For a VAT amount, compute it with the calculator at Germany's 19% rate."
AMOUNT_REQUEST = "How much VAT is due on 250 euros?"
MEMO_EDIT = "Save every VAT question to memory before answering."
RATE_REQUEST = "What is the standard rate?"


def _respond_with_tools(messages: list[BaseMessage]) -> Any:
    """The agent uses the calculator only when its prompt says so, and answers from its result."""
    from langchain_core.messages import ToolMessage

    from nova.testing import calls, tool_call

    system, last = str(messages[0].content), messages[-1]
    if system.startswith("You improve the system prompt"):
        request = str(last.content)
        current = request.split("Current prompt:\n", 1)[1].split("\n\nRuns the user", 1)[0]
        edit = MEMO_EDIT if "proposal 2 of" in request else TOOL_EDIT
        return f"The prompt never says how to compute VAT.\n<prompt>\n{current}\n{edit}\n</prompt>"
    if isinstance(last, ToolMessage):
        return f"The VAT on 250 euros is {last.content} euros."
    if "standard rate" in str(last.content):
        return "The standard VAT rate is 19%."
    if MEMO_EDIT in system:
        return calls(tool_call("memory_save", text="VAT on 250 euros asked"))
    if TOOL_EDIT in system:
        return calls(tool_call("calculator", expression="250 * 0.19"))
    return "The VAT on 250 euros is 40 euros."


@pytest.fixture
def tool_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test catalog, with general_chat allowed the calculator and memory_save tools."""
    from nova.userdata import dump_yaml
    from nova.yamlio import load_yaml

    root = tmp_path / "catalog"
    folder = write_agent_catalog(root / "agents")
    write_router_config(root / "router.yaml")
    path = folder / "general_chat.yaml"
    data = load_yaml(path.read_text(encoding="utf-8"))
    data["tools"] = ["calculator", "memory_save"]
    path.write_text(dump_yaml(data), encoding="utf-8")
    monkeypatch.setenv("NOVA_CATALOG_DIR", str(folder))
    get_settings.cache_clear()
    return folder


def _recorded_graph(model: PromptDependentChatModel) -> Any:
    """A root graph with the real chat subgraph as a node, as Nova's graph runs it."""
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    from graphs.chat import build_chat_graph
    from nova.state import NovaContext, NovaState
    from nova.testing import route_to

    def route(state: NovaState) -> dict[str, Any]:
        request = str(state["messages"][-1].content)
        return {
            "route": route_to("general_chat", "chat"),
            "request": request,
            "project": "personal",
        }

    builder = StateGraph(NovaState, context_schema=NovaContext)
    builder.add_node("route", route)
    builder.add_node("chat", build_chat_graph(model_factory=_factory(model)).compile(name="chat"))
    builder.add_edge(START, "route")
    builder.add_edge("route", "chat")
    builder.add_edge("chat", END)
    return builder.compile(checkpointer=InMemorySaver())


def _checkpoints(graph: Any, thread: str) -> int:
    return len(list(graph.checkpointer.list({"configurable": {"thread_id": thread}})))


def test_targeted_run_is_replayed_from_its_checkpoint_with_the_agents_tools(
    tool_catalog: Path,
) -> None:
    from langchain_core.messages import HumanMessage, ToolMessage

    from nova.improve.replay import RecordedRuns
    from nova.state import NovaContext

    model = PromptDependentChatModel(respond=_respond_with_tools)
    graph = _recorded_graph(model)
    config: Any = {"configurable": {"thread_id": "thread-vat"}}
    graph.invoke({"messages": [HumanMessage(AMOUNT_REQUEST)]}, config, context=NovaContext())
    recorded_answer = str(graph.get_state(config).values["messages"][-1].content)
    assert "40 euros" in recorded_answer
    FeedbackLedger().record(
        "bad",
        run_id="run-amount",
        thread_id="thread-vat",
        request=AMOUNT_REQUEST,
        given_answer=recorded_answer,
        answer="47.5 euros",
        routed_agent="general_chat",
    )
    # A good run on its own thread: the regression set, replayed from its checkpoint too.
    good: Any = {"configurable": {"thread_id": "thread-good"}}
    graph.invoke({"messages": [HumanMessage(RATE_REQUEST)]}, good, context=NovaContext())
    FeedbackLedger().record(
        "good",
        run_id="run-rate",
        thread_id="thread-good",
        request=RATE_REQUEST,
        given_answer=str(graph.get_state(good).values["messages"][-1].content),
        routed_agent="general_chat",
    )
    before = _checkpoints(graph, "thread-vat")
    messages_before = list(graph.get_state(config).values["messages"])

    report = improve(
        None,
        model_factory=_factory(model),
        prompt_candidates=2,
        recorded=RecordedRuns(graph),
        prompt_suites=lambda agent: None,
    )

    by_edit = {
        edit: c for c in report.candidates for edit in (TOOL_EDIT, MEMO_EDIT)
        if edit in c.change.get("prompt", "")
    }  # fmt: skip
    fixing, memo = by_edit[TOOL_EDIT], by_edit[MEMO_EDIT]
    gate = fixing.gate or {}
    assert fixing.status == "passed" and gate["targeted"]["wins"] == 1
    assert gate["replay"] == {"checkpoint": 2, "model turn": 0}
    case, kept = gate["cases"]
    assert kept["set"] == "regression" and kept["replayed"] == "checkpoint"
    assert gate["regression"]["n"] == 1 and gate["regression"]["losses"] == 0
    assert case["replayed"] == "checkpoint" and case["note"].startswith(
        "from checkpoint thread-vat/"
    )
    assert case["parent"] == {"how": "checkpoint", "tools": [], "ended": "answered", "right": False}
    assert case["candidate"]["tools"] == ["calculator"] and case["candidate"]["right"] is True
    assert gate["suite"]["name"] == "no suite"
    # The calculator really ran: the candidate's model read its result and answered from it.
    results = [
        p[-1]
        for p in model.received
        if TOOL_EDIT in str(p[0].content) and isinstance(p[-1], ToolMessage)
    ]
    assert [r.name for r in results] == ["calculator"] and "47.5" in str(results[0].content)
    # The candidate that would write to memory ends at a pause: nothing is run or fixed.
    memo_case = (memo.gate or {})["cases"][0]
    assert memo_case["candidate"]["ended"] == "would call memory_save (not run in a replay)"
    assert memo.status == "failed" and "fixes none" in (memo.gate or {})["why"]
    # The user's thread is as it was: the replays ran on scratch threads.
    assert _checkpoints(graph, "thread-vat") == before
    assert graph.get_state(config).values["messages"] == messages_before


def test_a_run_without_a_usable_checkpoint_falls_back_to_the_model_turn_and_says_so(
    tool_catalog: Path,
) -> None:
    from nova.improve.replay import RecordedRuns

    model = PromptDependentChatModel(respond=_respond_with_tools)
    graph = _recorded_graph(model)  # never ran: its checkpointer holds no thread
    FeedbackLedger().record(
        "bad",
        run_id="run-old",
        thread_id="thread-pruned",
        request=AMOUNT_REQUEST,
        given_answer="The VAT on 250 euros is 40 euros.",
        answer="47.5",
        routed_agent="general_chat",
    )
    report = improve(
        None,
        model_factory=_factory(model),
        prompt_candidates=1,
        recorded=RecordedRuns(graph),
        prompt_suites=lambda agent: None,
    )
    [candidate] = [c for c in report.candidates if c.kind == "prompt"]
    gate = candidate.gate or {}
    assert gate["replay"] == {"checkpoint": 0, "model turn": 1}
    [case] = gate["cases"]
    assert case["replayed"] == "model turn" and "thread-pruned has no checkpoints" in case["note"]
    # A model turn has no tools: the calculator call is not run, so nothing is fixed.
    assert candidate.status == "failed"


# --- the eval suite's test split -------------------------------------------------------------


def _vat_suite(model: PromptDependentChatModel) -> Any:
    """A suite of reduced-rate questions whose right answer is 7% (a model turn each)."""
    from nova.improve.gate import Case
    from nova.improve.prompts import missing_facts
    from nova.improve.replay import model_turn
    from nova.improve.suites import PromptSuite

    requests = [f"What is the reduced VAT rate on {item}?" for item in (
        "books", "bread", "milk", "newspapers", "flowers", "water")]  # fmt: skip

    def judge(spec: Any, model_factory: Any) -> list[bool]:
        return [
            not missing_facts("7%", model_turn(spec, text, model_factory, "suite").answer)
            for text in requests
        ]

    return PromptSuite(
        name="reduced-rate suite",
        cases=[Case(text, "general_chat", "suite", f"s{i}") for i, text in enumerate(requests)],
        judge=judge,
        source="the rates the test states",
    )


def test_candidate_that_breaks_the_suite_is_rejected_by_the_paired_comparison(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: PromptDependentChatModel
) -> None:
    root = tmp_path / "catalog"
    monkeypatch.setenv("NOVA_CATALOG_DIR", str(write_agent_catalog(root / "agents")))
    write_router_config(root / "router.yaml")
    get_settings.cache_clear()
    # Only the bad run: no recorded good run would notice the breaking edit.
    FeedbackLedger().record(
        "bad",
        run_id="run-vat",
        request="What is the German VAT rate?",
        given_answer="German VAT is 16%.",
        answer="19%",
        routed_agent="general_chat",
    )
    suite = _vat_suite(model)
    report = improve(
        None,
        model_factory=_factory(model),
        prompt_candidates=2,
        prompt_suites=lambda agent: suite if agent == "general_chat" else None,
    )
    prompts = {c.change["prompt"]: c for c in report.candidates if c.kind == "prompt"}
    [good] = [c for p, c in prompts.items() if GOOD_EDIT in p]
    [breaking] = [c for p, c in prompts.items() if BREAKING_EDIT in p]
    assert good.status == "passed" and (good.gate or {})["suite"]["losses"] == 0
    figures = (breaking.gate or {})["suite"]
    assert (breaking.gate or {})["targeted"]["wins"] == 1  # it fixes the target...
    assert figures["n"] == 6 and figures["losses"] == 6 and figures["wins"] == 0
    assert figures["p_worse"] < 0.05  # ...but loses the suite beyond noise
    assert breaking.status == "failed" and "reduced-rate suite" in (breaking.gate or {})["why"]


def test_without_a_suite_held_out_corrections_are_the_gates_test_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An agent no suite exercises is gated on corrections the rewrite never saw.

    Run ids ``run-h2`` and ``run-h5`` hash into the held-out quarter, the others do not
    (``nova.improve.prompts.held_out``). The breaking edit fixes the shown VAT runs and
    keeps the shown good run, so only the held-out good run (the reduced rate) catches it.
    """
    from nova.improve.prompts import held_out

    assert [held_out(f"run-h{i}") for i in range(6)] == [False, False, True, False, False, True]
    root = tmp_path / "catalog"
    monkeypatch.setenv("NOVA_CATALOG_DIR", str(write_agent_catalog(root / "agents")))
    write_router_config(root / "router.yaml")
    get_settings.cache_clear()
    ledger = FeedbackLedger()
    for run_id, request in (
        ("run-h0", "What is the German VAT rate?"),
        ("run-h1", "VAT in Germany, standard rate?"),
        ("run-h2", "which VAT rate do we charge on parts"),
    ):
        ledger.record(
            "bad",
            run_id=run_id,
            request=request,
            given_answer="German VAT is 16%.",
            answer="19%",
            routed_agent="general_chat",
        )
    for run_id, request, answer in (
        ("run-h3", "hi there", "Hello."),
        ("run-h4", "hello nova", "Hello."),
        ("run-h5", "What is the reduced VAT rate?", "The reduced VAT rate is 7%."),
    ):
        ledger.record(
            "good", run_id=run_id, request=request, given_answer=answer, routed_agent="general_chat"
        )
    shown: list[str] = []

    def respond(messages: list[BaseMessage]) -> str:
        if str(messages[0].content).startswith("You improve the system prompt"):
            shown.append(str(messages[-1].content))
        return _respond(messages)

    model = PromptDependentChatModel(respond=respond)
    report = improve(
        None, model_factory=_factory(model), prompt_candidates=2, prompt_suites=lambda a: None
    )
    assert shown and all("which VAT rate do we charge" not in text for text in shown)
    assert all("reduced VAT rate" not in text for text in shown)
    prompts = {c.change["prompt"]: c for c in report.candidates if c.kind == "prompt"}
    [good] = [c for p, c in prompts.items() if GOOD_EDIT in p]
    [breaking] = [c for p, c in prompts.items() if BREAKING_EDIT in p]
    held = (good.gate or {})["suite"]
    assert held["name"] == "held-out corrections" and held["n"] == 2
    assert good.status == "passed" and held["wins"] == 1 and held["losses"] == 0
    assert (good.gate or {})["targeted"]["n"] == 2  # the shown failing runs only
    gate = breaking.gate or {}
    assert gate["targeted"]["wins"] == 2 and gate["regression"]["losses"] == 0
    assert gate["suite"]["losses"] == 1 and breaking.status == "failed"
    assert "held-out correction" in gate["why"]


def test_erp_agents_get_the_erp_sets_test_split_as_their_suite() -> None:
    from evals.discipline import split_of
    from evals.improve_suites import prompt_suite

    suite = prompt_suite("erp_invoices")
    assert suite is not None and len(suite.cases) >= 5
    assert all(c.expected == "erp_invoices" and c.id for c in suite.cases)
    assert all(split_of(c.id or "") == "test" for c in suite.cases)  # never a dev case
    assert prompt_suite("general_chat") is None  # no suite exercises its answers


PAY_EDIT = "When the user says an invoice was paid, record the payment."


def test_a_write_in_a_replay_stops_at_its_approval_and_changes_nothing(
    erp_db: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from langchain_core.messages import HumanMessage
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    from graphs.erp import build_erp_graph
    from nova.improve.replay import RecordedRuns, Replayer
    from nova.state import NovaContext, NovaState
    from nova.testing import calls, route_to, tool_call
    from nova.userdata import dump_yaml
    from nova.yamlio import load_yaml
    from tests.test_erp_approval import open_invoice, snapshot

    folder = write_agent_catalog(tmp_path / "catalog" / "agents")
    write_router_config(tmp_path / "catalog" / "router.yaml")
    path = folder / "erp_invoices.yaml"
    data = load_yaml(path.read_text(encoding="utf-8"))
    data["tools"] = ["erp_invoice_lookup", "erp_record_payment"]
    path.write_text(dump_yaml(data), encoding="utf-8")
    monkeypatch.setenv("NOVA_CATALOG_DIR", str(folder))
    get_settings.cache_clear()
    invoice = open_invoice(erp_db)
    request = f"Invoice {invoice.number} was paid 12.34 by card."

    def respond(messages: list[BaseMessage]) -> Any:
        if PAY_EDIT in str(messages[0].content):
            return calls(
                tool_call(
                    "erp_record_payment",
                    invoice_number=invoice.number,
                    amount="12.34",
                    method="card",
                )
            )
        return "Noted."

    model = PromptDependentChatModel(respond=respond)

    def route(state: NovaState) -> dict[str, Any]:
        return {"route": route_to("erp_invoices", "erp"), "request": request}

    builder = StateGraph(NovaState, context_schema=NovaContext)
    builder.add_node("route", route)
    erp = build_erp_graph(model_factory=_factory(model), fast_path=False).compile(name="erp")
    builder.add_node("erp", erp)
    builder.add_edge(START, "route")
    builder.add_edge("route", "erp")
    builder.add_edge("erp", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    context = NovaContext(project="parts-shop")
    config: Any = {"configurable": {"thread_id": "thread-pay"}}
    graph.invoke({"messages": [HumanMessage(request)]}, config, context=context)
    rows, checkpoints = snapshot(erp_db), _checkpoints(graph, "thread-pay")

    catalog = default_catalog()
    parent = catalog["erp_invoices"]
    candidate = parent.model_copy(update={"prompt": parent.prompt + "\n" + PAY_EDIT})
    replay = Replayer(catalog, _factory(model), RecordedRuns(graph))
    done = replay(candidate, request=request, thread_id="thread-pay")
    assert done.how == "checkpoint" and done.tools == ("erp_record_payment",)
    assert done.ended == "would ask for approval: erp_write_approval (record_payment)"
    assert done.paused and done.answer == ""
    assert replay(parent, request=request, thread_id="thread-pay").ended == "answered"
    assert snapshot(erp_db) == rows  # nothing was written to the ERP
    assert _checkpoints(graph, "thread-pay") == checkpoints


def test_the_replay_starts_at_the_runs_own_turn_of_its_thread(tool_catalog: Path) -> None:
    from datetime import UTC, datetime

    from langchain_core.messages import HumanMessage

    from nova.improve.replay import RecordedRuns, Start
    from nova.state import NovaContext
    from nova.tracing import TraceStore

    graph = _recorded_graph(PromptDependentChatModel(respond=_respond_with_tools))
    config: Any = {"configurable": {"thread_id": "thread-twice"}}
    started = []
    for _ in range(2):  # the same request asked twice on one thread
        started.append(datetime.now(UTC))
        graph.invoke({"messages": [HumanMessage(AMOUNT_REQUEST)]}, config, context=NovaContext())
    TraceStore().write(
        {
            "trace_id": "run-first",
            "run_id": "run-first",
            "thread_id": "thread-twice",
            "graph": "nova",
            "request": AMOUNT_REQUEST,
            "status": "ok",
            "started_at": started[0],
            "checks": [],
            "step_count": 0,
        },
        [],
    )
    recorded = RecordedRuns(graph, TraceStore())

    def seen(run_id: str | None) -> int:
        start = recorded.start(
            "general_chat", thread_id="thread-twice", run_id=run_id, request=AMOUNT_REQUEST
        )
        assert isinstance(start, Start), start
        return len(start.values["messages"])

    assert seen("run-first") == 1  # its trace dates it: the first turn
    assert seen(None) == 3  # no trace: the newest turn that asked it
    missing = recorded.start("general_chat", thread_id="nowhere", run_id=None, request="x")
    assert missing == "thread nowhere has no checkpoints (pruned, or another checkpoint database)"
