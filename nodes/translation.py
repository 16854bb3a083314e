"""Glossary-safe translation: detect, mask, chunk, translate, reassemble, unmask, check.

One implementation serves the translation subgraph (``graphs/translation.py``, which runs
the chunks as parallel ``Send`` tasks) and pipeline steps that use the ``translator``
agent (``translate_text``, which runs the chunks in a thread pool).

A model only ever sees masked text: protected spans (codes, numbers, placeholders, URLs,
protected terms, glossary terms) are tokens ``⟦n⟧`` that are restored afterwards, and the
``glossary_preserved``, ``negation_preserved`` and ``target_language`` checks verify the
result.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from nodes.checks import CheckResult, glossary_preserved, negation_preserved, target_language
from nova.glossary import Glossary, MaskedText, Unmasked, mask, strip_protected, unmask
from tools.language import DetectedLanguage, detect, language_name

DEFAULT_CHUNK_CHARS = 1200
"""Longest chunk sent to the model in one call, in characters of masked text."""

TRANSLATION_RULES = (
    "Translate the user's text from {source} into {target}.\n"
    "Tokens such as ⟦1⟧ stand for protected content (product codes, numbers, placeholders, "
    "links, approved glossary terms): copy every token exactly once, unchanged, to where it "
    "belongs in the translation. Keep line breaks, lists and markdown. "
    "Output only the translation."
)

ADVISORY_CHECKS = frozenset({"negation_preserved"})
"""Checks shown to the reader but not enforced where a failure stops work (a pipeline step):
a negation word count misreads some free translations ("ohne Aufpreis" → "free shipping");
``nova eval translation`` measures how often."""

_PARAGRAPH_BREAK = re.compile(r"(\n[ \t]*\n\s*)")


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of the masked text, with the whitespace that followed it in the source."""

    index: int
    text: str
    separator: str = ""


def _sentences(text: str, language: str) -> list[str]:
    from sentencex import segment

    # sentencex keeps each sentence's trailing whitespace, so the pieces rejoin exactly.
    pieces = [piece for piece in segment(language, text) if piece]
    return pieces if "".join(pieces) == text else [text]


def _hard_split(text: str, limit: int) -> list[str]:
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind(" ", 0, limit)
        cut = cut + 1 if cut > 0 else limit
        # Never cut through a mask token.
        open_at = text.rfind("⟦", 0, cut)
        if open_at > text.rfind("⟧", 0, cut) and open_at > 0:
            cut = open_at
        pieces.append(text[:cut])
        text = text[cut:]
    return [*pieces, text] if text else pieces


def chunk_text(
    text: str, *, max_chars: int = DEFAULT_CHUNK_CHARS, language: str = "en"
) -> list[Chunk]:
    """Cut ``text`` into chunks of at most ``max_chars`` at paragraph, then sentence, boundaries.

    Joining ``chunk.text + chunk.separator`` over the chunks gives back ``text`` exactly.
    A sentence longer than ``max_chars`` is cut at a space (never inside a mask token).
    """
    if max_chars < 20:
        raise ValueError(f"max_chars must be at least 20, got {max_chars}")
    parts = _PARAGRAPH_BREAK.split(text)
    # (piece, separator) pairs: paragraphs with the blank lines that follow them.
    units: list[tuple[str, str]] = []
    for i in range(0, len(parts), 2):
        paragraph, separator = parts[i], parts[i + 1] if i + 1 < len(parts) else ""
        if len(paragraph) <= max_chars:
            units.append((paragraph, separator))
            continue
        pieces = [
            small
            for sentence in _sentences(paragraph, language)
            for small in _hard_split(sentence, max_chars)
        ]
        units += [(piece, "") for piece in pieces[:-1]]
        units.append((pieces[-1], separator))
    chunks: list[Chunk] = []
    current, current_sep = "", ""
    for piece, separator in units:
        if current and len(current) + len(current_sep) + len(piece) > max_chars:
            chunks.append(Chunk(len(chunks), current, current_sep))
            current, current_sep = piece, separator
        else:
            current, current_sep = current + current_sep + piece, separator
    if current or current_sep or not chunks:
        chunks.append(Chunk(len(chunks), current, current_sep))
    # Whitespace at a chunk's edges is not the model's to keep: move it into the separators.
    tidy: list[Chunk] = []
    for chunk in chunks:
        body = chunk.text.strip()
        lead = chunk.text[: len(chunk.text) - len(chunk.text.lstrip())]
        trail = chunk.text[len(chunk.text.rstrip()) :] if body else ""
        if lead and tidy:
            tidy[-1] = replace(tidy[-1], separator=tidy[-1].separator + lead)
        elif lead:
            tidy.append(Chunk(0, "", lead))
        tidy.append(Chunk(len(tidy), body, trail + chunk.separator))
    return tidy


def reassemble(chunks: Sequence[Chunk], translated: Mapping[int, str]) -> str:
    """Join translated chunks in source order with the source's separators."""
    return "".join(
        (translated[chunk.index].strip() if chunk.text else "") + chunk.separator
        for chunk in chunks
    )


