"""Unit tests of ``nova.secrets``: what counts as a secret, URL masking, redacted log records."""

from __future__ import annotations

import logging

import pytest

from nova.secrets import configured_secrets, install_log_redaction, mask_url, redact
from nova.settings import get_settings


def test_every_secret_setting_and_url_password_is_known(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVA_MODEL_API_KEY", "model-secret-1")
    monkeypatch.setenv("NOVA_SERVER_API_KEYS", "alice:alice-secret-0123456789")
    monkeypatch.setenv("NOVA_SERVER_JWT_SECRET", "jwt-secret-1")
    monkeypatch.setenv("NOVA_LEDGER_URL", "postgresql://nova:p%40ss-word@db:5432/nova")
    monkeypatch.setenv("NOVA_SERVER_REDIS_URL", "redis://:redis-secret@127.0.0.1:6379/0")
    get_settings.cache_clear()

    secrets = configured_secrets()

    for value in ("model-secret-1", "alice-secret-0123456789", "jwt-secret-1", "redis-secret"):
        assert value in secrets
    assert {"p%40ss-word", "p@ss-word"} <= set(secrets)  # as written and decoded
    assert (
        redact("could not connect: p@ss-word rejected") == "could not connect: [redacted] rejected"
    )


def test_url_passwords_are_masked_whatever_the_scheme() -> None:
    assert mask_url("postgresql://u:pw@h:5432/d and redis://:x@r/0") == (
        "postgresql://u:***@h:5432/d and redis://:***@r/0"
    )
    assert mask_url("http://example.com/a@b and sqlite:///x.db") == (
        "http://example.com/a@b and sqlite:///x.db"
    )


def test_log_records_are_redacted_before_any_handler_sees_them(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NOVA_MODEL_API_KEY", "model-secret-2")
    get_settings.cache_clear()
    original = logging.getLogRecordFactory()
    install_log_redaction()
    try:
        log = logging.getLogger("nova.test.secrets")
        with caplog.at_level(logging.INFO):
            log.info("key %s at %s", "model-secret-2", "postgresql://u:dbpw@h/d")
            try:
                raise RuntimeError("endpoint said model-secret-2")
            except RuntimeError:
                log.exception("failed")
        assert "model-secret-2" not in caplog.text and "dbpw" not in caplog.text
        assert "key [redacted] at postgresql://u:***@h/d" in caplog.text
        assert "endpoint said [redacted]" in caplog.text
    finally:
        logging.setLogRecordFactory(original)
