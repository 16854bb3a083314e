"""Translation building blocks: protected spans, masking, the checks, request parsing, chunking."""

from __future__ import annotations

import pytest

from nodes.checks import glossary_preserved, negation_preserved, negations_in, target_language
from nodes.translation import chunk_text, reassemble
from nova.glossary import (
    Glossary,
    GlossaryEntry,
    inflected_terms,
    mask,
    number_words_in,
    protected_spans,
    unmask,
)
from nova.projects import load_projects
from tools.language import parse_target_language, parse_target_languages, split_request

PARTS = Glossary.of(load_projects().get("parts-shop").glossary)
ERP = Glossary.of(load_projects().get("erp-product").glossary)


def _kinds(
    text: str, glossary: Glossary | None = None, target: str | None = None
) -> list[tuple[str, str]]:
    return [(s.kind, s.text) for s in protected_spans(text, glossary, target=target)]


def test_protected_spans_cover_codes_numbers_placeholders_tags_urls_and_terms() -> None:
    text = (
        "Hallo {name}, %s Stück BRK-2210 für 1.234,50 EUR ({{order_id}}), <b>sofort</b> "
        "unter https://shop.example.com/p/brk-2210. Fragen: service@rheintal-erp.de, Rheintal ERP."
    )
    spans = _kinds(text, ERP)
    assert ("placeholder", "{name}") in spans and ("placeholder", "%s") in spans
    assert ("placeholder", "{{order_id}}") in spans
    assert ("code", "BRK-2210") in spans and ("number", "1.234,50") in spans
    assert ("tag", "<b>") in spans and ("tag", "</b>") in spans
    assert ("url", "https://shop.example.com/p/brk-2210") in spans  # the full stop stays outside
    assert ("email", "service@rheintal-erp.de") in spans
    assert ("protected_term", "Rheintal ERP") in spans


def test_glossary_terms_map_to_their_approved_translation_for_the_target() -> None:
    spans = protected_spans(
        "Die Bremsscheibe ist im Rückstand, die Werkstatt wartet.", PARTS, target="en"
    )
    assert [(s.text, s.expected) for s in spans] == [
        ("Bremsscheibe", "brake disc"),
        ("Rückstand", "backorder"),
        ("Werkstatt", "workshop"),
    ]
    # A term inside a longer word is not the term: Türschild is not Schild.
    signs = Glossary.of(load_projects().get("sign-marketplace").glossary)
    assert [s.text for s in protected_spans("Das Türschild", signs, target="en")] == ["Türschild"]
    # An approved translation in the source maps to the approved one in the target.
    cross = protected_spans("The credit note was booked.", ERP, target="fr", source="en")
    assert [(s.text, s.expected) for s in cross] == [("credit note", "facture d'avoir")]


def test_a_protected_prefix_protects_whole_codes() -> None:
    glossary = Glossary([GlossaryEntry("BRK-", protected=True)])
    assert _kinds("Teil BRK-2210-X passt", glossary) == [("protected_term", "BRK-2210-X")]


def test_mask_and_unmask_round_trip() -> None:
    text = "Bitte liefern Sie 12 Stück BRK-2210 Bremsscheibe an {name}."
    masked = mask(text, PARTS, target="en")
    assert masked.text == "Bitte liefern Sie ⟦1⟧ Stück ⟦2⟧ ⟦3⟧ an ⟦4⟧."
    restored = unmask("⟦3⟧: please deliver ⟦1⟧ pieces of ⟦2⟧ to ⟦ 4 ⟧.", masked)
    assert restored.text == "Brake disc: please deliver 12 pieces of BRK-2210 to {name}."
    assert restored.complete
    broken = unmask("Please deliver ⟦1⟧ ⟦1⟧ pieces to ⟦9⟧.", masked)
    assert [s.text for s in broken.missing] == ["BRK-2210", "Bremsscheibe", "{name}"]
    assert broken.unknown == ("⟦9⟧",) and [s.text for s in broken.repeated] == ["12"]


