"""Retries, timeouts and fallbacks for nodes that call models or tools.

Three rules, shared by the agent and tool nodes:

* An error is retried only when another attempt can succeed: timeouts, dropped connections,
  rate limits (429), server errors (5xx). Validation errors, authentication errors, other
  4xx answers and programming errors fail at once (``is_retryable``).
* A call that hangs ends within its timeout (``call_with_timeout``): it runs in a daemon
  thread, so a call that never returns cannot hold up the run or the process exit.
* Node retries are LangGraph ``RetryPolicy`` objects built from settings
  (``model_retry_policy``), so a retried node is visible in the trace as a fresh attempt.
  Errors of the OpenAI client are not retried there: the client has retried them itself,
  honouring the server's ``Retry-After`` (``nova.models.build_chat_model``).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import TypeVar

from langgraph.errors import GraphBubbleUp
from langgraph.types import RetryPolicy
from pydantic import ValidationError

from nova.settings import NovaSettings, get_settings

T = TypeVar("T")


class CallTimeout(TimeoutError):
    """A model or tool call did not answer within its timeout."""

    def __init__(self, what: str, timeout_s: float) -> None:
        self.what = what
        self.timeout_s = timeout_s
        super().__init__(f"{what} did not answer within {timeout_s:g} s")


_NEVER_RETRY_NAMES = frozenset(
    {
        "AuthenticationError",
        "PermissionDeniedError",
        "BadRequestError",
        "NotFoundError",
        "UnprocessableEntityError",
        "ConflictError",
        "ContentFilterFinishReasonError",
        "LengthFinishReasonError",
        "ScriptExhausted",
        "UnknownToolError",
    }
)
_ALWAYS_RETRY_NAMES = frozenset(
    {
        "APIConnectionError",
        "APITimeoutError",
        "RateLimitError",
        "InternalServerError",
        "ServiceUnavailableError",
        "ConnectError",
        "ConnectTimeout",
        "ReadTimeout",
        "WriteTimeout",
        "PoolTimeout",
        "RemoteProtocolError",
        "ReadError",
    }
)


def _status_code(error: BaseException) -> int | None:
    # openai.APIStatusError and httpx.HTTPStatusError both expose the HTTP status this way.
    status = getattr(error, "status_code", None)
    if status is None:
        response = getattr(error, "response", None)
        status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def is_retryable(error: BaseException) -> bool:
    """Return whether another attempt at the call that raised ``error`` can succeed.

    Retried: timeouts, connection errors, HTTP 408/425/429 and 5xx. Not retried: LangGraph
    control flow (interrupts), validation errors, authentication and other 4xx errors,
    and programming errors (``TypeError``, ``KeyError``, ``ValueError``…).
    """
    if isinstance(error, GraphBubbleUp | ValidationError):
        return False
    names = {cls.__name__ for cls in type(error).__mro__}
    if names & _NEVER_RETRY_NAMES:
        return False
    status = _status_code(error)
    if status is not None:
        return status in (408, 425, 429) or status >= 500
    if names & _ALWAYS_RETRY_NAMES:
        return True
    return isinstance(error, TimeoutError | ConnectionError)


def retried_by_client(error: BaseException) -> bool:
    """Return whether ``error`` comes from the OpenAI client, which has retried it already.

    The client (``max_retries=NOVA_MODEL_MAX_RETRIES``) retries rate limits, server errors,
    timeouts and dropped connections itself, waiting as long as the server's ``Retry-After``
    asks; a node retrying the same error again would multiply the attempts.
    """
    # langchain-openai re-raises them as subclasses of its own, so look along the MRO.
    return any(cls.__module__.split(".", 1)[0] == "openai" for cls in type(error).__mro__)


def is_retryable_model_error(error: BaseException) -> bool:
    """Return whether a model node should run again after ``error``.

    Transient errors are retried (``is_retryable``) unless the OpenAI client already
    retried them (``retried_by_client``).
    """
    return is_retryable(error) and not retried_by_client(error)


def model_retry_policy(settings: NovaSettings | None = None) -> RetryPolicy:
    """Return the retry policy for nodes that call models (``NOVA_MODEL_MAX_RETRIES`` retries)."""
    settings = settings or get_settings()
    return RetryPolicy(
        max_attempts=settings.model_max_retries + 1,
        initial_interval=0.25,
        backoff_factor=2.0,
        max_interval=8.0,
        jitter=True,
        retry_on=is_retryable_model_error,
    )


def tool_retry_policy(settings: NovaSettings | None = None) -> RetryPolicy:
    """Return the retry policy for the tool node.

    Tool failures themselves become error messages the model can read (a tool may have
    side effects, so a failed call is never repeated blindly); this policy covers the
    node's own transient errors.
    """
    settings = settings or get_settings()
    return RetryPolicy(
        max_attempts=settings.model_max_retries + 1,
        initial_interval=0.25,
        backoff_factor=2.0,
        max_interval=8.0,
        jitter=True,
        retry_on=is_retryable,
    )


def call_with_timeout(fn: Callable[[], T], timeout_s: float, what: str) -> T:
    """Run ``fn`` and return its result, or raise ``CallTimeout`` after ``timeout_s`` seconds.

    The call runs in a daemon thread with the caller's context variables (so LangChain
    callbacks and LangGraph's config reach it); a call that never returns is abandoned
    there and cannot delay the process exit.

    Raises:
        CallTimeout: ``fn`` did not return in time.
        BaseException: whatever ``fn`` raised.

    """
    context = contextvars.copy_context()
    done = threading.Event()
    outcome: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            outcome.append(context.run(fn))
        except BaseException as error:
            failure.append(error)
        finally:
            done.set()

    worker = threading.Thread(target=target, name=f"nova-call:{what}", daemon=True)
    worker.start()
    if not done.wait(timeout_s):
        raise CallTimeout(what, timeout_s)
    if failure:
        raise failure[0]
    return outcome[0]
