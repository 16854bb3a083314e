"""Protected spans for translation: find them, mask them with tokens, restore them.

A translation must carry some spans through unchanged: product codes (``BRK-2210``),
numbers, formatting placeholders (``{name}``, ``%s``, ``{{var}}``, ``<b>``), URLs, e-mail
addresses and the project's protected glossary terms. Terms with an approved translation
must come out as that translation. Nova replaces every such span with a token (``⟦3⟧``)
before a model sees the text and puts the exact text back afterwards, so a model cannot
alter what it never saw; the ``glossary_preserved`` check then verifies the result.

Glossary matching is whole-word and case-insensitive; an inflected form (``Bremsscheiben``
for ``Bremsscheibe``) is not matched. A protected term ending in ``-`` (``BRK-``) is a
prefix: every word starting with it is protected.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

SpanKind = Literal[
    "url", "email", "tag", "placeholder", "code", "protected_term", "glossary_term", "number"
]

TOKEN_RE = re.compile(r"⟦\s*(\d+)\s*⟧")
"""A mask token as a model should copy it; spaces inside the brackets are tolerated."""


def token(index: int) -> str:
    """Return the mask token for span number ``index`` (1-based)."""
    return f"⟦{index}⟧"


class TermLike(Protocol):
    """Anything shaped like a glossary term (``nova.projects.GlossaryTerm``, ``GlossaryEntry``)."""

    @property
    def term(self) -> str: ...  # noqa: D102

    @property
    def translations(self) -> Mapping[str, str]: ...  # noqa: D102

    @property
    def protected(self) -> bool: ...  # noqa: D102


@dataclass(frozen=True, slots=True)
class GlossaryEntry:
    """One glossary term: protected (never translated) or with approved translations."""

    term: str
    translations: Mapping[str, str] = field(default_factory=dict)
    """Approved translation per ISO 639-1 language code."""
    protected: bool = False
    note: str | None = None
    origin: str = "project"
    """Where the entry comes from: ``project`` (projects file) or ``added`` (glossary_add)."""

    @classmethod
    def of(cls, term: TermLike | Mapping[str, Any]) -> GlossaryEntry:
        """Copy a term-shaped object or its JSON form (``{"term", "translations", ...}``)."""
        if isinstance(term, GlossaryEntry):
            return term
        if isinstance(term, Mapping):
            return cls(
                term=str(term["term"]),
                translations=dict(term.get("translations") or {}),
                protected=bool(term.get("protected", False)),
                note=term.get("note"),
            )
        return cls(
            term=term.term,
            translations=dict(term.translations),
            protected=term.protected,
            note=getattr(term, "note", None),
        )

    @property
    def is_prefix(self) -> bool:
        """Whether the entry protects every word starting with it (``BRK-``)."""
        return self.protected and self.term.endswith(("-", "_"))


@dataclass(frozen=True, slots=True)
class Glossary:
    """A project's glossary: later entries for the same term override earlier ones."""

    entries: tuple[GlossaryEntry, ...] = ()

    @classmethod
    def of(cls, terms: Glossary | Iterable[TermLike | Mapping[str, Any]] | None) -> Glossary:
        """Build a glossary from terms (or return ``terms`` if it already is one)."""
        if terms is None:
            return cls()
        if isinstance(terms, Glossary):
            return terms
        merged: dict[str, GlossaryEntry] = {}
        for term in terms:
            entry = GlossaryEntry.of(term)
            merged[entry.term.casefold()] = entry
        return cls(tuple(merged.values()))

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[GlossaryEntry]:
        return iter(self.entries)

    def approved(self, term: str, language: str) -> str | None:
        """Return the approved ``language`` translation of ``term``, if the glossary has one."""
        for entry in self.entries:
            if entry.term.casefold() == term.casefold():
                return entry.translations.get(language)
        return None


@dataclass(frozen=True, slots=True)
class ProtectedSpan:
    """A span of the source that must reach the translation as ``expected``."""

    start: int
    end: int
    text: str
    kind: SpanKind
    expected: str
    """What the translation must contain: the text itself, or the approved translation."""


