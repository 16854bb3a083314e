"""User isolation: each authenticated user has their own memory of every project.

The owner comes from the run (``NovaContext.user_id``, which the durable server's auth
overwrites with the caller), never from the model or the state. The local owner (no user:
the CLI, scripts, ``nova serve --dev``) is an owner like any other. The same flow through
the durable server and the SDK is ``tests/test_server_durable.py::test_memory_is_per_user``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langgraph.graph import END, START, StateGraph
from typer.testing import CliRunner

import tools.memory_tools as memory_tools
from memory.chroma import collection_name, parse_collection_name
from memory.store import MemoryNotFoundError, MemoryStore
from nodes.recall import make_recall_node
from nova.state import NovaContext, NovaState
from nova.testing import ScriptedChatModel, calls, says, tool_call
from tests.memory_fixtures import (
    refuse_chroma_default_embedding,  # noqa: F401 (autouse)
    run_tool_loop,
    store_for_memory_tools,
)

ALICE_SECRET = "Alice negotiated a 12 percent rebate with Ferrotec, code FT-5531."
BOB_SECRET = "Bob's supplier Hartmann delivers on Thursdays, order code HM-2207."


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MemoryStore:
    """The local owner's store over two seeded projects, also used by the memory tools."""
    return store_for_memory_tools(tmp_path, monkeypatch)


def _texts(store: MemoryStore, project: str, query: str) -> list[str]:
    return [hit["text"] for hit in store.search(project, query, k=20)]


def test_users_never_see_each_others_memories_of_the_same_project(store: MemoryStore) -> None:
    alice, bob = store.for_owner("alice"), store.for_owner("bob")
    alice.save("alpha-co", ALICE_SECRET)
    bob.save("alpha-co", BOB_SECRET)

    for query in ("Ferrotec rebate code", "FT-5531", "supplier order code", "Hartmann HM-2207"):
        assert BOB_SECRET not in _texts(alice, "alpha-co", query)
        assert ALICE_SECRET not in _texts(bob, "alpha-co", query)
        local = _texts(store, "alpha-co", query)
        assert ALICE_SECRET not in local and BOB_SECRET not in local
    assert _texts(alice, "alpha-co", "Ferrotec rebate")[0] == ALICE_SECRET
    assert _texts(bob, "alpha-co", "Hartmann deliveries")[0] == BOB_SECRET
    # Listings are per owner too.
    assert ALICE_SECRET in [item.text for item in alice.items("alpha-co")]
    assert ALICE_SECRET not in [item.text for item in bob.items("alpha-co")]


def test_every_owner_starts_from_the_projects_seeds(store: MemoryStore) -> None:
    seeds = {item.text for item in store.items("alpha-co")}
    assert seeds, "the test project has seed memories"
    assert {item.text for item in store.for_owner("carol").items("alpha-co")} == seeds


def test_the_same_text_is_one_item_per_owner_and_forgetting_is_per_owner(
    store: MemoryStore,
) -> None:
    text = "Inventory count is on the last Friday of the quarter."
    alice, bob = store.for_owner("alice"), store.for_owner("bob")
    mine = alice.save("alpha-co", text).item
    theirs = bob.save("alpha-co", text).item
    assert bob.save("alpha-co", text).status == "existing"

    # Memory ids are content hashes, so both users' items share an id; neither can reach
    # the other's through it.
    assert mine.id == theirs.id
    bob.forget("alpha-co", theirs.id)
    assert bob.get("alpha-co", theirs.id) is None
    assert alice.get("alpha-co", mine.id) is not None
    with pytest.raises(MemoryNotFoundError):
        bob.forget("alpha-co", mine.id)
    assert store.get("alpha-co", mine.id) is None  # nor is the local owner's memory touched


def test_collections_and_stored_projects_are_per_owner(store: MemoryStore) -> None:
    odd = "auth0|5f1c..e9 Ümit@example.com"  # characters Chroma refuses in names
    store.for_owner(odd).save("beta-co", "Beta prefers invoices as PDF.")
    store.for_owner("alice").save("alpha-co", ALICE_SECRET)

    name = collection_name("beta-co", odd)
    assert name.startswith("nova-memory-beta-co.u-") and odd not in name
    assert store.client.get_collection(name).metadata["nova_owner"] == odd
    assert parse_collection_name(name) == ("beta-co", name.rsplit(".u-", 1)[1])
    assert parse_collection_name("nova-memory-beta-co") == ("beta-co", None)
    assert parse_collection_name("someone-else") is None
    assert store.for_owner(odd).stored_projects() == ["beta-co"]
    assert store.for_owner("alice").stored_projects() == ["alpha-co"]
    assert store.for_owner("nobody").stored_projects() == []
    assert "beta-co" not in store.stored_projects()  # the local owner has not used it
    # A project id cannot pose as another owner's collection: ids have no dots.
    assert collection_name("alpha-co", "x") != collection_name("alpha-co.u-x")


