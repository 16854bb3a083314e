"""Blame through joins and fan-outs, across a thread's turns, with the user's feedback as judge."""

from __future__ import annotations

import operator
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send
from typing_extensions import TypedDict

from evals.blame.chain import Env, compile_chain
from nova.catalog import load_catalog
from nova.state import NovaContext
from nova.tracing.blame.attribution import blame
from nova.tracing.blame.corrections import Correction
from nova.tracing.blame.feedback import FeedbackEvaluator, FeedbackRouteCorrector
from nova.tracing.blame.replay import replay
from nova.tracing.blame.steps import RunSteps, Step, load_run
from nova.tracing.blame.verdicts import Verdict

# --- a diamond inside a subgraph, and a Send fan-out ------------------------------------------


class Diamond(TypedDict, total=False):
    x: int
    left: int
    right: int
    out: str


def _diamond() -> Any:
    inner = StateGraph(Diamond)
    inner.add_node("split", lambda s: {"x": s["x"]})
    inner.add_node("left", lambda s: {"left": s["x"] * 2})
    inner.add_node("right", lambda s: {"right": s["x"] + 1})
    inner.add_node("join", lambda s: {"out": f"{s['left']}+{s['right']}"})
    inner.add_edge(START, "split")
    inner.add_edge("split", "left")
    inner.add_edge("split", "right")
    inner.add_edge(["left", "right"], "join")  # waits for both branches
    inner.add_edge("join", END)
    outer = StateGraph(Diamond)
    outer.add_node("pre", lambda s: {"x": s["x"]})
    outer.add_node("sub", inner.compile())
    outer.add_node("post", lambda s: {"out": s["out"] + "!"})
    outer.add_edge(START, "pre")
    outer.add_edge("pre", "sub")
    outer.add_edge("sub", "post")
    outer.add_edge("post", END)
    return outer.compile(checkpointer=InMemorySaver())


class FanOut(TypedDict, total=False):
    n: int
    parts: Annotated[list[int], operator.add]
    total: int


def _fan_out() -> Any:
    graph = StateGraph(FanOut)
    graph.add_node("prep", lambda s: {"n": s["n"]})
    graph.add_node("fan", lambda s: {})
    graph.add_node("item", lambda s: {"parts": [s["n"] * 10]})
    graph.add_node("total", lambda s: {"total": sum(s["parts"])})
    graph.add_edge(START, "prep")
    graph.add_edge("prep", "fan")
    graph.add_conditional_edges(
        "fan", lambda s: [Send("item", {"n": i}) for i in range(s["n"])], ["item"]
    )
    graph.add_edge("item", "total")
    graph.add_edge("total", END)
    return graph.compile(checkpointer=InMemorySaver())


@dataclass
class Fixed:
    """Offers one correction for the step with this key."""

    key: str
    writes: Mapping[str, Any]

    def __call__(self, step: Step, run: RunSteps) -> Iterator[Correction]:
        if step.key == self.key:
            yield Correction("check", self.writes, "test")


def test_correcting_a_branch_upstream_of_a_join_replays_the_join_and_the_parent() -> None:
    graph = _diamond()
    graph.invoke({"x": 3}, {"configurable": {"thread_id": "d"}})
    run = load_run(graph, "d")
    assert [s.key for s in run.steps] == [
        "pre#1",
        "sub/split#1",
        "sub/left#1",
        "sub/right#1",
        "sub/join#1",
        "post#1",
    ]
    # One branch of the diamond corrected: the join still waits for, and gets, the other.
    assert replay(run.by_key()["sub/left#1"], {"left": 100})["out"] == "100+4!"
    assert replay(run.by_key()["sub/right#1"], {"right": 7})["out"] == "6+7!"
    # Upstream of both branches: both run again from the corrected value.
    assert replay(run.by_key()["sub/split#1"], {"x": 10})["out"] == "20+11!"
    result = blame(
        run,
        evaluator=lambda v: Verdict(v.get("out") == "6+7!", str(v.get("out"))),
        correctors=[Fixed("sub/left#1", {"left": 6}), Fixed("sub/right#1", {"right": 7})],
    )
    assert result.blamed is not None and result.blamed.key == "sub/right#1"
    assert [c.key for c in result.consumers] == ["sub/join#1", "post#1"]