@dataclass(frozen=True, slots=True)
class MaskedText:
    """Source text with protected spans replaced by tokens ``⟦1⟧ … ⟦n⟧`` (span i ↔ token i+1)."""

    original: str
    text: str
    spans: tuple[ProtectedSpan, ...]

    @property
    def tokens(self) -> dict[str, ProtectedSpan]:
        """Each token with the span it stands for."""
        return {token(i + 1): span for i, span in enumerate(self.spans)}


@dataclass(frozen=True, slots=True)
class Unmasked:
    """A translation with its tokens restored, and the tokens a model lost or invented."""

    text: str
    missing: tuple[ProtectedSpan, ...]
    unknown: tuple[str, ...]
    repeated: tuple[ProtectedSpan, ...]

    @property
    def complete(self) -> bool:
        """Whether every token came back exactly once and none was invented."""
        return not (self.missing or self.unknown or self.repeated)


_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"'()\[\]]+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*?)?/?>")
_PLACEHOLDERS = (
    re.compile(r"\{\{\s*[^{}]+?\s*\}\}"),  # {{var}} (Jinja, Handlebars)
    re.compile(r"\$\{[^{}\s]+\}"),  # ${var}
    re.compile(r"\{[A-Za-z0-9_.\[\]]*(?:![rsa])?(?::[^{}\s]*)?\}"),  # {name}, {0}, {price:.2f}
    re.compile(r"%\([A-Za-z_]\w*\)[-+0#]*\d*(?:\.\d+)?[sdifeEgGxXoc]"),  # %(name)s
    re.compile(r"(?<![\w%])%(?:\d+\$)?[-+0#]*\d*(?:\.\d+)?[sdifuxXeEgGc@](?![A-Za-z])"),  # %s, %1$s
)
_CODE = re.compile(r"\b(?=[A-Z0-9-]*\d)[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+\b")
_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,:/-]\d+)*(?!\d)")
_TRAILING_PUNCT = ".,;:!?"


def numbers_in(text: str) -> list[str]:
    """Return the numbers in ``text`` as written (``1.234,50``, ``12``, ``2025-03-01``)."""
    return _NUMBER.findall(text)


# Numbers 2 to 12 written as words, per language. "One" is left out: it is the article in
# most of these languages (ein, un, een, uno). So are words with a common second sense:
# Italian "sei" (you are) and French "neuf" (new).
NUMBER_WORDS: Mapping[str, tuple[str, ...]] = {
    "en": ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
           "twelve"),
    "de": ("zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun", "zehn", "elf",
           "zwölf"),
    "fr": ("deux", "trois", "quatre", "cinq", "six", "sept", "huit", "", "dix", "onze",
           "douze"),
    "es": ("dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez", "once",
           "doce"),
    "it": ("due", "tre", "quattro", "cinque", "", "sette", "otto", "nove", "dieci", "undici",
           "dodici"),
    "pt": ("dois|duas", "três", "quatro", "cinco", "seis", "sete", "oito", "nove", "dez",
           "onze", "doze"),
    "nl": ("twee", "drie", "vier", "vijf", "zes", "zeven", "acht", "negen", "tien", "elf",
           "twaalf"),
    "pl": ("dwa|dwie|dwóch|dwoma", "trzy|trzech", "cztery|czterech", "pięć|pięciu",
           "sześć|sześciu", "siedem|siedmiu", "osiem|ośmiu", "dziewięć|dziewięciu",
           "dziesięć|dziesięciu", "jedenaście|jedenastu", "dwanaście|dwunastu"),
}  # fmt: skip
"""Index 0 is the number 2; an empty entry is a number not read in that language."""


def number_words_in(text: str, language: str) -> list[int] | None:
    """Return the numbers 2-12 written as words in ``text`` (``None``: no list for it)."""
    words = NUMBER_WORDS.get(language)
    if words is None:
        return None
    values = {
        form: value
        for value, forms in enumerate(words, start=2)
        for form in forms.split("|")
        if form
    }
    return [values[w] for w in re.findall(r"[^\W\d_]+", text.lower()) if w in values]


def _term_pattern(entry: GlossaryEntry) -> re.Pattern[str]:
    if entry.is_prefix:
        return re.compile(rf"(?<!\w){re.escape(entry.term)}[\w-]+")
    return re.compile(rf"(?<!\w){re.escape(entry.term)}(?!\w)", re.IGNORECASE)


