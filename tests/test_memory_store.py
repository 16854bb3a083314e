"""The Chroma-backed memory store: identity, kinds, supersession, history, forget, recall."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import chromadb
import pytest

from memory import lexical
from memory.chroma import MiniLMEmbeddingFunction, collection_name, open_chroma_client
from memory.items import NewMemory, content_words, memory_id, normalise_text, restates
from memory.lexical import LexicalIndexes
from memory.store import MemoryNotFoundError, MemoryStore, default_memory_store, identifiers
from nova.projects import ProjectError
from nova.settings import get_settings
from tests.memory_fixtures import (
    make_projects,
    open_store,
    refuse_chroma_default_embedding,  # noqa: F401 (autouse)
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(tmp_path: Path) -> MemoryStore:
    return open_store(tmp_path / "chroma")


def test_same_fact_saved_twice_is_one_item_whatever_its_spacing_case_or_full_stop(
    store: MemoryStore,
) -> None:
    first = store.save("alpha-co", "Acme wants deliveries on Tuesdays.", source="user")
    again = store.save("alpha-co", "  acme WANTS deliveries   on tuesdays ", source="agent:x")

    assert first.status == "created" and again.status == "existing"
    assert (
        again.item.id == first.item.id == memory_id("alpha-co", "Acme wants deliveries on Tuesdays")
    )
    assert store.count("alpha-co") == 1
    stored = store.get("alpha-co", first.item.id)
    assert stored is not None
    assert stored.text == "Acme wants deliveries on Tuesdays."  # the original wording is kept
    assert stored.source == "user" and stored.kind == "fact"
    assert stored.created_at <= stored.updated_at <= datetime.now(tz=UTC)
    assert stored.updated_at > first.item.created_at  # the second save moved updated_at


def test_ids_are_per_project_and_normalisation_is_unicode_aware() -> None:
    assert memory_id("alpha-co", "Fräse") != memory_id("beta-co", "Fräse")
    assert normalise_text("Ｆｒäse\u00a0 läuft!") == "fräse läuft"


def test_items_keep_kind_source_and_timestamps(store: MemoryStore) -> None:
    results = store.save_many(
        "alpha-co",
        [
            NewMemory("The workshop opens at 7:00.", kind="fact", source="user"),
            NewMemory("We quote in EUR only.", kind="decision", source="agent:memory_curator"),
            NewMemory("Reports as PDF, please.", kind="preference", source="cli"),
            NewMemory(
                "Handbook › Safety: wear goggles.", kind="document_chunk", source="/docs/h.md"
            ),
        ],
    )
    items = {item.id: item for item in store.items("alpha-co")}
    for result in results:
        item = items[result.item.id]
        assert (item.kind, item.source) == (result.item.kind, result.item.source)
        assert item.created_at.tzinfo is not None
    assert [r.item.kind for r in results] == ["fact", "decision", "preference", "document_chunk"]


def test_bad_input_is_refused_with_the_fix(store: MemoryStore) -> None:
    with pytest.raises(ValueError, match="Unknown memory kind 'rumour'; use one of"):
        NewMemory("x y z", kind="rumour")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs some text"):
        NewMemory("   ")
    with pytest.raises(ProjectError, match="Invalid project id 'Not OK'"):
        store.search("Not OK", "anything")


def test_a_decision_with_the_same_topic_supersedes_and_history_keeps_the_chain(
    store: MemoryStore,
) -> None:
    old = store.save(
        "alpha-co", "Payment terms are 30 days net.", kind="decision", topic="payment-terms"
    )
    mid = store.save(
        "alpha-co", "Payment terms are 21 days net.", kind="decision", topic="Payment-Terms"
    )
    new = store.save(
        "alpha-co", "New customers pay within 14 days.", kind="decision", topic="payment-terms"
    )

    assert mid.superseded == (old.item.id,) and new.superseded == (mid.item.id,)
    hits = store.search("alpha-co", "payment terms for customers", k=5)
    assert [h["id"] for h in hits] == [new.item.id]  # superseded items are not recalled
    everything = store.search(
        "alpha-co", "payment terms for customers", k=5, include_superseded=True
    )
    assert {h["id"] for h in everything} == {old.item.id, mid.item.id, new.item.id}

    chain = store.history("alpha-co", mid.item.id)
    assert [item.id for item in chain] == [old.item.id, mid.item.id, new.item.id]
    assert [item.active for item in chain] == [False, False, True]
    assert chain[0].superseded_by == mid.item.id and chain[2].supersedes == mid.item.id


def test_a_restated_decision_supersedes_without_a_topic_but_a_different_subject_does_not(
    store: MemoryStore,
) -> None:
    old = store.save(
        "alpha-co",
        "Standard payment terms for business customers are 30 days net.",
        kind="decision",
    )
    update = store.save(
        "alpha-co",
        "Standard payment terms for business customers are now 14 days net.",
        kind="decision",
    )
    assert update.superseded == (old.item.id,)

    # Nearly the same sentence about another customer or tier is a different decision.
    acme = store.save("alpha-co", "Acme Hydraulik gets 5 percent off brake parts.", kind="decision")
    baker = store.save(
        "alpha-co", "Baker Metallbau gets 8 percent off brake parts.", kind="decision"
    )
    standard = store.save(
        "alpha-co", "The Standard tier costs 49 EUR per user per month.", kind="decision"
    )
    pro = store.save("alpha-co", "The Pro tier costs 89 EUR per user per month.", kind="decision")
    assert baker.superseded == () and pro.superseded == ()
    assert all(store.get("alpha-co", r.item.id).active for r in (acme, baker, standard, pro))  # type: ignore[union-attr]

    # Facts are never superseded by similarity.
    store.save("alpha-co", "The Hamburg warehouse has 120 pallet places.")
    fact = store.save("alpha-co", "The Hamburg warehouse has 140 pallet places.")
    assert fact.superseded == ()


def test_supersession_inside_one_batch_follows_input_order(store: MemoryStore) -> None:
    results = store.save_many(
        "alpha-co",
        [
            NewMemory("Deploys happen on Tuesdays.", kind="decision", topic="deploy-day"),
            NewMemory("Deploys happen on Thursdays.", kind="decision", topic="deploy-day"),
        ],
    )
    first, second = results
    assert second.superseded == (first.item.id,)
    assert store.get("alpha-co", first.item.id).superseded_by == second.item.id  # type: ignore[union-attr]


def test_restates_ignores_values_but_not_names() -> None:
    assert restates("The gym is on Monday at 18:00.", "The gym is on Tuesday at 7:00 now.")
    assert not restates(
        "The spring campaign gives 10 percent off.", "The summer campaign gives 20 percent off."
    )
    assert content_words("Ticket RE-2417 for Nordwind GmbH") == {
        "ticket",
        "re-2417",
        "nordwind",
        "gmbh",
    }


def test_forget_deletes_and_relinks_the_history(store: MemoryStore) -> None:
    a = store.save("alpha-co", "Ship with DHL.", kind="decision", topic="carrier").item
    b = store.save("alpha-co", "Ship with UPS.", kind="decision", topic="carrier").item
    c = store.save("alpha-co", "Ship with Dachser.", kind="decision", topic="carrier").item

    store.forget("alpha-co", b.id)  # the middle of the chain: a now points at c
    assert [i.id for i in store.history("alpha-co", c.id)] == [a.id, c.id]

    store.forget("alpha-co", c.id)  # forgetting the current one restores its predecessor
    restored = store.get("alpha-co", a.id)
    assert restored is not None and restored.active
    assert [h["id"] for h in store.search("alpha-co", "which carrier do we ship with", k=3)] == [
        a.id
    ]

    with pytest.raises(
        MemoryNotFoundError, match="No memory 'ffffffffffffffff' in project 'alpha-co'"
    ):
        store.forget("alpha-co", "ffffffffffffffff")


def test_search_filters_kinds_and_returns_cosine_scores(store: MemoryStore) -> None:
    store.save_many(
        "alpha-co",
        [
            NewMemory("Invoices go out on the first working day of the month.", kind="decision"),
            NewMemory("The owner prefers invoices as PDF attachments.", kind="preference"),
            NewMemory("Invoice numbers start with AC-2025-.", kind="fact"),
        ],
    )
    hits = store.search("alpha-co", "how do we send invoices", k=5, kinds=["preference"])
    assert [h["kind"] for h in hits] == ["preference"]
    hits = store.search("alpha-co", "how do we send invoices", k=2)
    assert len(hits) == 2 and 0.0 < hits[1]["score"] <= hits[0]["score"] <= 1.0
    assert store.search("alpha-co", "   ", k=5) == [] and store.search("alpha-co", "x", k=0) == []


def test_hybrid_search_finds_codes_the_vector_misses(store: MemoryStore) -> None:
    bugs = [
        "time entries rounded to whole hours",
        "delivery notes printed twice",
        "customer search ignored umlauts",
    ]
    companies = [
        "Engel Gartenbau",
        "Hahn Malerbetrieb",
        "Vogel Druckerei",
        "Roth Sanitär",
        "Falk Autohaus",
        "Lang Tischlerei",
    ]
    texts = [
        f"Ticket RE-{2300 + 7 * i}: {bugs[i % 3]} for {companies[i % 6]}; "
        f"fixed in version 4.{i % 4}.{i % 9 + 1}."
        for i in range(36)
    ]  # fmt: skip
    store.save_many("alpha-co", [NewMemory(text) for text in texts])
    vector_only = MemoryStore(store.client, projects=None, seed=False, hybrid=False)
    for i in (7, 14):
        target = memory_id("alpha-co", texts[i])
        query = f"Which release fixed ticket RE-{2300 + 7 * i}?"
        assert [h["id"] for h in store.search("alpha-co", query, k=1)] == [target]
        # Every ticket reads alike to the encoder: by vector alone it is not in the top 5.
        assert target not in [h["id"] for h in vector_only.search("alpha-co", query, k=5)]


def test_memories_naming_the_querys_codes_come_first(store: MemoryStore) -> None:
    assert identifiers("Did RE-2417 ship? See BRK-1174, bin F34-4; 110 EUR, 4.3.5, 24/7") == {
        "re-2417",
        "brk-1174",
        "f34-4",
    }
    texts = [
        "Ticket RE-2417: delivery notes printed twice for Falk Autohaus.",
        "Ticket RE-2418: delivery notes printed twice for Falk Autohaus.",
        "Delivery notes printed twice for a car dealer again, the same bug as before.",
    ]
    store.save_many("alpha-co", [NewMemory(text) for text in texts])
    hits = store.search("alpha-co", "car dealer delivery notes printed twice, re-2418", k=3)
    assert hits[0]["text"] == texts[1]
    # Without a code in the query, the fused score alone decides.
    hits = store.search("alpha-co", "car dealer delivery notes printed twice again", k=3)
    assert hits[0]["text"] == texts[2]
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)


def test_lexical_index_follows_writes_and_deletes(store: MemoryStore) -> None:
    store.save("alpha-co", "Quote Q-5512 went to Hansen Service.")
    assert store.search("alpha-co", "Q-5512", k=1)[0]["text"].startswith("Quote Q-5512")
    added = store.save("alpha-co", "Quote Q-7781 went to Nordwind GmbH.")
    assert store.search("alpha-co", "Q-7781", k=1)[0]["id"] == added.item.id
    store.forget("alpha-co", added.item.id)
    assert all(h["id"] != added.item.id for h in store.search("alpha-co", "Q-7781", k=5))


def test_writes_by_another_store_reach_the_lexical_index(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lexical, "SIZE_CHECK_S", 0.0)  # compare item counts on every search
    store.save("alpha-co", "Quote Q-1001 went to Hansen Service.")
    assert store.search("alpha-co", "Q-1001", k=1)[0]["text"].startswith("Quote Q-1001")
    other = MemoryStore(store.client, projects=None, seed=False)  # e.g. the CLI beside a server
    added = other.save("alpha-co", "Quote Q-9917 went to Nordwind GmbH.").item
    assert store.search("alpha-co", "Q-9917", k=1)[0]["id"] == added.id


def test_large_indexes_rebuild_in_the_background_and_serve_the_old_one_meanwhile() -> None:
    indexes = LexicalIndexes(sync_limit=0)
    corpus = {"a": "brake discs", "b": "oil filters"}
    load = lambda: (list(corpus), list(corpus.values()))  # noqa: E731
    first = indexes.get("p", lambda: len(corpus), load)
    assert [i for i, _ in first.search("oil", 5)] == ["b"]

    corpus["c"] = "oil pumps"
    indexes.invalidate("p")
    assert indexes.get("p", lambda: len(corpus), load) is first  # stale but immediate
    deadline = time.monotonic() + 30
    while (current := indexes.get("p", lambda: 3, load)) is first and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(i for i, _ in current.search("oil", 5)) == ["b", "c"]


def test_projects_registry_refuses_unknown_projects_and_seeds_new_collections(
    tmp_path: Path,
) -> None:
    projects = make_projects(tmp_path / "projects")
    store = open_store(tmp_path / "chroma", projects)
    with pytest.raises(
        ProjectError, match="Unknown project 'gamma-co'; defined projects: alpha-co, beta-co"
    ):
        store.search("gamma-co", "anything")

    hits = store.search("alpha-co", "who services the milling machines", k=1)
    assert "Hansen Service" in hits[0]["text"] and hits[0]["source"] == "seed:alpha-seeds.yaml"
    assert store.count("alpha-co") == 2
    assert store.seed(projects.get("alpha-co"))[0].status == "existing"  # re-seeding is idempotent
    assert store.count("alpha-co") == 2


def test_collections_carry_the_minilm_embedding_function_not_chromas_default(
    store: MemoryStore,
) -> None:
    store.save("alpha-co", "Alpha uses the bundled encoder.")
    collection = store.client.get_collection(
        collection_name("alpha-co"), embedding_function=MiniLMEmbeddingFunction()
    )
    assert collection.configuration_json["embedding_function"]["name"] == "nova-minilm"
    # Querying by text embeds with MiniLM (the autouse fixture fails on Chroma's default).
    result = collection.query(query_texts=["which encoder does Alpha use"], n_results=1)
    assert result["documents"] == [["Alpha uses the bundled encoder."]]


def test_a_new_process_reopens_the_collection_through_the_registered_function(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "chroma"
    store = open_store(folder)
    store.save("alpha-co", "The reopened collection still answers text queries.")
    script = textwrap.dedent(
        f"""
        import json, chromadb
        from chromadb.config import Settings
        from chromadb.api.types import DefaultEmbeddingFunction
        from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2
        def refuse(self, input=None):
            raise AssertionError("default embedding function used")
        DefaultEmbeddingFunction.__call__ = refuse
        ONNXMiniLM_L6_V2.__init__ = refuse
        ONNXMiniLM_L6_V2.__call__ = refuse
        client = chromadb.PersistentClient(
            path={str(folder)!r}, settings=Settings(anonymized_telemetry=False)
        )
        unregistered = client.get_collection({collection_name("alpha-co")!r})
        try:  # without Nova's module, Chroma cannot rebuild the stored function
            unregistered.query(query_texts=["does it answer?"], n_results=1)
            print("UNEXPECTED: queried without the registration")
        except ValueError as error:
            assert "nova-minilm not found" in str(error), error
        import memory.chroma_embedding  # registers the embedding function by name, nothing else
        collection = client.get_collection({collection_name("alpha-co")!r})
        result = collection.query(query_texts=["does a reopened collection answer?"], n_results=1)
        print(json.dumps(result["documents"]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "UNEXPECTED" not in done.stdout
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [
        ["The reopened collection still answers text queries."]
    ]


def test_chroma_url_selects_an_http_client(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    def fake_http_client(**kwargs: object) -> str:
        seen.update(kwargs)
        return "http-client"

    monkeypatch.setattr(chromadb, "HttpClient", fake_http_client)
    monkeypatch.setenv("NOVA_CHROMA_URL", "https://chroma.internal:8443")
    get_settings.cache_clear()
    assert open_chroma_client() == "http-client"
    assert (seen["host"], seen["port"], seen["ssl"]) == ("chroma.internal", 8443, True)
    assert seen["settings"].anonymized_telemetry is False  # type: ignore[attr-defined]


def test_default_store_lives_under_the_data_dir_and_follows_settings(tmp_path: Path) -> None:
    store = default_memory_store()
    assert store is default_memory_store()
    store.save("personal", "The default store writes under NOVA_DATA_DIR.")
    assert (get_settings().data_dir / "chroma" / "chroma.sqlite3").is_file()


def test_building_the_lexical_index_prints_no_debug_lines(caplog: pytest.LogCaptureFixture) -> None:
    """bm25s sets its logger to DEBUG; once the root logger has a handler, every index built
    printed "DEBUG:bm25s:Building index…" into the user's output (seen in `nova eval`)."""
    import logging

    from memory.lexical import LexicalIndex

    with caplog.at_level(logging.DEBUG):
        index = LexicalIndex(["a", "b"], ["invoice overdue", "pricing tiers decided"])
        assert index.search("pricing", 2)[0][0] == "b"
    assert not [r for r in caplog.records if r.name.startswith("bm25s")]
