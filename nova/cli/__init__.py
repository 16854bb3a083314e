"""Nova's command line: ``nova ask``, ``chat``, ``agents``, ``route``, ``doctor`` and more."""

from __future__ import annotations

# Each module registers its commands on ``app`` when imported.
from nova.cli import (  # noqa: F401
    agents,
    agents_versions,
    core,
    daily,
    doctor,
    erp,
    failures,
    feedback,
    improve,
    inbox,
    injection,
    mcp,
    memory,
    pipeline,
    projects,
    review,
    route,
    setup,
    stats,
    trace,
)
from nova.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Run the ``nova`` command."""
    app()
