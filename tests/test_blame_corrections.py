"""Corrections blame derives from the run's own evidence, and replays through staggered joins."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from nodes.check_node import ArgumentCorrector, samples
from nodes.checks import CheckContext
from nodes.consistency import tool_args_consistent
from nodes.corrections import MemoryRereadCorrector, NumberRepairCorrector, repair_numbers
from nova.tracing.blame.attribution import blame
from nova.tracing.blame.corrections import Correction
from nova.tracing.blame.replay import replay
from nova.tracing.blame.steps import RunSteps, Step, load_run
from nova.tracing.blame.verdicts import Verdict

MEMORY = "Baker & Sons pays parts shop invoices late, typically 20 to 40 days after the due date."


def _step(node: str, before: Mapping[str, Any], writes: Mapping[str, Any]) -> Any:
    return SimpleNamespace(node=node, before=SimpleNamespace(values=before), writes=writes)


# --- numbers put back from the sources ---------------------------------------------------------


def test_a_misquoted_figure_is_put_back_from_the_source_that_says_the_same() -> None:
    answer = "From our notes: " + MEMORY.replace("20 to 40", "10 to 20")
    assert repair_numbers(answer, [MEMORY]) == "From our notes: " + MEMORY
    # Formatted amounts are one token each, and only the wrong one changes.
    said = repair_numbers("INV-7 has €1,124.80 open.", ["INV-7 has €1,142.80 open."])
    assert said == "INV-7 has €1,142.80 open."


def test_grounded_or_computed_numbers_and_unrelated_sources_are_left_alone() -> None:
    # Every number is a source's, or computed from two of them (415.94 * 0.98 = 407.62).
    assert repair_numbers("415.94 EUR with 2% off is 407.62 EUR.", ["415.94 open", "0.98"]) is None
    assert repair_numbers("We open at 9 on Monday.", [MEMORY]) is None  # nothing alike
    assert repair_numbers("Typically 10 to 20 days.", []) is None


def test_number_repair_corrects_an_agent_answer_and_a_model_written_pipeline_record() -> None:
    before = {
        "messages": [
            HumanMessage("How late does Baker & Sons pay?"),
            ToolMessage(MEMORY, tool_call_id="1", name="memory_search"),
        ]
    }
    wrong = AIMessage(
        "Baker & Sons pays parts shop invoices late, typically 10 to 20 days after the due date."
    )
    found = list(NumberRepairCorrector()(_step("agent", before, {"messages": [wrong]}), None))
    assert len(found) == 1 and "20 to 40 days" in found[0].writes["messages"][0].content
    # A pipeline element written by a model, with a template's draft as its source.
    draft = {"drafts#0": {"output": "Total open: 39.97 EUR", "model": None}}
    item = {"polished#0": {"output": "Dear customer, total open: 93.97 EUR", "model": "m"}}
    step = _step("polished__item", {"items": draft}, {"items": item})
    fixed = list(NumberRepairCorrector()(step, None))
    assert (
        fixed[0].writes["items"]["polished#0"]["output"] == "Dear customer, total open: 39.97 EUR"
    )
    # A model's earlier text is no source: nothing to put back from.
    other = {"polished#1": {"output": "Total open: 93.97 EUR", "model": "m"}}
    assert (
        list(
            NumberRepairCorrector()(
                _step("polished__item", {"items": other}, {"items": item}), None
            )
        )
        == []
    )


def test_a_recalled_memory_is_read_again_as_the_store_holds_it_now() -> None:
    class Store:
        def get(self, project: str, memory_id: str) -> Any:
            return SimpleNamespace(id=memory_id, text=MEMORY) if memory_id == "m1" else None

    hits = [{"id": "m1", "text": MEMORY.replace("20 to 40", "10 to 20")}, {"id": "m2", "text": "x"}]
    step = _step("recall", {"project": "p"}, {"memories": hits})
    found = list(MemoryRereadCorrector(Store())(step, None))
    assert found[0].writes["memories"] == [{"id": "m1", "text": MEMORY}, hits[1]]
    current = _step("recall", {"project": "p"}, {"memories": [{"id": "m1", "text": MEMORY}]})
    assert list(MemoryRereadCorrector(Store())(current, None)) == []


# --- parties: the check reads the result's name, the corrector puts the user's back ------------


def _balance_call(number: str, name: str) -> list[Any]:
    call = {"name": "erp_customer_balance", "args": {"customer": number}, "id": "c1"}
    row = f'{{"id": "{number}", "name": "{name}", "outstanding": "747.94"}}'
    return [
        HumanMessage("Nordwind GmbH called, what do they still owe us?"),
        AIMessage("", tool_calls=[call]),
        ToolMessage(f"{name} owes 747.94.\nrows (1 of 1):\n{row}", tool_call_id="c1"),
    ]


def test_a_party_number_is_judged_by_the_name_its_own_result_gives_it() -> None:
    def verdict(messages: list[Any]) -> Any:
        context = CheckContext(
            request="", answer="x", agent=None, route=None, project=None, messages=messages
        )
        return tool_args_consistent(context)

    right = verdict(_balance_call("20001", "Nordwind GmbH"))
    assert right is not None and right.passed, right
    wrong = verdict(_balance_call("20004", "Kessler Automotive GmbH"))
    assert wrong is not None and not wrong.passed and "Kessler Automotive GmbH" in wrong.detail


def test_the_argument_corrector_puts_back_the_party_the_user_named() -> None:
    messages = _balance_call("20004", "Kessler Automotive GmbH")
    step = _step("agent", {"messages": messages[:1]}, {"messages": [messages[1]]})
    corrector = ArgumentCorrector(parties=lambda text: {"customer": {"20001"}})
    found = list(corrector(step, None))
    assert found[0].writes["messages"][0].tool_calls[0]["args"] == {"customer": "20001"}
    # Two customers named, or none: never a guess.
    unsure = ArgumentCorrector(parties=lambda text: {"customer": {"20001", "20002"}})
    assert list(unsure(step, None)) == []


def test_only_steps_that_ran_a_model_or_a_tool_are_re_sampled() -> None:
    question = HumanMessage("hi", id="h")
    answer = AIMessage("hello", id="a")
    assert samples(_step("agent", {"messages": [question]}, {"messages": [answer]}))
    assert samples(_step("tools", {}, {}))
    # The check node replaces the answer it was given (same id): deterministic.
    assert not samples(_step("check", {"messages": [question, answer]}, {"messages": [answer]}))
    assert not samples(_step("route", {}, {"route": {"agent": "x"}}))
    assert samples(_step("polished__item", {}, {"items": {"p#0": {"model": "m", "output": "x"}}}))


# --- a join that waits for a step which ran before the corrected one --------------------------


class Staggered(TypedDict, total=False):
    a: int
    b: int
    c: int
    out: str


def test_a_step_corrected_after_one_input_of_a_join_arrived_still_reaches_the_join() -> None:
    # "early" reaches the join's barrier two supersteps before "late" does; a fork made from
    # the state alone would wait for "early" forever and end without "out".
    graph = StateGraph(Staggered)
    graph.add_node("early", lambda s: {"a": 1})
    graph.add_node("mid", lambda s: {"b": 2})
    graph.add_node("late", lambda s: {"c": s["b"] * 10})
    graph.add_node("join", lambda s: {"out": f"{s['a']}/{s['c']}"})
    graph.add_edge(START, "early")
    graph.add_edge(START, "mid")
    graph.add_edge("mid", "late")
    graph.add_edge(["early", "late"], "join")
    graph.add_edge("join", END)
    compiled = graph.compile(checkpointer=InMemorySaver())
    compiled.invoke({}, {"configurable": {"thread_id": "s"}})
    run = load_run(compiled, "s")
    assert replay(run.by_key()["late#1"], {"c": 7})["out"] == "1/7"

    @dataclass
    class Late:
        def __call__(self, step: Step, run: RunSteps) -> Iterator[Correction]:
            if step.node == "late":
                yield Correction("check", {"c": 7}, "test")

    result = blame(run, evaluator=lambda v: Verdict(v.get("out") == "1/7"), correctors=[Late()])
    assert result.blamed is not None and result.blamed.key == "late#1"


def test_a_pipeline_step_run_by_an_agent_is_blamed_on_that_agent() -> None:
    from graphs.pipeline import compile_pipeline
    from nodes.pipeline_steps import StepDeps
    from nova.catalog import default_catalog
    from nova.glossary import Glossary
    from nova.tracing.blame.steps import OWNER_METADATA
    from tests.pipeline_fixtures import ScriptedModels, pipeline

    spec = pipeline(
        "owners",
        [
            {"id": "draft", "template": "hello"},
            {
                "id": "polish",
                "agent": "email_drafter",
                "prompt": "{{ inputs.d }}",
                "inputs": {"d": "draft"},
            },
        ],
    )
    deps = StepDeps(
        skills={},
        catalog=default_catalog(),
        model_factory=ScriptedModels(),
        glossary=lambda project: Glossary(),
    )
    graph = compile_pipeline(spec, deps).compile()
    assert graph.nodes["polish"].metadata == {OWNER_METADATA: "email_drafter"}
    assert not graph.nodes["draft"].metadata


def test_a_changed_month_or_an_added_negation_is_set_back_to_the_source() -> None:
    draft = "Run the content pipeline on my blog draft: Returns are accepted within 30 days."
    assert repair_numbers("Returns are not accepted within 30 days.", [draft]) == (
        "Returns are accepted within 30 days."
    )
    season = "Service season runs from March to May. Order filtres early."
    assert repair_numbers("Service season runs from June to August.", [season]) == (
        "Service season runs from March to May."
    )
    # A negation the source says too is the source's, not the model's.
    assert repair_numbers("We do not ship on Sundays.", ["We do not ship on Sundays."]) is None
