"""Tracing settings: read from ``NOVA_*`` variables and ``.env`` like ``NovaSettings``.

They live apart from ``NovaSettings`` only because tracing is optional plumbing; the
LangSmith key, project and endpoint stay in ``NovaSettings`` where users look for them.
"""

from __future__ import annotations

import functools

from pydantic import AnyHttpUrl, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from nova.settings import _check_db_url


class TracingSettings(BaseSettings):
    """How Nova traces runs; every default keeps tracing local, offline and cheap."""

    model_config = SettingsConfigDict(
        env_prefix="NOVA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    trace_local: bool = True
    """Keep a local trace of every run (SQLite under the data directory)."""
    traces_url: str | None = None
    """Trace store; default ``NOVA_LEDGER_URL`` when set, else ``<data_dir>/traces.sqlite``."""
    trace_payload_chars: int = Field(default=20_000, ge=200)
    """Longest JSON kept for one step's inputs or outputs; longer ones are cut with a marker."""
    trace_flush_timeout_s: float = Field(default=2.0, ge=0)
    """Most seconds the process waits at exit for traces still being written or sent."""
    langsmith_timeout_s: float = Field(default=3.0, gt=0)
    """Connect and read timeout of each LangSmith upload (uploads run in the background)."""
    langsmith_eval_wait_s: float = Field(default=30.0, ge=0)
    """Most seconds ``nova eval … --langsmith`` waits for its upload after the eval is done;
    the upload runs in the background from the start, and past this it is given up."""
    otel_endpoint: AnyHttpUrl | None = None
    """OTLP/HTTP traces endpoint (e.g. ``http://127.0.0.1:4318/v1/traces``); needs the
    ``otel`` extra. Unset: no OpenTelemetry export."""

    @field_validator("traces_url", mode="before")
    @classmethod
    def _db_url(cls, value: str | None) -> str | None:
        return _check_db_url(value)


@functools.cache
def get_tracing_settings() -> TracingSettings:
    """Return the process-wide tracing settings (``cache_clear()`` re-reads them)."""
    return TracingSettings()