def _approved_for(entry: GlossaryEntry, target: str | None) -> str | None:
    return entry.translations.get(target) if target else None


def _cross_terms(glossary: Glossary, target: str | None, source: str | None) -> list[GlossaryEntry]:
    """Entries whose ``source``-language translation appears in a text going into ``target``.

    ``Rechnungskorrektur`` approved as ``credit note`` (en) and ``facture d'avoir`` (fr): an
    English text saying "credit note" translated into French must say "facture d'avoir".
    """
    if not (target and source) or target == source:
        return []
    return [
        GlossaryEntry(
            term=entry.translations[source], translations={target: entry.translations[target]}
        )
        for entry in glossary.entries
        if source in entry.translations and target in entry.translations and not entry.protected
    ]


def _mapped_terms(
    glossary: Glossary, target: str | None, source: str | None
) -> list[tuple[GlossaryEntry, str]]:
    """Terms with an approved ``target`` translation that differs from them, longest first."""
    mapped = [e for e in glossary.entries if not e.protected and _approved_for(e, target)]
    mapped += _cross_terms(glossary, target, source)
    found = []
    for entry in sorted(mapped, key=lambda e: -len(e.term)):
        approved = _approved_for(entry, target)
        if approved is not None and entry.term.casefold() != approved.casefold():
            found.append((entry, approved))
    return found


def protected_spans(
    text: str,
    glossary: Glossary | Iterable[TermLike] | None = None,
    *,
    target: str | None = None,
    source: str | None = None,
) -> list[ProtectedSpan]:
    """Find every span of ``text`` that a translation into ``target`` must keep or map.

    Spans never overlap; the more specific kind wins (a tag over the URL in it, a URL over
    the number in it).

    Args:
        text: The source text.
        glossary: The project's glossary (protected terms, approved translations).
        target: Target language code; glossary terms map to their approved translation in
            it. Without a target only protected terms are considered.
        source: Source language code; enables mapping approved translations between two
            non-source languages.

    """
    glossary = Glossary.of(glossary)
    found: list[ProtectedSpan] = []
    taken: list[tuple[int, int]] = []

    def add(start: int, end: int, kind: SpanKind, expected: str | None = None) -> None:
        if start >= end or any(start < e and s < end for s, e in taken):
            return
        piece = text[start:end]
        taken.append((start, end))
        found.append(
            ProtectedSpan(start, end, piece, kind, piece if expected is None else expected)
        )

    # Tags first: a link's tag (<a href="https://…">) is one span, URL included.
    for match in _TAG.finditer(text):
        add(match.start(), match.end(), "tag")
    for match in _URL.finditer(text):
        end = match.end()
        while end > match.start() and text[end - 1] in _TRAILING_PUNCT:
            end -= 1
        add(match.start(), end, "url")
    for match in _EMAIL.finditer(text):
        add(match.start(), match.end(), "email")
    for pattern in _PLACEHOLDERS:
        for match in pattern.finditer(text):
            add(match.start(), match.end(), "placeholder")
    # Longer terms first, so "Rheintal ERP" wins over a shorter entry "Rheintal".
    for entry in sorted(glossary.entries, key=lambda e: -len(e.term)):
        if entry.protected:
            for match in _term_pattern(entry).finditer(text):
                add(match.start(), match.end(), "protected_term")
    for match in _CODE.finditer(text):
        add(match.start(), match.end(), "code")
    for entry, approved in _mapped_terms(glossary, target, source):
        for match in _term_pattern(entry).finditer(text):
            add(match.start(), match.end(), "glossary_term", approved)
    for match in _NUMBER.finditer(text):
        add(match.start(), match.end(), "number")
    return sorted(found, key=lambda span: span.start)


_UMLAUTS = str.maketrans("äöü", "aou")
MIN_INFLECTED_TERM = 5
"""Shorter words are not matched inflected: their stem would match unrelated words."""


def _fold(text: str) -> str:
    # Length-preserving (unlike casefold, which turns ß into ss): match offsets stay valid.
    return text.lower().translate(_UMLAUTS)