@dataclass(frozen=True, slots=True)
class TranslationJob:
    """Everything prepared before a model is called: languages, masked text and chunks."""

    source_text: str
    source: DetectedLanguage | None
    target: str
    glossary: Glossary
    masked: MaskedText
    chunks: tuple[Chunk, ...]

    @property
    def source_code(self) -> str | None:
        """ISO code of the detected source language, if detected."""
        return self.source.code if self.source else None

    def prompt(self, base_prompt: str = "") -> str:
        """Return the system prompt for this job's chunks (the agent's prompt plus the rules)."""
        rules = TRANSLATION_RULES.format(
            source=self.source.language if self.source else "the source language",
            target=language_name(self.target),
        )
        return f"{base_prompt.strip()}\n\n{rules}".strip()


def detect_source(text: str, glossary: Glossary | None = None) -> DetectedLanguage | None:
    """Detect the language of ``text``'s prose.

    Codes, URLs, placeholders and protected terms are left out: a German URL in an English
    sentence must not tip the balance.
    """
    prose = strip_protected(text, glossary)
    return detect(prose) if prose else None


def prepare_translation(
    text: str,
    target: str,
    glossary: Glossary | None = None,
    *,
    source: DetectedLanguage | None = None,
    max_chars: int = DEFAULT_CHUNK_CHARS,
) -> TranslationJob:
    """Detect the source language (unless given), mask protected spans and chunk the text."""
    glossary = glossary or Glossary()
    source = source or detect_source(text, glossary)
    code = source.code if source else None
    masked = mask(text, glossary, target=target, source=code)
    chunks = chunk_text(masked.text, max_chars=max_chars, language=code or "en")
    return TranslationJob(text, source, target, glossary, masked, tuple(chunks))


def translate_chunk(model: BaseChatModel, system_prompt: str, chunk_text_: str) -> str:
    """Ask ``model`` to translate one masked chunk; return its text."""
    reply = model.invoke([SystemMessage(system_prompt), HumanMessage(chunk_text_)])
    if not isinstance(reply, AIMessage):
        raise TypeError(f"The model returned {type(reply).__name__}, not an AIMessage")
    content = reply.content
    return (
        content
        if isinstance(content, str)
        else "".join(
            block if isinstance(block, str) else str(block.get("text", "")) for block in content
        )
    )


@dataclass(frozen=True, slots=True)
class TranslationOutcome:
    """A finished translation with the checks it passed or failed."""

    job: TranslationJob
    text: str
    unmasked: Unmasked
    checks: tuple[CheckResult, ...] = field(default=())

    @property
    def passed(self) -> bool:
        """Whether every check passed."""
        return all(check.passed for check in self.checks)


def check_translation(job: TranslationJob, unmasked: Unmasked) -> tuple[CheckResult, ...]:
    """Run the translation checks: tokens restored, glossary and negation preserved, language."""
    restored = CheckResult(
        "tokens_restored",
        unmasked.complete,
        "every protected span restored"
        if unmasked.complete
        else "; ".join(
            part
            for part in (
                f"lost {[s.text for s in unmasked.missing]}" if unmasked.missing else "",
                f"invented {list(unmasked.unknown)}" if unmasked.unknown else "",
                f"repeated {[s.text for s in unmasked.repeated]}" if unmasked.repeated else "",
            )
            if part
        ),
    )
    return (
        restored,
        glossary_preserved(
            job.source_text,
            unmasked.text,
            job.glossary,
            target=job.target,
            source_language=job.source_code,
        ),
        negation_preserved(
            job.source_text,
            unmasked.text,
            job.glossary,
            source_language=job.source_code,
            target=job.target,
        ),
        target_language(unmasked.text, job.target, job.glossary),
    )


def finish_translation(job: TranslationJob, translated: Mapping[int, str]) -> TranslationOutcome:
    """Reassemble translated chunks, restore protected spans and run the checks."""
    unmasked = unmask(reassemble(job.chunks, translated), job.masked)
    return TranslationOutcome(job, unmasked.text, unmasked, check_translation(job, unmasked))


def translate_text(
    text: str,
    target: str,
    model: BaseChatModel,
    *,
    glossary: Glossary | None = None,
    base_prompt: str = "",
    max_chars: int = DEFAULT_CHUNK_CHARS,
    max_workers: int = 4,
) -> TranslationOutcome:
    """Translate ``text`` into ``target`` with ``model``, keeping protected spans intact.

    Chunks are translated in parallel (at most ``max_workers`` model calls at once) and
    reassembled in order.
    """
    job = prepare_translation(text, target, glossary, max_chars=max_chars)
    system_prompt = job.prompt(base_prompt)
    todo = [chunk for chunk in job.chunks if chunk.text]
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(todo) or 1))) as pool:
        results = list(pool.map(lambda c: translate_chunk(model, system_prompt, c.text), todo))
    return finish_translation(
        job, {chunk.index: result for chunk, result in zip(todo, results, strict=True)}
    )
