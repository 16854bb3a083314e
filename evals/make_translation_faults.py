"""Generate ``evals/datasets/translation_faults.jsonl``: careless translations, one fault each.

Every case is a business sentence (invoice, order, listing, e-mail, project note) in a
language pair the translator serves, with a final translation — the text the checks see
after the mask tokens were restored — that is either correct (``fault: clean``) or wrong
in exactly one way:

- ``glossary_generic``: an approved glossary term written as the generic word
  (``packing slip`` for ``delivery note``);
- ``name_altered``: a protected name re-cased or translated (``kessler autoteile``,
  ``Kessler Car Parts``);
- ``number_changed``: one digit of an amount, quantity, date, percentage or day count;
- ``negation``: a negation dropped or added ("not refundable" → "refundable" and back).

Where the answers come from: the sources and their correct translations are written by
hand below; each fault is a hand-written edit (the generic word, the translated name, the
sentence without its negation) or, for numbers, one digit of a slot value changed. Nothing
here imports Nova's checks or masking: the checks are what the eval measures, so they
choose and filter nothing. The glossary stored with each case is the project's glossary
from ``nova/projects.yaml`` plus the customer names the sentence uses (protected, as a
user adds them with ``glossary_add``).

Deterministic: ``python -m evals.make_translation_faults`` always writes the same file.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DATASET = Path(__file__).parent / "datasets" / "translation_faults.jsonl"
VARIANTS = 3
"""Sentences per template (slot values rotate)."""
CLEAN_VARIANTS = 3
"""How many of a template's variants also appear as a clean case."""

NAMES: dict[str, dict[str, str]] = {
    # Customer and supplier names, and what a careless model makes of them per target language.
    "Kessler Autoteile": {
        "en": "Kessler Car Parts", "fr": "Kessler Pièces Auto", "pl": "Kessler Części Samochodowe",
        "nl": "Kessler Auto-onderdelen", "es": "Kessler Autopartes", "it": "Kessler Ricambi Auto",
    },
    "Brandt Logistik": {
        "en": "Brandt Logistics", "fr": "Brandt Logistique", "pl": "Brandt Logistyka",
        "nl": "Brandt Logistiek", "es": "Brandt Logística", "it": "Brandt Logistica",
    },
    "Autohaus Lindner": {
        "en": "Lindner Car Dealership", "fr": "Garage Lindner", "pl": "Salon Lindner",
        "nl": "Autobedrijf Lindner", "es": "Concesionario Lindner", "it": "Concessionaria Lindner",
    },
    "Weber & Co": {
        "en": "Weber and Co", "fr": "Weber et Cie", "de": "Weber und Co", "pl": "Weber i S-ka",
        "nl": "Weber en Co", "es": "Weber y Cía", "it": "Weber e C.",
    },
    "Rheintal ERP": {
        "en": "Rhine Valley ERP", "fr": "ERP Vallée du Rhin", "nl": "Rijndal ERP",
        "pl": "Dolina Renu ERP", "es": "ERP Valle del Rin", "de": "Rheintal-ERP",
    },
    "SignCraft": {
        "en": "Sign Craft", "de": "Schilderhandwerk", "fr": "Artisan Enseigne",
        "pl": "Sign Craft", "nl": "Bordenmakerij", "es": "Sign Craft",
    },
    "Hoffmann Portal": {
        "en": "Hoffmann portal", "fr": "portail Hoffmann", "de": "Hoffmann-Portal",
        "nl": "Hoffmann-portaal",
    },
}  # fmt: skip

CUSTOMERS = ("Kessler Autoteile", "Brandt Logistik", "Autohaus Lindner", "Weber & Co")

SLOTS: dict[str, list[str]] = {
    "qty": ["12", "4", "150", "36", "7"],
    "days": ["5", "3", "10", "14", "30"],
    "pct": ["3", "10", "15", "5", "20"],
    "price_de": ["1.234,50", "89,90", "249,00", "3.480,00", "12,75"],
    "price_en": ["1,234.50", "89.90", "249.00", "3,480.00", "12.75"],
    "date_de": ["14.03.2025", "02.06.2025", "30.09.2025", "01.12.2025", "15.01.2026"],
    "date_en": ["2025-03-14", "2025-06-02", "2025-09-30", "2025-12-01", "2026-01-15"],
    "sku": ["BRK-2210", "FLT-0415", "HYD-2489", "BRK-1333", "ELC-5040"],
    "sign_sku": ["SGN-1042", "LED-4410", "SGN-0870", "SGN-2300", "SGN-7715"],
    "inv": ["INV-2025-00412", "INV-2025-00118", "INV-2024-00317", "INV-2025-00091"],
    "order": ["SO-4410", "SO-1071", "SO-2309", "SO-5120", "SO-0877"],
    "w": ["120", "60", "45", "200", "80"],
    "ver": ["4.2.1", "4.3.0", "5.0.2", "5.1.0"],
    "customer": list(CUSTOMERS),
}
NUMBER_SLOTS = ("qty", "days", "pct", "price_de", "price_en", "date_de", "date_en", "w")


