"""The eval suites the gate replays for Nova's own catalog, when the checkout has them.

The suites (datasets with frozen splits) live in ``evals/``, above ``nova`` in the stack,
so they are found at run time: in a source checkout ``evals.improve_suites`` supplies the
routing set's test split; an installation without ``evals/`` gates Nova's catalog as it
gates any other, on held-out corrections and examples.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Collection

from nova.improve.gate import Case

log = logging.getLogger(__name__)


def default_suite(agents: Collection[str]) -> list[Case]:
    """Return the routing suite's test cases for Nova's catalog (empty without ``evals/``)."""
    if importlib.util.find_spec("evals") is None:
        log.info("No evals package here: the gate uses held-out examples and corrections")
        return []
    module = importlib.import_module("evals.improve_suites")
    return list(module.routing_suite(agents))
