"""A review's result: what the tools found, what the reviewer wrote, what became of its patch."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from nova.review.checks import CheckResult
from nova.review.hotspots import HotSpot
from nova.review.scratch import PatchOutcome


@dataclass(frozen=True, slots=True)
class ReviewReport:
    """Everything ``nova review-code`` found; saved as JSON under ``<data dir>/reviews``."""

    id: str
    created_at: datetime
    root: str
    files: tuple[str, ...]
    diff_ref: str | None
    tests: tuple[str, ...]
    results: tuple[CheckResult, ...]
    hot_spots: tuple[HotSpot, ...]
    review: str | None = None
    """The reviewer's text, when a model wrote one."""
    model: str | None = None
    model_note: str | None = None
    """Why there is no model review (no model configured, or its error)."""
    patch: PatchOutcome | None = None
    saved_to: str | None = field(default=None)

    @property
    def problems(self) -> bool:
        """Whether a tool found a problem (the command's exit code says so)."""
        return any(result.status in ("problems", "error") for result in self.results)

    def to_json(self) -> dict[str, object]:
        """Return the whole report as a JSON-ready dict."""
        return json.loads(json.dumps(asdict(self), default=str))

    def save(self, directory: Path) -> ReviewReport:
        """Write the report to ``directory/<id>.json`` and return it with ``saved_to`` set."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.id}.json"
        saved = ReviewReport(
            **{
                **{name: getattr(self, name) for name in self.__dataclass_fields__},
                "saved_to": str(path),
            }
        )
        path.write_text(json.dumps(saved.to_json(), indent=2), encoding="utf-8")
        return saved
