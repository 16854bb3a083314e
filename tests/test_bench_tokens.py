"""The prompt-economy benchmark counts what both systems send (a smoke run, not a timing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.bench_tokens import DATASET, run

pytestmark = pytest.mark.slow


def test_both_systems_answer_and_the_handoff_supervisor_pays_for_its_handoffs() -> None:
    cases = [json.loads(line) for line in Path(DATASET).read_text().splitlines()]
    in_scope = [case for case in cases if case["agent"] and "erp" not in case["agent"]][:3]
    report, sides = run(in_scope, project="personal")

    nova, baseline = sides["nova"], sides["baseline"]
    assert nova.requests == baseline.requests == 3
    assert baseline.answered == 3
    # Supervisor -> agent -> supervisor: three model calls per request, each with its tools.
    assert baseline.parts.calls == 9
    assert baseline.parts.tools > 0 and baseline.parts.memories == 0
    assert nova.parts.total > 0
    assert report.ratio == round(nova.per_answered() / baseline.per_answered(), 3)
    assert report.ratio < 1