def _stem(word: str) -> str:
    # Keep the part inflection leaves alone: Konto/Konten, klocek/klocków, Bremsbelag/-beläge.
    word = _fold(word)
    return word if len(word) < 4 else word[: max(3, len(word) - 2)]


def _inflected_pattern(phrase: str) -> re.Pattern[str]:
    """Every word of ``phrase`` by its stem plus up to five letters of ending, in order."""
    words = [re.escape(_stem(word)) + r"\w{0,5}" for word in re.findall(r"[^\W\d_]+", phrase)]
    return re.compile(r"(?<!\w)" + r"[\s'’-]+".join(words) + r"(?!\w)")


def inflected_terms(
    text: str,
    glossary: Glossary | Iterable[TermLike] | None = None,
    *,
    target: str | None = None,
    source: str | None = None,
) -> list[tuple[str, str]]:
    """Glossary terms in ``text`` in a form masking does not match, with their approval.

    ``Bremsscheiben``, ``Lieferscheins`` and ``Kundenkonten`` are not masked (an inflected
    form is left to the model, which must inflect the approved translation too), so the
    check looks for them separately. Returns ``(form in text, approved translation)``.
    """
    glossary = Glossary.of(glossary)
    folded = _fold(text)
    exact = [
        (s.start, s.end) for s in protected_spans(text, glossary, target=target, source=source)
    ]
    found: list[tuple[str, str]] = []
    taken = list(exact)
    for entry, approved in _mapped_terms(glossary, target, source):
        if len(entry.term) < MIN_INFLECTED_TERM:
            continue
        for match in _inflected_pattern(entry.term).finditer(folded):
            if any(match.start() < e and s < match.end() for s, e in taken):
                continue
            taken.append(match.span())
            found.append((text[match.start() : match.end()], approved))
    return found


def inflected_count(text: str, phrase: str) -> int:
    """How often ``phrase`` occurs in ``text`` in any inflected form (``brake discs``)."""
    return len(_inflected_pattern(phrase).findall(_fold(text)))


def mask(
    text: str,
    glossary: Glossary | Iterable[TermLike] | None = None,
    *,
    target: str | None = None,
    source: str | None = None,
) -> MaskedText:
    """Replace every protected span of ``text`` with a numbered token (see ``protected_spans``)."""
    spans = protected_spans(text, glossary, target=target, source=source)
    parts: list[str] = []
    cursor = 0
    for index, span in enumerate(spans, start=1):
        parts.append(text[cursor : span.start])
        parts.append(token(index))
        cursor = span.end
    parts.append(text[cursor:])
    return MaskedText(original=text, text="".join(parts), spans=tuple(spans))


_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+|\n\s*)$")


def unmask(translation: str, masked: MaskedText) -> Unmasked:
    """Put the protected spans back into a translation of ``masked.text``.

    An approved translation that starts a sentence gets a capital first letter.
    """
    seen: dict[int, int] = {}
    unknown: list[str] = []

    def restore(match: re.Match[str]) -> str:
        index = int(match.group(1))
        if not 1 <= index <= len(masked.spans):
            unknown.append(match.group(0))
            return match.group(0)
        seen[index] = seen.get(index, 0) + 1
        span = masked.spans[index - 1]
        value = span.expected
        if span.kind == "glossary_term" and _SENTENCE_START.search(translation[: match.start()]):
            value = value[:1].upper() + value[1:]
        return value

    text = TOKEN_RE.sub(restore, translation)
    missing = tuple(span for i, span in enumerate(masked.spans, start=1) if i not in seen)
    repeated = tuple(masked.spans[i - 1] for i, count in seen.items() if count > 1)
    return Unmasked(text=text, missing=missing, unknown=tuple(unknown), repeated=repeated)


def strip_protected(text: str, glossary: Glossary | Iterable[TermLike] | None = None) -> str:
    """Return ``text`` without its protected spans (for language detection of the prose)."""
    spans = protected_spans(text, glossary)
    parts: list[str] = []
    cursor = 0
    for span in spans:
        parts.append(text[cursor : span.start])
        parts.append(" ")
        cursor = span.end
    parts.append(text[cursor:])
    return re.sub(r"\s+", " ", "".join(parts)).strip()