@dataclass(frozen=True, slots=True)
class Template:
    """A hand-written source sentence, its correct translation and the faults it admits."""

    key: str
    project: str
    source_language: str
    target: str
    source: str
    reference: str
    glossary: tuple[str, str] | None = None
    """(approved term as it appears in the reference, the generic word a careless model uses)."""
    negation: tuple[str, str] | None = None
    """(part of the reference, the same part with its negation dropped or added)."""
    names: tuple[str, ...] = field(default=())
    """Protected names in the reference (customer slot values are added per variant)."""
    number: tuple[str, str] | None = None
    """(a number written out in the reference, a different one), instead of a changed slot."""


# fmt: off
TEMPLATES: tuple[Template, ...] = (
    # --- parts-shop: de → en -------------------------------------------------------------
    Template("ps-deliver", "parts-shop", "de", "en",
             "Bitte liefern Sie [[qty]] Stück [[sku]] bis zum [[date_de]] an unsere Werkstatt in Ulm.",  # noqa: E501
             "Please deliver [[qty]] pieces of [[sku]] to our workshop in Ulm by [[date_de]].",
             glossary=("workshop", "garage"),
             negation=("Please deliver", "Please do not deliver")),
    Template("ps-backorder", "parts-shop", "de", "en",
             "Die Bremsscheibe [[sku]] ist im Rückstand; neue Ware kommt in [[days]] Tagen.",
             "The brake disc [[sku]] is on backorder; new stock arrives in [[days]] days.",
             glossary=("brake disc", "brake rotor"),
             negation=("new stock arrives", "no new stock arrives")),
    Template("ps-refund", "parts-shop", "de", "en",
             "Sonderanfertigungen für [[customer]] sind nicht erstattungsfähig; der Rabatt von [[pct]] % gilt trotzdem.",  # noqa: E501
             "Custom-made parts for [[customer]] are not refundable; the [[pct]] % discount still applies.",  # noqa: E501
             negation=("are not refundable", "are refundable")),
    Template("ps-pad-fit", "parts-shop", "de", "en",
             "Der Bremsbelag passt nicht zu [[sku]]; bitte bestellen Sie [[qty]] Stück der neuen Ausführung.",  # noqa: E501
             "The brake pad does not fit [[sku]]; please order [[qty]] pieces of the new version.",
             glossary=("brake pad", "brake lining"),
             negation=("does not fit", "fits")),
    Template("ps-invoice-due", "parts-shop", "de", "en",
             "Die Rechnung [[inv]] für [[customer]] über [[price_de]] EUR ist in [[days]] Tagen fällig.",  # noqa: E501
             "Invoice [[inv]] for [[customer]] of [[price_de]] EUR is due in [[days]] days.",
             negation=("is due", "is not due")),
    Template("ps-no-stock", "parts-shop", "de", "en",
             "Im Lager Ulm sind keine [[sku]] mehr vorrätig; die Werkstatt erhält [[qty]] Stück aus Kempten.",  # noqa: E501
             "There are no more [[sku]] in stock in the Ulm warehouse; the workshop receives [[qty]] pieces from Kempten.",  # noqa: E501
             glossary=("workshop", "repair shop"),
             negation=("There are no more [[sku]] in stock", "There are more [[sku]] in stock")),
    Template("ps-shipped", "parts-shop", "de", "en",
             "Ihre Bestellung [[order]] über [[price_de]] EUR wurde am [[date_de]] an [[customer]] versandt.",  # noqa: E501
             "Your order [[order]] for [[price_de]] EUR was shipped to [[customer]] on [[date_de]].",  # noqa: E501
             negation=("was shipped", "was not shipped")),
    Template("ps-remember", "parts-shop", "de", "en",
             "Vergessen Sie nicht, die Rücksendung von [[qty]] Bremsscheiben bis zum [[date_de]] anzumelden.",  # noqa: E501
             "Remember to register the return of [[qty]] brake discs by [[date_de]].",
             negation=("Remember to register", "Do not register")),
    # --- parts-shop: en → de / de → pl / de → fr --------------------------------------------
    Template("ps-en-return", "parts-shop", "en", "de",
             "We have received your return of [[qty]] pieces of [[sku]] and will refund [[price_en]] EUR within [[days]] days.",  # noqa: E501
             "Wir haben Ihre Rücksendung von [[qty]] Stück [[sku]] erhalten und erstatten [[price_en]] EUR innerhalb von [[days]] Tagen.",  # noqa: E501
             negation=("und erstatten", "und erstatten nicht")),
    Template("ps-en-warranty", "parts-shop", "en", "de",
             "Wear parts such as the [[sku]] set are not covered by the warranty after [[days]] days.",  # noqa: E501
             "Verschleißteile wie der Satz [[sku]] sind nach [[days]] Tagen nicht durch die Garantie abgedeckt.",  # noqa: E501
             negation=("nicht durch die Garantie", "durch die Garantie")),
    Template("ps-en-customer", "parts-shop", "en", "de",
             "[[customer]] ordered [[qty]] sets of [[sku]] with a [[pct]] % discount.",
             "[[customer]] hat [[qty]] Sätze [[sku]] mit [[pct]] % Rabatt bestellt.",
             negation=("hat [[qty]] Sätze", "hat keine [[qty]] Sätze")),
    Template("ps-pl-workshop", "parts-shop", "de", "pl",
             "Die Werkstatt hat [[qty]] Sätze [[sku]] bestellt, Lieferung am [[date_de]].",
             "Warsztat zamówił [[qty]] zestawów [[sku]], dostawa w dniu [[date_de]].",
             glossary=("Warsztat", "Serwis"),
             negation=("Warsztat zamówił", "Warsztat nie zamówił")),
    Template("ps-pl-disc", "parts-shop", "de", "pl",
             "Die Bremsscheibe [[sku]] ist nicht mit dem Modell von [[customer]] kompatibel.",
             "Tarcza hamulcowa [[sku]] nie jest kompatybilna z modelem [[customer]].",
             glossary=("Tarcza hamulcowa", "Dysk hamulcowy"),
             negation=("nie jest kompatybilna", "jest kompatybilna")),
    Template("ps-fr-pad", "parts-shop", "de", "fr",
             "Der Bremsbelag [[sku]] kostet [[price_de]] EUR pro Satz, ab [[qty]] Sätzen gibt es [[pct]] % Rabatt.",  # noqa: E501
             "La plaquette de frein [[sku]] coûte [[price_de]] EUR par jeu, avec [[pct]] % de remise à partir de [[qty]] jeux.",  # noqa: E501
             glossary=("plaquette de frein", "garniture de frein"),
             negation=("avec [[pct]] % de remise", "sans [[pct]] % de remise")),
    Template("ps-fr-atelier", "parts-shop", "de", "fr",
             "Unsere Werkstatt ist vom [[date_de]] an [[days]] Tage geschlossen; Bestellungen von [[customer]] werden nicht bearbeitet.",  # noqa: E501
             "Notre atelier est fermé pendant [[days]] jours à partir du [[date_de]] ; les commandes de [[customer]] ne sont pas traitées.",  # noqa: E501
             glossary=("atelier", "garage"),
             negation=("ne sont pas traitées", "sont traitées")),
    # --- erp-product --------------------------------------------------------------------
    Template("erp-release", "erp-product", "de", "en",
             "Rheintal ERP [[ver]] ist verfügbar: die Rechnungskorrektur ist jetzt direkt im Kundenkonto erreichbar.",  # noqa: E501
             "Rheintal ERP [[ver]] is available: the credit note is now reachable directly from the customer account.",  # noqa: E501
             glossary=("credit note", "invoice correction"), names=("Rheintal ERP",),
             negation=("is available", "is not available")),
    Template("erp-reminder", "erp-product", "de", "en",
             "Die Mahnung für [[inv]] über [[price_de]] EUR wurde nicht versandt, weil [[customer]] bereits [[pct]] % bezahlt hat.",  # noqa: E501
             "The payment reminder for [[inv]] of [[price_de]] EUR was not sent because [[customer]] has already paid [[pct]] %.",  # noqa: E501
             glossary=("payment reminder", "dunning letter"),
             negation=("was not sent", "was sent")),
    Template("erp-delivery-note", "erp-product", "de", "en",
             "Rheintal ERP druckt den Lieferschein für [[order]] automatisch, sobald [[qty]] Positionen gebucht sind.",  # noqa: E501
             "Rheintal ERP prints the delivery note for [[order]] automatically as soon as [[qty]] items are booked.",  # noqa: E501
             glossary=("delivery note", "packing slip"), names=("Rheintal ERP",),
             negation=("prints the delivery note", "does not print the delivery note")),
    Template("erp-account", "erp-product", "de", "en",
             "Im Kundenkonto von [[customer]] sind seit dem [[date_de]] keine offenen Posten mehr.",
             "Since [[date_de]] there have been no open items in the customer account of [[customer]].",  # noqa: E501
             glossary=("customer account", "client account"),
             negation=("have been no open items", "have been open items")),
    Template("erp-fr-credit", "erp-product", "en", "fr",
             "The credit note [[inv]] of [[price_en]] EUR was booked to the customer account of [[customer]].",  # noqa: E501
             "La facture d'avoir [[inv]] de [[price_en]] EUR a été comptabilisée sur le compte client de [[customer]].",  # noqa: E501
             glossary=("facture d'avoir", "facture de correction"),
             negation=("a été comptabilisée", "n'a pas été comptabilisée")),
    Template("erp-fr-reminder", "erp-product", "de", "fr",
             "Die Mahnung für [[inv]] wurde am [[date_de]] verschickt; Rheintal ERP sendet keine weitere Mahnung vor Ablauf von [[days]] Tagen.",  # noqa: E501
             "La relance de paiement pour [[inv]] a été envoyée le [[date_de]] ; Rheintal ERP n'envoie aucune autre relance avant [[days]] jours.",  # noqa: E501
             glossary=("relance de paiement", "lettre de rappel"), names=("Rheintal ERP",),
             negation=("n'envoie aucune autre relance", "envoie une autre relance")),
    Template("erp-fr-delivery", "erp-product", "de", "fr",
             "Der Lieferschein für [[order]] enthält [[qty]] Positionen und wurde an [[customer]] gesendet.",  # noqa: E501
             "Le bon de livraison pour [[order]] contient [[qty]] positions et a été envoyé à [[customer]].",  # noqa: E501
             glossary=("bon de livraison", "bordereau d'expédition"),
             negation=("a été envoyé", "n'a pas été envoyé")),
    Template("erp-nl-reminder", "erp-product", "de", "nl",
             "Die Mahnung [[inv]] ist seit [[days]] Tagen offen; bitte prüfen Sie das Kundenkonto von [[customer]].",  # noqa: E501
             "De betalingsherinnering [[inv]] staat al [[days]] dagen open; controleer het klantaccount van [[customer]].",  # noqa: E501
             glossary=("betalingsherinnering", "aanmaning"),
             negation=("staat al [[days]] dagen open", "staat al [[days]] dagen niet open")),
    Template("erp-nl-delivery", "erp-product", "de", "nl",
             "Der Lieferschein für [[order]] wurde noch nicht gedruckt; Rheintal ERP meldet [[qty]] fehlende Positionen.",  # noqa: E501
             "De pakbon voor [[order]] is nog niet afgedrukt; Rheintal ERP meldt [[qty]] ontbrekende posities.",  # noqa: E501
             glossary=("pakbon", "leveringsbon"), names=("Rheintal ERP",),
             negation=("is nog niet afgedrukt", "is al afgedrukt")),
    Template("erp-en-de-licence", "erp-product", "en", "de",
             "Your Rheintal ERP licence for [[customer]] expires on [[date_en]] and costs [[price_en]] EUR per year.",  # noqa: E501
             "Ihre Rheintal ERP-Lizenz für [[customer]] läuft am [[date_en]] ab und kostet [[price_en]] EUR pro Jahr.",  # noqa: E501
             names=("Rheintal ERP",),
             negation=("läuft am [[date_en]] ab", "läuft am [[date_en]] nicht ab")),
    Template("erp-es-update", "erp-product", "en", "es",
             "Rheintal ERP [[ver]] cannot be installed on servers with less than [[qty]] GB of memory.",  # noqa: E501
             "Rheintal ERP [[ver]] no se puede instalar en servidores con menos de [[qty]] GB de memoria.",  # noqa: E501
             names=("Rheintal ERP",),
             negation=("no se puede instalar", "se puede instalar")),
    # --- sign-marketplace ---------------------------------------------------------------
    Template("sm-listing", "sign-marketplace", "de", "en",
             "Leuchtreklame [[sign_sku]], [[w]] cm breit, Lieferung in [[days]] Tagen, Versand ohne Aufpreis.",  # noqa: E501
             "Illuminated sign [[sign_sku]], [[w]] cm wide, delivery in [[days]] days, shipping at no extra charge.",  # noqa: E501
             glossary=("Illuminated sign", "Light box"),
             negation=("at no extra charge", "at extra charge")),
    Template("sm-fee", "sign-marketplace", "de", "en",
             "SignCraft berechnet [[pct]] % Provision pro Verkauf; für [[customer]] fällt keine Grundgebühr an.",  # noqa: E501
             "SignCraft charges a [[pct]] % commission per sale; [[customer]] pays no base fee.",
             names=("SignCraft",),
             negation=("pays no base fee", "pays a base fee")),
    Template("sm-aframe", "sign-marketplace", "de", "en",
             "Der Aufsteller [[sign_sku]] ist wetterfest und kostet bei SignCraft nur [[price_de]] EUR.",  # noqa: E501
             "The A-frame sign [[sign_sku]] is weatherproof and costs only [[price_de]] EUR on SignCraft.",  # noqa: E501
             glossary=("A-frame sign", "sidewalk sign"), names=("SignCraft",),
             negation=("is weatherproof", "is not weatherproof")),
    Template("sm-pl-sign", "sign-marketplace", "de", "pl",
             "Leuchtreklame [[sign_sku]], [[w]] x 40 cm, Lieferung in [[days]] Tagen.",
             "Reklama świetlna [[sign_sku]], [[w]] x 40 cm, dostawa w ciągu [[days]] dni.",
             glossary=("Reklama świetlna", "Reklama podświetlana"),
             negation=("dostawa w ciągu", "brak dostawy w ciągu")),
    Template("sm-pl-aframe", "sign-marketplace", "de", "pl",
             "Der Aufsteller [[sign_sku]] wird nicht mit Schrauben geliefert und kostet [[price_de]] EUR.",  # noqa: E501
             "Potykacz [[sign_sku]] nie jest dostarczany ze śrubami i kosztuje [[price_de]] EUR.",
             glossary=("Potykacz", "Stojak reklamowy"),
             negation=("nie jest dostarczany", "jest dostarczany")),
    Template("sm-fr-door", "sign-marketplace", "de", "fr",
             "Das Türschild aus Edelstahl misst [[w]] x 30 mm und wird innerhalb von [[days]] Tagen graviert.",  # noqa: E501
             "La plaque de porte en inox mesure [[w]] x 30 mm et est gravée sous [[days]] jours.",
             glossary=("plaque de porte", "enseigne de porte"),
             negation=("et est gravée", "et n'est pas gravée")),
    Template("sm-fr-illuminated", "sign-marketplace", "de", "fr",
             "Die Leuchtreklame mit LED ist nicht für den Außenbereich geeignet; [[qty]] Stück sind sofort lieferbar.",  # noqa: E501
             "L'enseigne lumineuse à LED n'est pas adaptée à l'extérieur ; [[qty]] pièces sont livrables immédiatement.",  # noqa: E501
             glossary=("enseigne lumineuse", "panneau lumineux"),
             negation=("n'est pas adaptée", "est adaptée")),
    Template("sm-es-ship", "sign-marketplace", "en", "es",
             "SignCraft ships [[qty]] signs of type [[sign_sku]] to [[customer]] within [[days]] working days.",  # noqa: E501
             "SignCraft envía [[qty]] carteles del tipo [[sign_sku]] a [[customer]] en un plazo de [[days]] días laborables.",  # noqa: E501
             names=("SignCraft",),
             negation=("SignCraft envía", "SignCraft no envía")),
    Template("sm-it-fee", "sign-marketplace", "en", "it",
             "SignCraft does not charge a listing fee; the commission is [[pct]] % of the price of [[price_en]] EUR.",  # noqa: E501
             "SignCraft non addebita una tariffa di inserzione; la commissione è del [[pct]] % sul prezzo di [[price_en]] EUR.",  # noqa: E501
             names=("SignCraft",),
             negation=("non addebita", "addebita")),
    Template("sm-en-de-listing", "sign-marketplace", "en", "de",
             "Your SignCraft listing [[sign_sku]] was viewed [[qty]] times in the last [[days]] days.",  # noqa: E501
             "Ihr SignCraft-Angebot [[sign_sku]] wurde in den letzten [[days]] Tagen [[qty]] Mal angesehen.",  # noqa: E501
             names=("SignCraft",),
             negation=("wurde in den", "wurde nicht in den")),
    # --- client-work --------------------------------------------------------------------
    Template("cw-acceptance", "client-work", "de", "en",
             "Die Abnahme des Hoffmann Portal ist für den [[date_de]] geplant; [[qty]] Tickets sind noch offen.",  # noqa: E501
             "The acceptance of the Hoffmann Portal is planned for [[date_de]]; [[qty]] tickets are still open.",  # noqa: E501
             glossary=("acceptance", "sign-off"), names=("Hoffmann Portal",),
             negation=("is planned for", "is not planned for")),
    Template("cw-budget", "client-work", "de", "en",
             "Das Budget für das Hoffmann Portal darf nicht um mehr als [[pct]] % überschritten werden.",  # noqa: E501
             "The budget for the Hoffmann Portal must not be exceeded by more than [[pct]] %.",
             names=("Hoffmann Portal",),
             negation=("must not be exceeded", "must be exceeded")),
    Template("cw-fr-milestone", "client-work", "de", "fr",
             "Meilenstein [[qty]]: Abnahme des Hoffmann Portal nach [[days]] erfolgreichen Testfällen.",  # noqa: E501
             "Jalon [[qty]] : recette du Hoffmann Portal après [[days]] cas de test réussis.",
             glossary=("recette", "réception"), names=("Hoffmann Portal",),
             negation=("cas de test réussis", "cas de test non réussis")),
    Template("cw-nl-invoice", "client-work", "de", "nl",
             "Die Rechnung für [[customer]] über [[price_de]] EUR wurde am [[date_de]] nicht bezahlt.",  # noqa: E501
             "De factuur voor [[customer]] van [[price_de]] EUR is op [[date_de]] niet betaald.",
             negation=("niet betaald", "betaald")),
    # --- inflected glossary terms and numbers in words: what masking does not cover -------
    Template("ps-discs-plural", "parts-shop", "de", "en",
             "Bitte senden Sie uns [[qty]] Bremsscheiben für [[customer]] bis zum [[date_de]].",
             "Please send us [[qty]] brake discs for [[customer]] by [[date_de]].",
             glossary=("brake discs", "brake rotors"),
             negation=("Please send us", "Please do not send us")),
    Template("erp-delivery-notes", "erp-product", "de", "en",
             "Rheintal ERP hat heute [[qty]] Lieferscheine gedruckt; die Mahnungen folgen nicht vor dem [[date_de]].",  # noqa: E501
             "Rheintal ERP printed [[qty]] delivery notes today; the payment reminders will not follow before [[date_de]].",  # noqa: E501
             glossary=("delivery notes", "packing slips"), names=("Rheintal ERP",),
             negation=("will not follow", "will follow")),
    Template("erp-fr-reminders", "erp-product", "de", "fr",
             "Rheintal ERP verschickt die Mahnungen an [[customer]] automatisch nach [[days]] Tagen.",  # noqa: E501
             "Rheintal ERP envoie automatiquement les relances de paiement à [[customer]] après [[days]] jours.",  # noqa: E501
             glossary=("relances de paiement", "rappels"), names=("Rheintal ERP",),
             negation=("envoie automatiquement", "n'envoie pas automatiquement")),
    Template("ps-pl-workshops", "parts-shop", "de", "pl",
             "Unsere Werkstätten in Ulm und Kempten haben [[qty]] Bremsbeläge [[sku]] nicht erhalten.",  # noqa: E501
             "Nasze warsztaty w Ulm i Kempten nie otrzymały [[qty]] klocków hamulcowych [[sku]].",
             glossary=("klocków hamulcowych", "okładzin hamulcowych"),
             negation=("nie otrzymały", "otrzymały")),
    Template("erp-nl-accounts", "erp-product", "de", "nl",
             "In den Kundenkonten von [[customer]] stehen [[qty]] offene Rechnungen; eine Mahnung wurde noch nicht gesendet.",  # noqa: E501
             "In de klantaccounts van [[customer]] staan [[qty]] openstaande facturen; er is nog geen betalingsherinnering verzonden.",  # noqa: E501
             glossary=("klantaccounts", "klantenrekeningen"),
             negation=("er is nog geen", "er is al een")),
    Template("sm-signs-dim", "sign-marketplace", "de", "en",
             "Die Leuchtreklamen [[sign_sku]] sind nicht dimmbar und kosten [[price_de]] EUR pro Stück.",  # noqa: E501
             "The illuminated signs [[sign_sku]] are not dimmable and cost [[price_de]] EUR each.",
             glossary=("illuminated signs", "light boxes"),
             negation=("are not dimmable", "are dimmable")),
    Template("ps-two-weeks", "parts-shop", "de", "en",
             "Die Lieferung an [[customer]] verzögert sich um zwei Wochen; [[qty]] Positionen sind betroffen.",  # noqa: E501
             "The delivery to [[customer]] is delayed by two weeks; [[qty]] items are affected.",
             number=("two weeks", "three weeks"),
             negation=("items are affected", "items are not affected")),
    Template("erp-fr-three-days", "erp-product", "en", "fr",
             "The second payment reminder for [[inv]] goes out three days after the first one.",
             "La deuxième relance de paiement pour [[inv]] part trois jours après la première.",
             glossary=("relance de paiement", "lettre de rappel"),
             number=("trois jours", "quatre jours")),
    Template("sm-es-half", "sign-marketplace", "en", "es",
             "SignCraft refunds the fee of [[price_en]] EUR if [[customer]] cancels within one week.",  # noqa: E501
             "SignCraft reembolsa la tarifa de [[price_en]] EUR si [[customer]] cancela en una semana.",  # noqa: E501
             names=("SignCraft",), number=("en una semana", "en dos semanas"),
             negation=("SignCraft reembolsa", "SignCraft no reembolsa")),
    # --- free translations: wording a word count can trip over ------------------------
    Template("ps-latest", "parts-shop", "de", "en",
             "Bitte zahlen Sie die Rechnung [[inv]] über [[price_de]] EUR spätestens am [[date_de]].",  # noqa: E501
             "Please pay invoice [[inv]] of [[price_de]] EUR no later than [[date_de]].",
             negation=("Please pay", "Please do not pay")),
    Template("erp-unlimited", "erp-product", "de", "en",
             "Die Lizenz von Rheintal ERP ist unbefristet und gilt für [[qty]] Arbeitsplätze.",
             "The Rheintal ERP licence does not expire and covers [[qty]] workstations.",
             names=("Rheintal ERP",),
             negation=("does not expire", "expires")),
    Template("sm-fr-only", "sign-marketplace", "de", "fr",
             "Für [[customer]] berechnet SignCraft nur die eigenen Preise von [[price_de]] EUR.",
             "Pour [[customer]], SignCraft n'applique que ses propres prix de [[price_de]] EUR.",
             names=("SignCraft",)),
    Template("cw-es-nothing", "client-work", "en", "es",
             "Nothing changes for [[customer]] until the Hoffmann Portal goes live on [[date_en]].",
             "Para [[customer]] no cambia nada hasta que el Hoffmann Portal entre en producción el [[date_en]].",  # noqa: E501
             names=("Hoffmann Portal",),
             negation=("no cambia nada", "cambia todo")),
    Template("ps-pl-never", "parts-shop", "de", "pl",
             "Wir haben nie mehr als [[qty]] Stück [[sku]] für [[customer]] auf Lager.",
             "Nigdy nie mamy na stanie więcej niż [[qty]] sztuk [[sku]] dla [[customer]].",
             negation=("Nigdy nie mamy", "Zawsze mamy")),
    Template("erp-it-without", "erp-product", "en", "it",
             "Invoices from Rheintal ERP for [[customer]] are sent without a signature after [[days]] days.",  # noqa: E501
             "Le fatture di Rheintal ERP per [[customer]] vengono inviate senza firma dopo [[days]] giorni.",  # noqa: E501
             names=("Rheintal ERP",),
             negation=("senza firma", "con firma")),
    Template("erp-nl-no-longer", "erp-product", "de", "nl",
             "Rheintal ERP [[ver]] wird ab dem [[date_de]] nicht mehr unterstützt.",
             "Rheintal ERP [[ver]] wordt vanaf [[date_de]] niet meer ondersteund.",
             names=("Rheintal ERP",),
             negation=("niet meer ondersteund", "nog steeds ondersteund")),
    Template("ps-no-problem", "parts-shop", "de", "en",
             "Eine Lieferung von [[qty]] Stück an [[customer]] bis zum [[date_de]] ist kein Problem.",  # noqa: E501
             "We can easily deliver [[qty]] pieces to [[customer]] by [[date_de]].",
             negation=("We can easily deliver", "We cannot deliver")),
    Template("cw-en-de-rate", "client-work", "en", "de",
             "Weber & Co accepted the offer: [[qty]] days at [[price_en]] EUR, with no travel costs.",  # noqa: E501
             "Weber & Co hat das Angebot angenommen: [[qty]] Tage zu [[price_en]] EUR, ohne Reisekosten.",  # noqa: E501
             names=("Weber & Co",),
             negation=("ohne Reisekosten", "mit Reisekosten")),
)
# fmt: on

