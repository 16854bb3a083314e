"""The ``http.app`` of ``langgraph dev`` (``nova serve --dev``): thread pool and inbox routes.

``langgraph dev`` serves langgraph-api's own app; a ``langgraph.json`` entry
``"http": {"app": "nova.server.dev_app:app"}`` adds this app, which serves Nova's own routes
(``POST /nova/feedback``: ``nova.server.feedback_route``; the inbox: ``nova.server.inbox``)
and whose lifespan (merged into the server's) installs
``nova.server.executor.node_executor`` and wakes the in-memory run queue when a run is
created (``nova.server.queue_wakeup``). The
durable server does the same in ``nova.server.app`` and ignores this entry
(``nova.server.launch.durable_env``), because there the ``http.app`` hook breaks start-up.

Its middleware (langgraph-api applies an ``http.app``'s middleware to every route) closes
the in-memory runtime's test-only routes: ``POST /internal/truncate`` wiped every thread,
run and store item of the server for anyone who could reach the port, with no auth (found
by ``evals/soak_fuzz.py``: the owner's stored thread was gone after the first round), and
``/internal/debug/...`` reads raw threads. langgraph-api registers them as routes an app
cannot shadow, so they are refused before routing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from nova.secrets import install_log_redaction
from nova.server.executor import node_executor
from nova.server.feedback_route import feedback_routes
from nova.server.inbox import routes as inbox_routes
from nova.server.queue_wakeup import install_queue_wakeup
from nova.server.schema_cache import install_context_schema_cache


@asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    """Run with Nova's node thread pool, a queue woken by new runs, schemas built once."""
    install_log_redaction()
    install_queue_wakeup()
    restore = install_context_schema_cache()
    try:
        async with node_executor():
            yield
    finally:
        restore()


CLOSED_PREFIX = "/internal/"
"""Paths of the in-memory runtime's test harness routes (truncate, debug)."""


class CloseTestRoutes:
    """ASGI middleware: answer 404 to the in-memory runtime's test-only routes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse ``/internal/...``; pass everything else through."""
        if scope["type"] == "http" and scope["path"].startswith(CLOSED_PREFIX):
            detail = "Not found (langgraph dev's test-only routes are closed in Nova)"
            await JSONResponse({"detail": detail}, status_code=404)(scope, receive, send)
            return
        await self.app(scope, receive, send)


app = Starlette(
    routes=[*feedback_routes(), *inbox_routes],
    lifespan=lifespan,
    middleware=[Middleware(CloseTestRoutes)],
)
"""Served by ``langgraph dev`` next to langgraph-api's routes: Nova's own (feedback, inbox)."""
