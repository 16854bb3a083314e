"""The eval suites ``nova improve``'s gate replays for Nova's own catalog (test splits only).

The routing set's frozen test split (leaked cases removed, as ``nova eval routing`` does)
becomes gate cases; requests for agents the catalog no longer has are left out.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from evals.discipline import split_cases
from evals.routing_eval import DEFAULT_DATASET, load_dataset
from nova.improve.gate import Case


def routing_suite(agents: Collection[str], dataset: Path = DEFAULT_DATASET) -> list[Case]:
    """Return the routing set's test split as gate cases for a catalog of ``agents``."""
    cases = load_dataset(dataset)
    split = split_cases(cases, case_id=lambda c: c.text, text=lambda c: c.text)
    return [
        Case(c.text, c.agent, "suite") for c in split.test if c.agent is None or c.agent in agents
    ]
