"""The thread pool that runs synchronous graph nodes inside a server process.

LangGraph runs a synchronous node (Nova's agent with its model call, the router, SQLite and
Chroma calls) in the event loop's default executor, which Python sizes at ``cpu_count + 4``
threads: six on a 2-core machine, however many runs the queue admits. With a 100 ms model,
200 concurrent runs then needed at least 200 x 0.1 s / 6 = 3.3 s for the model calls alone
(``evals/bench_server.py``, dev mode: 5.7-7.4 s with six threads, 3.5-6.1 s with Nova's pool).
``node_executor`` installs a pool of ``NOVA_SERVER_THREADS`` threads, split among the
server's worker processes like ``NOVA_SERVER_JOBS``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from nova.settings import NovaSettings, get_settings


def threads_per_process(settings: NovaSettings) -> int:
    """Return the node threads of one worker process (``server_threads`` split evenly)."""
    return max(4, -(-settings.server_threads // settings.server_workers))


@asynccontextmanager
async def node_executor(settings: NovaSettings | None = None) -> AsyncIterator[ThreadPoolExecutor]:
    """Make a pool of ``threads_per_process`` threads the running loop's default executor."""
    executor = ThreadPoolExecutor(
        max_workers=threads_per_process(settings or get_settings()),
        thread_name_prefix="nova-node",
    )
    loop = asyncio.get_running_loop()
    loop.set_default_executor(executor)
    try:
        yield executor
    finally:
        # The runtime's own shutdown still runs blocking calls in the default executor
        # after this lifespan ends (langgraph dev closes its store that way): with Nova's
        # pool shut down and still the default, Ctrl-C ended in "Application shutdown
        # failed ... cannot schedule new futures after shutdown". A fresh default pool
        # takes those calls; asyncio.run shuts it down when the loop closes.
        loop.set_default_executor(ThreadPoolExecutor(thread_name_prefix="nova-shutdown"))
        executor.shutdown(wait=False, cancel_futures=True)
