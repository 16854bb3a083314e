"""The context schema's JSON Schema is built once per process on Nova's servers."""

from __future__ import annotations

from typing import Any

import langgraph.pregel.main as pregel_main
import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.pregel import Pregel
from typing_extensions import TypedDict

from nova.server.schema_cache import install_context_schema_cache
from nova.state import NovaContext


class _State(TypedDict):
    text: str


def _graph(context_schema: Any = None) -> Pregel[Any, Any, Any, Any]:
    builder = StateGraph(_State, context_schema=context_schema)
    builder.add_node("echo", lambda state: state)
    builder.add_edge(START, "echo")
    builder.add_edge("echo", END)
    return builder.compile()


def test_the_schema_is_built_once_per_class_and_each_caller_gets_its_own_copy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = _graph(NovaContext).get_context_jsonschema()
    assert expected and "user_id" in expected["properties"]
    built = []
    real_adapter = pregel_main.TypeAdapter

    def counting_adapter(*args: Any, **kwargs: Any) -> Any:
        built.append(args[0])
        return real_adapter(*args, **kwargs)

    monkeypatch.setattr(pregel_main, "TypeAdapter", counting_adapter)
    original = Pregel.get_context_jsonschema
    restore = install_context_schema_cache()
    try:
        # The server copies the graph for every run: the cache is per class, not per object.
        first = _graph(NovaContext).get_context_jsonschema()
        assert first == expected
        first["properties"].clear()  # a caller editing its copy changes nobody else's
        assert _graph(NovaContext).get_context_jsonschema() == expected
        assert built == [NovaContext]
        assert _graph().get_context_jsonschema() is None
    finally:
        restore()
    assert Pregel.get_context_jsonschema is original
    _graph(NovaContext).get_context_jsonschema()
    assert built == [NovaContext, NovaContext]  # uncached again once restored
