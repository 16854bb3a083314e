"""The context schema's JSON Schema, built once per process instead of once per run.

For every run that carries a ``context`` (on Nova's servers every run does: the auth
handler sets ``context.user_id``), langgraph-api 0.11 calls the graph's
``Pregel.get_context_jsonschema()`` to drop context keys the schema does not declare.
langgraph builds a new ``pydantic.TypeAdapter`` for the context dataclass and generates its
JSON Schema each time: about 4 ms of CPU per run on this machine, a fifth of what Nova's
graph costs beyond the one-node floor graph on the durable server (profiled with py-spy,
``evals/bench_server.py``). A schema class does not change while the process runs, so
``install_context_schema_cache`` keeps each class's schema and hands out copies.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

from langgraph.pregel import Pregel


def install_context_schema_cache() -> Callable[[], None]:
    """Cache ``Pregel.get_context_jsonschema`` per context schema class; return the undo."""
    original = Pregel.get_context_jsonschema
    schemas: dict[Any, dict[str, Any] | None] = {}
    lock = threading.Lock()

    def get_context_jsonschema(self: Pregel[Any, Any, Any, Any]) -> dict[str, Any] | None:
        key = self.context_schema
        if key is None:
            return None
        with lock:
            found = schemas.get(key, ...)
        if found is ...:
            found = original(self)
            with lock:
                schemas[key] = found
        # A copy: a caller that edits the schema must not edit the next run's.
        return copy.deepcopy(found)

    Pregel.get_context_jsonschema = get_context_jsonschema  # type: ignore[method-assign]

    def restore() -> None:
        Pregel.get_context_jsonschema = original  # type: ignore[method-assign]

    return restore
