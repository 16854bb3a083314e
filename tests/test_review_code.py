"""``nova review-code``: the deterministic review, hot spots, and patches tried only in scratch.

Each test builds a small git checkout (a package, its tests, ruff and mypy settings), so the
real ruff, mypy, pytest and git run on it; the model is the OpenAI stub over HTTP.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nova.cli import app
from nova.ledger.failures import FailureLedger, source_frames
from nova.openai_stub import StubServer, reply
from nova.review.scope import ReviewScopeError, find_checkout

pytest_plugins = ("tests.model_http_fixtures",)

runner = CliRunner()

PRICING = '''"""Prices."""

import os


def gross(net: float, vat_rate: float) -> float:
    """Net plus VAT."""
    return net - net * vat_rate
'''

FIXED = PRICING.replace("import os\n\n\n", "\n").replace("net - net", "net + net")

TEST = """from shop.pricing import gross


def test_gross_adds_vat() -> None:
    assert gross(100.0, 0.19) == pytest_approx(119.0)


def pytest_approx(value: float) -> float:
    return round(value, 6)


def test_gross_of_zero() -> None:
    assert gross(0.0, 0.19) == 0.0
"""


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A git checkout with a bug (VAT subtracted) and an unused import, committed."""
    root = tmp_path / "shop-repo"
    (root / "shop").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "shop" / "__init__.py").write_text("")
    (root / "shop" / "pricing.py").write_text(PRICING)
    (root / "tests" / "test_pricing.py").write_text(TEST)
    (root / "pyproject.toml").write_text(
        "[tool.ruff]\nline-length = 100\n[tool.ruff.lint]\nselect = ['F', 'E']\n"
        "[tool.mypy]\nstrict = true\n"
    )
    (root / ".gitignore").write_text(".mypy_cache/\n__pycache__/\n")
    _git(root, "init", "--quiet", "--initial-branch=main")
    _git(root, "add", "--all")
    _git(root, "commit", "--quiet", "-m", "shop")
    return root


def _patch(old: str, new: str, path: str = "shop/pricing.py") -> str:
    import difflib

    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a/{path}",
        tofile=f"b/{path}",
    )
    return "".join(lines)


def _branches(root: Path) -> list[str]:
    return _git(root, "branch", "--format=%(refname:short)").split()


def test_without_a_model_the_deterministic_review_runs_and_says_what_a_model_would_add(
    checkout: Path,
) -> None:
    result = runner.invoke(app, ["review-code", "shop", "--repo", str(checkout), "--json"])

    assert result.exit_code == 1, result.output  # problems found
    report = json.loads(result.stdout)
    by_tool = {item["tool"]: item for item in report["results"]}
    assert by_tool["ruff"]["status"] == "problems"
    assert [f["code"] for f in by_tool["ruff"]["findings"]] == ["F401"]
    assert by_tool["tests"]["status"] == "problems"
    assert by_tool["tests"]["summary"] == "1 of 2 failed"
    assert "test_gross_adds_vat" in by_tool["tests"]["findings"][0]["message"]
    assert report["tests"] == ["tests/test_pricing.py"]  # found by its import of shop.pricing
    assert report["review"] is None
    assert "needs a language model" in report["model_note"]
    assert Path(report["saved_to"]).is_file()
    assert _git(checkout, "status", "--porcelain") == ""


@pytest.mark.allow_model_client
def test_a_fix_that_passes_in_scratch_is_offered_as_a_branch_and_the_checkout_is_untouched(
    checkout: Path, endpoint: StubServer
) -> None:
    patch = _patch(PRICING, FIXED)
    endpoint.script(
        reply(
            "Request changes: `gross` subtracts VAT (line 8) and `os` is unused.\n\n"
            f"```diff\n{patch}```"
        )
    )

    result = runner.invoke(app, ["review-code", "shop/pricing.py", "--repo", str(checkout)])

    assert result.exit_code == 1, result.output  # the checkout itself still has the bug
    sent = endpoint.chat_requests()[0].messages
    assert "You are Nova's code reviewer" in sent[0]["content"]
    assert "return net - net * vat_rate" in sent[1]["content"]
    assert "F401" in sent[1]["content"] and "test_gross_adds_vat" in sent[1]["content"]
    branch = next(name for name in _branches(checkout) if name.startswith("nova-review/"))
    assert "git merge" in result.output and branch in result.output
    assert (checkout / "shop" / "pricing.py").read_text() == PRICING
    assert _git(checkout, "status", "--porcelain") == ""
    assert _git(checkout, "show", f"{branch}:shop/pricing.py") == FIXED
    assert _git(checkout, "worktree", "list").count("\n") == 1  # the scratch worktree is gone


