"""Wake ``langgraph dev``'s run queue when a run is created, instead of every half second.

The in-memory runtime's worker loop asks ``Runs.next(wait=True)`` for work, which sleeps
0.5 s and then takes only runs created before it started sleeping: a run created while the
queue is idle waits 0.5–1.0 s before it starts, about a second per CLI turn through
``nova serve --dev`` (the daily suite's SDK latency). ``install_queue_wakeup`` makes that
wait end as soon as ``Runs.put`` has stored a new run (still at most 0.5 s, as upstream),
then asks upstream's own ``Runs.next`` without its sleep. Nothing else changes: the same
runs are picked in the same order, under the runtime's own lock.

It checks that the pinned runtime still has that shape and does nothing (with a warning)
if not; ``tests/test_server_dev.py`` measures the effect.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

log = logging.getLogger(__name__)

IDLE_WAIT_S = 0.5
"""Upstream's idle sleep: the longest a worker waits before it looks again anyway."""

_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
_waiters_lock = threading.Lock()
_installed = False


def _wake_all() -> None:
    with _waiters_lock:
        waiting = list(_waiters)
    for loop, event in waiting:
        if not loop.is_closed():
            loop.call_soon_threadsafe(event.set)


def _wrap_next(original: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
    async def next_run(wait: bool, limit: int = 1) -> AsyncIterator[Any]:
        if wait:
            entry = (asyncio.get_running_loop(), asyncio.Event())
            with _waiters_lock:
                _waiters.add(entry)
            try:
                await asyncio.wait_for(entry[1].wait(), IDLE_WAIT_S)
            except TimeoutError:
                pass
            finally:
                with _waiters_lock:
                    _waiters.discard(entry)
        async for item in original(wait=False, limit=limit):
            yield item

    return next_run


def _wrap_put(original: Callable[..., Any]) -> Callable[..., Any]:
    async def put(*args: Any, **kwargs: Any) -> Any:
        result = await original(*args, **kwargs)
        _wake_all()
        return result

    return put


def install_queue_wakeup() -> bool:
    """Patch the in-memory runtime's ``Runs.next``/``Runs.put``; return whether it did."""
    global _installed
    if _installed:
        return True
    try:
        from langgraph_runtime_inmem.ops import Runs
    except ImportError:  # not the in-memory runtime: nothing to do
        return False
    next_fn, put_fn = Runs.__dict__.get("next"), Runs.__dict__.get("put")
    shaped = (
        isinstance(next_fn, staticmethod)
        and isinstance(put_fn, staticmethod)
        and inspect.isasyncgenfunction(next_fn.__func__)
        and list(inspect.signature(next_fn.__func__).parameters) == ["wait", "limit"]
        and inspect.iscoroutinefunction(put_fn.__func__)
    )
    if not shaped:
        log.warning("langgraph-runtime-inmem changed shape: the run queue keeps its 0.5 s poll")
        return False
    Runs.next = staticmethod(_wrap_next(next_fn.__func__))
    Runs.put = staticmethod(_wrap_put(put_fn.__func__))
    _installed = True
    return True
