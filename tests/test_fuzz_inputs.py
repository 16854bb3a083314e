"""Hypothesis fuzzing of what a user types: CLI arguments and the supervisor graph's input.

CLI: random argument vectors for the commands that read user text (ask, route, agents,
projects, failures, trace, pipeline, memory, stats), through typer's ``CliRunner`` in one
data directory. Every command must end with exit code 0 (done), 1 (a failure it explains),
2 (bad input, one line) or 3 (paused for approval), never with an exception escaping to a
traceback; what was stored before the fuzzing (a failure record, a memory) is still there
after it.

Graph: the compiled supervisor (no model configured, as on a fresh install) gets random
request text (any Unicode, control characters, very long), content blocks, projects and
agents. A run either answers (a non-empty ``answer``) or refuses with ``InvalidRequest``
(an unknown project or agent, an empty request), and the thread's earlier turn survives.

``NOVA_FUZZ_EXAMPLES`` sets the examples per test; no example database is written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langgraph.checkpoint.memory import InMemorySaver
from typer.testing import CliRunner

from nova.errors import InvalidRequest
from nova.state import NovaContext

EXAMPLES = int(os.environ.get("NOVA_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    # One data directory (the test's) serves every example, which is the point: state
    # accumulates as it would for a user, and nothing stored may be lost.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

text = st.text(max_size=80)
nasty = st.one_of(
    text,
    st.sampled_from(
        ["", " ", "-", "--", "--help", "\x00", "\n\n", "%s%n", "' OR 1=1 --", "../../etc/passwd",
         "[bold]x[/]", "[/]", "{{ 7*7 }}", "9" * 40, "-1", "0", "NaN", "💥" * 20, "a" * 5000]
    ),
)  # fmt: skip
number = st.one_of(st.integers(min_value=-(10**12), max_value=10**12).map(str), nasty)
agent = st.one_of(st.sampled_from(["general_chat", "erp_invoices", "translator"]), nasty)
project = st.one_of(st.sampled_from(["personal", "parts-shop"]), nasty)

COMMANDS: list[st.SearchStrategy[list[str]]] = [
    st.tuples(nasty, project).map(lambda a: ["ask", "--local", a[0], "--project", a[1]]),
    st.tuples(nasty, agent).map(lambda a: ["ask", "--local", a[0], "--agent", a[1]]),
    st.tuples(nasty).map(lambda a: ["ask", "--local", a[0], "--thread", "fuzz-thread"]),
    st.tuples(nasty, project).map(lambda a: ["route", a[0], "--project", a[1]]),
    st.tuples(agent).map(lambda a: ["agents", "show", a[0]]),
    st.tuples(project).map(lambda a: ["projects", "show", a[0]]),
    st.tuples(nasty).map(lambda a: ["failures", "show", a[0]]),
    st.tuples(nasty, number).map(lambda a: ["failures", "list", "--kind", a[0], "--limit", a[1]]),
    st.tuples(nasty).map(lambda a: ["trace", "show", a[0]]),
    st.tuples(number).map(lambda a: ["trace", "list", "--limit", a[0]]),
    st.tuples(nasty).map(lambda a: ["pipeline", "show", a[0]]),
    st.tuples(nasty).map(lambda a: ["pipeline", "status", a[0]]),
    st.tuples(nasty, project).map(lambda a: ["memory", "search", a[0], "--project", a[1]]),
    st.tuples(nasty, project).map(lambda a: ["stats", "--since", a[0], "--project", a[1]]),
    st.lists(nasty, max_size=4),
]


@pytest.mark.slow
def test_cli_arguments_never_crash_and_lose_nothing(tmp_path: Path) -> None:
    from nova.cli import app
    from nova.ledger.failures import FailureLedger

    runner = CliRunner()
    kept = FailureLedger().record("node_error", error_type="Kept", message="stored before fuzzing")
    saved = runner.invoke(
        app, ["memory", "add", "The accountant is Dana Weiss.", "--project", "personal"]
    )
    assert saved.exit_code == 0, saved.output
    seen: list[str] = []

    @FUZZ
    @given(args=st.one_of(*COMMANDS))
    def run(args: list[str]) -> None:
        result = runner.invoke(app, args, env={"COLUMNS": "200"})
        seen.append(args[0] if args else "")
        crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
        assert not crashed, f"nova {args!r} raised {result.exception!r}\n{result.output}"
        assert result.exit_code in (0, 1, 2, 3), (args, result.exit_code, result.output)
        assert "Traceback" not in result.output, (args, result.output)

    run()

    assert len(set(seen)) >= 5  # the fuzzing reached many commands, not one
    still = FailureLedger().get(kept.id)
    assert still is not None and still.message == "stored before fuzzing"
    found = runner.invoke(app, ["memory", "list", "--project", "personal"], env={"COLUMNS": "200"})
    assert "Dana Weiss" in found.output, found.output


content = st.one_of(
    nasty,
    st.text(min_size=1, max_size=2000),
    st.lists(
        st.fixed_dictionaries({"type": st.just("text"), "text": nasty}), min_size=1, max_size=3
    ),
)


@pytest.mark.slow
def test_graph_inputs_are_answered_or_refused_clearly() -> None:
    from graphs.nova import build_nova_graph

    graph = build_nova_graph().compile(checkpointer=InMemorySaver())
    keep = {"configurable": {"thread_id": "kept"}}
    first = graph.invoke(
        {"messages": [{"role": "user", "content": "What is 19% VAT on 100?"}]}, keep
    )
    assert first["answer"]

    @FUZZ
    @given(
        body=content,
        project=st.one_of(st.none(), project),
        agent=st.one_of(st.none(), agent),
        thread=st.sampled_from(["a", "b", "kept"]),
    )
    def run(body: Any, project: str | None, agent: str | None, thread: str) -> None:
        config = {"configurable": {"thread_id": f"fuzz-{thread}"}}
        try:
            result = graph.invoke(
                {"messages": [{"role": "user", "content": body}]},
                config,
                context=NovaContext(project=project, agent=agent),
            )
        except InvalidRequest as error:
            message = str(error)
            assert message.strip() and "Traceback" not in message
            return
        assert isinstance(result.get("answer"), str) and result["answer"].strip(), result

    run()

    after = graph.get_state(keep).values
    assert after["answer"] == first["answer"]
    assert [m.content for m in after["messages"]] == [m.content for m in first["messages"]]
