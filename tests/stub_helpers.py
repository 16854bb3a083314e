"""Helpers of the tests that run Nova's real model path against the OpenAI stub."""

from __future__ import annotations

import pytest

from nova.concurrency import reset_default_limiter
from nova.openai_stub import StubServer
from nova.settings import get_settings

API_KEY = "sk-test-0123456789"
MODEL = "stub-model"
BACKUP = "backup-model"


def point_nova_at(
    monkeypatch: pytest.MonkeyPatch,
    server: StubServer,
    *,
    model: str = MODEL,
    api_key: str = API_KEY,
    **settings: str,
) -> None:
    """Configure Nova's model settings for ``server`` (``settings``: more ``NOVA_*`` values)."""
    monkeypatch.setenv("NOVA_MODEL_BASE_URL", server.base_url)
    monkeypatch.setenv("NOVA_MODEL_API_KEY", api_key)
    monkeypatch.setenv("NOVA_MODEL_NAME", model)
    monkeypatch.setenv("NOVA_MODEL_MAX_RETRIES", "1")
    monkeypatch.setenv("NOVA_MODEL_TIMEOUT_S", "10")
    for name, value in settings.items():
        monkeypatch.setenv(f"NOVA_{name.upper()}", value)
    get_settings.cache_clear()
    reset_default_limiter()
