"""Errors shared across Nova's layers that callers treat specially."""

from __future__ import annotations


class InvalidRequest(ValueError):
    """The request itself cannot be served: it is empty, or names no known project.

    Nothing failed inside Nova, so the failure ledger does not record it and nothing offers a
    retry (the same request would fail the same way); the caller gets the message, which
    says what to change.
    """
