"""Old import path of the router's classifier, kept for ``nodes/router.py`` only.

The classifier now lives in the ``nodes.routing`` package, one module per subject. This
re-exports just the names ``nodes/router.py`` imports, until that file (being edited on
another branch) imports them from ``nodes.routing`` itself; then this module goes. New
code imports from ``nodes.routing.<module>``.
"""

from nodes.routing.cache import load_or_fit
from nodes.routing.config import (
    RouterConfig,
    RouterConfigError,
    config_path_for,
    load_router_config,
)
from nodes.routing.model import (
    ROUTER_ALGORITHM,
    FittedRouter,
    LexicalScorer,
    RouterScores,
    Thresholds,
    decide_abstain,
)
from nodes.routing.text import instruction_text

__all__ = [
    "ROUTER_ALGORITHM",
    "FittedRouter",
    "LexicalScorer",
    "RouterConfig",
    "RouterConfigError",
    "RouterScores",
    "Thresholds",
    "config_path_for",
    "decide_abstain",
    "instruction_text",
    "load_or_fit",
    "load_router_config",
]
