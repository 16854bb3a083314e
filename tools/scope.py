"""The scope a tool runs in: always the run's, never the model's arguments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.prebuilt import ToolRuntime

from nova.settings import get_settings
from nova.state import context_user


def runtime_field(source: object, name: str) -> object:
    """Read ``name`` from a context/state that may be a mapping or an object."""
    if source is None:
        return None
    if isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


def current_project(runtime: ToolRuntime[Any, Any]) -> str:
    """Return the run's project: the context's, then the state's, then the default."""
    project = runtime_field(runtime.context, "project") or runtime_field(runtime.state, "project")
    return str(project) if project else get_settings().default_project


def current_user(runtime: ToolRuntime[Any, Any]) -> str | None:
    """Return the run's user: the context's ``user_id`` only, ``None`` for the local owner.

    Never the state's: a client writes the state (input, ``update_state``), while the
    durable server's auth overwrites ``context.user_id`` with the authenticated caller.
    """
    return context_user(runtime.context)
