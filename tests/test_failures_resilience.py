"""Which errors are retried, and timeouts that end hanging calls."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from nodes.resilience import (
    CallTimeout,
    call_with_timeout,
    is_retryable,
    is_retryable_model_error,
    model_retry_policy,
)
from nova.settings import load_settings


class StatusError(Exception):
    """Shaped like openai.APIStatusError: the HTTP status on ``status_code``."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status_code = status


def _validation_error() -> ValidationError:
    class Model(BaseModel):
        n: int

    try:
        Model(n="x")  # type: ignore[arg-type]
    except ValidationError as error:
        return error
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (TimeoutError("slow"), True),
        (CallTimeout("model", 1.0), True),
        (ConnectionError("reset"), True),
        (httpx.ConnectError("refused"), True),
        (StatusError(429), True),
        (StatusError(503), True),
        (StatusError(408), True),
        (StatusError(400), False),
        (StatusError(401), False),
        (StatusError(404), False),
        (StatusError(422), False),
        (_validation_error(), False),
        (ValueError("bad argument"), False),
        (KeyError("missing"), False),
    ],
)
def test_only_errors_another_attempt_can_fix_are_retried(error: BaseException, retry: bool) -> None:
    assert is_retryable(error) is retry


def test_retry_policy_comes_from_settings() -> None:
    policy = model_retry_policy(load_settings(model_max_retries=4))
    assert policy.max_attempts == 5 and policy.retry_on is is_retryable_model_error


def test_call_with_timeout_returns_raises_and_abandons() -> None:
    assert call_with_timeout(lambda: 42, 1.0, "quick") == 42
    with pytest.raises(ZeroDivisionError):
        call_with_timeout(lambda: 1 / 0, 1.0, "broken")
    release = threading.Event()
    started = time.monotonic()
    with pytest.raises(CallTimeout, match=r"hanging did not answer within 0\.2 s"):
        call_with_timeout(lambda: release.wait(30), 0.2, "hanging")
    assert time.monotonic() - started < 2
    release.set()  # let the abandoned daemon thread finish
