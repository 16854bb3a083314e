"""Nova's command line: ``nova ask``, ``nova chat``, ``nova agents``, ``nova route``, ``nova serve``, …"""

from __future__ import annotations

# Each module registers its commands on ``app`` when imported.
from nova.cli import core  # noqa: F401
from nova.cli import memory, projects  # noqa: F401
from nova.cli import erp  # noqa: F401
from nova.cli import pipeline  # noqa: F401
from nova.cli import route  # noqa: F401
from nova.cli import failures, trace  # noqa: F401
from nova.cli import setup  # noqa: F401
from nova.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Run the ``nova`` command."""
    app()
