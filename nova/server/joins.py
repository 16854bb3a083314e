"""Waiting on a run without flooding Postgres: backed-off status polls and no early exits.

Every client waiting on a run (``runs.wait``, ``runs.join``, ``runs.stream``) holds a
``Runs.Stream.join`` in the server. langgraph-runtime-pg 0.11.1 delivers the run's output
to it through an in-process queue fed by Redis, and whenever that queue stays empty for
0.5 s it re-reads the run from Postgres, a safety net for runs that ended without their
``done`` message reaching this process (deleted, taken over after a crash, or a message
that pub/sub dropped). Two problems follow under load, both measured with
``evals/bench_server.py`` (200 concurrent ``runs.wait``, 2 shared cores):

* Cost. A run that waits in the queue or runs slowly sends no output, so each waiter polls
  twice a second: with 200 waiters the polls took about three times the CPU of the runs
  themselves (server 190-210 ms and Postgres 75 ms of CPU per run instead of about 55 and
  18), which made runs slower, which made more polls: 200 runs took 100-120 s instead of
  36 s. Here the poll interval starts at upstream's 0.5 s (a short wait still notices an
  ended run quickly) and doubles up to ``JOIN_POLL_MAX_S`` while the run stays silent.
* Lost results. A poll can see the run finished before this process has received the run's
  last output: with several uvicorn workers the output of a run executed by another worker
  arrives through Redis pub/sub, which lags under load, while the status is already in
  Postgres. Upstream then stops at once and ``runs.wait`` returns an intermediate state
  (7 of 200 results in one measurement). Here a finished status is followed by up to
  ``JOIN_FINISH_GRACE_S`` of waiting for the run's ``done`` message; only if it never
  comes (the message was really lost) does the join end as upstream's does.

``install_join_backoff`` swaps ``langgraph_runtime_pg.ops._stream_run_queue`` (the loop
above; ``Runs.Stream.join`` looks it up at call time) for ``stream_run_queue`` and reuses the
runtime's own helpers for polling, deciding and decoding. It checks that the pinned runtime
still has that shape and fails loudly if not (see ``nova/server/runtime.py``).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

JOIN_POLL_FIRST_S = 0.5
"""First status poll of a silent run: upstream's interval, so short waits behave as before."""
JOIN_POLL_MAX_S = 5.0
"""Longest gap between status polls of a run that stays silent."""
JOIN_FINISH_GRACE_S = 5.0
"""How long a join waits for a finished run's last output after a poll saw it finish."""

_EXPECTED_PARAMETERS = (
    "queue", "run", "accept_fn", "stream_mode", "run_id", "thread_id", "ctx", "ignore_404",
    "json_dumpb", "decode_fn",
)  # fmt: skip
_HELPERS = ("_poll_run_status", "_run_poll_action", "_decode_run_message")


class MessageQueue(Protocol):
    """The part of ``asyncio.Queue`` a join reads."""

    async def get(self) -> Any:
        """Return the next message, waiting for one."""
        ...


class RuntimeOps(Protocol):
    """The runtime helpers ``stream_run_queue`` reuses (``langgraph_runtime_pg.ops``)."""

    _poll_run_status: Callable[[Any, Any, Any], Awaitable[dict[str, Any] | None]]
    _run_poll_action: Callable[[dict[str, Any] | None, bool, Any], Any]
    _decode_run_message: Callable[[Any, Any, Any, Any, dict[str, Any] | None], Any]


async def stream_run_queue(
    ops: RuntimeOps,
    queue: MessageQueue,
    run: dict[str, Any] | None,
    accept_fn: Any,
    stream_mode: Any,
    run_id: Any,
    thread_id: Any,
    ctx: Any,
    ignore_404: bool,
    json_dumpb: Any,
    decode_fn: Any,
    *,
    first_s: float = JOIN_POLL_FIRST_S,
    max_s: float = JOIN_POLL_MAX_S,
    grace_s: float = JOIN_FINISH_GRACE_S,
) -> AsyncIterator[Any]:
    """Yield a run's frames from ``queue`` until its ``done`` message (upstream's loop, changed).

    Polls the run's status only after a silent gap that starts at ``first_s`` and doubles up
    to ``max_s`` (reset by any message); after a poll finds the run finished, keeps reading
    for up to ``grace_s`` so that output still in flight is not dropped.
    """
    timeout = first_s
    finished_at: float | None = None
    while True:
        wait_s = timeout if finished_at is None else finished_at + grace_s - time.monotonic()
        try:
            message = await asyncio.wait_for(queue.get(), timeout=max(wait_s, 0.0))
        except TimeoutError:
            if finished_at is not None:
                return  # The done message never came: end as upstream does right away.
            run = await ops._poll_run_status(run_id, thread_id, ctx)
            action = ops._run_poll_action(run, ignore_404, json_dumpb)
            if action == "break":
                if run is None:
                    return  # Deleted (or not visible to this user): nothing more will come.
                finished_at = time.monotonic()
                continue
            if action is not None:
                yield action
                return
            timeout = min(timeout * 2, max_s)
            continue
        timeout = first_s
        frame = ops._decode_run_message(message, accept_fn, decode_fn, stream_mode, run)
        if frame is None:
            continue
        if frame == "done":
            return
        yield frame


def install_join_backoff(
    *,
    first_s: float = JOIN_POLL_FIRST_S,
    max_s: float = JOIN_POLL_MAX_S,
    grace_s: float = JOIN_FINISH_GRACE_S,
) -> Callable[[], None]:
    """Make the runtime's joins use ``stream_run_queue``; return a function that undoes it.

    Raises:
        RuntimeError: The installed runtime does not have the loop and helpers this replaces
            (a langgraph-runtime-pg other than the pinned one).

    """
    from langgraph_runtime_pg import ops

    original = getattr(ops, "_stream_run_queue", None)
    join = getattr(getattr(getattr(ops, "Runs", None), "Stream", None), "join", None)
    shape_ok = (
        original is not None
        and tuple(inspect.signature(original).parameters) == _EXPECTED_PARAMETERS
        and all(callable(getattr(ops, name, None)) for name in _HELPERS)
        and join is not None
        and "_stream_run_queue" in join.__code__.co_names
    )
    if not shape_ok:
        raise RuntimeError(
            "langgraph_runtime_pg.ops no longer joins runs through _stream_run_queue: this "
            "langgraph-runtime-pg is not the version nova.server was written for "
            "(see nova/server/runtime.py and nova/server/joins.py)"
        )

    def patched(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        return stream_run_queue(ops, *args, **kwargs, first_s=first_s, max_s=max_s, grace_s=grace_s)

    ops._stream_run_queue = patched

    def restore() -> None:
        ops._stream_run_queue = original

    return restore
