"""German → English glosses for the lexical half of recall (``memory.lexicon``), on a tiny
dictionary in the installed one's format, so these run where ``trans-de-en`` is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

import memory.store
from memory.lexical import LexicalIndex, fold_plurals
from memory.lexicon import Lexicon, default_lexicon
from tests.memory_fixtures import chroma_client, refuse_chroma_default_embedding

__all__ = ["refuse_chroma_default_embedding"]

DING = """\
# Version :: test
Tischlerei {f}; Schreinerei {f} | Tischlereien {pl} :: carpentry; joinery | carpentries
Dachdecker {m} [constr.] | Dachdecker {pl} :: roofer | roofers
Fahrrad {n}; Rad {n} :: bicycle; bike
Werkstatt {f} | Werkstätten {pl} :: workshop | workshops
Versicherung {f} (Versicherungswesen) [fin.] :: insurance
Makler {m} :: broker
Winter {m} :: winter
Garten {m} :: garden
Gartenbau {m} :: horticulture; landscaping
"""


@pytest.fixture
def lexicon(tmp_path: Path) -> Lexicon:
    source = tmp_path / "de-en"
    source.write_text(DING, encoding="utf-8")
    return Lexicon(source, tmp_path / "cache")


def test_plural_folding_keeps_words_apart_that_are_not_plurals() -> None:
    assert fold_plurals(["plumbers", "companies", "boxes", "status", "glass", "painting"]) == [
        "plumber",
        "company",
        "boxe",
        "status",
        "glass",
        "painting",
    ]


def test_headwords_compounds_and_endings_are_glossed(lexicon: Lexicon) -> None:
    assert lexicon.gloss("Tischlerei") == "carpentry joinery"
    assert lexicon.gloss("Tischlereien") == "carpentries"
    # modifier + head, and modifier + linking "s" + head
    assert lexicon.gloss("Fahrradwerkstatt") == "bicycle bike workshop"
    assert lexicon.gloss("Versicherungsmakler") == "insurance broker"
    # a headword with a short ending
    assert lexicon.gloss("Dachdeckerei") == "roofer roofers"
    # English words (the dictionary's English side) and unknown words get nothing
    assert lexicon.gloss("Winter") == ""
    assert lexicon.gloss("Kessler") == ""
    assert lexicon.glosses("Kessler Gartenbau asked for a Tischlerei quote.") == (
        "horticulture landscaping carpentry joinery"
    )


def test_the_cache_is_built_once_and_reused(lexicon: Lexicon, tmp_path: Path) -> None:
    (built,) = (tmp_path / "cache").iterdir()
    stamp = built.stat().st_mtime_ns
    again = Lexicon(tmp_path / "de-en", tmp_path / "cache")
    assert again.gloss("Makler") == "broker"
    assert built.stat().st_mtime_ns == stamp


def test_no_dictionary_means_no_glosses(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("memory.lexicon.DING_FILE", tmp_path / "missing")
    default_lexicon.cache_clear()
    try:
        assert default_lexicon() is None
    finally:
        default_lexicon.cache_clear()


def test_bm25_finds_a_german_word_by_its_english_gloss(lexicon: Lexicon) -> None:
    texts = ["Ebert Tischlerei asked for a dashboard.", "Beck Malerbetrieb asked for a dashboard."]
    plain = LexicalIndex(["a", "b"], texts)
    glossed = LexicalIndex(["a", "b"], texts, lexicon.glosses)
    assert all(item != "a" for item, _ in plain.search("which joinery", 2))
    assert glossed.search("which joinery", 2)[0][0] == "a"


def test_store_ranks_the_glossed_memory_first(
    lexicon: Lexicon, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(memory.store, "default_lexicon", lambda: lexicon)
    texts = [
        f"{name} decided to cancel at the end of the term when its contract comes up in May."
        for name in ("Hahn Druckerei", "Horn Tischlerei", "Albrecht Fahrradwerkstatt", "Lang Bau")
    ]
    found = {}
    for glosses in (False, True):
        store = memory.store.MemoryStore(
            chroma_client(tmp_path / f"chroma-{glosses}"), seed=False, glosses=glosses
        )
        for text in texts:
            store.save("erp-product", text)
        found[glosses] = store.search("erp-product", "which joinery is cancelling", k=1)[0]["text"]
    assert found[True] == texts[1]
    assert found[False] != texts[1]


def test_the_encoder_note_holds_each_german_words_first_gloss(lexicon: Lexicon) -> None:
    assert lexicon.note("Ebert Tischlerei asked for a Fahrradwerkstatt quote.") == (
        "Ebert Tischlerei asked for a Fahrradwerkstatt quote. (carpentry; bicycle)"
    )
    assert lexicon.note("Ebert Tischlerei asked for it.", words=2) == (
        "Ebert Tischlerei asked for it. (carpentry joinery)"
    )
    # In a name only its last glossed word counts: "Garten" (a surname here) is left out.
    assert lexicon.note("Garten Dachdeckerei GmbH paid.") == (
        "Garten Dachdeckerei GmbH paid. (roofer)"
    )
    # The same gloss twice is noted once; a text without German words comes back as it is.
    assert lexicon.note("Tischlerei and tischlerei") == "Tischlerei and tischlerei (carpentry)"
    assert lexicon.note("Winter sale on signs.") == "Winter sale on signs."


def test_the_encoder_reads_the_note_so_vector_search_finds_the_trade(
    lexicon: Lexicon, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(memory.store, "default_lexicon", lambda: lexicon)
    texts = [
        f"{name} decided to cancel at the end of the term when its contract comes up in May."
        for name in ("Hahn Druckerei", "Horn Tischlerei", "Albrecht Fahrradwerkstatt", "Lang Bau")
    ]
    found = {}
    for glosses in (False, True):
        store = memory.store.MemoryStore(
            chroma_client(tmp_path / f"chroma-{glosses}"), seed=False, glosses=glosses, hybrid=False
        )
        for text in texts:
            store.save("erp-product", text)
        hits = store.search("erp-product", "which carpentry firm is cancelling", k=1)
        found[glosses] = hits[0]["text"]
        # The stored document is the text itself, never the note.
        assert {item.text for item in store.items("erp-product")} == set(texts)
    assert found[True] == texts[1]
    assert found[False] != texts[1]


def test_memories_stored_before_the_glosses_are_re_embedded_on_first_open(
    lexicon: Lexicon, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An existing data directory gets the glossed vectors too, not only new memories."""
    monkeypatch.setattr(memory.store, "default_lexicon", lambda: lexicon)
    texts = [
        f"{name} decided to cancel at the end of the term when its contract comes up in May."
        for name in ("Hahn Druckerei", "Horn Tischlerei", "Albrecht Fahrradwerkstatt", "Lang Bau")
    ]
    client = chroma_client(tmp_path / "chroma")
    before = memory.store.MemoryStore(client, seed=False, glosses=False, hybrid=False)
    for text in texts:
        before.save("erp-product", text)
    name = before._name("erp-product")
    assert client.get_collection(name).metadata["nova_embedding"] == "text"

    after = memory.store.MemoryStore(client, seed=False, glosses=True, hybrid=False)
    hits = after.search("erp-product", "which carpentry firm is cancelling", k=1)
    assert hits[0]["text"] == texts[1]
    assert client.get_collection(name).metadata["nova_embedding"] == "glossed-1"
    assert {item.text for item in after.items("erp-product")} == set(texts)  # texts unchanged
