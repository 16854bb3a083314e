"""Where the shipped pipelines live and the step deadline they default to.

Kept apart from the schema and the loader so that readers that need only these (``nova
inbox`` judging whether a run stalled) do not import pydantic models, Jinja and the catalog.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_PIPELINES_DIR = Path(__file__).resolve().parents[1] / "catalog" / "pipelines"
"""The shipped pipeline files."""

DEFAULT_STEP_DEADLINE_S = 60.0
"""How long a step may take when its file names no ``deadline_s``."""
