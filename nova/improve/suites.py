"""The eval suites the gate replays for Nova's own catalog, when the checkout has them.

The suites (datasets with frozen splits) live in ``evals/``, above ``nova`` in the stack,
so they are found at run time: in a source checkout ``evals.improve_suites`` supplies the
routing set's test split, and for a prompt candidate the test split of the suite that
exercises that agent's answers (``prompt_suite``). An installation without ``evals/``
gates Nova's catalog as it gates any other, on held-out corrections and examples, and a
prompt candidate on its replays alone ("no suite" in its figures).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from nova.catalog.spec import AgentSpec
from nova.improve.gate import Case

log = logging.getLogger(__name__)


def default_suite(agents: Collection[str]) -> list[Case]:
    """Return the routing suite's test cases for Nova's catalog (empty without ``evals/``)."""
    if importlib.util.find_spec("evals") is None:
        log.info("No evals package here: the gate uses held-out examples and corrections")
        return []
    module = importlib.import_module("evals.improve_suites")
    return list(module.routing_suite(agents))


@dataclass(slots=True)
class PromptSuite:
    """An eval suite's test cases for one agent, judged on answers made with a given spec.

    ``judge(spec, model_factory)`` runs every case with ``spec`` (its prompt) and the
    model and returns, per case, whether the answer was right by the suite's own oracle.
    """

    name: str
    cases: Sequence[Case]
    judge: Callable[[AgentSpec, Any], list[bool]]
    source: str = ""
    """Where the expected answers come from (the suite's oracle), for the figures."""
    _seen: dict[str, list[bool]] = field(default_factory=dict, repr=False)

    def verdicts(self, spec: AgentSpec, model_factory: Any) -> list[bool]:
        """Return ``spec``'s verdicts, once per content version (a parent is judged once)."""
        if spec.content_version not in self._seen:
            verdicts = list(self.judge(spec, model_factory))
            if len(verdicts) != len(self.cases):
                raise ValueError(
                    f"Suite {self.name} judged {len(verdicts)} of its {len(self.cases)} cases"
                )
            self._seen[spec.content_version] = verdicts
        return self._seen[spec.content_version]


def prompt_suite(agent: str) -> PromptSuite | None:
    """Return the suite whose test split exercises ``agent``'s answers (``None``: none)."""
    if importlib.util.find_spec("evals") is None:
        return None
    module = importlib.import_module("evals.improve_suites")
    suite: PromptSuite | None = module.prompt_suite(agent)
    return suite
