"""What a review looks at: the checkout, the files, their diff and the tests that cover them."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path


class ReviewScopeError(ValueError):
    """The checkout, a path or a git reference cannot be used; the message says how to fix it."""


@dataclass(frozen=True, slots=True)
class ReviewScope:
    """The files under review, relative to the checkout's root."""

    root: Path
    files: tuple[str, ...]
    """Existing files under review (Python and other text files), relative to ``root``."""
    diff_ref: str | None = None
    """The git reference the change is compared against, if the review is of a change."""
    diff: str = ""
    """``git diff REF -- files`` when ``diff_ref`` is set."""
    tests: tuple[str, ...] = field(default=())
    """Test files that cover the files (changed tests, and tests importing a changed module)."""

    @property
    def python_files(self) -> tuple[str, ...]:
        """The Python files among ``files``."""
        return tuple(name for name in self.files if name.endswith(".py"))


def git(root: Path, *args: str, check: bool = True) -> str:
    """Run ``git`` in ``root`` and return its stdout; a failure becomes a ``ReviewScopeError``."""
    completed = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=False
    )
    if check and completed.returncode != 0:
        detail = (completed.stderr or completed.stdout).strip().splitlines()
        raise ReviewScopeError(
            f"git {' '.join(args)} failed in {root}: {detail[-1] if detail else 'no output'}"
        )
    return completed.stdout


def find_checkout(repo: Path | None = None) -> Path:
    """Find the git checkout to review: ``repo``, else the one holding the current directory.

    Raises:
        ReviewScopeError: The directory is not inside a git checkout.

    """
    start = (repo or Path.cwd()).resolve()
    if not start.is_dir():
        raise ReviewScopeError(f"{start} is not a directory; pass --repo with a git checkout")
    completed = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"],
        cwd=start,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise ReviewScopeError(
            f"{start} is not inside a git checkout; run from a Nova checkout or pass --repo DIR"
        )
    return Path(completed.stdout.strip())


def _relative(root: Path, path: str) -> str:
    candidate = Path(path)
    resolved = (candidate if candidate.is_absolute() else Path.cwd() / candidate).resolve()
    if not resolved.exists():
        # A path given relative to the checkout (not to the current directory) is fine too.
        resolved = (root / candidate).resolve()
    if not resolved.exists():
        raise ReviewScopeError(f"{path}: no such file; name files inside {root}")
    try:
        relative = resolved.relative_to(root)
    except ValueError:
        raise ReviewScopeError(f"{path} is outside the checkout {root}") from None
    return relative.as_posix()


def _expand(root: Path, relative: str) -> list[str]:
    path = root / relative
    if path.is_dir():
        tracked = git(root, "ls-files", "--", relative).splitlines()
        return sorted(name for name in tracked if name.endswith((".py", ".yaml", ".yml")))
    return [relative]


def _changed_files(root: Path, ref: str) -> list[str]:
    git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    names = git(root, "diff", "--name-only", "--diff-filter=ACMR", ref, "--").splitlines()
    untracked = git(root, "ls-files", "--others", "--exclude-standard").splitlines()
    return sorted({*names, *untracked} - {""})


def _module_of(relative: str) -> str | None:
    if not relative.endswith(".py"):
        return None
    parts = Path(relative).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) if parts else None


def covering_tests(root: Path, files: tuple[str, ...]) -> tuple[str, ...]:
    """Test files that cover ``files``: changed test files, and tests importing a changed module.

    A test "imports" ``pkg.mod`` when it says ``import pkg.mod``, ``from pkg.mod import`` or
    ``from pkg import mod``; the modules are found from the paths, so this works for any
    package layout with a ``tests/`` folder.
    """
    tests_dir = root / "tests"
    if not tests_dir.is_dir():
        return ()
    chosen = {
        name for name in files if Path(name).name.startswith("test_") and name.endswith(".py")
    }
    modules = [module for name in files if (module := _module_of(name)) and "tests" not in name]
    patterns = []
    for module in modules:
        package, _, leaf = module.rpartition(".")
        alternatives = [rf"import\s+{re.escape(module)}\b", rf"from\s+{re.escape(module)}\s+import"]
        if package:
            alternatives.append(
                rf"from\s+{re.escape(package)}\s+import\s+[^\n]*\b{re.escape(leaf)}\b"
            )
        patterns.append(re.compile("|".join(alternatives)))
    if patterns:
        for test_file in sorted(tests_dir.rglob("test_*.py")):
            text = test_file.read_text(encoding="utf-8", errors="replace")
            if any(pattern.search(text) for pattern in patterns):
                chosen.add(test_file.relative_to(root).as_posix())
    return tuple(sorted(chosen))


def resolve_scope(
    root: Path, paths: list[str] | None = None, diff_ref: str | None = None
) -> ReviewScope:
    """Choose the files to review: ``paths`` (files, folders), or what changed since ``diff_ref``.

    With neither, the uncommitted changes (``--diff HEAD``) are reviewed.

    Raises:
        ReviewScopeError: A path does not exist or lies outside the checkout, the reference is
            unknown, or there is nothing to review.

    """
    if paths:
        files: list[str] = []
        for path in paths:
            files.extend(_expand(root, _relative(root, path)))
        if diff_ref:
            git(root, "rev-parse", "--verify", "--quiet", f"{diff_ref}^{{commit}}")
    else:
        diff_ref = diff_ref or "HEAD"
        try:
            files = _changed_files(root, diff_ref)
        except ReviewScopeError:
            raise ReviewScopeError(
                f"unknown git reference {diff_ref!r}; use a branch, tag or commit "
                "(for example --diff main or --diff HEAD~1)"
            ) from None
        files = [name for name in files if (root / name).is_file()]
        if not files:
            raise ReviewScopeError(
                f"nothing to review: no changed files against {diff_ref}; name files "
                "(nova review-code nova/cli) or another reference (--diff main)"
            )
    unique = tuple(dict.fromkeys(files))
    diff = git(root, "diff", diff_ref, "--", *unique) if diff_ref else ""
    return ReviewScope(
        root=root,
        files=unique,
        diff_ref=diff_ref,
        diff=diff,
        tests=covering_tests(root, unique),
    )