@pytest.mark.allow_model_client
def test_a_fix_that_breaks_a_test_is_not_offered(checkout: Path, endpoint: StubServer) -> None:
    # Removes the unused import (ruff passes) but "fixes" VAT by returning the net: tests fail.
    broken = PRICING.replace("import os\n\n\n", "\n").replace(
        "return net - net * vat_rate", "return net"
    )
    endpoint.script(reply(f"Fix below.\n```diff\n{_patch(PRICING, broken)}```"))

    result = runner.invoke(
        app, ["review-code", "shop/pricing.py", "--repo", str(checkout), "--json"]
    )

    report = json.loads(result.stdout)
    assert report["patch"]["status"] == "failed_checks"
    assert "tests: 1 of 2 failed" in report["patch"]["reason"]
    assert report["patch"]["branch"] is None
    assert not [name for name in _branches(checkout) if name.startswith("nova-review/")]
    assert (checkout / "shop" / "pricing.py").read_text() == PRICING


@pytest.mark.allow_model_client
def test_a_patch_that_does_not_apply_is_reported(checkout: Path, endpoint: StubServer) -> None:
    stale = _patch("no such\ncontent\n", "other\ncontent\n")
    endpoint.script(reply(f"```diff\n{stale}```"))

    result = runner.invoke(
        app, ["review-code", "shop/pricing.py", "--repo", str(checkout), "--json"]
    )

    assert json.loads(result.stdout)["patch"]["status"] == "does_not_apply"
    assert _git(checkout, "status", "--porcelain") == ""


@pytest.mark.allow_model_client
def test_an_uncommitted_change_is_reviewed_by_default_and_carried_into_scratch(
    checkout: Path, endpoint: StubServer
) -> None:
    edited = (
        PRICING
        + "\n\ndef net(gross_value: float, vat_rate: float) -> float:\n"
        + '    """Net."""\n'
        + "    return gross_value / (1 + vat_rate)\n"
    )
    (checkout / "shop" / "pricing.py").write_text(edited)
    fixed = FIXED + edited[len(PRICING) :]
    endpoint.script(reply(f"```diff\n{_patch(edited, fixed)}```"))

    result = runner.invoke(app, ["review-code", "--repo", str(checkout), "--json"])

    report = json.loads(result.stdout)
    assert report["diff_ref"] == "HEAD"
    assert report["files"] == ["shop/pricing.py"]
    assert "def net(" in endpoint.chat_requests()[0].messages[1]["content"]
    assert report["patch"]["status"] == "offered"
    assert (checkout / "shop" / "pricing.py").read_text() == edited  # still the user's edit
    patch_file = Path(report["patch"]["patch_file"])
    check = subprocess.run(
        ["git", "apply", "--check", str(patch_file)], cwd=checkout, capture_output=True
    )
    assert check.returncode == 0  # the offered fix applies to the working tree as it is


def test_failures_recorded_in_a_file_are_its_hot_spots(checkout: Path) -> None:
    ledger = FailureLedger()
    ledger.record(
        "node_error",
        error_type="ValueError",
        message="price went negative",
        node="checkout",
        details={"source": ["shop/pricing.py:8"]},
    )
    ledger.record("check_failed", error_type="CheckFailed", message="other", node="recall")

    result = runner.invoke(
        app,
        ["review-code", "shop/pricing.py", "--repo", str(checkout), "--no-model", "--no-tests"],
    )

    assert "Failure ledger hot spots" in result.output
    assert "price went negative" in result.output
    assert "node_error ×1" in result.output


def test_the_ledger_records_where_in_novas_code_a_failure_was_raised(tmp_path: Path) -> None:
    with pytest.raises(ReviewScopeError) as raised:
        find_checkout(tmp_path / "missing")
    frames = source_frames(raised.value)
    assert frames and frames[-1].startswith("nova/review/scope.py:")
    record = FailureLedger().record("node_error", error=raised.value)
    assert record.details["source"] == frames


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["shop/nowhere.py"], "shop/nowhere.py: no such file"),
        (["--diff", "no-such-branch"], "unknown git reference 'no-such-branch'"),
        ([], "nothing to review: no changed files against HEAD"),
    ],
)
def test_bad_input_is_one_line(checkout: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["review-code", *args, "--repo", str(checkout), "--no-model"])

    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_outside_a_checkout_is_one_line(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    result = runner.invoke(app, ["review-code", "--repo", str(plain)])
    assert result.exit_code == 2
    assert "is not inside a git checkout" in result.output