NEGATION_ADDED = frozenset(
    {
        "ps-discs-plural", "erp-fr-reminders", "ps-two-weeks", "sm-es-half", "ps-latest",
        "ps-no-problem",
        "ps-deliver", "ps-backorder", "ps-invoice-due", "ps-shipped", "ps-remember",
        "ps-en-return", "ps-en-customer", "ps-pl-workshop", "ps-fr-pad", "erp-release",
        "erp-delivery-note", "erp-fr-credit", "erp-fr-delivery", "erp-nl-reminder",
        "erp-en-de-licence", "sm-pl-sign", "sm-aframe", "sm-fr-door", "sm-es-ship",
        "sm-en-de-listing", "cw-acceptance", "cw-fr-milestone",
    }
)  # fmt: skip
"""Templates whose negation edit adds a negation (the others drop the one the sentence has)."""

_SLOT = re.compile(r"\[\[(\w+)\]\]")


def _values(template_index: int, variant: int) -> dict[str, str]:
    return {
        slot: options[(variant * 2 + template_index) % len(options)]
        for slot, options in SLOTS.items()
    }


def _fill(text: str, values: dict[str, str]) -> str:
    return _SLOT.sub(lambda m: values[m.group(1)], text)


def changed_number(value: str, seed: int) -> str:
    """Return ``value`` with one digit changed (which digit and how depend on ``seed``).

    A date keeps a valid day: its day moves by 1 to 7.
    """
    date = re.fullmatch(r"(\d\d)\.(\d\d\.\d{4})|(\d{4}-\d\d-)(\d\d)", value)
    if date:
        day = int(date.group(1) or date.group(4))
        moved = (day - 1 + 1 + seed % 7) % 28 + 1
        if date.group(1):
            return f"{moved:02d}.{date.group(2)}"
        return f"{date.group(3)}{moved:02d}"
    digits = [i for i, ch in enumerate(value) if ch.isdigit()]
    # Prefer significant digits: a careless model rarely touches a trailing cent.
    position = digits[seed % len(digits)]
    old = int(value[position])
    new = (old + 1 + seed % 7) % 10
    if new == old:
        new = (old + 1) % 10
    if position == digits[0] and new == 0 and len(digits) > 1 and value[position + 1 :][:1] != ",":
        new = (old + 2) % 10 or 1
    changed = value[:position] + str(new) + value[position + 1 :]
    if re.match(r"0\d|0$", changed):
        # "0 pieces" or "04" is not a slip a model makes: step the digit up instead.
        changed = value[:position] + str(old % 9 + 1) + value[position + 1 :]
    return changed


