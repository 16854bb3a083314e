"""Language tools: detect a text's language (lingua, offline) and read translation requests.

``parse_target_languages`` reads the target language(s) from a request in English, German,
French or Spanish phrasing ("into German", "auf Deutsch", "ins Englische", "en français",
"to fr", "-> de", "French version"); ``split_request`` separates the instruction from the
text to translate (quoted, after a colon, or below the first line).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from langchain_core.tools import BaseTool, ToolException, tool
from pydantic import BaseModel, Field

from nova.provenance import declare_trusted

if TYPE_CHECKING:
    from lingua import LanguageDetector

SUPPORTED_LANGUAGES = (
    "ENGLISH", "GERMAN", "FRENCH", "SPANISH", "ITALIAN", "DUTCH", "POLISH", "PORTUGUESE",
    "CZECH", "DANISH", "SWEDISH", "UKRAINIAN", "RUSSIAN", "TURKISH",
)  # fmt: skip
"""Languages Nova detects; a closed set keeps lingua's start-up small and its answers sharper."""


@functools.cache
def language_detector() -> LanguageDetector:
    """Return the process-wide lingua detector for ``SUPPORTED_LANGUAGES``."""
    from lingua import Language, LanguageDetectorBuilder

    languages = [getattr(Language, name) for name in SUPPORTED_LANGUAGES]
    return (
        LanguageDetectorBuilder.from_languages(*languages)
        .with_minimum_relative_distance(0.05)
        .build()
    )


class DetectedLanguage(BaseModel):
    """A detected language with its ISO 639-1 code and confidence."""

    language: str
    code: str
    confidence: float


def detect(text: str) -> DetectedLanguage | None:
    """Detect the language of ``text``; ``None`` when it is too short or too mixed to tell."""
    detector = language_detector()
    language = detector.detect_language_of(text)
    if language is None:
        return None
    confidence = detector.compute_language_confidence(text, language)
    return DetectedLanguage(
        language=language.name.title(),
        code=language.iso_code_639_1.name.lower(),
        confidence=round(confidence, 3),
    )


class DetectLanguageArgs(BaseModel):
    """Arguments of ``detect_language``."""

    text: str = Field(min_length=1, max_length=20_000, description="Text whose language to detect")


@tool("detect_language", args_schema=DetectLanguageArgs)
def detect_language(text: str) -> str:
    """Detect the language of a text; returns the language name, ISO code and confidence."""
    found = detect(text)
    if found is None:
        raise ToolException(
            "Could not tell the language: the text is too short or mixes languages; "
            "ask the user which language it is"
        )
    return found.model_dump_json()


detect_language.handle_tool_error = True


LANGUAGE_NAMES: dict[str, tuple[str, ...]] = {
    "en": ("english", "englisch", "englische", "englischen", "anglais", "inglés", "ingles",
           "inglese", "engels", "angielski"),
    "de": ("german", "deutsch", "deutsche", "deutschen", "allemand", "alemán", "aleman",
           "tedesco", "duits", "niemiecki"),
    "fr": ("french", "französisch", "französische", "französischen", "franzoesisch",
           "français", "francais", "francés", "frances", "francese", "frans", "francuski"),
    "es": ("spanish", "spanisch", "spanische", "spanischen", "espagnol", "español", "espanol",
           "spagnolo", "spaans", "hiszpański"),
    "it": ("italian", "italienisch", "italienische", "italienischen", "italien", "italiano",
           "italiaans", "włoski"),
    "nl": ("dutch", "niederländisch", "niederländische", "niederländischen", "holländisch",
           "holländische", "néerlandais", "neerlandais", "neerlandés", "olandese", "nederlands",
           "holenderski", "flemish"),
    "pl": ("polish", "polnisch", "polnische", "polnischen", "polonais", "polaco", "polacco",
           "pools", "polski"),
    "pt": ("portuguese", "portugiesisch", "portugiesische", "portugais", "portugués",
           "portoghese", "português"),
    "cs": ("czech", "tschechisch", "tschechische", "tchèque", "checo", "ceco"),
    "da": ("danish", "dänisch", "dänische", "danois", "danés", "dansk"),
    "sv": ("swedish", "schwedisch", "schwedische", "suédois", "sueco", "svenska"),
    "uk": ("ukrainian", "ukrainisch", "ukrainische", "ukrainien", "ucraniano"),
    "ru": ("russian", "russisch", "russische", "russe", "ruso", "russo"),
    "tr": ("turkish", "türkisch", "türkische", "turc", "turco", "türkçe"),
}  # fmt: skip
"""Names (in English, German, French, Spanish, Italian, Dutch, Polish) of each language Nova
translates, by ISO 639-1 code."""

