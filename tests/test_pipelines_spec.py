"""Pipelines as data: the shipped files load, and bad files are refused with every problem
named by file and step."""

from __future__ import annotations

from pathlib import Path

import pytest

from nova.catalog import default_catalog
from nova.pipelines import (
    DEFAULT_PIPELINES_DIR,
    ParamsError,
    PipelineError,
    load_pipelines,
    validate_params,
)
from nova.pipelines.templates import period, render_value, table
from tools.registry import tool_registry

PIPELINE_AGENTS = {
    "daily_briefing",
    "weekly_sales_report",
    "invoice_reminders",
    "listing_sync",
    "content_pipeline",
    "month_end_close",
}


def _shipped():  # type: ignore[no-untyped-def]
    return load_pipelines(skills=set(tool_registry()), agents=set(default_catalog().names))


def test_shipped_pipelines_load_and_serve_every_pipeline_agent() -> None:
    pipelines = _shipped()
    assert len(pipelines) >= 5
    assert {spec.agent for spec in pipelines if spec.agent} == PIPELINE_AGENTS
    # A pipeline that serves no agent is one that runs on its own schedule.
    assert all(spec.schedule for spec in pipelines if spec.agent is None)
    for name in PIPELINE_AGENTS:
        spec = pipelines.for_agent(name)
        assert spec is not None and default_catalog()[name].group == "pipeline"
        # Every step has a deadline, a retry policy and a failure policy.
        assert all(
            step.deadline_s > 0 and step.retry.attempts >= 1 and step.on_failure in ("fail", "skip")
            for step in spec.steps
        )


def test_shipped_files_are_package_data() -> None:
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert '"pipelines/*.yaml"' in pyproject and '"nova.pipelines"' in pyproject
    assert DEFAULT_PIPELINES_DIR.is_dir()


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


def test_every_problem_is_reported_at_once_with_file_and_step(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "first.yaml",
        """
name: first
version: 1.0.0
description: A pipeline with several mistakes
steps:
  - id: fetch
    skill: erp_overdue_invoicez
  - id: summary
    agent: summariser
    prompt: "{{ inputs.data }}"
    inputs: {rows: fetch}
  - id: report
    template: "{{ inputs.rows }}"
    inputs: {rows: fetched}
""",
    )
    _write(
        tmp_path,
        "second.yaml",
        """
name: second
version: 1.0.0
description: Steps that wait for each other
steps:
  - id: a
    template: a
    after: [c]
  - id: b
    template: b
    after: [a]
  - id: c
    template: c
    after: [b]
""",
    )
    _write(
        tmp_path,
        "third.yaml",
        """
name: third
version: 1.0
description: Schema errors
steps:
  - id: Bad-Id
    skill: calculator
  - id: both
    skill: calculator
    template: also a template
""",
    )
    with pytest.raises(PipelineError) as raised:
        load_pipelines(tmp_path, skills=set(tool_registry()), agents=set(default_catalog().names))
    problems = raised.value.problems
    text = "\n".join(problems)
    first, second, third = (str(tmp_path / f"{n}.yaml") for n in ("first", "second", "third"))
    assert f"{first}: step 'fetch': unknown step target skill 'erp_overdue_invoicez'" in text
    assert "did you mean erp_overdue_invoices" in text
    assert f"{first}: step 'summary': unknown step target agent 'summariser'" in text
    assert f"{first}: step 'summary': prompt: missing input 'data'" in text
    assert f"{first}: step 'report': missing input 'rows': step 'fetched' does not exist" in text
    assert any(p.startswith(f"{second}: step ") and "steps form a cycle" in p for p in problems)
    assert f"{third}: version:" in text
    assert f"{third}: step 'Bad-Id': id:" in text
    assert (
        f"{third}: step 'both': (step): Value error, a step needs exactly one of skill, agent, "
        "template or compute" in text
    )


def test_template_mistakes_are_found_when_loading(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "t.yaml",
        """
name: templated
version: 1.0.0
description: Template checks
params:
  days: {type: integer, default: 14, description: Days overdue}
steps:
  - id: a
    template: "{{ inputs.x | nosuchfilter }}"
    inputs: {x: b}
  - id: b
    compute: "params.weeks * 7"
  - id: c
    template: "{{ item }} and {{ secret }}"
""",
    )
    with pytest.raises(PipelineError) as raised:
        load_pipelines(tmp_path, skills=set(), agents=set())
    text = "\n".join(raised.value.problems)
    assert "step 'a': template: does not compile" in text and "nosuchfilter" in text
    assert "step 'b': compute: uses params.weeks, but the pipeline has no such parameter" in text
    assert "step 'c': template: unknown name(s) ['secret']" in text
    assert "step 'c': template: uses item, but the step has no for_each" in text


def test_duplicate_names_and_agents_are_refused(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yaml"):
        _write(
            tmp_path,
            name,
            "name: twin\nversion: 1.0.0\ndescription: The same name twice\n"
            "agent: daily_briefing\nsteps:\n  - {id: x, template: x}\n",
        )
    with pytest.raises(
        PipelineError,
        match=r"Pipeline names must be unique: 'twin' is defined in a\.yaml and b\.yaml",
    ):
        load_pipelines(tmp_path, skills=set(), agents={"daily_briefing"})


def test_parameters_are_validated_with_clear_messages() -> None:
    spec = _shipped()["invoice_reminders"]
    assert validate_params(spec, {})["min_days_overdue"] == 14
    with pytest.raises(
        ParamsError,
        match=r"has no parameter\(s\) \['min_days'\]; known: min_days_overdue \(integer\)",
    ):
        validate_params(spec, {"min_days": 3})
    with pytest.raises(ParamsError, match="min_days_overdue"):
        validate_params(spec, {"min_days_overdue": "soon"})
    with pytest.raises(ParamsError, match=r"text: Field required\. Known: text \(string\)"):
        validate_params(_shipped()["listing_sync"], {})


def test_template_helpers() -> None:
    from datetime import date

    monday = date(2025, 6, 30)
    assert period("last_week", monday) == {
        "start": "2025-06-23",
        "end": "2025-06-29",
        "label": "week 26/2025 (2025-06-23 – 2025-06-29)",
    }
    assert period("last_month", date(2025, 1, 15))["start"] == "2024-12-01"
    assert period("last_month", date(2025, 3, 31))["end"] == "2025-02-28"
    # December's month ends at the next year's January 1st minus a day.
    assert period("this_month", date(2026, 12, 2))["end"] == "2026-12-31"
    with pytest.raises(ValueError, match="Unknown period 'fortnight'"):
        period("fortnight", monday)
    context = {"inputs": {"n": 3}, "params": {}}
    assert render_value(
        {"limit": "{{ inputs.n }}", "label": "n={{ inputs.n }}", "keep": 5}, context
    ) == {
        "limit": 3,
        "label": "n=3",
        "keep": 5,
    }
    assert table([{"a": 1, "b": "x|y"}]) == "| a | b |\n|---|---|\n| 1 | x\\|y |"
