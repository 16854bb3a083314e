"""The eval suites ``nova improve``'s gate replays for Nova's own catalog (test splits only).

Routing candidates: the routing set's frozen test split (leaked cases removed, as ``nova
eval routing`` does) becomes gate cases; requests for agents the catalog no longer has are
left out.

Prompt candidates: the suite that exercises an agent's own answers. Today that is the ERP
set (``evals/datasets/erp.jsonl``): its test-split requests for the agent are answered by
the agent's model with its tools on the evaluation sample (``erp_eval.score_model``;
writes are proposed, never run) and judged by the dataset's facts, which the generator
read from the sample's rows, not from Nova's answers. Other agents have no such suite yet
(``None``: the gate says "no suite").
"""

from __future__ import annotations

from collections.abc import Collection
from functools import cache
from pathlib import Path
from typing import Any

from evals.discipline import split_cases
from evals.routing_eval import DEFAULT_DATASET, load_dataset
from nova.catalog.spec import AgentSpec
from nova.improve.gate import Case
from nova.improve.suites import PromptSuite


def routing_suite(agents: Collection[str], dataset: Path = DEFAULT_DATASET) -> list[Case]:
    """Return the routing set's test split as gate cases for a catalog of ``agents``."""
    cases = load_dataset(dataset)
    split = split_cases(cases, case_id=lambda c: c.text, text=lambda c: c.text)
    return [
        Case(c.text, c.agent, "suite") for c in split.test if c.agent is None or c.agent in agents
    ]


@cache
def _erp_test_split(dataset: Path) -> tuple[Any, ...]:
    from evals.erp_eval import load_dataset as load_erp

    cases = load_erp(dataset)
    return tuple(split_cases(cases, case_id=lambda c: c.id, text=lambda c: c.text).test)


def prompt_suite(agent: str, dataset: Path | None = None) -> PromptSuite | None:
    """Return the ERP set's test split for ``agent`` as a prompt suite (``None``: no cases)."""
    from evals import erp_eval

    path = dataset or erp_eval.DEFAULT_DATASET
    cases = [c for c in _erp_test_split(path) if c.agent == agent]
    if not cases:
        return None

    def judge(spec: AgentSpec, model_factory: Any) -> list[bool]:
        # The evaluation sample, never the owner's ERP: the facts were read from its rows.
        database, _ = erp_eval.evaluation_database(None, path)
        catalog = {spec.name: spec}
        return [
            erp_eval.score_model(case, catalog, model_factory, database=database).correct
            for case in cases
        ]

    return PromptSuite(
        name=f"erp set, test split ({agent})",
        cases=[Case(c.text, agent, "suite", c.id) for c in cases],
        judge=judge,
        source="facts read from the evaluation sample's rows by evals/make_erp_dataset.py",
    )
