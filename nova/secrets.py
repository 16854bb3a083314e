"""Keep configured secrets out of everything Nova writes or shows: one redaction for all layers.

The secrets are whatever the settings hold as credentials: every ``SecretStr`` field (the
model and LangSmith keys, the client key, the server's API keys and JWT secret) and the
passwords inside URL settings (databases, Redis, endpoints with ``user:password@``).
``redact`` replaces them, key-shaped strings (``sk-…``, ``lsv2_…``) and the password part of
any URL in a text; the trace store, LangSmith and OpenTelemetry exporters, the failure
ledger, error lines shown by the CLI and every log record (``install_log_redaction``) go
through it.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from pydantic import SecretStr

if TYPE_CHECKING:
    from nova.settings import NovaSettings
    from nova.tracing.serialize import Redactor

_URL_FIELDS = (
    "model_base_url",
    "checkpoint_url",
    "ledger_url",
    "erp_database_url",
    "chroma_url",
    "langsmith_endpoint",
    "server_url",
    "server_database_url",
    "server_redis_url",
)
_TRACING_URL_FIELDS = ("traces_url", "otel_endpoint")

# ``scheme://user:password@`` (or ``scheme://:password@``): the password part, up to the ``@``.
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@]*:)(?P<pw>[^\s@/]+)(?=@)")
MASK = "***"


def _url_password(url: object) -> str | None:
    if url is None:
        return None
    try:
        password = urlsplit(str(url)).password
    except ValueError:
        return None
    return password or None


def _secret_values(value: Any) -> Iterator[str]:
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, dict):
        for item in value.values():
            yield from _secret_values(item)


def configured_secrets(settings: NovaSettings | None = None) -> list[str]:
    """Return every secret value the settings hold (keys, JWT secret, passwords in URLs).

    Passwords are returned both as written and URL-decoded, since messages may quote
    either form.
    """
    from nova.settings import get_settings

    settings = settings or get_settings()
    found: list[str] = []
    for name in type(settings).model_fields:
        found.extend(_secret_values(getattr(settings, name)))
    urls = [getattr(settings, name) for name in _URL_FIELDS]
    try:
        from nova.tracing.config import get_tracing_settings

        tracing = get_tracing_settings()
        urls += [getattr(tracing, name) for name in _TRACING_URL_FIELDS]
    except Exception:  # a bad tracing setting is reported where it is read
        pass
    for url in urls:
        if password := _url_password(url):
            found += [password, unquote(password)]
    return sorted({s for s in found if s}, key=len, reverse=True)


def mask_url(url: str) -> str:
    """Return ``url`` with the password of its ``user:password@`` part replaced by ``***``."""
    return _URL_PASSWORD.sub(lambda m: m["head"] + MASK, url)


@functools.lru_cache(maxsize=4)
def _redactor_for(secrets: tuple[str, ...]) -> Redactor:
    from nova.tracing.serialize import Redactor

    return Redactor(secrets)


_cached: dict[str, Any] = {}


def current_redactor() -> Redactor:
    """Return a ``Redactor`` that knows the configured secrets (re-read when settings change)."""
    from nova.settings import get_settings
    from nova.tracing.config import get_tracing_settings

    try:
        # The settings objects are cached per process; a new one (cache_clear) means new secrets.
        key = (id(get_settings()), id(get_tracing_settings()))
    except Exception:  # unreadable settings: still mask key-shaped strings
        return _redactor_for(())
    if _cached.get("key") != key:
        _cached["redactor"] = _redactor_for(tuple(configured_secrets()))
        _cached["key"] = key
    redactor: Redactor = _cached["redactor"]
    return redactor


def redact(text: str) -> str:
    """Return ``text`` with configured secrets, key-shaped strings and URL passwords masked."""
    if not text:
        return text
    return current_redactor().text(text)


# --- logs --------------------------------------------------------------------------------------
_installed = threading.Lock()
_busy = threading.local()


def _redacted_record_factory(base: Any) -> Any:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = base(*args, **kwargs)
        if getattr(_busy, "active", False):
            return record  # a record logged while reading the settings: leave it as is
        _busy.active = True
        try:
            message = record.getMessage()
            cleaned = redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
            if record.exc_info and record.exc_info[1] is not None:
                # Formatters reuse exc_text when it is set: the traceback is redacted once here.
                text = logging.Formatter().formatException(record.exc_info)
                record.exc_text = redact(text)
        except Exception:  # logging must never fail because of redaction
            pass
        finally:
            _busy.active = False
        return record

    factory.nova_redacting = True  # type: ignore[attr-defined]
    return factory


def install_log_redaction() -> None:
    """Make every log record (any logger, any handler, log files included) secret-free.

    It wraps the log record factory, so records are redacted once when they are made,
    before any handler, filter or formatter sees them. Calling it again does nothing.
    """
    with _installed:
        current = logging.getLogRecordFactory()
        if getattr(current, "nova_redacting", False):
            return
        logging.setLogRecordFactory(_redacted_record_factory(current))
