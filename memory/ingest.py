"""Split documents into memory-sized chunks: Markdown by headings and blocks, text by paragraphs.

Chunks stay under ``MAX_CHUNK_TOKENS`` MiniLM tokens (the encoder reads at most 256), and
each Markdown chunk starts with its heading path ("Pricing › Tiers: …") so it can be
recalled by what the section is about. Markdown is parsed with markdown-it-py, so headings
inside code blocks and lists are not mistaken for sections.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from memory.items import NewMemory
from memory.store import MemoryStore
from memory.tokens import count_tokens

MAX_CHUNK_TOKENS = 200
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdown"})
TEXT_SUFFIXES = frozenset({".txt", ".text"})
SUPPORTED_SUFFIXES = MARKDOWN_SUFFIXES | TEXT_SUFFIXES

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class ImportFileError(ValueError):
    """A path cannot be imported; the message says why and what is supported."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of a document, ready to be saved as a ``document_chunk`` memory."""

    text: str
    heading: str
    """Heading path of the section (``""`` for text files and text before any heading)."""


def _split_long(text: str, max_tokens: int) -> list[str]:
    """Split one over-long block at sentence ends, then at word boundaries."""
    pieces: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(text):
        candidate = f"{current} {sentence}".strip()
        if count_tokens(candidate) <= max_tokens:
            current = candidate
            continue
        if current:
            pieces.append(current)
        if count_tokens(sentence) <= max_tokens:
            current = sentence
            continue
        current = ""
        for word in sentence.split():
            candidate = f"{current} {word}".strip()
            if current and count_tokens(candidate) > max_tokens:
                pieces.append(current)
                candidate = word
            current = candidate
    if current:
        pieces.append(current)
    return pieces


def _pack(blocks: list[str], heading: str, max_tokens: int) -> list[Chunk]:
    """Merge consecutive blocks of one section into chunks of at most ``max_tokens``."""
    prefix = f"{heading}: " if heading else ""
    budget = max(max_tokens - count_tokens(prefix), 32)
    chunks: list[Chunk] = []
    current: list[str] = []
    used = 0
    for block in blocks:
        for piece in _split_long(block, budget) if count_tokens(block) > budget else [block]:
            tokens = count_tokens(piece)
            if current and used + tokens > budget:
                chunks.append(Chunk(prefix + "\n".join(current), heading))
                current, used = [], 0
            current.append(piece)
            used += tokens
    if current:
        chunks.append(Chunk(prefix + "\n".join(current), heading))
    return chunks


def chunk_markdown(text: str, *, max_tokens: int = MAX_CHUNK_TOKENS) -> list[Chunk]:
    """Split Markdown into chunks: one section per heading, blocks packed within the budget."""
    from markdown_it import MarkdownIt

    lines = text.splitlines()
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    path: list[tuple[int, str]] = []
    sections: list[tuple[str, list[str]]] = [("", [])]
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.type == "heading_open":
            level = int(token.tag[1:])
            title = tokens[index + 1].content.strip()
            path = [(lvl, name) for lvl, name in path if lvl < level] + [(level, title)]
            sections.append((" › ".join(name for _, name in path), []))
            index += 3  # heading_open, inline, heading_close
            continue
        if token.level == 0 and token.map is not None and token.nesting in (0, 1):
            start, end = token.map
            block = "\n".join(lines[start:end]).strip()
            if block:
                sections[-1][1].append(block)
            # Skip to the matching close token: the block's source lines are already taken.
            if token.nesting == 1:
                depth = 1
                while depth and index + 1 < len(tokens):
                    index += 1
                    depth += tokens[index].nesting
        index += 1
    chunks: list[Chunk] = []
    for heading, blocks in sections:
        chunks.extend(_pack(blocks, heading, max_tokens))
    return chunks


def chunk_text(text: str, *, max_tokens: int = MAX_CHUNK_TOKENS) -> list[Chunk]:
    """Split plain text at blank lines and pack the paragraphs within the budget."""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    return _pack([p for p in paragraphs if p], "", max_tokens)


def chunk_file(path: Path, *, max_tokens: int = MAX_CHUNK_TOKENS) -> list[Chunk]:
    """Chunk one Markdown or text file.

    Raises:
        ImportFileError: the file type is unsupported or the file is not UTF-8 text.

    """
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ImportFileError(
            f"{path}: cannot import {suffix or 'files without an extension'}; supported: "
            f"{', '.join(sorted(SUPPORTED_SUFFIXES))}"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ImportFileError(f"{path}: not UTF-8 text; convert it (e.g. iconv -t UTF-8)") from None
    if suffix in MARKDOWN_SUFFIXES:
        return chunk_markdown(text, max_tokens=max_tokens)
    return chunk_text(text, max_tokens=max_tokens)


def files_to_import(path: Path) -> Iterator[Path]:
    """Yield the importable files at ``path``: the file itself, or supported files below a folder.

    Raises:
        ImportFileError: ``path`` does not exist, or is a file of an unsupported type.

    """
    if path.is_file():
        chunk_suffix = path.suffix.lower()
        if chunk_suffix not in SUPPORTED_SUFFIXES:
            raise ImportFileError(
                f"{path}: cannot import {chunk_suffix or 'files without an extension'}; "
                f"supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}"
            )
        yield path
        return
    if not path.is_dir():
        raise ImportFileError(f"{path}: no such file or folder")
    for candidate in sorted(path.rglob("*")):
        hidden = any(part.startswith(".") for part in candidate.relative_to(path).parts)
        if candidate.is_file() and not hidden and candidate.suffix.lower() in SUPPORTED_SUFFIXES:
            yield candidate


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """The chunks of every file to import, known before anything is saved (for progress)."""

    files: dict[Path, list[Chunk]]

    @property
    def total(self) -> int:
        """Number of chunks over all files."""
        return sum(len(chunks) for chunks in self.files.values())


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did."""

    files: int
    chunks: int
    created: int
    existing: int
    """Chunks already stored from an earlier import (not stored again)."""
    removed: int
    """Chunks of an earlier import of the same file that are no longer in it."""


def plan_import(path: Path, *, max_tokens: int = MAX_CHUNK_TOKENS) -> ImportPlan:
    """Chunk every importable file at ``path`` (see ``files_to_import``)."""
    return ImportPlan(
        {file.resolve(): chunk_file(file, max_tokens=max_tokens) for file in files_to_import(path)}
    )


def import_documents(
    store: MemoryStore,
    project: str,
    plan: ImportPlan,
    *,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Save the chunks of ``plan`` as ``document_chunk`` memories of ``project``.

    Each chunk's source is its file's absolute path. Re-importing a file stores nothing
    twice (chunk ids are content hashes) and deletes that file's chunks that are gone.
    """
    created = existing = removed = 0
    for file, chunks in plan.files.items():
        source = str(file)
        memories = [NewMemory(text=c.text, kind="document_chunk", source=source) for c in chunks]
        results = store.save_many(project, memories, progress=progress) if memories else []
        created += sum(r.status == "created" for r in results)
        existing += sum(r.status == "existing" for r in results)
        removed += store.forget_source(project, source, keep={r.item.id for r in results})
    return ImportReport(
        files=len(plan.files),
        chunks=plan.total,
        created=created,
        existing=existing,
        removed=removed,
    )