def recased(name: str, seed: int) -> str:
    """Return ``name`` with its casing changed the way careless models do."""
    options = [name.lower(), name.upper(), name[:1] + name[1:].lower(), name.title()]
    for offset in range(len(options)):
        candidate = options[(seed + offset) % len(options)]
        if candidate != name:
            return candidate
    return name.swapcase()


def _glossaries() -> dict[str, list[dict[str, Any]]]:
    projects = yaml.safe_load((ROOT / "nova" / "projects.yaml").read_text(encoding="utf-8"))
    return {
        project["id"]: [
            {
                "term": term["term"],
                "translations": dict(term.get("translations") or {}),
                "protected": bool(term.get("protected", False)),
            }
            for term in project.get("glossary") or ()
        ]
        for project in projects["projects"]
    }


def _replace_once(text: str, old: str, new: str, case_id: str) -> str:
    if text.count(old) != 1:
        raise ValueError(f"{case_id}: {old!r} occurs {text.count(old)} times in {text!r}")
    return text.replace(old, new, 1)


def _case(
    base: dict[str, Any],
    sentence_id: str,
    reference: str,
    fault: str,
    translation: str,
    detail: str,
) -> dict[str, Any]:
    if fault != "clean" and translation == reference:
        raise ValueError(f"{sentence_id}: the {fault} edit changed nothing")
    return {
        "id": f"{sentence_id}-{fault}",
        **base,
        "translation": translation,
        "fault": fault,
        "detail": detail,
        "reference": reference,
    }


