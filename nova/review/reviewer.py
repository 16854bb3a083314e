"""The model's part of a review: the ``code_reviewer`` agent reads the code and the findings.

It answers with a review and, only when it is sure of a fix, one unified diff in a fenced
``diff`` block. The diff is never applied here; ``nova.review.scratch`` tries it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from langchain_core.messages import HumanMessage, SystemMessage

from nova.review.checks import CheckResult
from nova.review.hotspots import HotSpot
from nova.review.scope import ReviewScope

REVIEWER_AGENT = "code_reviewer"

_MODE = """
You are reviewing a change to a checkout of this software's own code. You are given the files
(or the diff), what ruff, mypy and the tests said, and which files the failure ledger shows
failing most in production. Ground every finding in the code shown; quote file and line.
If, and only if, you are sure of a fix, end with exactly one unified diff against the checkout
in a fenced block that starts with ```diff — paths as `a/<path>` and `b/<path>` relative to the
checkout's root, with enough context lines to apply with `git apply`. The patch is applied in a
scratch copy where the linters and tests must pass before the owner sees it. No diff if unsure.
"""

_DIFF_BLOCK = re.compile(r"```(?:diff|patch)[^\n]*\n(?P<body>.*?)```", re.DOTALL)
_FILE_BUDGET = 60_000


@dataclass(frozen=True, slots=True)
class ModelReview:
    """What the reviewer wrote, and the patch extracted from it (``""`` when none)."""

    model: str
    text: str
    patch: str


def extract_patch(text: str) -> str:
    """Return the last fenced ``diff`` block of ``text`` that is a unified diff, else ``""``."""
    for match in reversed(list(_DIFF_BLOCK.finditer(text))):
        body = match["body"]
        if re.search(r"^(---|\+\+\+) ", body, re.MULTILINE) and "@@" in body:
            return body if body.endswith("\n") else body + "\n"
    return ""


def _findings_text(results: list[CheckResult], spots: list[HotSpot]) -> str:
    lines = []
    for result in results:
        lines.append(f"{result.tool}: {result.status} ({result.summary})")
        lines.extend(
            f"  {item.file}:{item.line or '?'} {item.code} {item.message}"
            for item in result.findings[:40]
        )
    if spots:
        lines.append("failure ledger hot spots (last 30 days):")
        for spot in spots:
            kinds = ", ".join(f"{kind} ×{count}" for kind, count in spot.kinds.items())
            lines.append(f"  {spot.file}: {spot.failures} failure(s) ({kinds})")
            lines.extend(f"    {example}" for example in spot.examples)
    return "\n".join(lines)


def _code_text(scope: ReviewScope) -> str:
    parts = []
    if scope.diff:
        parts.append(f"The change (git diff {scope.diff_ref}):\n```diff\n{scope.diff}\n```")
    budget = _FILE_BUDGET - sum(len(part) for part in parts)
    for name in scope.files:
        text = (scope.root / name).read_text(encoding="utf-8", errors="replace")
        numbered = "\n".join(
            f"{number:5d}  {line}" for number, line in enumerate(text.splitlines(), 1)
        )
        block = f"File {name} (line numbers added):\n```\n{numbered}\n```"
        if len(block) > budget:
            parts.append(f"File {name}: left out, the review's size budget is spent.")
            continue
        parts.append(block)
        budget -= len(block)
    return "\n\n".join(parts)


def review_with_model(
    scope: ReviewScope, results: list[CheckResult], spots: list[HotSpot]
) -> ModelReview | str:
    """Ask the ``code_reviewer`` agent for a review; a string says why no model could.

    Returns:
        The review, or the user-facing reason no model is available.

    """
    from nova.catalog import default_catalog
    from nova.models import ModelUnavailable, build_chat_model

    spec = default_catalog()[REVIEWER_AGENT]
    model = build_chat_model(spec)
    if isinstance(model, ModelUnavailable):
        return model.message
    messages = [
        SystemMessage(content=f"{spec.prompt.strip()}\n{_MODE}"),
        HumanMessage(
            content=(
                f"{_code_text(scope)}\n\nWhat the tools found:\n{_findings_text(results, spots)}"
            )
        ),
    ]
    reply = model.invoke(messages)
    text = reply.content if isinstance(reply.content, str) else str(reply.content)
    return ModelReview(
        model=str(getattr(model, "model_name", "") or ""), text=text, patch=extract_patch(text)
    )
