"""Nova's hosted graph server: the durable Postgres-backed mode of ``nova serve``.

Two modes serve the same ``langgraph.json``:

* ``nova serve --dev``: ``langgraph dev`` (langgraph-api's in-memory runtime), for Studio
  and local development. It loses threads on a crash.
* ``nova serve``: stock ``langgraph-api`` on the MIT ``langgraph-runtime-pg`` runtime
  (Postgres for assistants, threads, runs, checkpoints and the store; Redis to wake
  workers and fan out streams). Runs are queued, executed by a bounded worker pool, and
  taken over from their last checkpoint when the server that ran them dies.

``langgraph-runtime-pg`` pins an older ``langgraph-api`` than ``langgraph dev`` needs, so it
lives in an overlay environment layered on Nova's own (``nova.server.runtime``); everything
else (Nova, LangGraph, torch) is shared with the main environment.

Modules:
    runtime: install and locate the overlay environment.
    launch: build the durable server's environment from ``langgraph.json`` and settings.
    auth: API-key / JWT authentication and per-user resource filters (``langgraph_sdk.Auth``).
    serve: the durable server process: prepare the databases once, then run uvicorn's
        workers (``NOVA_SERVER_WORKERS``).
    app: the custom Starlette app whose lifespan sizes the node thread pool, records
        abandoned runs in the failure ledger and backs off joins' status polls.
    executor: the thread pool of synchronous graph nodes (``NOVA_SERVER_THREADS``).
    dev_app: the ``http.app`` that installs that pool under ``langgraph dev``.
    joins: clients waiting on runs poll Postgres with back-off and get the final output.
    recovery: turn runs the runtime took over from a dead worker into failure records.
"""
