"""Generate ``evals/datasets/translation.jsonl``: segments with protected content and references.

Each segment is a realistic business sentence from one of the sample projects, in a source
language, with a reference translation that keeps every product code, number, placeholder,
tag, URL and protected term unchanged and uses the project's approved glossary terms. The
glossary of the segment's project (from ``nova/projects.yaml`` at generation time) is
stored with the segment, so the dataset stays self-contained.

Deterministic: ``python -m evals.make_translation_dataset`` always writes the same file.
The references are written by hand and not filtered by the ``glossary_preserved`` check:
the eval measures the check's false alarms on them, which a filter would set to zero.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from nova.projects import load_projects

DATASET = Path(__file__).parent / "datasets" / "translation.jsonl"
VARIANTS = 5
"""Segments generated per template (slot values rotate)."""

SLOTS: dict[str, list[str]] = {
    "sku": ["BRK-2210", "BRK-1333", "FLT-0415", "HYD-2489", "ELC-5040", "BRK-4081", "SGN-1042"],
    "sign_sku": ["SGN-1042", "SGN-2300", "SGN-0870", "LED-4410", "SGN-7715"],
    "qty": ["12", "4", "150", "2", "36", "7"],
    "days": ["5", "3", "10", "14", "2"],
    "price_de": ["1.234,50", "89,90", "12,00", "249,00", "3.480,00"],
    "price_en": ["1,234.50", "89.90", "12.00", "249.00", "3,480.00"],
    "date_de": ["14.03.2025", "02.06.2025", "30.09.2025", "01.12.2025", "15.01.2026"],
    "date_en": ["2025-03-14", "2025-06-02", "2025-09-30", "2025-12-01", "2026-01-15"],
    "inv": [
        "INV-2025-00412",
        "INV-2025-00118",
        "INV-2024-00317",
        "INV-2025-00091",
        "INV-2023-00069",
    ],
    "order": ["SO-4410", "SO-1071", "SO-2309", "SO-5120", "SO-0877"],
    "ds": ["LS-2025-0142", "LS-2025-0007", "LS-2024-0931", "LS-2025-0388", "LS-2025-0215"],
    "ph": ["{name}", "{customer}", "%s", "{{order_id}}", "%(count)d", "${user}"],
    "email": ["service@rheintal-erp.de", "orders@signcraft.example", "buchhaltung@teile-shop.de"],
    "url": [
        "https://shop.example.com/p/brk-2210",
        "https://signcraft.example/listing/1042?lang=de",
        "https://docs.rheintal-erp.de/v4/mahnwesen",
        "https://portal.hoffmann.example/tickets/311",
    ],
    "w": ["120", "60", "45", "200", "80"],
    "h": ["40", "30", "45", "60", "25"],
    "ver": ["4.2.1", "4.3.0", "5.0.2", "4.2.7", "5.1.0"],
    "ticket": ["HP-311", "HP-1042", "HP-77", "HP-908", "HP-415"],
    "ms": ["3", "4", "7", "2", "5"],
}

# (project, source language, target language, source, reference); [[slot]] marks a slot.
TEMPLATES: list[tuple[str, str, str, str, str]] = [
    (
        "parts-shop",
        "de",
        "en",
        "Bitte liefern Sie [[qty]] Stück [[sku]] bis zum [[date_de]] an unsere Werkstatt in Ulm.",
        "Please deliver [[qty]] pieces of [[sku]] to our workshop in Ulm by [[date_de]].",
    ),
    (
        "parts-shop",
        "de",
        "en",
        "Die Bremsscheibe [[sku]] ist im Rückstand; neue Ware kommt in [[days]] Tagen.",
        "The brake disc [[sku]] is on backorder; new stock arrives in [[days]] days.",
    ),
    (
        "parts-shop",
        "de",
        "en",
        "Hallo [[ph]], Ihre Bestellung [[order]] über [[price_de]] EUR wurde heute versandt.",
        "Hello [[ph]], your order [[order]] for [[price_de]] EUR was shipped today.",
    ),
    (
        "parts-shop",
        "de",
        "en",
        "Der Bremsbelag passt zu [[sku]] und ist sofort lieferbar. Details: [[url]]",
        "The brake pad fits [[sku]] and can be delivered at once. Details: [[url]]",
    ),
    (
        "parts-shop",
        "de",
        "en",
        "<b>Achtung:</b> Von [[sku]] sind nur noch [[qty]] Stück auf Lager.",
        "<b>Attention:</b> only [[qty]] pieces of [[sku]] are left in stock.",
    ),
    (
        "parts-shop",
        "de",
        "pl",
        "Die Werkstatt hat [[qty]] Sätze [[sku]] bestellt, Lieferung am [[date_de]].",
        "Warsztat zamówił [[qty]] zestawów [[sku]], dostawa w dniu [[date_de]].",
    ),
    (
        "parts-shop",
        "de",
        "fr",
        "Der Bremsbelag [[sku]] kostet [[price_de]] EUR pro Satz, ab [[qty]] Sätzen gibt es Rabatt.",  # noqa: E501
        "La plaquette de frein [[sku]] coûte [[price_de]] EUR par jeu, avec une remise à partir de [[qty]] jeux.",  # noqa: E501
    ),
    (
        "parts-shop",
        "en",
        "de",
        "Your invoice [[inv]] of [[price_en]] EUR is due on [[date_en]]. Questions? Write to [[email]].",  # noqa: E501
        "Ihre Rechnung [[inv]] über [[price_en]] EUR ist am [[date_en]] fällig. Fragen? Schreiben Sie an [[email]].",  # noqa: E501
    ),
    (
        "parts-shop",
        "en",
        "de",
        "Dear [[ph]], we have received your return for [[sku]] ([[qty]] pieces) and will refund it within [[days]] days.",  # noqa: E501
        "Sehr geehrte Kundin, sehr geehrter Kunde [[ph]], wir haben Ihre Rücksendung für [[sku]] ([[qty]] Stück) erhalten und erstatten sie innerhalb von [[days]] Tagen.",  # noqa: E501
    ),
    (
        "erp-product",
        "de",
        "fr",
        "Die Mahnung für [[inv]] wurde am [[date_de]] an [[email]] gesendet.",
        "La relance de paiement pour [[inv]] a été envoyée le [[date_de]] à [[email]].",
    ),
    (
        "erp-product",
        "de",
        "fr",
        "Rheintal ERP erstellt eine Rechnungskorrektur über [[price_de]] EUR für [[inv]].",
        "Rheintal ERP crée une facture d'avoir de [[price_de]] EUR pour [[inv]].",
    ),
    (
        "erp-product",
        "de",
        "fr",
        "Der Lieferschein [[ds]] enthält [[qty]] Positionen und wurde an [[ph]] gedruckt.",
        "Le bon de livraison [[ds]] contient [[qty]] positions et a été imprimé pour [[ph]].",
    ),
    (
        "erp-product",
        "de",
        "nl",
        "Die Mahnung [[inv]] ist seit [[days]] Tagen offen; bitte prüfen Sie das Kundenkonto.",
        "De betalingsherinnering [[inv]] staat al [[days]] dagen open; controleer alstublieft het klantaccount.",  # noqa: E501
    ),
    (
        "erp-product",
        "de",
        "nl",
        "Bitte drucken Sie den Lieferschein für [[order]] aus: [[url]]",
        "Druk alstublieft de pakbon voor [[order]] af: [[url]]",
    ),
    (
        "erp-product",
        "de",
        "en",
        "Rheintal ERP Version [[ver]] ist verfügbar. Neu ist die Rechnungskorrektur direkt im Kundenkonto.",  # noqa: E501
        "Rheintal ERP version [[ver]] is available. New is the credit note directly in the customer account.",  # noqa: E501
    ),
    (
        "erp-product",
        "de",
        "en",
        "Fehler [[ph]] beim Speichern der Mahnung [[inv]]; bitte versuchen Sie es in [[days]] Minuten erneut.",  # noqa: E501
        "Error [[ph]] while saving the payment reminder [[inv]]; please try again in [[days]] minutes.",  # noqa: E501
    ),
    (
        "erp-product",
        "en",
        "fr",
        "The credit note [[inv]] of [[price_en]] EUR was booked to the customer account of [[ph]].",
        "La facture d'avoir [[inv]] de [[price_en]] EUR a été comptabilisée sur le compte client de [[ph]].",  # noqa: E501
    ),
    (
        "erp-product",
        "en",
        "fr",
        'Please send the payment reminder for [[inv]] before [[date_en]]: <a href="[[url]]">open it here</a>',  # noqa: E501
        'Veuillez envoyer la relance de paiement pour [[inv]] avant le [[date_en]] : <a href="[[url]]">ouvrez-la ici</a>',  # noqa: E501
    ),
    (
        "sign-marketplace",
        "de",
        "pl",
        "Leuchtreklame [[sign_sku]], [[w]] x [[h]] cm, Lieferung in [[days]] Tagen.",
        "Reklama świetlna [[sign_sku]], [[w]] x [[h]] cm, dostawa w ciągu [[days]] dni.",
    ),
    (
        "sign-marketplace",
        "de",
        "pl",
        "Der Aufsteller [[sign_sku]] kostet bei SignCraft nur [[price_de]] EUR.",
        "Potykacz [[sign_sku]] kosztuje w SignCraft tylko [[price_de]] EUR.",
    ),
    (
        "sign-marketplace",
        "de",
        "pl",
        "Dieses Schild ist wetterfest, [[w]] cm breit und wird mit [[qty]] Schrauben geliefert.",
        "Ten szyld jest odporny na warunki pogodowe, ma [[w]] cm szerokości i jest dostarczany z [[qty]] śrubami.",  # noqa: E501
    ),
    (
        "sign-marketplace",
        "de",
        "fr",
        "Das Türschild aus Edelstahl misst [[w]] x [[h]] mm und trägt eine Gravur für [[ph]].",
        "La plaque de porte en inox mesure [[w]] x [[h]] mm et porte une gravure pour [[ph]].",
    ),
    (
        "sign-marketplace",
        "de",
        "fr",
        "Leuchtreklame mit LED: [[qty]] Stück sofort lieferbar. Mehr Informationen unter [[url]]",
        "Enseigne lumineuse à LED : [[qty]] pièces livrables immédiatement. Plus d'informations sur [[url]]",  # noqa: E501
    ),
    (
        "sign-marketplace",
        "en",
        "es",
        "SignCraft ships [[qty]] signs of type [[sign_sku]] within [[days]] working days.",
        "SignCraft envía [[qty]] carteles del tipo [[sign_sku]] en un plazo de [[days]] días laborables.",  # noqa: E501
    ),
    (
        "client-work",
        "de",
        "en",
        "Die Abnahme des Hoffmann Portal ist für den [[date_de]] geplant; offene Tickets: [[ticket]].",  # noqa: E501
        "The acceptance of the Hoffmann Portal is planned for [[date_de]]; open tickets: [[ticket]].",  # noqa: E501
    ),
    (
        "client-work",
        "de",
        "fr",
        "Meilenstein [[ms]]: Abnahme nach [[qty]] erfolgreichen Testfällen, siehe Ticket [[ticket]].",  # noqa: E501
        "Jalon [[ms]] : recette après [[qty]] cas de test réussis, voir le ticket [[ticket]].",
    ),
]

_SLOT = re.compile(r"\[\[(\w+)\]\]")


def _fill(text: str, values: dict[str, str]) -> str:
    return _SLOT.sub(lambda m: values[m.group(1)], text)


def _glossaries() -> dict[str, list[dict[str, Any]]]:
    return {
        project.id: [
            {"term": t.term, "translations": dict(t.translations), "protected": t.protected}
            for t in project.glossary
        ]
        for project in load_projects()
    }


def generate() -> list[dict[str, Any]]:
    """Return the segments (deterministic)."""
    glossaries = _glossaries()
    segments: list[dict[str, Any]] = []
    for t_index, (project, source_lang, target, source, reference) in enumerate(TEMPLATES):
        for variant in range(VARIANTS):
            values = {
                slot: options[(variant * 3 + t_index) % len(options)]
                for slot, options in SLOTS.items()
            }
            row: dict[str, Any] = {
                "id": f"tr-{t_index:02d}-{variant}",
                "project": project,
                "source_language": source_lang,
                "target": target,
                "source": _fill(source, values),
                "reference": _fill(reference, values),
                "glossary": glossaries.get(project, []),
            }
            segments.append(row)
    return segments


def main() -> None:
    """Write the dataset file."""
    segments = generate()
    DATASET.parent.mkdir(parents=True, exist_ok=True)
    with DATASET.open("w", encoding="utf-8") as out:
        for row in segments:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(segments)} segments to {DATASET}")


if __name__ == "__main__":
    main()