_NAME_TO_CODE = {name: code for code, names in LANGUAGE_NAMES.items() for name in names}
_NAME = "|".join(sorted((re.escape(n) for n in _NAME_TO_CODE), key=len, reverse=True))
_CODE = "|".join(LANGUAGE_NAMES)
_JOIN = r"\s*(?:,|\band\b|\bund\b|\bet\b|\by\b|\be\b|&|/|\+)\s*"
_LIST = rf"(?:{_NAME})(?:{_JOIN}(?:{_NAME}))*"
# "into/to/ins/auf/en/nach/al" point at the target; "in" is weaker ("written in French").
_STRONG = re.compile(
    rf"(?:\b(?:into|to|ins|auf|nach|en|al|a|na|naar)\s+(?:the\s+|das\s+|die\s+|le\s+)?|->\s*|→\s*)"
    rf"(?P<names>{_LIST})\b",
    re.IGNORECASE,
)
_WEAK = re.compile(rf"\b(?:in|auf)\s+(?P<names>{_LIST})\b", re.IGNORECASE)
_VERSION = re.compile(
    rf"\b(?P<names>{_LIST})\s+(?:versions?|translations?|übersetzung(?:en)?|fassung(?:en)?|texts?)\b",
    re.IGNORECASE,
)
# ISO codes only after an arrow or "to/into/nach"; "it" only in capitals ("to it" is English).
_ISO = re.compile(
    rf"(?:\b(?:into|to|nach)\s+|->\s*|→\s*)(?P<code>{_CODE})\b(?![-'’])", re.IGNORECASE
)
_FROM = re.compile(
    rf"\b(?:from|aus|vom|von|de)\s+(?:the\s+|dem\s+)?(?P<names>{_LIST})\b", re.IGNORECASE
)


def language_code(name: str) -> str | None:
    """Return the ISO 639-1 code of a language name or code (``Deutsch``, ``fr``), else ``None``."""
    key = name.strip().casefold()
    if key in LANGUAGE_NAMES:
        return key
    return _NAME_TO_CODE.get(key)


def language_name(code: str) -> str:
    """Return the English name of language ``code`` (``de`` -> ``German``)."""
    names = LANGUAGE_NAMES.get(code.lower())
    return names[0].title() if names else code


def _codes_in(names: str) -> list[str]:
    return [_NAME_TO_CODE[m.group(0).casefold()] for m in re.finditer(_NAME, names, re.IGNORECASE)]


def parse_target_languages(instruction: str) -> list[str]:
    """Return the target language codes a request asks for, in the order named.

    Source languages ("from Dutch", "aus dem Polnischen") are not targets. A weak "in
    French" counts only when no stronger phrasing ("into", "auf", "ins", "->") names one.
    """
    sources = {code for m in _FROM.finditer(instruction) for code in _codes_in(m.group("names"))}
    found: list[tuple[int, str]] = []
    for pattern in (_STRONG, _VERSION):
        for match in pattern.finditer(instruction):
            found += [(match.start(), code) for code in _codes_in(match.group("names"))]
    for match in _ISO.finditer(instruction):
        code = match.group("code")
        if code.lower() == "it" and code != "IT":
            continue
        found.append((match.start(), code.lower()))
    if not found:
        found = [
            (match.start(), code)
            for match in _WEAK.finditer(instruction)
            for code in _codes_in(match.group("names"))
        ]
    ordered: list[str] = []
    for _, code in sorted(found):
        if code not in ordered and not (code in sources and len(found) > 1):
            ordered.append(code)
    return ordered


def named_languages(fragment: str) -> list[str]:
    """Return the codes of the languages a short follow-up names by themselves ("now polish").

    Only for a turn that continues a translation: there a bare language name can only be the
    next target; in a request of its own "polish" may well be the verb.
    """
    return list(dict.fromkeys(_codes_in(fragment)))


def parse_target_language(instruction: str) -> str | None:
    """Return the first target language code a request names, or ``None``."""
    codes = parse_target_languages(instruction)
    return codes[0] if codes else None


def default_target(source_code: str | None) -> str:
    """Return the default target: German goes into English, anything else into German."""
    return "en" if source_code == "de" else "de"


_QUOTES = (
    re.compile(r"“([^”]+)”"),
    re.compile(r"„([^“”]+)[“”]"),
    re.compile(r"«\s*([^»]+?)\s*»"),
    re.compile(r'"([^"]+)"'),
    re.compile(r"(?<!\w)'([^']+?\s[^']+?)'(?!\w)"),
)
_COLON = re.compile(r":[ \t]*(?:\r?\n)?(?=\S)")


@dataclass(frozen=True, slots=True)
class SplitRequest:
    """A request cut into the instruction and the text it is about."""

    instruction: str
    text: str | None
    """The text to work on, or ``None`` when the request carries none."""


def split_request(request: str) -> SplitRequest:
    """Separate the instruction from the text to translate.

    The text is, in this order: the longest quoted passage ("…", “…”, „…“, «…»); what
    follows the first colon; what follows the first line. A request with none of these
    carries no text (``text`` is ``None``).
    """
    request = request.strip()
    quoted = [m for pattern in _QUOTES for m in pattern.finditer(request)]
    if quoted:
        best = max(quoted, key=lambda m: len(m.group(1)))
        instruction = (request[: best.start()] + " " + request[best.end() :]).strip()
        return SplitRequest(instruction, best.group(1).strip())
    colon = _COLON.search(request)
    if colon and colon.start() <= 200 and not request[colon.start() :].startswith("://"):
        text = request[colon.end() :].strip()
        if text:
            return SplitRequest(request[: colon.start()].strip(), text)
    first, _, rest = request.partition("\n")
    if rest.strip():
        return SplitRequest(first.strip(), rest.strip())
    return SplitRequest(request, None)


TOOLS: list[BaseTool] = [declare_trusted(detect_language)]
