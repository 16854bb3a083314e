"""Snapshots of the graph's topology and schemas: a change of shape is a reviewed diff.

Regenerate after an intended change:
``UPDATE_SNAPSHOTS=1 pytest tests/test_graph_shape.py``.
"""

import json
import os
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from graphs.nova import build_nova_graph
from nova.testing import ScriptedModels

SNAPSHOTS = Path(__file__).parent / "snapshots"


def _check(name: str, actual: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
        if os.environ.get("CI") and not path.exists():
            pytest.fail(f"snapshot {name} is missing; generate it locally and commit it")
        path.write_text(actual)
    assert actual == path.read_text(), f"{name} changed; review and regenerate the snapshot"


@pytest.fixture(scope="module")
def graph():  # type: ignore[no-untyped-def]
    return build_nova_graph(model_factory=ScriptedModels()).compile(
        checkpointer=InMemorySaver(), name="nova"
    )


def test_topology_with_subgraphs(graph) -> None:  # type: ignore[no-untyped-def]
    mermaid = graph.get_graph(xray=True).draw_mermaid()
    for node in (
        "intake",
        "recall",
        "route",
        "respond",
        "chat",
        "erp",
        "translation",
        "pipeline",
    ):
        assert node in mermaid
    _check("nova_topology.mmd", mermaid)


def test_input_output_and_context_schemas(graph) -> None:  # type: ignore[no-untyped-def]
    schemas = {
        "input": graph.get_input_jsonschema(),
        "output": graph.get_output_jsonschema(),
        "context": graph.get_context_jsonschema(),
    }
    assert list(schemas["input"]["properties"]) == ["messages"]
    assert set(schemas["output"]["properties"]) == {"messages", "route", "agent_run", "answer"}
    assert {"project", "user_id", "model", "agent"} <= set(schemas["context"]["properties"])
    _check("nova_schemas.json", json.dumps(schemas, indent=2, sort_keys=True) + "\n")


@pytest.mark.parametrize(
    "graph_id",
    sorted(json.loads((Path(__file__).parents[1] / "langgraph.json").read_text())["graphs"]),
)
def test_every_served_graph_has_studio_schemas(graph_id: str) -> None:
    import importlib

    spec = json.loads((Path(__file__).parents[1] / "langgraph.json").read_text())["graphs"][
        graph_id
    ]
    module, attribute = spec.split(":")
    served = getattr(importlib.import_module(module), attribute)
    assert served.name == graph_id
    assert "messages" in served.get_input_jsonschema()["properties"]
    assert served.get_output_jsonschema()["properties"]
    assert "project" in served.get_context_jsonschema()["properties"]
