"""Language tools: detect the language of a text (lingua, offline)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from langchain_core.tools import BaseTool, ToolException, tool
from pydantic import BaseModel, Field

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
    return LanguageDetectorBuilder.from_languages(*languages).with_minimum_relative_distance(0.05).build()


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

TOOLS: list[BaseTool] = [detect_language]