@pytest.mark.parametrize("owner", ["", "   ", "\t"])
def test_a_blank_owner_is_refused(store: MemoryStore, owner: str) -> None:
    with pytest.raises(ValueError, match="non-blank user id"):
        store.for_owner(owner)


def _tool_results(messages: list) -> list[ToolMessage]:  # type: ignore[type-arg]
    return [m for m in messages if isinstance(m, ToolMessage)]


def test_memory_tools_act_for_the_runs_user_only(store: MemoryStore) -> None:
    save = ScriptedChatModel.from_script(
        [calls(tool_call("memory_save", text=ALICE_SECRET, kind="fact")), says("saved")]
    )
    saved = _tool_results(
        run_tool_loop(
            save, memory_tools.TOOLS, "remember", context=NovaContext("alpha-co", user_id="alice")
        )
    )[0]
    assert "Saved [mem:" in str(saved.content)
    alice_id = store.for_owner("alice").search("alpha-co", "Ferrotec", k=1)[0]["id"]

    bob_tries = ScriptedChatModel.from_script(
        [
            calls(tool_call("memory_search", query="Ferrotec rebate code FT-5531")),
            calls(tool_call("memory_search", query="rebate", user_id="alice")),
            calls(tool_call("memory_forget", memory_id=f"mem:{alice_id}")),
            says("nothing"),
        ]
    )
    searched, refused, forget = _tool_results(
        run_tool_loop(
            bob_tries, memory_tools.TOOLS, "find", context=NovaContext("alpha-co", user_id="bob")
        )
    )
    assert "FT-5531" not in str(searched.content)
    assert refused.status == "error" and "Extra inputs are not permitted" in str(refused.content)
    assert forget.status == "error" and "No memory" in str(forget.content)
    assert store.for_owner("alice").get("alpha-co", alice_id) is not None
    for tool in memory_tools.TOOLS:
        assert "user_id" not in tool.tool_call_schema.model_json_schema()["properties"]


def test_recall_reads_the_runs_users_memories(store: MemoryStore) -> None:
    store.for_owner("alice").save("alpha-co", ALICE_SECRET)
    builder = StateGraph(NovaState, context_schema=NovaContext)
    builder.add_node("recall", make_recall_node(lambda: store, min_score=0.0))
    builder.add_edge(START, "recall")
    builder.add_edge("recall", END)
    graph = builder.compile()

    def recalled(user: str | None) -> list[str]:
        state = {
            "messages": [HumanMessage("Ferrotec rebate?")],
            "request": "What rebate did we get from Ferrotec?",
            "project": "alpha-co",
        }
        result = graph.invoke(state, context=NovaContext(user_id=user))
        return [hit["text"] for hit in result["memories"]]

    assert ALICE_SECRET in recalled("alice")
    assert ALICE_SECRET not in recalled("bob")
    assert ALICE_SECRET not in recalled(None)


def test_the_cli_reads_and_writes_a_users_memories(
    store: MemoryStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nova.cli import app

    monkeypatch.setenv("NOVA_DATA_DIR", str(tmp_path / "data"))
    from nova.settings import get_settings

    get_settings.cache_clear()
    runner = CliRunner()
    added = runner.invoke(app, ["memory", "add", ALICE_SECRET, "-p", "alpha-co", "-u", "alice"])
    assert added.exit_code == 0, added.output
    assert "in alpha-co (user alice)" in added.output

    own = runner.invoke(app, ["memory", "search", "Ferrotec", "-p", "alpha-co", "--user", "alice"])
    assert "FT-5531" in own.output
    other = runner.invoke(app, ["memory", "search", "Ferrotec", "-p", "alpha-co", "-u", "bob"])
    local = runner.invoke(app, ["memory", "search", "Ferrotec", "-p", "alpha-co"])
    assert "FT-5531" not in other.output and "FT-5531" not in local.output

    blank = runner.invoke(app, ["memory", "list", "-p", "alpha-co", "--user", " "])
    assert blank.exit_code != 0 and "non-blank user id" in blank.output


def test_code_without_a_runtime_finds_the_runs_user() -> None:
    """``current_run_user`` serves check nodes and pipeline steps (their glossary)."""
    from nova.state import current_run_user

    seen: list[str | None] = []

    def node(state: NovaState) -> dict[str, object]:
        seen.append(current_run_user())
        return {}

    builder = StateGraph(NovaState, context_schema=NovaContext)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    graph = builder.compile()
    graph.invoke({"request": "x"}, context=NovaContext(user_id="alice"))
    graph.invoke({"request": "x"}, context=NovaContext())
    assert seen == ["alice", None]
    assert current_run_user() is None  # outside any run