@pytest.mark.parametrize(
    ("translation", "problem"),
    [
        ("Please deliver 12 pieces of BRK 2210 brake disc to {name}.", "BRK-2210"),
        ("Please deliver 13 pieces of BRK-2210 brake disc to {name}.", "number '12'"),
        (
            "Please deliver 12 pieces of BRK-2210 brake disk to {name}.",
            "glossary term 'brake disc'",
        ),
        ("Please deliver 12 pieces of BRK-2210 brake disc to {Name}.", "placeholder '{name}'"),
        ("Please deliver 12 pieces of BRK-2210 brake disc.", "placeholder '{name}'"),
    ],
)
def test_glossary_preserved_catches_dropped_or_altered_spans(
    translation: str, problem: str
) -> None:
    source = "Bitte liefern Sie 12 Stück BRK-2210 Bremsscheibe an {name}."
    good = glossary_preserved(
        source, "Please deliver 12 pieces of BRK-2210 brake disc to {name}.", PARTS, target="en"
    )
    assert good.passed, good.detail
    bad = glossary_preserved(source, translation, PARTS, target="en")
    assert not bad.passed and problem in bad.detail


def test_glossary_preserved_catches_a_translated_brand_name() -> None:
    check = glossary_preserved(
        "Rheintal ERP erstellt die Rechnung.", "Rhine Valley ERP creates the invoice.", ERP
    )
    assert not check.passed and "protected term 'Rheintal ERP'" in check.detail


def test_glossary_preserved_wants_an_inflected_term_inflected_not_generic() -> None:
    source = "Rheintal ERP hat heute 4 Lieferscheine gedruckt."
    # Masking matches whole words only, so "Lieferscheine" reaches the model as prose.
    assert [s.kind for s in protected_spans(source, ERP, target="en")] == [
        "protected_term",
        "number",
    ]
    assert inflected_terms(source, ERP, target="en") == [("Lieferscheine", "delivery note")]
    good = glossary_preserved(
        source, "Rheintal ERP printed 4 delivery notes today.", ERP, target="en"
    )
    assert good.passed, good.detail
    bad = glossary_preserved(
        source, "Rheintal ERP printed 4 packing slips today.", ERP, target="en"
    )
    assert not bad.passed and "'delivery note' for 'Lieferscheine' (0/1)" in bad.detail
    polish = glossary_preserved(
        "Die Werkstätten haben 3 Bremsbeläge bestellt.",
        "Warsztaty zamówiły 3 klocki hamulcowe.",
        PARTS,
        target="pl",
    )
    assert polish.passed, polish.detail


def test_glossary_preserved_compares_numbers_written_as_words() -> None:
    assert number_words_in("Die Lieferung verzögert sich um zwei Wochen.", "de") == [2]
    assert number_words_in("un produit neuf", "fr") == []  # neither "one" nor "new"
    source = "Die Lieferung verzögert sich um zwei Wochen."
    for same in ("The delivery is delayed by two weeks.", "The delivery is delayed by 2 weeks."):
        assert glossary_preserved(source, same, target="en", source_language="de").passed
    wrong = glossary_preserved(
        source, "The delivery is delayed by three weeks.", target="en", source_language="de"
    )
    assert not wrong.passed and "number 2 written as a word (0/1)" in wrong.detail
    # Without the source language the words cannot be read: no verdict on them.
    assert glossary_preserved(source, "The delivery is delayed by three weeks.").passed


