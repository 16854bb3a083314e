"""The durable server's ASGI app: langgraph-api's app plus Nova's start-up and shut-down work.

uvicorn serves ``nova.server.app:app`` (see ``nova.server.launch``): langgraph-api's own
app, wrapped so that once its lifespan has started (database pool, queue, graphs) Nova's
runs too, and stops after it. (langgraph-api's ``http.app`` hook cannot carry this on the
Postgres runtime: it applies its store middleware to the lifespan too, before the
runtime's pool exists, and start-up fails.)

* Synchronous graph nodes (Nova's agent, router, SQLite and Chroma calls) run in the event
  loop's default executor, which Python sizes at ``cpu_count + 4`` threads: on a 2-core
  machine six runs could be inside a node at once, however many jobs the queue admits.
  Nova installs a pool of ``NOVA_SERVER_THREADS`` (``nova.server.executor``).
* It wraps ``langgraph_runtime_pg.ops.Runs.sweep`` (the periodic take-over of runs whose
  worker died) so that every run it takes over is written to the failure ledger
  (``nova.server.recovery``). The runtime has no hook for this; the wrap is checked at
  start-up against the pinned version and fails loudly if the method moved.
* It serves Nova's own routes, the inbox (``nova.server.inbox``), with the same credentials.
* It makes clients waiting on runs poll the run's status with back-off, and not return
  before a finished run's last output arrived (``nova.server.joins``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from uuid import UUID

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nova.settings import get_settings

log = logging.getLogger(__name__)

Sweep = Callable[[], Awaitable[list[UUID]]]


def install_sweep_recorder() -> Callable[[], None]:
    """Record every run the runtime's sweep takes over; return a function that undoes it.

    Raises:
        RuntimeError: The installed runtime has no ``Runs.sweep`` to wrap.

    """
    from langgraph_runtime_pg import ops
    from langgraph_sdk import get_client

    from nova.ledger.failures import FailureLedger
    from nova.server.recovery import describe_and_record, runtime_engine, taken_over_runs

    original: Sweep | None = getattr(ops.Runs, "sweep", None)
    if original is None:
        raise RuntimeError(
            "langgraph_runtime_pg.ops.Runs.sweep is missing: this langgraph-runtime-pg is not "
            "the version nova.server was written for (see nova/server/runtime.py)"
        )
    settings = get_settings()
    engine = runtime_engine(settings.server_database_url)
    ledger = FailureLedger()
    # No URL: inside the server the SDK talks to this app in-process, as the system user.
    client = get_client()

    async def sweep_and_record() -> list[UUID]:
        swept = await original()
        if swept:
            try:
                runs = await asyncio.to_thread(taken_over_runs, engine, swept)
                await describe_and_record(
                    runs,
                    threads=client.threads,
                    ledger=ledger,
                    max_attempts=settings.server_max_attempts,
                )
            except Exception:
                # The take-over itself succeeded; losing its record must not stop the queue.
                log.exception("Could not record abandoned runs %s in the failure ledger", swept)
        return swept

    ops.Runs.sweep = staticmethod(sweep_and_record)  # type: ignore[method-assign, unused-ignore]  # typed only in the runtime overlay

    def restore() -> None:
        ops.Runs.sweep = staticmethod(original)  # type: ignore[method-assign, unused-ignore]  # typed only in the runtime overlay
        engine.dispose()

    return restore


@asynccontextmanager
async def nova_lifespan() -> AsyncIterator[None]:
    """Size the node pool, cache context schemas; on Postgres: record lost runs, back off joins."""
    from nova.server.executor import node_executor
    from nova.server.schema_cache import install_context_schema_cache

    restores: list[Callable[[], None]] = [install_context_schema_cache()]
    async with node_executor():
        if os.environ.get("LANGGRAPH_RUNTIME_EDITION") == "pg":
            from nova.server.joins import install_join_backoff

            restores += [install_sweep_recorder(), install_join_backoff()]
        try:
            yield
        finally:
            for restore in reversed(restores):
                restore()


class WithNovaLifespan:
    """ASGI wrapper: run ``nova_lifespan`` within the wrapped app's lifespan."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass requests through; start Nova after the app has started, stop it after the app."""
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        stack = AsyncExitStack()

        async def send_with_nova(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                try:
                    await stack.enter_async_context(nova_lifespan())
                except Exception as error:
                    log.exception("Nova's server start-up failed")
                    message = {"type": "lifespan.startup.failed", "message": repr(error)}
            elif message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                # After the runtime has stopped its workers: nothing needs the thread pool now.
                await stack.aclose()
            await send(message)

        await self.app(scope, receive, send_with_nova)


class WithNovaRoutes:
    """ASGI wrapper: Nova's own routes (``/nova/…``: feedback, inbox) before langgraph-api's.

    The durable server cannot use langgraph.json's ``http.app`` hook (see the module
    docstring), so Nova's routes are dispatched here; they authenticate as the rest of the
    server does (``nova.server.feedback_route.caller``).
    """

    def __init__(self, app: ASGIApp) -> None:
        from starlette.routing import Router

        from nova.server.feedback_route import feedback_routes
        from nova.server.inbox import routes as inbox_routes

        self.app = app
        self.routes = Router(routes=[*feedback_routes(), *inbox_routes])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve ``/nova/…`` paths here; pass everything else through."""
        if scope["type"] == "http" and str(scope.get("path", "")).startswith("/nova/"):
            await self.routes(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _build() -> WithNovaLifespan:
    from langgraph_api.server import app as langgraph_app

    from nova.secrets import install_log_redaction
    from nova.server.guard import RequestGuard

    # Before the first request: the server's own logs and tracebacks quote settings and URLs.
    install_log_redaction()
    return WithNovaLifespan(WithNovaRoutes(RequestGuard(langgraph_app)))


app = _build()
"""What uvicorn serves in durable mode."""
