"""``nova review-code``: Nova reviews its own code, and never changes the checkout.

The deterministic part (ruff, mypy, the tests that cover the files, and the failure
ledger's hot spots for those files) always runs. With a model configured, the
``code_reviewer`` agent reads the code and those findings, writes a review and, when it
finds a fix, a patch. A patch is tried only in a scratch git worktree, where the linters
and tests must pass; only then is it kept, as a branch for the owner to merge.
"""

from __future__ import annotations

from nova.review.report import ReviewReport
from nova.review.run import ReviewRequest, review_code
from nova.review.scope import ReviewScopeError

__all__ = ["ReviewReport", "ReviewRequest", "ReviewScopeError", "review_code"]
