"""One review, start to end: scope, tools, hot spots, the reviewer, and its patch in scratch."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from nova.review.checks import CheckResult, run_mypy, run_ruff, run_tests
from nova.review.hotspots import hot_spots
from nova.review.report import ReviewReport
from nova.review.reviewer import ModelReview, review_with_model
from nova.review.scope import find_checkout, resolve_scope
from nova.review.scratch import try_patch
from nova.settings import NovaSettings, get_settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReviewRequest:
    """What to review and how."""

    paths: tuple[str, ...] = ()
    diff_ref: str | None = None
    repo: Path | None = None
    use_model: bool = True
    run_tests: bool = True
    test_timeout_s: float = 900.0


def _record_failure(error: Exception, files: tuple[str, ...]) -> None:
    # No failure disappears silently: a failed model review is in `nova failures list`.
    from nova.ledger.failures import FailureLedger

    try:
        FailureLedger().record(
            "node_error",
            error=error,
            node="review_code",
            agent="code_reviewer",
            details={"files": list(files)[:50]},
        )
    except Exception:
        logger.warning("could not record the failed review in the failure ledger", exc_info=True)


def review_code(
    request: ReviewRequest,
    settings: NovaSettings | None = None,
    *,
    progress: object | None = None,
) -> ReviewReport:
    """Review the requested files; never modifies the checkout.

    Args:
        request: Paths or a git reference, the checkout, and which parts to run.
        settings: Nova's settings (data directory for the report, caches and ledger).
        progress: Optional callable ``progress(step: str)`` told what runs now.

    Raises:
        ReviewScopeError: The checkout, a path or the reference is unusable.

    """
    settings = settings or get_settings()

    def step(message: str) -> None:
        if callable(progress):
            progress(message)

    root = find_checkout(request.repo)
    step("finding the files and the tests that cover them")
    scope = resolve_scope(root, list(request.paths) or None, request.diff_ref)
    mypy_cache = settings.data_dir.resolve() / "cache" / "mypy"
    step(f"ruff on {len(scope.python_files)} file(s)")
    results: list[CheckResult] = [run_ruff(root, scope.python_files)]
    step("mypy")
    results.append(run_mypy(root, scope.python_files, cache_dir=mypy_cache))
    if request.run_tests:
        step(f"{len(scope.tests)} covering test file(s)")
        results.append(run_tests(root, scope.tests, timeout_s=request.test_timeout_s))
    else:
        results.append(CheckResult("tests", "skipped", "--no-tests"))
    step("the failure ledger's hot spots")
    spots = hot_spots(scope.files)

    review: ModelReview | None = None
    note: str | None = None
    if request.use_model:
        step("the code_reviewer agent reads the code")
        try:
            outcome = review_with_model(scope, results, spots)
        except Exception as error:  # a model error must not lose the deterministic part
            from nova.models import describe_model_error

            logger.debug("model review failed", exc_info=True)
            note = f"The model review failed: {describe_model_error(error) or error}"
            _record_failure(error, scope.files)
        else:
            if isinstance(outcome, str):
                note = outcome
            else:
                review = outcome
    else:
        note = "Model review skipped (--no-model)."

    patch = None
    if review is not None and review.patch:
        step("trying the proposed patch in a scratch worktree")
        summary = next(
            (line.strip("#* ") for line in review.text.splitlines() if line.strip()), "fix"
        )
        patch = try_patch(
            scope,
            review.patch,
            patch_dir=settings.data_dir.resolve() / "reviews",
            summary=summary,
            mypy_cache=mypy_cache,
            test_timeout_s=request.test_timeout_s,
        )
    report = ReviewReport(
        id=datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6],
        created_at=datetime.now(UTC),
        root=str(root),
        files=scope.files,
        diff_ref=scope.diff_ref,
        tests=scope.tests,
        results=tuple(results),
        hot_spots=tuple(spots),
        review=review.text if review else None,
        model=review.model if review else None,
        model_note=note,
        patch=patch,
    )
    return report.save(settings.data_dir.resolve() / "reviews")
