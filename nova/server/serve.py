"""The durable server process: prepare the database once, then run uvicorn's workers.

``python -m nova.server.serve <uvicorn arguments>`` (run by the overlay's Python, see
``nova.server.launch``). With ``--workers`` above 1, every worker would run the runtime's
start-up migrations (Alembic, then the checkpointer's and the store's) at the same moment,
and on a fresh database they collide (``duplicate key ... pg_type_typname_nsp_index``:
both create ``alembic_version``). So this process brings the schema to head first, with
the runtime's own start-up, and tells the workers to skip Alembic
(``LG_RUNTIME_PG_AUTO_MIGRATE=false``, the runtime's switch for migrations run as a
pre-deploy job); the checkpointer's and store's set-up then find their tables current.
Nova's failure ledger, which each worker opens at start-up (``nova.server.app``), is
created here too: two workers creating its tables at once fail the same way.

Memory: several workers cannot share the embedded Chroma folder, so without
``NOVA_CHROMA_URL`` this process also runs one Chroma server on it for the workers
(``nova.server.chroma_server``) and stops it when uvicorn exits.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nova.server.chroma_server import ChromaServer


def workers_requested(argv: list[str]) -> int:
    """Return the ``--workers`` value in uvicorn's arguments (1 when absent)."""
    for index, argument in enumerate(argv):
        if argument == "--workers" and index + 1 < len(argv):
            return int(argv[index + 1])
        if argument.startswith("--workers="):
            return int(argument.split("=", 1)[1])
    return 1


async def prepare_database() -> None:
    """Migrate the runtime's schema and set up the checkpointer and store tables, once.

    The same steps, in the same order, as the runtime's ``database.start_pool``.
    """
    from langgraph_runtime_pg.checkpoint import setup_checkpointer, teardown_checkpointer
    from langgraph_runtime_pg.database import get_database_uri
    from langgraph_runtime_pg.migrate import upgrade_head
    from langgraph_runtime_pg.store import setup_store, teardown_store

    upgrade_head(get_database_uri())
    try:
        await setup_checkpointer()
        await setup_store()
    finally:
        await teardown_store()
        await teardown_checkpointer()


def prepare_ledger() -> None:
    """Create the failure ledger's tables, which every worker's start-up opens."""
    from nova.ledger.failures import FailureLedger

    FailureLedger().engine.dispose()


def start_shared_chroma() -> ChromaServer:
    """Run a Chroma server on the data dir's Chroma folder and point the workers at it."""
    from nova.server.chroma_server import start_chroma_server
    from nova.settings import get_settings

    settings = get_settings()
    log = settings.data_dir / "chroma-server.log"
    server = start_chroma_server(settings.chroma_dir, log)
    os.environ["NOVA_CHROMA_URL"] = server.url
    print(f"Memory: Chroma server for the workers on {server.url} (log: {log})", flush=True)
    return server


def main(argv: list[str] | None = None) -> None:
    """Prepare the databases and memory when several workers will start; run uvicorn."""
    argv = sys.argv[1:] if argv is None else argv
    several = workers_requested(argv) > 1
    if os.environ.get("LANGGRAPH_RUNTIME_EDITION") == "pg" and several:
        asyncio.run(prepare_database())
        os.environ["LG_RUNTIME_PG_AUTO_MIGRATE"] = "false"
        prepare_ledger()
    chroma = start_shared_chroma() if several and not os.environ.get("NOVA_CHROMA_URL") else None
    import uvicorn

    try:
        uvicorn.main(argv, prog_name="nova-server")
    finally:
        if chroma is not None:
            chroma.stop()


if __name__ == "__main__":
    main()
