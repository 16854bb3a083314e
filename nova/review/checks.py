"""The deterministic part of a review: ruff, mypy and the covering tests, run as subprocesses.

Each runs with the checkout as its working directory and on its ``PYTHONPATH``, so a scratch
worktree is checked with its own code, not the installed one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

CheckStatus = Literal["passed", "problems", "error", "skipped"]

_MYPY_LINE = re.compile(
    r"^(?P<file>[^:\n]+):(?P<line>\d+)(?::\d+)?: error: "
    r"(?P<message>.*?)(?:\s+\[(?P<code>[\w-]+)\])?$"
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem a tool reported."""

    file: str
    line: int | None
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one tool said about the files."""

    tool: str
    status: CheckStatus
    summary: str
    findings: tuple[Finding, ...] = field(default=())
    duration_s: float = 0.0


def _has_module(name: str) -> bool:
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import importlib.util, sys; sys.exit(importlib.util.find_spec({name!r}) is None)",
        ],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def _run(
    root: Path, args: list[str], timeout_s: float
) -> tuple[subprocess.CompletedProcess[str] | None, float, str]:
    # A review leaves nothing in the checkout: no bytecode, no Hypothesis or tool caches.
    cache = Path(tempfile.gettempdir()) / "nova-review-cache"
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "PYTHONDONTWRITEBYTECODE": "1",
        "HYPOTHESIS_STORAGE_DIRECTORY": str(cache / "hypothesis"),
    }
    started = time.perf_counter()
    try:
        completed = subprocess.run(
            [sys.executable, "-m", *args],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - started, f"timed out after {timeout_s:.0f} s"
    return completed, time.perf_counter() - started, ""


def _relative(root: Path, filename: str) -> str:
    path = Path(filename)
    try:
        return (
            path.resolve().relative_to(root.resolve()).as_posix()
            if path.is_absolute()
            else filename
        )
    except ValueError:
        return filename


def run_ruff(root: Path, files: tuple[str, ...], timeout_s: float = 120.0) -> CheckResult:
    """``ruff check`` on the Python files (the checkout's own ruff configuration applies)."""
    if not files:
        return CheckResult("ruff", "skipped", "no Python files")
    if not _has_module("ruff"):
        return CheckResult("ruff", "skipped", "ruff is not installed (pip install ruff)")
    args = ["ruff", "check", "--no-cache", "--output-format", "json", "--no-fix", "--force-exclude"]
    args += files
    completed, duration, problem = _run(root, args, timeout_s)
    if completed is None:
        return CheckResult("ruff", "error", problem, duration_s=duration)
    try:
        raw = json.loads(completed.stdout or "[]")
    except json.JSONDecodeError:
        tail = (completed.stderr or completed.stdout).strip().splitlines()
        return CheckResult("ruff", "error", tail[-1] if tail else "no output", duration_s=duration)
    findings = tuple(
        Finding(
            file=_relative(root, item.get("filename", "")),
            line=(item.get("location") or {}).get("row"),
            code=item.get("code") or "ruff",
            message=item.get("message", ""),
        )
        for item in raw
    )
    if findings:
        return CheckResult("ruff", "problems", f"{len(findings)} finding(s)", findings, duration)
    return CheckResult("ruff", "passed", "clean", duration_s=duration)


def run_mypy(
    root: Path, files: tuple[str, ...], cache_dir: Path | None = None, timeout_s: float = 600.0
) -> CheckResult:
    """``mypy`` on the Python files (the checkout's configuration applies; the cache is shared)."""
    if not files:
        return CheckResult("mypy", "skipped", "no Python files")
    if not _has_module("mypy"):
        return CheckResult("mypy", "skipped", "mypy is not installed (pip install mypy)")
    args = ["mypy", "--no-error-summary", "--show-error-codes", "--no-color-output", "--no-pretty"]
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        args += ["--cache-dir", str(cache_dir)]
    completed, duration, problem = _run(root, [*args, *files], timeout_s)
    if completed is None:
        return CheckResult("mypy", "error", problem, duration_s=duration)
    findings = []
    for line in completed.stdout.splitlines():
        match = _MYPY_LINE.match(line.strip())
        if match:
            findings.append(
                Finding(
                    file=_relative(root, match["file"]),
                    line=int(match["line"]),
                    code=match["code"] or "mypy",
                    message=match["message"],
                )
            )
    if findings:
        return CheckResult(
            "mypy", "problems", f"{len(findings)} error(s)", tuple(findings), duration
        )
    if completed.returncode not in (0, 1):
        tail = (completed.stderr or completed.stdout).strip().splitlines()
        return CheckResult(
            "mypy", "error", tail[-1] if tail else "mypy crashed", duration_s=duration
        )
    return CheckResult("mypy", "passed", "no type errors", duration_s=duration)


def run_tests(root: Path, tests: tuple[str, ...], timeout_s: float = 900.0) -> CheckResult:
    """Run the covering tests under pytest; failures are read from its JUnit XML, not its text."""
    if not tests:
        return CheckResult("tests", "skipped", "no test covers these files")
    with tempfile.TemporaryDirectory(prefix="nova-review-") as scratch:
        report = Path(scratch) / "junit.xml"
        args = ["pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", *tests]
        completed, duration, problem = _run(root, args, timeout_s)
        if completed is None:
            return CheckResult("tests", "error", problem, duration_s=duration)
        if not report.exists():
            tail = (completed.stderr or completed.stdout).strip().splitlines()
            return CheckResult(
                "tests",
                "error",
                tail[-1] if tail else "pytest wrote no report",
                duration_s=duration,
            )
        suite = ElementTree.parse(report).getroot()
    findings = []
    total = 0
    for case in suite.iter("testcase"):
        total += 1
        for outcome in ("failure", "error"):
            problem_element = case.find(outcome)
            if problem_element is not None:
                message = (problem_element.get("message") or outcome).splitlines()[0][:300]
                file = case.get("file") or case.get("classname", "").replace(".", "/") + ".py"
                line = case.get("line")
                findings.append(
                    Finding(
                        file=file,
                        line=int(line) if line and line.isdigit() else None,
                        code=outcome,
                        message=f"{case.get('name')}: {message}",
                    )
                )
    if findings:
        return CheckResult(
            "tests", "problems", f"{len(findings)} of {total} failed", tuple(findings), duration
        )
    if completed.returncode not in (0,):
        tail = (completed.stderr or completed.stdout).strip().splitlines()
        return CheckResult(
            "tests", "error", tail[-1] if tail else "pytest failed", duration_s=duration
        )
    return CheckResult("tests", "passed", f"{total} passed", duration_s=duration)
