"""A background worker per trace sink: runs never wait for a database or a network.

Finished runs are handed to a daemon thread; the process waits for it at exit for at
most ``NOVA_TRACE_FLUSH_TIMEOUT_S`` seconds, so a slow or unreachable sink (a LangSmith
endpoint that accepts and never answers) can neither slow a run nor hold the process.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable

logger = logging.getLogger("nova.tracing")

_workers: weakref.WeakSet[BackgroundWorker] = weakref.WeakSet()


class BackgroundWorker:
    """A lazily started daemon thread that runs submitted jobs in order, logging failures."""

    def __init__(self, name: str, *, max_pending: int = 10_000) -> None:
        self.name = name
        self._queue: queue.Queue[Callable[[], None]] = queue.Queue(maxsize=max_pending)
        self._pending = 0
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self.dropped = 0
        """Jobs refused because the queue was full (a stalled sink)."""
        _workers.add(self)

    def submit(self, job: Callable[[], None]) -> None:
        """Queue ``job``; drop it (counted in ``dropped``) rather than block when full."""
        with self._condition:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                self.dropped += 1
                logger.warning("%s: queue full, a trace was dropped", self.name)
                return
            self._pending += 1

    def flush(self, timeout_s: float) -> bool:
        """Wait until every queued job has run, for at most ``timeout_s``; return whether it did."""
        deadline = time.monotonic() + timeout_s
        with self._condition:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._condition.wait(left)
        return True

    @property
    def pending(self) -> int:
        """Jobs queued or running."""
        return self._pending

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            try:
                job()
            except Exception:
                logger.warning("%s: a trace job failed", self.name, exc_info=True)
            finally:
                with self._condition:
                    self._pending -= 1
                    self._condition.notify_all()


def flush_all(timeout_s: float | None = None) -> bool:
    """Wait (bounded) for every trace sink to finish what it was given; return whether all did."""
    if timeout_s is None:
        from nova.tracing.config import get_tracing_settings

        timeout_s = get_tracing_settings().trace_flush_timeout_s
    deadline = time.monotonic() + timeout_s
    done = True
    for worker in list(_workers):
        done = worker.flush(max(0.0, deadline - time.monotonic())) and done
    return done


@atexit.register
def _flush_at_exit() -> None:
    try:
        flush_all()
    except Exception:
        logger.debug("trace flush at exit failed", exc_info=True)