def generate() -> list[dict[str, Any]]:
    """Return the cases (deterministic): clean translations and one-fault translations."""
    glossaries = _glossaries()
    cases: list[dict[str, Any]] = []
    for t_index, template in enumerate(TEMPLATES):
        for variant in range(VARIANTS):
            values = _values(t_index, variant)
            source = _fill(template.source, values)
            reference = _fill(template.reference, values)
            names = [*template.names]
            if "[[customer]]" in template.reference:
                names.append(values["customer"])
            glossary = list(glossaries.get(template.project, []))
            known = {entry["term"] for entry in glossary}
            glossary += [
                {"term": name, "translations": {}, "protected": True}
                for name in dict.fromkeys(names)
                if name not in known
            ]
            base = {
                "template": template.key,
                "project": template.project,
                "source_language": template.source_language,
                "target": template.target,
                "source": source,
                "glossary": glossary,
            }
            sentence_id = f"{template.key}-{variant}"
            seed = t_index * 7 + variant

            case = functools.partial(_case, base, sentence_id, reference)

            if variant < CLEAN_VARIANTS:
                cases.append(case("clean", reference, "correct translation"))
            if template.glossary is not None:
                approved, generic = template.glossary
                cases.append(
                    case(
                        "glossary_generic",
                        _replace_once(reference, approved, generic, sentence_id),
                        f"{approved!r} written as {generic!r}",
                    )
                )
            if names:
                name = names[seed % len(names)]
                translated = NAMES.get(name, {}).get(template.target)
                if seed % 2 and translated and translated != name:
                    wrong, how = translated, "translated"
                else:
                    wrong, how = recased(name, seed), "re-cased"
                cases.append(
                    case(
                        "name_altered",
                        _replace_once(reference, name, wrong, sentence_id),
                        f"{name!r} {how} as {wrong!r}",
                    )
                )
            slots = [
                s for s in dict.fromkeys(_SLOT.findall(template.reference)) if s in NUMBER_SLOTS
            ]
            if template.number is not None:
                old, new = template.number
                cases.append(
                    case(
                        "number_changed",
                        _replace_once(reference, old, new, sentence_id),
                        f"{old!r} written as {new!r}",
                    )
                )
            elif slots:
                slot = slots[seed % len(slots)]
                wrong_value = changed_number(values[slot], seed)
                changed = _fill(template.reference, {**values, slot: wrong_value})
                cases.append(
                    case(
                        "number_changed",
                        changed,
                        f"{slot} {values[slot]!r} written as {wrong_value!r}",
                    )
                )
            if template.negation is not None:
                old, new = (_fill(part, values) for part in template.negation)
                how = "added" if template.key in NEGATION_ADDED else "dropped"
                cases.append(
                    case(
                        "negation",
                        _replace_once(reference, old, new, sentence_id),
                        f"negation {how}: {old!r} → {new!r}",
                    )
                )
    return cases


def main() -> None:
    """Write the dataset file and print the counts per fault kind."""
    cases = generate()
    DATASET.parent.mkdir(parents=True, exist_ok=True)
    with DATASET.open("w", encoding="utf-8") as out:
        for row in cases:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    counts: dict[str, int] = {}
    for row in cases:
        counts[row["fault"]] = counts.get(row["fault"], 0) + 1
    print(f"wrote {len(cases)} cases to {DATASET}: {counts}")


if __name__ == "__main__":
    main()