def test_correcting_one_send_task_or_the_step_before_the_fan_out_replays_every_branch() -> None:
    graph = _fan_out()
    graph.invoke({"n": 3}, {"configurable": {"thread_id": "f"}})
    run = load_run(graph, "f")
    assert [s.key for s in run.steps] == [
        "prep#1",
        "fan#1",
        "item#1",
        "item#2",
        "item#3",
        "total#1",
    ]
    # The other Send tasks keep their writes, in their order.
    corrected = replay(run.by_key()["item#2"], {"parts": [500]})
    assert corrected["parts"] == [0, 500, 20] and corrected["total"] == 520
    # Upstream of the fan-out: the Sends are made again from the corrected state.
    upstream = replay(run.by_key()["prep#1"], {"n": 4})
    assert upstream["parts"] == [0, 10, 20, 30] and upstream["total"] == 60


# --- whole threads ------------------------------------------------------------------------------


class Turns(TypedDict, total=False):
    question: str
    fact: str
    answers: Annotated[list[str], operator.add]


def _two_turn_graph() -> Any:
    def look_up(state: Turns) -> dict[str, Any]:
        # Turn 1 reads the fact; a follow-up reuses what the thread already holds.
        if state.get("fact"):
            return {}
        return {"fact": "the amount is 1,250.00" if "ok" in state["question"] else "1,520.00"}

    graph = StateGraph(Turns)
    graph.add_node("look_up", look_up)
    graph.add_node("answer", lambda s: {"answers": [f"{s['question']}: {s['fact']}"]})
    graph.add_edge(START, "look_up")
    graph.add_edge("look_up", "answer")
    graph.add_edge("answer", END)
    return graph.compile(checkpointer=InMemorySaver())


def test_a_fault_made_in_turn_one_is_named_in_turn_one() -> None:
    graph = _two_turn_graph()
    config: Any = {"configurable": {"thread_id": "thread"}}
    graph.invoke({"question": "amount?"}, config)
    graph.invoke({"question": "and again?"}, config)
    latest = load_run(graph, "thread")
    assert [s.key for s in latest.steps] == ["look_up#1", "answer#1"] and latest.turns == 1
    whole = load_run(graph, "thread", thread=True)
    assert [(s.key, s.turn) for s in whole.steps] == [
        ("look_up#1", 1),
        ("answer#1", 1),
        ("look_up#2", 2),
        ("answer#2", 2),
    ]
    assert whole.inputs == ({"question": "amount?"}, {"question": "and again?"})

    def evaluator(values: Mapping[str, Any]) -> Verdict:
        last = (values.get("answers") or [""])[-1]
        return Verdict("1,250.00" in last, last)

    fixed = Fixed("look_up#1", {"fact": "1,250.00"})
    result = blame(whole, evaluator=evaluator, correctors=[fixed])
    assert result.blamed is not None and result.blamed.key == "look_up#1"
    assert result.blamed.turn == 1
    assert [c.key for c in result.consumers] == ["answer#1", "look_up#2", "answer#2"]
    # Only the latest run: the turn-1 step is not there to be named, and the step of turn 2
    # that merely reused the thread's fact takes the blame instead.
    only_latest = blame(latest, evaluator=evaluator, correctors=[fixed]).blamed
    assert only_latest is not None
    assert only_latest.task_id == whole.by_key()["look_up#2"].task_id != result.blamed.task_id


# --- the user's feedback -------------------------------------------------------------------------


@dataclass(frozen=True)
class Feedback:
    rating: str
    agent: str | None = None
    answer: str | None = None


INVOICE = "What is the status of invoice INV-2025-00412?"


def _chain_run(env: Env, thread: str, text: str = INVOICE) -> RunSteps:
    graph = compile_chain(env)
    graph.invoke(
        {"messages": [HumanMessage(text)]},
        {"configurable": {"thread_id": thread}},
        context=NovaContext(project="parts-shop"),
    )
    return load_run(graph, thread, thread=True)


def _subgraphs() -> dict[str, Any]:
    return {spec.name: spec.subgraph for spec in load_catalog()}


def test_a_corrected_agent_in_bad_feedback_corrects_the_route() -> None:
    # Routed to erp_payments: its tools can look the invoice up, so no check fires.
    run = _chain_run(Env(agent="erp_payments"), "fb-route")
    feedback = Feedback("bad", agent="erp_invoices")
    evaluator = FeedbackEvaluator(feedback, run.final)
    assert not evaluator(run.final).passed
    started = time.perf_counter()
    result = blame(
        run,
        evaluator=evaluator,
        correctors=[FeedbackRouteCorrector(feedback, _subgraphs())],
        context=NovaContext(project="parts-shop"),
    )
    assert time.perf_counter() - started < 10  # a handful of replays with scripted models
    assert result.blamed is not None and result.blamed.key == "route#1"
    assert result.trials[0].source == "feedback" and result.replays == 1


