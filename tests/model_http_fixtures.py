"""Fixtures of the tests that run Nova's real model path against the OpenAI stub.

Test modules load them with ``pytest_plugins = ("tests.model_http_fixtures",)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nova.concurrency import reset_default_limiter
from nova.ledger.failures import FailureLedger
from nova.openai_stub import StubServer
from tests.stub_helpers import API_KEY, BACKUP, MODEL, point_nova_at


@pytest.fixture
def stub() -> Iterator[StubServer]:
    """A running stub serving ``stub-model`` and ``backup-model`` behind ``API_KEY``."""
    with StubServer(models=(MODEL, BACKUP), api_key=API_KEY) as server:
        yield server
    reset_default_limiter()


@pytest.fixture
def endpoint(stub: StubServer, monkeypatch: pytest.MonkeyPatch) -> StubServer:
    """The stub, configured as Nova's model endpoint (one client retry, 10 s timeout)."""
    point_nova_at(monkeypatch, stub)
    return stub


@pytest.fixture
def failures(tmp_path: Path) -> FailureLedger:
    """A fresh failure ledger."""
    return FailureLedger(f"sqlite:///{tmp_path / 'failures.sqlite'}")