@pytest.mark.parametrize(
    ("text", "language", "count"),
    [
        ("Custom parts are not refundable.", "en", 1),
        ("It does not fit, and we can't take it back.", "en", 2),
        ("Please pay no later than Friday.", "en", 0),  # a deadline, not a negation
        ("Invoice No. 12 is paid.", "en", 0),
        ("Die Ware ist nicht erstattungsfähig, keine Rückgabe.", "de", 2),
        ("Les commandes ne sont pas traitées.", "fr", 1),  # ne … pas is one negation
        ("Nigdy nie mamy na stanie więcej niż 4 sztuk.", "pl", 1),
        ("Para Weber no cambia nada.", "es", 1),
        ("Ürün iade edilemez.", "tr", None),  # negation by inflection: no word list
    ],
)
def test_negations_are_counted_per_clause(text: str, language: str, count: int | None) -> None:
    assert negations_in(text, language) == count


def test_negation_preserved_catches_a_dropped_or_added_not() -> None:
    source = "Sonderanfertigungen sind nicht erstattungsfähig."
    kept = negation_preserved(
        source, "Custom parts are not refundable.", source_language="de", target="en"
    )
    assert kept.passed, kept.detail
    dropped = negation_preserved(
        source, "Custom parts are refundable.", source_language="de", target="en"
    )
    assert not dropped.passed and "dropped" in dropped.detail
    added = negation_preserved(
        "Die Ware wurde versandt.",
        "La marchandise n'a pas été envoyée.",
        source_language="de",
        target="fr",
    )
    assert not added.passed and "added" in added.detail
    unknown = negation_preserved(source, "İade edilebilir.", source_language="de", target="tr")
    assert unknown.passed and "no negation words" in unknown.detail


def test_target_language() -> None:
    assert target_language(
        "Bitte liefern Sie die Ware bis Freitag an unsere Werkstatt.", "de"
    ).passed
    wrong = target_language("Please deliver the goods to our workshop by Friday.", "de")
    assert not wrong.passed and "reads as English" in wrong.detail
    assert target_language("BRK-2210 12", "fr").passed  # nothing to judge: passes with a note


@pytest.mark.parametrize(
    ("request_text", "targets"),
    [
        ('Translate this into German: "Your order has shipped."', ["de"]),
        ("Übersetz mir das bitte ins Englische: Die Ware ist da.", ["en"]),
        ("Bitte auf Deutsch: Hello world", ["de"]),
        ("translate to fr: hello", ["fr"]),
        ("Traduis en français: Good morning", ["fr"]),
        ("Translate from Dutch to German: Goedemorgen", ["de"]),
        ("Please give me German and English versions of this text", ["de", "en"]),
        ("What does 'Lieferverzug' mean in English?", ["en"]),
        ("Translate it -> es: Hola", ["es"]),
        ("Translate this customer complaint from Polish: Dziękuję", []),
    ],
)
def test_target_languages_are_read_from_the_request(request_text: str, targets: list[str]) -> None:
    assert parse_target_languages(split_request(request_text).instruction) == targets


def test_split_request_finds_the_text() -> None:
    assert (
        split_request('Translate into German: "Your order has shipped."').text
        == "Your order has shipped."
    )
    assert (
        split_request("Translate into French:\nLine one.\nLine two.").text == "Line one.\nLine two."
    )
    assert split_request("Translate the text below to Dutch\nHallo Welt").text == "Hallo Welt"
    assert split_request("See https://example.com for details").text is None
    assert parse_target_language("Translate into Spanish") == "es"


def test_chunks_respect_the_limit_keep_tokens_whole_and_reassemble_exactly() -> None:
    text = (
        "Erster Absatz mit ⟦1⟧.\n\n"
        + " ".join(f"Satz {i} nennt ⟦{i + 2}⟧ genau." for i in range(60))
        + "\n\nEnde.\n"
    )
    for limit in (40, 120, 500):
        chunks = chunk_text(text, max_chars=limit, language="de")
        assert all(len(chunk.text) <= limit for chunk in chunks)
        assert all(chunk.text.count("⟦") == chunk.text.count("⟧") for chunk in chunks)
        assert reassemble(chunks, {c.index: c.text for c in chunks}) == text
    assert len(chunk_text(text, max_chars=5000)) == 1
    with pytest.raises(ValueError, match="at least 20"):
        chunk_text(text, max_chars=5)