def test_the_facts_of_a_corrected_answer_judge_the_replays() -> None:
    run = _chain_run(Env(agent="erp_invoices"), "fb-facts")
    answer = str(run.final["answer"])
    right = FeedbackEvaluator(Feedback("bad", answer="INV-2025-00412"), run.final)
    wrong = FeedbackEvaluator(Feedback("bad", answer="the amount is 99,999.13"), run.final)
    assert "INV-2025-00412" in answer
    assert right(run.final).passed  # the run states the fact the user says it must
    assert not wrong(run.final).passed
    assert "99,999.13" in wrong(run.final).reason


def test_a_run_that_passes_its_checks_is_blamed_only_on_negative_feedback() -> None:
    run = _chain_run(Env(agent="erp_invoices"), "fb-pass")
    assert blame(run).passed
    good = blame(run, evaluator=FeedbackEvaluator(Feedback("good"), run.final))
    assert good.passed and good.blamed is None and good.replays == 0
    bad = blame(run, evaluator=FeedbackEvaluator(Feedback("bad"), run.final), correctors=[])
    assert not bad.passed and bad.blamed is None and bad.method == "not_attributed"
    assert "the user rejected this answer" in bad.explanation


def test_feedback_evaluator_rejects_the_same_answer_but_accepts_a_different_passing_one() -> None:
    run = _chain_run(Env(agent="erp_invoices"), "fb-same")
    evaluator = FeedbackEvaluator(Feedback("bad"), run.final)
    assert not evaluator(run.final).passed
    other = dict(run.final)
    other["messages"] = [*run.final["messages"], AIMessage("A different answer.")]
    assert evaluator(other).passed


# --- the real pipeline engine: a diamond of steps and a for_each fan-out ----------------------


def test_replays_through_a_real_pipeline_diamond_and_for_each_join() -> None:
    from tests.pipeline_fixtures import Skills, pipeline, runner_for

    skills = Skills()
    skills.behaviour["lookup"] = lambda count, **kw: {
        "rows": [{"c": "x", "v": 1}, {"c": "y", "v": 5}, {"c": "x", "v": 2}]
    }
    skills.behaviour["rate"] = lambda count, **kw: {"rate": 2}
    spec = pipeline(
        "diamond",
        [
            {"id": "lookup", "skill": "lookup"},
            {"id": "rate", "skill": "rate"},  # runs beside lookup: a diamond with "each"
            {
                "id": "groups",
                "compute": "inputs.l.rows | group_rows('c')",
                "inputs": {"l": "lookup"},
            },
            {
                "id": "each",
                "for_each": "inputs.g",
                "inputs": {"g": "groups", "r": "rate"},
                "template": "{{ item.key }}={{ (item.rows | sum(attribute='v')) * inputs.r.rate }}",
            },
            {"id": "out", "template": "{{ inputs.e | join(', ') }}", "inputs": {"e": "each"}},
        ],
    )
    runner = runner_for(skills, spec)
    done = runner.run("diamond")
    assert done.result is not None and done.result["output"] == "x=6, y=10"
    graph = runner.graph("diamond")
    run = load_run(graph, done.thread_id)
    keys = [s.key for s in run.steps]
    assert {"lookup#1", "rate#1", "each__item#1", "each__item#2", "each__join#1"} <= set(keys)

    def output(values: Mapping[str, Any]) -> Any:
        return values["steps"]["out"]["output"]

    # A branch of the diamond corrected: the other branch's output still reaches the join.
    lookup = run.by_key()["lookup#1"]
    rows = {"rows": [{"c": "x", "v": 10}, {"c": "y", "v": 1}]}
    steps = {**lookup.writes["steps"]}
    steps["lookup"] = {**steps["lookup"], "output": rows}
    assert output(replay(lookup, {"steps": steps})) == "x=20, y=2"
    rate = run.by_key()["rate#1"]
    steps = {**rate.writes["steps"]}
    steps["rate"] = {**steps["rate"], "output": {"rate": 3}}
    assert output(replay(rate, {"steps": steps})) == "x=9, y=15"
    # One fan-out item corrected: the join keeps the other item, in order.
    item = run.by_key()["each__item#2"]
    corrected = replay(item, _item_writes(item.writes, "y=99"))
    assert output(corrected) == "x=6, y=99"


def _item_writes(writes: Mapping[str, Any], text: str) -> dict[str, Any]:
    # An item task writes its element's result under the step's item records.
    def swap(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return text if isinstance(value, str) and value.startswith("y=") else value

    return swap(dict(writes))
