"""The pipeline engine: parallel super-steps, shared upstream results, fan-out, failure
policy, deadlines, retries, agent steps with and without a model, resumption, approvals."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from nova.testing import ScriptedChatModel, ScriptedModels
from tests.pipeline_fixtures import Skills, approval, fail_first, hang, pipeline, refuse, runner_for


def _statuses(run: Any) -> dict[str, str]:
    return {step["step"]: step["status"] for step in run.result["steps"]}


def test_independent_steps_run_at_the_same_time() -> None:
    skills = Skills()
    # Each of the 8 steps waits at a barrier for all 8: they only get through if they overlap.
    barrier = threading.Barrier(8, timeout=10)
    skills.behaviour["work"] = lambda count, **kw: barrier.wait() >= 0 and kw["n"]
    spec = pipeline(
        "fan",
        [
            *({"id": f"s{i}", "skill": "work", "args": {"n": i}} for i in range(8)),
            {
                "id": "total",
                "compute": "inputs.values() | sum",
                "inputs": [f"s{i}" for i in range(8)],
            },
        ],
    )
    run = runner_for(skills, spec).run("fan")
    assert run.result["status"] == "completed"
    assert run.result["output"] == sum(range(8))
    assert skills.calls["work"] == 8


def test_a_step_several_others_need_runs_once_and_shares_its_result() -> None:
    skills = Skills()
    skills.behaviour["fetch"] = lambda count, **kw: {"rows": [1, 2, 3], "call": count}
    spec = pipeline(
        "diamond",
        [
            {"id": "fetch", "skill": "fetch"},
            {"id": "a", "compute": "inputs.d.rows | sum", "inputs": {"d": "fetch"}},
            {"id": "b", "compute": "inputs.d.rows | length", "inputs": {"d": "fetch"}},
            {"id": "c", "compute": "inputs.d.call", "inputs": {"d": "fetch"}},
            {
                "id": "out",
                "template": "{{ inputs.a }}/{{ inputs.b }}/{{ inputs.c }}",
                "inputs": ["a", "b", "c"],
            },
        ],
    )
    runner = runner_for(skills, spec)
    run = runner.run("diamond")
    assert run.result["output"] == "6/3/1"
    assert skills.calls["fetch"] == 1
    # The compiled graph: the three users wait on the one upstream node, in one super-step.
    graph = runner.graph("diamond").get_graph()
    assert {e.target for e in graph.edges if e.source == "fetch"} == {"a", "b", "c"}


def test_for_each_fans_out_with_send_and_keeps_the_order() -> None:
    skills = Skills()
    skills.behaviour["lookup"] = lambda count, **kw: {
        "rows": [{"c": "x", "v": 1}, {"c": "y", "v": 5}, {"c": "x", "v": 2}]
    }
    spec = pipeline(
        "mapreduce",
        [
            {"id": "lookup", "skill": "lookup"},
            {
                "id": "groups",
                "compute": "inputs.l.rows | group_rows('c')",
                "inputs": {"l": "lookup"},
            },
            {
                "id": "each",
                "for_each": "inputs.g",
                "inputs": {"g": "groups"},
                "template": "{{ item.key }}={{ item.rows | sum(attribute='v') }}",
            },
            {"id": "out", "template": "{{ inputs.e | join(', ') }}", "inputs": {"e": "each"}},
        ],
    )
    runner = runner_for(skills, spec)
    run = runner.run("mapreduce")
    assert run.result["output"] == "x=3, y=5"
    nodes = set(runner.graph("mapreduce").get_graph().nodes)
    assert {"each", "each__item", "each__join"} <= nodes


def test_elements_failing_alike_make_one_failure_record_and_different_ones_each_theirs() -> None:
    """Fifty letters drafted without a model must not fill the ledger with fifty records."""
    skills = Skills()

    def lookup(count: int, **kw: Any) -> dict[str, Any]:
        if kw["customer"] == "odd":
            raise ValueError("Unknown customer 'odd'")
        raise ValueError("the mail server refused the connection")

    skills.behaviour["lookup"] = lookup
    spec = pipeline(
        "letters",
        [
            {
                "id": "each",
                "skill": "lookup",
                "args": {"customer": "{{ item }}"},
                "for_each": "['a', 'b', 'odd', 'c']",
                "on_failure": "skip",
                "retry": {"attempts": 1},
            },
        ],
    )
    run = runner_for(skills, spec).run("letters")
    failures = sorted(run.result["failures"], key=lambda f: f["message"])
    assert [(f["step"], f["item"]) for f in failures] == [("each", 2), ("each", 0)]
    assert "Unknown customer 'odd'" in failures[0]["message"]
    assert "1 of" not in failures[0]["message"]  # a lone failure reads as before
    assert failures[1]["message"].endswith("(3 of 4 elements: 0, 1, 3)")
    assert failures[1]["attempts"] == 3


def test_a_failing_step_with_skip_policy_is_noted_and_the_rest_goes_on() -> None:
    skills = Skills()
    skills.behaviour["broken"] = refuse("Unknown customer 'Acme'; check the name")
    spec = pipeline(
        "skipping",
        [
            {"id": "broken", "skill": "broken", "on_failure": "skip"},
            {"id": "fine", "skill": "fine"},
            {
                "id": "out",
                "inputs": {"b": {"step": "broken", "optional": True}, "f": "fine"},
                "template": "{{ 'no data' if inputs.b is none else 'data' }} / "
                "{{ inputs.f.skill }}",
            },
        ],
    )
    run = runner_for(skills, spec).run("skipping")
    assert run.result["status"] == "completed_with_skips"
    assert run.result["output"] == "no data / fine"
    [failure] = run.result["failures"]
    assert (failure["step"], failure["kind"], failure["policy"], failure["attempts"]) == (
        "broken",
        "tool_error",
        "skip",
        1,
    )
    assert "Unknown customer 'Acme'" in failure["message"]
    assert "broken skipped after failing: Unknown customer" in run.result["text"]


def test_a_failing_step_with_fail_policy_stops_the_pipeline() -> None:
    skills = Skills()
    skills.behaviour["first"] = refuse("database is read-only")
    spec = pipeline(
        "stopping",
        [
            {"id": "first", "skill": "first"},
            {"id": "second", "skill": "second", "after": ["first"]},
            {"id": "out", "template": "done", "after": ["second"]},
        ],
    )
    run = runner_for(skills, spec).run("stopping")
    assert run.result["status"] == "failed"
    assert _statuses(run) == {"first": "failed", "second": "cancelled", "out": "cancelled"}
    assert skills.calls["second"] == 0
    assert "The stopping pipeline failed: step 'first' failed." in run.result["text"]


def test_retry_policy_retries_transient_errors() -> None:
    skills = Skills()
    skills.behaviour["flaky"] = fail_first(2)
    spec = pipeline(
        "retrying", [{"id": "flaky", "skill": "flaky", "retry": {"attempts": 3, "backoff_s": 0.01}}]
    )
    run = runner_for(skills, spec).run("retrying")
    assert run.result["status"] == "completed"
    assert run.result["steps"][0]["attempts"] == 3
    assert skills.calls["flaky"] == 3


def test_a_tool_error_message_is_not_retried() -> None:
    skills = Skills()
    skills.behaviour["refusing"] = refuse("invalid date '2025-13-45'")
    spec = pipeline("no_retry", [{"id": "refusing", "skill": "refusing", "retry": {"attempts": 3}}])
    run = runner_for(skills, spec).run("no_retry")
    assert run.result["status"] == "failed"
    assert skills.calls["refusing"] == 1


def test_a_hanging_step_ends_at_its_deadline() -> None:
    skills = Skills()
    skills.behaviour["stuck"] = hang(skills)
    spec = pipeline(
        "hanging",
        [
            {
                "id": "stuck",
                "skill": "stuck",
                "deadline_s": 0.3,
                "retry": {"attempts": 3, "backoff_s": 0.05},
                "on_failure": "skip",
            },
            {"id": "out", "template": "still here", "after": ["stuck"]},
        ],
    )
    started = time.monotonic()
    try:
        run = runner_for(skills, spec).run("hanging")
    finally:
        skills.release.set()
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"the pipeline took {elapsed:.1f} s; the step's deadline is 0.3 s"
    assert run.result["output"] == "still here"
    [failure] = run.result["failures"]
    assert failure["kind"] == "timeout"
    assert "deadline of 0.3 s" in failure["message"]


def test_condition_false_skips_the_step_and_its_required_dependents() -> None:
    skills = Skills()
    spec = pipeline(
        "conditional",
        [
            {"id": "send", "skill": "send", "when": "params.send"},
            {"id": "confirm", "template": "sent {{ inputs.s }}", "inputs": {"s": "send"}},
            {"id": "out", "template": "ok", "after": ["confirm"]},
        ],
        params={"send": {"type": "boolean", "default": False, "description": "Send them"}},
    )
    run = runner_for(skills, spec).run("conditional")
    assert _statuses(run) == {"send": "skipped", "confirm": "skipped", "out": "ok"}
    assert skills.calls["send"] == 0
    notes = {step["step"]: step.get("note", "") for step in run.result["steps"]}
    assert notes["send"] == "condition not met: params.send"
    assert "input 's' is missing: step 'send' skipped" in notes["confirm"]
    assert (
        runner_for(skills, spec).run("conditional", params={"send": True}).result["status"]
        == "completed"
    )


def test_agent_step_without_a_model_says_so_and_follows_its_policy() -> None:
    skills = Skills()
    spec = pipeline(
        "summary",
        [
            {"id": "data", "skill": "data"},
            {
                "id": "summary",
                "agent": "summarizer",
                "inputs": {"d": "data"},
                "prompt": "Summarise {{ inputs.d }}",
                "on_failure": "skip",
            },
            {
                "id": "out",
                "template": "{{ inputs.s or 'no summary' }}",
                "inputs": {"s": {"step": "summary", "optional": True}},
            },
        ],
        agent="daily_briefing",
    )
    run = runner_for(skills, spec).run("summary")
    assert run.result["status"] == "completed_with_skips"
    assert run.result["output"] == "no summary"
    [failure] = run.result["failures"]
    assert failure["kind"] == "needs_model"
    assert "The summarizer agent needs a language model" in run.result["text"]
    assert "NOVA_MODEL_BASE_URL" in run.result["text"]


def test_agent_step_with_a_model_gets_its_prompt_and_records_the_model() -> None:
    skills = Skills()
    model = ScriptedChatModel.from_script(["Three short points."])
    spec = pipeline(
        "summary",
        [
            {"id": "data", "skill": "data"},
            {
                "id": "summary",
                "agent": "summarizer",
                "inputs": {"d": "data"},
                "prompt": "Summarise: {{ inputs.d.skill }}",
            },
        ],
    )
    runner = runner_for(skills, spec, models=ScriptedModels({"summarizer": model}))
    outcomes: list[Any] = []
    run = runner.run(
        "summary", on_event=lambda node, update: outcomes.append(update.get("agent_run"))
    )
    assert run.result["output"] == "Three short points."
    system, human = model.received[0]
    assert "You are Nova's summariser" in system.content
    assert human.content == "Summarise: data"
    assert [o for o in outcomes if o][-1]["outcome"] == "answered"
    assert [o for o in outcomes if o][-1]["model"] == "scripted"


def test_a_failed_run_resumes_on_the_same_thread_without_rerunning_finished_steps() -> None:
    skills = Skills()
    skills.behaviour["report"] = fail_first(1, RuntimeError)
    spec = pipeline(
        "resumable",
        [
            {"id": "a", "skill": "a"},
            {"id": "b", "skill": "b"},
            {"id": "report", "skill": "report", "after": ["a", "b"]},
            {"id": "out", "template": "{{ inputs.r.ok }}", "inputs": {"r": "report"}},
        ],
    )
    runner = runner_for(skills, spec)
    first = runner.run("resumable", thread_id="t-resume")
    assert first.result["status"] == "failed"
    assert skills.calls == {"a": 1, "b": 1, "report": 1}
    second = runner.run("resumable", thread_id="t-resume")
    assert second.result["status"] == "completed"
    assert second.result["output"] == "True"
    assert second.result["attempt"] == 2 and second.result["run_id"] == first.result["run_id"]
    assert skills.calls == {"a": 1, "b": 1, "report": 2}


class SimulatedCrash(BaseException):
    """Stands for the process dying mid-run (not an error any policy handles)."""


def test_partial_results_survive_a_crash_and_the_run_continues_where_it_stopped() -> None:
    skills = Skills()
    crashed = threading.Event()

    def crash_once(count: int, **kwargs: Any) -> Any:
        if not crashed.is_set():
            crashed.set()
            raise SimulatedCrash
        return {"ok": True}

    skills.behaviour["slow"] = lambda count, **kw: time.sleep(0.05) or {"slow": True}
    skills.behaviour["crashy"] = crash_once
    spec = pipeline(
        "crashing",
        [
            {"id": "fast", "skill": "fast"},
            {"id": "slow", "skill": "slow"},
            {"id": "crashy", "skill": "crashy", "after": ["fast", "slow"]},
            {"id": "out", "template": "{{ inputs.c.ok }}", "inputs": {"c": "crashy"}},
        ],
    )
    saver = InMemorySaver()
    runner = runner_for(skills, spec, checkpointer=saver)
    with pytest.raises(SimulatedCrash):
        runner.run("crashing", thread_id="t-crash")
    # A new runner (a restarted process) on the same checkpoints picks up the thread.
    again = runner_for(skills, spec, checkpointer=saver).run("crashing", thread_id="t-crash")
    assert again.result["status"] == "completed"
    assert skills.calls == {"fast": 1, "slow": 1, "crashy": 2}


def test_bad_parameters_end_the_run_with_a_clear_message() -> None:
    skills = Skills()
    spec = pipeline(
        "typed",
        [{"id": "out", "template": "{{ params.n * 2 }}"}],
        params={"n": {"type": "integer", "default": 1, "description": "a number"}},
    )
    run = runner_for(skills, spec).run("typed", params={"n": "many"})
    assert run.result["status"] == "failed"
    assert "Invalid parameters for pipeline 'typed': n:" in run.result["text"]
    assert run.result["failures"][0]["kind"] == "bad_input"
    assert runner_for(skills, spec).run("typed", params={"n": 21}).result["output"] == "42"


def test_a_template_error_is_bad_input_and_not_retried() -> None:
    skills = Skills()
    spec = pipeline(
        "broken_template",
        [
            {"id": "data", "skill": "data"},
            {
                "id": "out",
                "template": "{{ inputs.d.missing_field.deeper }}",
                "inputs": {"d": "data"},
                "retry": {"attempts": 3},
            },
        ],
    )
    run = runner_for(skills, spec).run("broken_template")
    assert run.result["status"] == "failed"
    [failure] = run.result["failures"]
    assert failure["kind"] == "bad_input" and failure["attempts"] == 1
    assert "missing_field" in failure["message"]


def test_sequential_for_each_pauses_for_each_approval_in_turn() -> None:
    skills = Skills()
    skills.behaviour["send"] = approval(skills)
    spec = pipeline(
        "approvals",
        [
            {
                "id": "send",
                "skill": "send",
                "for_each": "['INV-1', 'INV-2']",
                "parallel": False,
                "args": {"invoice": "{{ item }}"},
            },
            {
                "id": "out",
                "template": "{{ inputs.s | map(attribute='approved') | list }}",
                "inputs": {"s": "send"},
            },
        ],
    )
    runner = runner_for(skills, spec)
    first = runner.run("approvals", thread_id="t-approve")
    assert first.waiting and first.interrupts == [{"action": "send", "target": "INV-1"}]
    second = runner.run("approvals", thread_id="t-approve", decision={"approved": True})
    assert second.interrupts == [{"action": "send", "target": "INV-2"}]
    done = runner.run("approvals", thread_id="t-approve", decision={"approved": False})
    assert done.result["output"] == "[True, False]"


def test_async_runs_many_pipelines_at_once() -> None:
    skills = Skills()
    spec = pipeline(
        "many",
        [
            *({"id": f"s{i}", "skill": "work", "args": {"i": i}} for i in range(4)),
            {
                "id": "out",
                "template": "{{ inputs | length }}",
                "inputs": [f"s{i}" for i in range(4)],
            },
        ],
    )
    runner = runner_for(skills, spec)

    async def launch() -> list[Any]:
        return await asyncio.gather(*(runner.arun("many") for _ in range(25)))

    runs = asyncio.run(launch())
    assert [r.result["output"] for r in runs] == ["4"] * 25
    assert skills.calls["work"] == 100
