"""The recall node and the memory context block the agent node puts into its system prompt."""

from __future__ import annotations

from pathlib import Path

import pytest
from langgraph.graph import END, START, StateGraph

from memory.store import MemoryStore
from memory.tokens import count_tokens, count_tokens_many, truncate_to_tokens
from nodes.recall import (
    MEMORY_HEADER,
    fit_to_budget,
    format_memories,
    make_recall_node,
    memory_line,
)
from nova.projects import ProjectError
from nova.settings import get_settings
from nova.state import MemoryHit, NovaContext, NovaState
from tests.memory_fixtures import (
    make_projects,
    open_store,
    refuse_chroma_default_embedding,  # noqa: F401 (autouse)
)


@pytest.fixture
def store(tmp_path: Path) -> MemoryStore:
    return open_store(tmp_path / "chroma", make_projects(tmp_path / "projects"))


def _run(store: MemoryStore, state: NovaState, context: NovaContext) -> NovaState:
    builder = StateGraph(NovaState, context_schema=NovaContext)
    builder.add_node("recall", make_recall_node(lambda: store))
    builder.add_edge(START, "recall")
    builder.add_edge("recall", END)
    return builder.compile().invoke(state, context=context)  # type: ignore[return-value]


def test_recall_returns_the_projects_most_relevant_memories(store: MemoryStore) -> None:
    store.save("alpha-co", "Alpha Co's spindle oil is Mobil Vactra No. 2.", kind="fact")
    result = _run(
        store, {"request": "Which oil goes into the spindle?", "project": "alpha-co"}, NovaContext()
    )
    memories = result["memories"]
    assert memories[0]["text"] == "Alpha Co's spindle oil is Mobil Vactra No. 2."
    assert set(memories[0]) >= {"id", "text", "kind", "score", "source"}
    assert all("Beta" not in hit["text"] for hit in memories)


def test_recall_takes_the_project_from_the_context_then_the_default(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run(store, {"request": "discount code BETA-7781"}, NovaContext(project="beta-co"))
    assert "BETA-7781" in result["memories"][0]["text"]

    monkeypatch.setenv("NOVA_DEFAULT_PROJECT", "alpha-co")
    get_settings.cache_clear()
    result = _run(store, {"request": "discount code BETA-7781"}, NovaContext())
    assert all("BETA-7781" not in hit["text"] for hit in result["memories"])


def test_recall_honours_top_k_and_the_token_budget(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    long_text = (
        "Alpha Co maintenance handbook, chapter on spindles: "
        + "check bearings and oil levels. " * 40
    )
    store.save("alpha-co", long_text, kind="document_chunk")
    store.save("alpha-co", "Spindles are checked every Friday.", kind="fact")
    monkeypatch.setenv("NOVA_RECALL_TOP_K", "2")
    monkeypatch.setenv("NOVA_RECALL_TOKEN_BUDGET", "80")
    get_settings.cache_clear()

    memories = _run(
        store, {"request": "spindle maintenance", "project": "alpha-co"}, NovaContext()
    )["memories"]
    assert [hit["text"] for hit in memories] == [
        "Spindles are checked every Friday."
    ]  # the long one does not fit
    assert count_tokens(format_memories(memories)) <= 80


def test_recall_with_an_unknown_project_says_how_to_fix_it(store: MemoryStore) -> None:
    with pytest.raises(
        ProjectError, match="Unknown project 'gamma-co'; defined projects: alpha-co, beta-co"
    ):
        _run(store, {"request": "anything", "project": "gamma-co"}, NovaContext())


def test_recall_without_a_request_or_with_zero_top_k_returns_nothing(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _run(store, {"request": "  ", "project": "alpha-co"}, NovaContext())["memories"] == []
    monkeypatch.setenv("NOVA_RECALL_TOP_K", "0")
    get_settings.cache_clear()
    assert (
        _run(store, {"request": "spindle", "project": "alpha-co"}, NovaContext())["memories"] == []
    )


def test_format_memories_renders_citations() -> None:
    hits = [
        MemoryHit(id="0123456789abcdef", text="Ship with DHL.", kind="decision", score=0.8),
        MemoryHit(id="fedcba9876543210", text="Invoices as PDF.", kind="preference", score=0.5),
    ]
    block = format_memories(hits)
    assert block.splitlines() == [
        MEMORY_HEADER,
        "- [mem:0123456789abcdef] (decision) Ship with DHL.",
        "- [mem:fedcba9876543210] (preference) Invoices as PDF.",
    ]
    assert format_memories([]) == ""


def test_fit_to_budget_counts_real_tokens_and_skips_what_does_not_fit() -> None:
    short = MemoryHit(id="a" * 16, text="Short.", kind="fact", score=0.9)
    # German compounds and ids cost far more tokens than len/4 suggests.
    dense = MemoryHit(
        id="b" * 16, text="Rechnungskorrekturbestätigung RE-2417-XQ " * 6, kind="fact", score=0.8
    )
    budget = count_tokens(MEMORY_HEADER) + count_tokens(memory_line(short)) + 2
    assert fit_to_budget([dense, short], budget) == [short]
    assert len(dense["text"]) // 4 < count_tokens(memory_line(dense))
    assert fit_to_budget([short], 0) == []


def test_truncate_to_tokens_cuts_at_a_token_boundary() -> None:
    text = "Nordwind Hydraulik GmbH orders filters every Tuesday."
    cut = truncate_to_tokens(text, 3)
    assert cut.endswith(" …") and text.startswith(cut[:-2])
    assert truncate_to_tokens(text, 100) == text


def test_token_counts_are_cached_without_changing_them(monkeypatch: pytest.MonkeyPatch) -> None:
    import memory.tokens

    texts = ["Who is our accountant?", "", "Grüße aus Köln, INV-2025-00412", "a " * 300]
    expected = [
        len(memory.tokens._tokenizer().encode(t, add_special_tokens=False).ids) for t in texts
    ]
    monkeypatch.setattr(memory.tokens, "_COUNTED_MAX", 2)
    assert count_tokens_many([*texts, texts[0]]) == [*expected, expected[0]]
    assert len(memory.tokens._counted) == 2  # bounded: the oldest texts are forgotten
    assert count_tokens_many(texts) == expected  # recounted after eviction, the same
    assert [count_tokens(t) for t in texts] == expected
