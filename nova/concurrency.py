"""Per-model concurrency limits with backpressure, for every graph in one process.

A slow or rate-limited model must not take every worker of a server: each model name gets
its own pool of slots (``NOVA_MODEL_CONCURRENCY``, or the provider profile's
``max_concurrency`` when that is unset; overridable per model with
``NOVA_MODEL_CONCURRENCY_LIMITS``). A call waits for a free slot of *its* model only, so
runs on other models go on; a call that waits longer than ``NOVA_MODEL_QUEUE_TIMEOUT_S``
fails with ``ModelBusyError``, which says which model is saturated and what to change.

``limit_concurrency(model)`` wraps any ``BaseChatModel``; ``build_chat_model`` applies it to
every model it builds. Slots are ``threading`` semaphores, so sync nodes (run in worker
threads) and async code (which waits in a worker thread, never blocking the event loop)
share one limit.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableBinding
from pydantic import ConfigDict, Field


class ModelBusyError(RuntimeError):
    """A model had no free slot within the queue timeout (backpressure, not a model error)."""


class ModelLimiter:
    """Slots per model name; one shared instance per process (see ``default_limiter``)."""

    def __init__(
        self,
        default_limit: int,
        limits: Mapping[str, int] | None = None,
        *,
        timeout_s: float = 120.0,
    ) -> None:
        """Allow ``default_limit`` calls per model at once (``limits`` overrides by name)."""
        if default_limit < 1 or any(limit < 1 for limit in (limits or {}).values()):
            raise ValueError("Model concurrency limits must be at least 1")
        self.default_limit = default_limit
        self.limits = dict(limits or {})
        self.timeout_s = timeout_s
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._in_flight: dict[str, int] = {}
        self._peak: dict[str, int] = {}
        self._lock = threading.Lock()

    def limit_for(self, model: str) -> int:
        """Return how many calls to ``model`` may run at once."""
        return self.limits.get(model, self.default_limit)

    def in_flight(self, model: str) -> int:
        """Return the calls to ``model`` running now."""
        with self._lock:
            return self._in_flight.get(model, 0)

    def peak(self, model: str) -> int:
        """Return the most calls to ``model`` that ever ran at once."""
        with self._lock:
            return self._peak.get(model, 0)

    def _semaphore(self, model: str) -> threading.BoundedSemaphore:
        with self._lock:
            slot = self._slots.get(model)
            if slot is None:
                slot = self._slots[model] = threading.BoundedSemaphore(self.limit_for(model))
            return slot

    def _busy(self, model: str, waited: float) -> ModelBusyError:
        return ModelBusyError(
            f"Model {model!r} is saturated: {self.limit_for(model)} calls were in flight and "
            f"this one waited {waited:.0f}s for a slot. Retry later, or raise its limit "
            f"(NOVA_MODEL_CONCURRENCY_LIMITS={model}=<n>) or NOVA_MODEL_QUEUE_TIMEOUT_S."
        )

    def _enter(self, model: str) -> None:
        with self._lock:
            count = self._in_flight.get(model, 0) + 1
            self._in_flight[model] = count
            self._peak[model] = max(self._peak.get(model, 0), count)

    def _leave(self, model: str, slot: threading.BoundedSemaphore) -> None:
        with self._lock:
            self._in_flight[model] -= 1
        slot.release()

    @contextmanager
    def slot(self, model: str) -> Iterator[None]:
        """Hold one of ``model``'s slots (blocking the calling thread while none is free).

        Raises:
            ModelBusyError: No slot came free within the queue timeout.

        """
        semaphore = self._semaphore(model)
        started = time.monotonic()
        if not semaphore.acquire(timeout=self.timeout_s):
            raise self._busy(model, time.monotonic() - started)
        self._enter(model)
        try:
            yield
        finally:
            self._leave(model, semaphore)

    @asynccontextmanager
    async def aslot(self, model: str) -> AsyncIterator[None]:
        """Hold one of ``model``'s slots, waiting without blocking the event loop.

        Raises:
            ModelBusyError: No slot came free within the queue timeout.

        """
        semaphore = self._semaphore(model)
        started = time.monotonic()
        if not semaphore.acquire(blocking=False):
            waiter = asyncio.ensure_future(
                asyncio.to_thread(semaphore.acquire, True, self.timeout_s)
            )
            try:
                acquired = await asyncio.shield(waiter)
            except asyncio.CancelledError:
                # The thread may still win the slot after we gave up: hand it straight back.
                waiter.add_done_callback(
                    lambda done: semaphore.release() if done.result() else None
                )
                raise
            if not acquired:
                raise self._busy(model, time.monotonic() - started)
        self._enter(model)
        try:
            yield
        finally:
            self._leave(model, semaphore)


_default: ModelLimiter | None = None
_default_lock = threading.Lock()


def default_limiter() -> ModelLimiter:
    """Return the process-wide limiter configured from settings (built on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            from nova.settings import get_settings

            settings = get_settings()
            _default = ModelLimiter(
                settings.model_concurrency_default,
                settings.model_concurrency_limits,
                timeout_s=settings.model_queue_timeout_s,
            )
        return _default


def reset_default_limiter() -> None:
    """Forget the process-wide limiter so the next use re-reads settings (tests)."""
    global _default
    with _default_lock:
        _default = None


class LimitedChatModel(BaseChatModel):
    """A chat model whose every call holds a slot of its model name in a ``ModelLimiter``.

    Calls go to the wrapped model's ``_generate``/``_stream`` (and async twins) under this
    model's callbacks, so a trace shows one model call, not two. ``bind_tools`` binds the
    wrapped model's tool format to this wrapper, so tool-calling calls are limited too.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: BaseChatModel
    """The model that does the work."""
    limiter: ModelLimiter = Field(exclude=True)
    """Where the slots come from."""
    limit_key: str
    """Model name whose slots this model uses."""
    model_name: str | None = None
    """The wrapped model's name (what nodes record as the model used)."""

    @property
    def _llm_type(self) -> str:
        return f"limited-{self.inner._llm_type}"

    @property
    def _identifying_params(self) -> Mapping[str, Any]:
        return {**self.inner._identifying_params, "limit_key": self.limit_key}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with self.limiter.slot(self.limit_key):
            return self.inner._generate(messages, stop=stop, run_manager=run_manager, **kwargs)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        async with self.limiter.aslot(self.limit_key):
            return await self.inner._agenerate(
                messages,
                stop=stop,
                run_manager=run_manager,
                **kwargs,
            )

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        with self.limiter.slot(self.limit_key):
            yield from self.inner._stream(messages, stop=stop, run_manager=run_manager, **kwargs)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        async with self.limiter.aslot(self.limit_key):
            async for chunk in self.inner._astream(
                messages,
                stop=stop,
                run_manager=run_manager,
                **kwargs,
            ):
                yield chunk

    def bind_tools(
        self,
        tools: Sequence[Any],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind ``tools`` the way the wrapped model formats them, keeping the limit."""
        extra = {"tool_choice": tool_choice} if tool_choice is not None else {}
        bound = self.inner.bind_tools(tools, **extra, **kwargs)
        if bound is self.inner:
            # Models that bind by remembering the tools (scripted models) need no kwargs.
            return self
        if isinstance(bound, RunnableBinding) and bound.bound is self.inner:
            return self.bind(**bound.kwargs)
        raise TypeError(
            f"{type(self.inner).__name__}.bind_tools returned {type(bound).__name__}; "
            "LimitedChatModel supports models whose bind_tools returns self.bind(...)"
        )


def limit_concurrency(
    model: BaseChatModel, key: str | None = None, limiter: ModelLimiter | None = None
) -> LimitedChatModel:
    """Wrap ``model`` so each call holds one of its model name's slots.

    Args:
        model: The chat model to limit.
        key: Model name whose slots to use; the model's ``model_name`` by default.
        limiter: Slot pools to use; the process-wide ``default_limiter()`` by default.

    """
    name = getattr(model, "model_name", None) or getattr(model, "model", None)
    key = key or (str(name) if name else type(model).__name__)
    # Streaming goes through the wrapper only if the wrapped model can stream and wants to.
    streams = type(model)._stream is not BaseChatModel._stream
    return LimitedChatModel(
        inner=model,
        limiter=limiter or default_limiter(),
        limit_key=key,
        model_name=str(name) if name else None,
        disable_streaming=model.disable_streaming if streams else True,
        rate_limiter=model.rate_limiter,
        callbacks=model.callbacks,
        tags=model.tags,
        metadata=model.metadata,
    )
