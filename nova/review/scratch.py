"""Trying a reviewer's patch without touching the checkout: a scratch git worktree.

The patch is applied to a detached worktree of ``HEAD`` (carrying the working-tree state of
the reviewed files, so an uncommitted change is reviewed as it is), the linters and the
covering tests run there with that worktree's code, and only when they pass is the result
kept: as a branch in the same repository and as a patch file. The worktree is always removed.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from nova.review.checks import CheckResult, run_mypy, run_ruff, run_tests
from nova.review.scope import ReviewScope, covering_tests, git

PatchStatus = Literal["offered", "failed_checks", "does_not_apply"]

# Commits in the scratch worktree name Nova, whatever git identity the machine has (or lacks).
_IDENTITY = ("-c", "user.name=Nova review", "-c", "user.email=nova-review@localhost")


@dataclass(frozen=True, slots=True)
class PatchOutcome:
    """What became of a proposed patch."""

    status: PatchStatus
    reason: str
    branch: str | None = None
    patch_file: str | None = None
    changed_files: tuple[str, ...] = field(default=())
    results: tuple[CheckResult, ...] = field(default=())


def _differs_from_head(root: Path, name: str) -> bool:
    status = git(root, "status", "--porcelain", "--", name)
    return bool(status.strip())


def try_patch(
    scope: ReviewScope,
    patch: str,
    *,
    patch_dir: Path,
    summary: str,
    mypy_cache: Path | None = None,
    test_timeout_s: float = 900.0,
) -> PatchOutcome:
    """Apply ``patch`` in a scratch worktree; keep it as a branch only if everything passes.

    Args:
        scope: The review's scope; its checkout is never written to (only a branch is added).
        patch: A unified diff relative to the checkout's root.
        patch_dir: Where the patch file of an offered fix is written.
        summary: First line of the branch's commit message.
        mypy_cache: A mypy cache shared with the checkout's own run (saves a cold start).
        test_timeout_s: Limit for the covering tests.

    """
    root = scope.root
    scratch = Path(tempfile.mkdtemp(prefix="nova-review-"))
    worktree = scratch / "checkout"
    git(root, "worktree", "add", "--detach", "--quiet", str(worktree), "HEAD")
    try:
        carried = [name for name in scope.files if _differs_from_head(root, name)]
        for name in carried:
            target = worktree / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, target)
        if carried:
            git(worktree, "add", "--", *carried)
            git(
                worktree,
                *_IDENTITY,
                "commit",
                "--quiet",
                "--no-verify",
                "-m",
                "Review base: the working-tree state of the reviewed files",
            )
        patch_path = scratch / "fix.patch"
        patch_path.write_text(patch, encoding="utf-8")
        check = subprocess.run(
            ["git", "apply", "--check", "--whitespace=nowarn", str(patch_path)],
            cwd=worktree,
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0:
            detail = (check.stderr or check.stdout).strip().splitlines()
            return PatchOutcome(
                "does_not_apply", detail[-1] if detail else "git apply refused the patch"
            )
        git(worktree, "apply", "--whitespace=nowarn", str(patch_path))
        git(worktree, "add", "--all")
        changed = tuple(git(worktree, "diff", "--cached", "--name-only").split())
        if not changed:
            return PatchOutcome("does_not_apply", "the patch changes nothing")
        python = tuple(
            dict.fromkeys(
                name
                for name in (*changed, *scope.python_files)
                if name.endswith(".py") and (worktree / name).exists()
            )
        )
        tests = covering_tests(
            worktree, tuple(name for name in changed if (worktree / name).exists())
        )
        tests = tuple(dict.fromkeys((*scope.tests, *tests)))
        results = (
            run_ruff(worktree, python),
            run_mypy(worktree, python, cache_dir=mypy_cache),
            run_tests(worktree, tests, timeout_s=test_timeout_s),
        )
        failed = [result for result in results if result.status in ("problems", "error")]
        if failed:
            reasons = "; ".join(f"{result.tool}: {result.summary}" for result in failed)
            return PatchOutcome("failed_checks", reasons, changed_files=changed, results=results)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        branch = f"nova-review/{stamp}"
        git(worktree, "switch", "--quiet", "-c", branch)
        fix = git(worktree, "diff", "--cached", "--binary")
        git(
            worktree,
            *_IDENTITY,
            "commit",
            "--quiet",
            "--no-verify",
            "-m",
            f"Nova review: {summary[:60]}\n\nProposed by `nova review-code`; ruff, mypy and "
            f"{len(tests)} covering test file(s) passed in a scratch worktree.",
        )
        patch_dir.mkdir(parents=True, exist_ok=True)
        patch_file = patch_dir / f"{stamp}.patch"
        patch_file.write_text(fix, encoding="utf-8")
        untested = "" if tests else " (no test covers the changed files: read it closely)"
        return PatchOutcome(
            "offered",
            f"ruff, mypy and the covering tests pass{untested}",
            branch=branch,
            patch_file=str(patch_file),
            changed_files=changed,
            results=results,
        )
    finally:
        git(root, "worktree", "remove", "--force", str(worktree), check=False)
        git(root, "worktree", "prune", check=False)
        shutil.rmtree(scratch, ignore_errors=True)
