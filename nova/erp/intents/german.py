"""Read a German ERP request as English, word by word, so the model-free readers apply.

The owner runs a German business and types some questions in German ("offene rechnungen
nordwind", "umsatz letzter monat", "was schuldet uns winkler"). The fast path's readers
know English only; a model would translate, but a short ERP question is mostly function
words, the business's nouns and names, which translate word by word:

* **German grammar** (``_FUNCTION_WORDS``, ``_PHRASES``): articles, pronouns, prepositions,
  question words, negation, time words, month and weekday names: closed classes of the
  language, not phrases of any request set.
* **Business nouns and adjectives** (``_TERMS``): the accounting and stock vocabulary a
  German ERP uses (Rechnung, Umsatz, Lagerbestand, überfällig, Gutschrift …), where a general
  dictionary's first sense is often another one ("Posten": job; "schulden": guilt).
* **Everything else** (product words: "Bremsbeläge", "Ölfilter"): the bundled German-English
  dictionary (``memory.lexicon``), keeping only the senses the ERP readers know (product,
  category and vocabulary words), so a gloss can only name something the data holds.

Names (customers, suppliers, products' own words), codes, numbers and English words are
kept as typed.
A word none of these explain is kept too, and the reader then declines as it would for an
unknown English word: the translation never guesses. ``to_english`` returns ``None`` when the
request does not read as German, so English requests are untouched.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable

_PHRASES: dict[str, str] = {
    "wie viele": "how many", "wie viel": "how much", "wieviele": "how many",
    "wieviel": "how much", "was für": "which", "welche kunden": "which customers",
    "noch nicht": "not yet", "noch offen": "still open", "zu spät": "late",
    "offene posten": "open invoices", "offenen posten": "open invoices",
    "op liste": "open invoices",
    "letzten monat": "last month", "letzter monat": "last month", "letztem monat": "last month",
    "erstes halbjahr": "h1", "ersten halbjahr": "h1", "zweites halbjahr": "h2",
    "zweiten halbjahr": "h2",
    "vorigen monat": "last month", "vormonat": "last month", "diesen monat": "this month",
    "dieser monat": "this month", "diesem monat": "this month",
    "letztes jahr": "last year", "letzten jahr": "last year", "letzten jahres": "last year",
    "vorjahr": "last year", "im vorjahr": "last year",
    "dieses jahr": "this year", "diesem jahr": "this year", "dieses jahres": "this year",
    "letzte woche": "last week", "letzten woche": "last week", "vorige woche": "last week",
    "diese woche": "this week", "dieser woche": "this week",
    "stand heute": "as of today", "1. halbjahr": "h1", "2. halbjahr": "h2",
    "bis jetzt": "so far", "bisher": "so far", "seit jahresbeginn": "this year",
    "zum einkaufspreis": "at cost", "zu einkaufspreisen": "at cost", "zu ek": "at cost",
    "zum ek": "at cost", "zu vk": "at list price", "zum vk": "at list price",
    "wie lange": "how long", "nach stück": "by units",
    "nach menge": "by units", "nach wert": "by value", "nach umsatz": "by revenue",
    "im mai": "in may", "seit mai": "since may", "bis mai": "until may",
    "pro monat": "per month", "pro kunde": "per customer", "je kunde": "per customer",
    "im durchschnitt": "on average", "am meisten": "the most", "am wenigsten": "the least",
}  # fmt: skip
"""German expressions of more than one word (or one word for several English ones)."""

_FUNCTION_WORDS: dict[str, str] = {
    # articles, pronouns, question words
    "der": "the", "die": "the", "das": "the", "den": "the", "dem": "the", "des": "the",
    "ein": "a", "eine": "a", "einen": "a", "einem": "a", "einer": "a",
    "wir": "we", "uns": "us", "unser": "our", "unsere": "our", "unseren": "our",
    "unserem": "our", "unserer": "our", "ich": "i", "mir": "me", "mein": "my", "meine": "my",
    "sein": "his", "seine": "his", "seinen": "his", "seiner": "his", "seinem": "his",
    "sie": "they", "ihr": "their", "ihre": "their", "ihren": "their", "er": "he", "es": "it",
    "was": "what", "wer": "who", "wem": "who", "wen": "who", "wann": "when", "wo": "where",
    "wie": "how", "welche": "which", "welcher": "which", "welches": "which",
    "welchen": "which", "warum": "why", "wieso": "why",
    # verbs that only carry the sentence
    "ist": "is", "sind": "are", "war": "was", "waren": "were", "hat": "has", "haben": "have",
    "hatte": "had", "hatten": "had", "gibt": "is", "gab": "was", "wird": "will",
    "werden": "will", "wurde": "was", "wurden": "were", "zeig": "show", "zeige": "show",
    "zeigen": "show", "liste": "list",
    # prepositions and conjunctions
    "in": "in", "im": "in", "am": "on", "an": "on", "auf": "on", "mit": "with", "ohne": "without",
    "für": "for", "fur": "for", "von": "from", "vom": "from", "aus": "from", "bei": "at",
    "zu": "to", "zum": "to", "zur": "to", "nach": "by", "pro": "per", "je": "per",
    "über": "over", "uber": "over", "unter": "under", "seit": "since", "bis": "until",
    "und": "and", "oder": "or", "aber": "but", "als": "than", "gegen": "against",
    "vs": "vs", "gegenüber": "compared to",
    # negation, degree, time
    # modal particles: they colour the sentence, they ask for nothing ("check mal")
    "mal": "actually", "eigentlich": "actually", "denn": "actually", "doch": "actually",
    "nicht": "not", "kein": "no", "keine": "no", "keinen": "no", "nur": "only",
    "noch": "still", "schon": "already", "bereits": "already", "alle": "all", "jetzt": "now",
    "aktuell": "currently", "gerade": "currently", "grad": "currently", "heute": "today",
    "gestern": "yesterday", "morgen": "tomorrow",
    "insgesamt": "in total", "gesamt": "total", "mehr": "more", "weniger": "less",
    "meisten": "most", "meiste": "most", "größte": "biggest", "größten": "biggest",
    "grosste": "biggest", "größter": "biggest", "grosster": "biggest", "beste": "best",
    "besten": "best", "bester": "best", "schlechteste": "worst", "schlechtester": "worst",
    "höchster": "highest", "niedrigster": "lowest", "ältester": "oldest", "neuester": "latest",
    "kleinste": "smallest", "kleinsten": "smallest", "kleinster": "smallest",
    "schlechtesten": "worst", "höchste": "highest", "höchsten": "highest",
    "niedrigste": "lowest", "niedrigsten": "lowest", "ältesten": "oldest", "älteste": "oldest",
    "neueste": "latest", "neuesten": "latest", "letzte": "last", "letzten": "last",
    "letzter": "last", "letztes": "last", "erste": "first", "ersten": "first",
    "monat": "month", "monate": "months", "monaten": "months", "jahr": "year", "jahre": "years",
    "jahren": "years", "woche": "week", "wochen": "weeks", "tag": "day", "tage": "days",
    "wochenende": "the weekend", "gekostet": "cost", "kostet": "costs",
    "tagen": "days", "quartal": "quarter",
    # months and weekdays
    "januar": "january", "jänner": "january", "februar": "february", "märz": "march",
    "marz": "march", "mai": "in may", "juni": "june", "juli": "july", "oktober": "october",
    "dezember": "december", "montag": "monday", "dienstag": "tuesday", "mittwoch": "wednesday",
    "donnerstag": "thursday", "freitag": "friday", "samstag": "saturday", "sonntag": "sunday",
}  # fmt: skip
"""German closed-class words (and time words) with the English word a reader expects."""

_TERMS: dict[str, str] = {
    "rechnung": "invoice", "rechnungen": "invoices", "re": "invoice",
    "umsatz": "revenue", "umsätze": "revenue", "umsatze": "revenue", "erlös": "revenue",
    "kunde": "customer", "kunden": "customers", "lieferant": "supplier",
    "lieferanten": "suppliers", "auftrag": "order", "aufträge": "orders", "auftrage": "orders",
    "bestellung": "order", "bestellungen": "orders", "bestellt": "ordered",
    "bestellte": "ordered", "kauft": "buys", "gekauft": "bought",
    "verkauft": "sold", "verkauften": "sold", "zahlung": "payment", "zahlungen": "payments",
    "zahlungseingang": "payments received", "zahlungseingänge": "payments received",
    "zahlungseingange": "payments received", "bezahlt": "paid", "gezahlt": "paid",
    "eingänge": "payments received", "eingange": "payments received",
    "lastschrift": "sepa", "lastschriften": "sepa", "überweisung": "bank transfer",
    "uberweisung": "bank transfer", "überweisungen": "bank transfer",
    "geldeingang": "payments received", "geldeingänge": "payments received",
    "offen": "open", "offene": "open", "offenen": "open", "offener": "open",
    "überfällig": "overdue", "überfällige": "overdue", "überfälligen": "overdue",
    "uberfallig": "overdue", "uberfallige": "overdue", "uberfalligen": "overdue",
    "fällig": "due", "fallig": "due", "storniert": "cancelled", "stornierte": "cancelled",
    "bar": "cash",
    "stornos": "cancellations", "gutschrift": "credit note", "gutschriften": "credit notes",
    "retoure": "return", "retouren": "returns", "rücksendung": "return",
    "rücksendungen": "returns", "reklamation": "return", "reklamationen": "returns",
    "lieferung": "delivery", "lieferungen": "deliveries", "sendung": "shipment",
    "sendungen": "shipments", "versand": "shipping", "versandkosten": "shipping cost",
    "versendet": "shipped", "verschickt": "shipped", "geliefert": "delivered",
    "zugestellt": "delivered", "unterwegs": "in transit", "raus": "shipped",
    "gesperrt": "blocked", "gesperrte": "blocked", "gesperrten": "blocked",
    "zuletzt": "last", "kategorie": "category", "kategorien": "categories",
    "reingekommen": "came in", "hereingekommen": "came in",
    "lager": "warehouse", "hauptlager": "main warehouse", "lagerbestand": "stock",
    "bestand": "stock",
    "bestände": "stock", "lagerwert": "stock value", "auf lager": "in stock",
    "reserviert": "reserved", "meldebestand": "reorder point", "nachbestellen": "reorder",
    "einkaufspreis": "cost", "einkaufspreise": "cost", "ek": "cost", "verkaufspreis": "price",
    "vk": "price", "kostet": "costs", "kosten": "cost", "zahlen": "pay", "zahlt": "pays",
    "preis": "price", "preise": "prices", "marge": "margin", "margen": "margins",
    "rohertrag": "gross profit", "gewinn": "profit", "rabatt": "discount",
    "rabatte": "discounts", "artikel": "products", "teile": "parts", "produkte": "products",
    "produkt": "product", "stück": "units", "stuck": "units", "menge": "quantity",
    "wert": "value", "summe": "total", "betrag": "amount", "durchschnitt": "average",
    "durchschnittlich": "average", "schnitt": "average", "anzahl": "number of",
    "kreditlimit": "credit limit", "limit": "limit", "zahlungsziel": "payment terms",
    "zahlungsbedingungen": "payment terms", "sendungsnummer": "tracking number",
    "trackingnummer": "tracking number", "trackingnummern": "tracking numbers",
    "sendungsnummern": "tracking numbers", "paketnummer": "tracking number",
    "frachtkosten": "shipping cost", "fracht": "freight", "halbjahr": "half year",
    "rechnungsausgang": "invoices issued", "rechnungsausgänge": "invoices issued",
    "spediteur": "carrier", "paketdienst": "carrier", "lieferdatum": "delivery date",
    "ansprechpartner": "contact", "telefonnummer": "phone number", "adresse": "address",
    "schuldet": "owes", "schulden": "owe", "knapp": "low", "frei": "available",
    "verfügbar": "available", "verfugbar": "available", "verkaufen": "sell",
    "verkaufe": "sell", "kaufen": "buy", "eingegangen": "received", "kam": "came",
    "kamen": "came", "rein": "in", "herein": "in", "nachbestellt": "reordered",
    "beide": "both", "beiden": "both", "warengruppe": "category", "warengruppen": "categories",
    "lief": "sold", "liefen": "sold", "wartet": "waits", "warten": "wait",
    "auftragswert": "order value", "auftragswerte": "order values",
    "durchschnittlicher": "average", "durchschnittliche": "average", "fakturiert": "invoiced",
    "abgerechnet": "invoiced", "wareneingang": "goods received",
    "wareneingänge": "goods received", "wareneingange": "goods received",
    "liefert": "supplies", "liefern": "supply", "dauert": "takes", "einkauf": "purchasing",
    "einkäufe": "purchases", "neukunden": "new customers",
    "neue": "new", "neuen": "new",
    # countries and their adjectives, as the country filter knows them in English
    "deutschland": "germany", "österreich": "austria", "osterreich": "austria",
    "schweiz": "switzerland", "frankreich": "france", "niederlande": "netherlands",
    "italien": "italy", "spanien": "spain", "polen": "poland", "belgien": "belgium",
    "tschechien": "czechia", "dänemark": "denmark", "danemark": "denmark",
    "schweden": "sweden", "irland": "ireland", "ungarn": "hungary",
    "luxemburg": "luxembourg", "großbritannien": "uk", "grossbritannien": "uk",
    "deutsche": "german", "deutschen": "german", "österreichische": "austrian",
    "österreichischen": "austrian", "schweizer": "swiss", "französische": "french",
    "französischen": "french", "italienische": "italian", "italienischen": "italian",
    "niederländische": "dutch", "niederländischen": "dutch",
    "lieferzeit": "lead time", "lieferzeiten": "lead times", "land": "country",
    "brutto": "gross", "netto": "net", "prozent": "percent", "euro": "euros", "eur": "euros",
}  # fmt: skip
"""German business words of an ERP, with the English word the readers know."""

_ENGLISH_MARKERS = frozenset(
    "the of and is are what how which who when show me my our we us with for from".split()
)
"""English words that, beside German ones, say the request is English with a German name."""
_WORD = re.compile(r"[^\W_]+(?:[-.][^\W_]+)*")


def _ascii(word: str) -> str:
    return "".join(
        ch for ch in unicodedata.normalize("NFKD", word) if not unicodedata.combining(ch)
    )


def _table_word(word: str) -> str | None:
    for form in dict.fromkeys((word, _ascii(word))):
        if form in _TERMS:
            return _TERMS[form]
        if form in _FUNCTION_WORDS:
            return _FUNCTION_WORDS[form]
    return None


def reads_as_german(words: list[str], known: frozenset[str], english: frozenset[str]) -> bool:
    """Whether a request's words are German: German words outnumber English markers.

    A German word carries an umlaut or ß, or is one of the tables' words that is no English
    word ("schuldet", "rechnungen"; not "was", "die" or "limit"); names, codes and numbers
    count for neither side.
    """
    german = 0
    markers = 0
    for word in words:
        if word in known or any(ch.isdigit() for ch in word):
            continue
        if word in _ENGLISH_MARKERS:
            markers += 1
        elif any(ch in "äöüß" for ch in word):
            german += 1
        elif _table_word(word) is not None and word not in english:
            german += 1
    return german > markers


def to_english(
    text: str,
    known: frozenset[str],
    english: frozenset[str],
    gloss: Callable[[str], str] | None,
) -> str | None:
    """Return ``text`` read word by word as English, or ``None`` when it is not German.

    Args:
        text: The request as typed.
        known: Words of names (customers, suppliers, products) and categories, kept as typed.
        english: English words (the encoder's vocabulary): a word of a German request that
            is one and no German word of the tables stays as typed ("top", "vs").
        gloss: German → English senses of one word (``memory.lexicon``), or ``None`` when
            no dictionary is installed.

    """
    lowered = text.casefold()
    words = _WORD.findall(lowered)
    if not words:
        return None
    if not reads_as_german(words, known, english):
        return _german_terms(lowered, known, english)
    for phrase, meaning in sorted(_PHRASES.items(), key=lambda item: -len(item[0])):
        lowered = re.sub(rf"(?<!\w){re.escape(phrase)}(?!\w)", meaning, lowered)

    def word(match: re.Match[str]) -> str:
        typed = match.group(0)
        if typed in known or any(ch.isdigit() for ch in typed):
            return typed
        table = _table_word(typed)
        if table is not None:
            return table
        if typed in english:
            return typed
        senses = gloss(typed).split() if gloss is not None else []
        fitting = [sense for sense in dict.fromkeys(senses) if sense in known]
        return " ".join(fitting[:2]) if fitting else typed

    return _WORD.sub(word, lowered)


def _german_terms(lowered: str, known: frozenset[str], english: frozenset[str]) -> str | None:
    """Read the German business words of an English request ("who got the most gutschriften").

    The owner drops German ERP words into English sentences. Only a word of the tables
    that is no English word, no name and unmistakably German (an umlaut,
    or six letters or more: not "re", "bar" or "rein") is read; ``None`` when there is none.
    """
    changed = False

    def word(match: re.Match[str]) -> str:
        nonlocal changed
        typed = match.group(0)
        german = any(ch in "äöüß" for ch in typed) or len(typed) >= 6
        if not german or typed in known or typed in english:
            return typed
        meaning = _table_word(typed)
        if meaning is None:
            return typed
        changed = True
        return meaning

    read = _WORD.sub(word, lowered)
    return read if changed else None


@functools.cache
def _default_gloss() -> Callable[[str], str] | None:
    from memory.lexicon import default_lexicon

    lexicon = default_lexicon()
    return lexicon.gloss if lexicon is not None else None


def dictionary_gloss() -> Callable[[str], str] | None:
    """Return the installed German-English dictionary's gloss function, or ``None``."""
    return _default_gloss()
