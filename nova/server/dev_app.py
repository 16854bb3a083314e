"""The ``http.app`` of ``langgraph dev`` (``nova serve --dev``): Nova's node thread pool.

``langgraph dev`` serves langgraph-api's own app; a ``langgraph.json`` entry
``"http": {"app": "nova.server.dev_app:app"}`` adds this app, which has no routes and whose
lifespan (merged into the server's) installs ``nova.server.executor.node_executor`` and
wakes the in-memory run queue when a run is created (``nova.server.queue_wakeup``). The
durable server does the same in ``nova.server.app`` and ignores this entry
(``nova.server.launch.durable_env``), because there the ``http.app`` hook breaks start-up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from nova.secrets import install_log_redaction
from nova.server.executor import node_executor
from nova.server.queue_wakeup import install_queue_wakeup


@asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    """Run the server with Nova's node thread pool and a run queue woken by new runs."""
    install_log_redaction()
    install_queue_wakeup()
    async with node_executor():
        yield


app = Starlette(lifespan=lifespan)
"""Served by ``langgraph dev`` next to langgraph-api's routes (it adds none)."""
