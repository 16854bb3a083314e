"""German → English glosses for memory texts, so English questions find German words.

The owner asks in English ("which joinery asked for …") about memories that name the
thing in German ("Ebert Tischlerei asked for …"). The bundled MiniLM is English-only and
does not bridge the two, and no multilingual encoder installs offline. What does install
offline is a bilingual dictionary: Debian's ``trans-de-en`` package (the TU Chemnitz
"Ding" dictionary, about 300,000 German headwords; ``make install`` installs it where
``apt-get`` exists). ``memory.lexical`` appends each memory's glosses to the text it
indexes for BM25 (never to the stored text or its embedding), so "joinery" matches the
``Tischlerei`` memory through the gloss "carpentry woodwork joinery …".

What is glossed: every word of a memory that is not an English word (not in the
dictionary's English side, so "Winter", "Stein" or "Consulting" stay as they are) and is
a German headword, or a compound of two headwords (``Fahrradwerkstatt`` = Fahrrad +
Werkstatt, with the linking ``s``/``n``/``es``/``en``/``e``/``er`` of ``Versicherungs-``
dropped), or a headword with a short ending (``Dachdeckerei`` = Dachdecker + ``ei``).
A gloss is the English words of the headword's first senses (``GLOSS_WORDS`` at most).

The sentence encoder gets the glosses too, shorter: ``MemoryStore`` embeds each memory as
``Lexicon.note`` writes it, its text followed by the first English word of each German
word's gloss in brackets ("Ebert Tischlerei asked for … (carpentry)"). BM25 alone could
not lift the right sibling among near-identical memories (the same sentence for another
company), since its share of the fused score is small; the embedding now knows the trade.

The dictionary is read once into a SQLite file beside the encoder's cache (about 15 s
on two cores, once per dictionary version; 25 MB); lookups are cached in memory. Without
the dictionary, ``default_lexicon`` returns ``None`` and recall works as before, English
words only.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

logger = logging.getLogger(__name__)

DING_FILE = Path("/usr/share/trans/de-en")
"""Debian's ``trans-de-en``: ``German senses :: English senses`` lines, senses split by ``|``."""
GLOSS_WORDS = 8
"""Most English words kept per German headword (its first senses come first)."""
NOTE_WORDS = 1
"""English words per German word in ``Lexicon.note`` (the encoder's gloss).

Chosen on the memory eval's dev split (blind paraphrases that share no name or code with
their target, recall@5 of the shipped hybrid search): 1 word 0.888, 2 words 0.866,
3 words 0.864, 5 words 0.849, 8 words 0.844, none 0.825 (0.895 with one word once names
keep only their last glossed word, see ``note``). Later words of a gloss are
rarer senses ("Malerbetrieb": painter, then pictor, easel, commission …) that pull the
sentence's embedding away from what the memory is about."""
MIN_PART = 3
"""Shortest compound part looked up."""
_LINKS = ("s", "es", "n", "en", "e", "er")
"""German linking elements between compound parts (Versicherung·s·makler)."""
_MAX_ENDING = 3
"""Longest ending dropped from a word whose stem is a headword (Dachdecker·ei, Gravur·en)."""
_SCHEMA_VERSION = "1"

_ANNOTATION = re.compile(r"\{[^}]*\}|\[[^\]]*\]|\([^)]*\)|<[^>]*>|/[^/]*/")
_ENGLISH_WORD = re.compile(r"[a-z]{2,}")
_TEXT_WORD = re.compile(r"[^\W\d_]{3,}")
_ANY_WORD = re.compile(r"[^\W\d_]+")
_STOP = frozenset("a an and as at be by for from in into of on or sb sth so the to with".split())
"""Function words and the dictionary's own placeholders (``sb``/``sth``), never glosses."""


def _senses(line: str) -> Iterator[tuple[list[str], list[str]]]:
    """Yield ``(German words, English words)`` for each sense of a dictionary line."""
    german, english = line.rstrip("\n").split(" :: ", 1)
    german_senses, english_senses = german.split(" | "), english.split(" | ")
    if len(german_senses) != len(english_senses):
        return
    for de, en in zip(german_senses, english_senses, strict=True):
        words = [
            word
            for word in _ENGLISH_WORD.findall(_ANNOTATION.sub("", en).lower())
            if word not in _STOP
        ]
        heads = [_ANNOTATION.sub("", term).strip().lower() for term in de.split(";")]
        yield [head for head in heads if len(head) >= MIN_PART and " " not in head], words


def _build(source: Path, target: Path) -> None:
    """Read ``source`` (Ding format) into ``target``: glosses and the English vocabulary."""
    glosses: dict[str, list[str]] = {}
    english: set[str] = set()
    with source.open(encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("#") or " :: " not in line:
                continue
            for heads, words in _senses(line):
                english.update(words)
                for head in heads:
                    gloss = glosses.setdefault(head, [])
                    if len(gloss) < GLOSS_WORDS:
                        gloss.extend(w for w in dict.fromkeys(words) if w not in gloss)
                        del gloss[GLOSS_WORDS:]
    # A private name, then an atomic rename: two processes building at once both succeed.
    partial = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    partial.unlink(missing_ok=True)
    with sqlite3.connect(partial) as db:
        db.execute("CREATE TABLE gloss (word TEXT PRIMARY KEY, english TEXT NOT NULL)")
        db.execute("CREATE TABLE english (word TEXT PRIMARY KEY)")
        db.executemany(
            "INSERT INTO gloss VALUES (?, ?)", ((w, " ".join(g)) for w, g in glosses.items())
        )
        db.executemany("INSERT INTO english VALUES (?)", ((w,) for w in english))
    partial.replace(target)


class Lexicon:
    """German → English glosses from a Ding-format dictionary, cached in SQLite."""

    def __init__(self, source: Path, cache_dir: Path) -> None:
        """Open the cache of ``source`` in ``cache_dir``, building it first if need be.

        Raises:
            OSError: ``source`` cannot be read or the cache cannot be written.

        """
        stat = source.stat()
        cache_dir.mkdir(parents=True, exist_ok=True)
        target = cache_dir / f"de-en-{_SCHEMA_VERSION}-{stat.st_size}-{int(stat.st_mtime)}.sqlite"
        if not target.exists():
            logger.info("Reading the German-English dictionary %s into %s", source, target)
            _build(source, target)
        self._db = sqlite3.connect(f"file:{target}?mode=ro", uri=True, check_same_thread=False)
        self._lock = threading.Lock()

    def _gloss(self, word: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT english FROM gloss WHERE word = ?", (word,)).fetchone()
        return row[0] if row else None

    def is_english(self, word: str) -> bool:
        """Whether ``word`` (lower case) is a word of the dictionary's English side."""
        with self._lock:
            return bool(
                self._db.execute("SELECT 1 FROM english WHERE word = ?", (word,)).fetchone()
            )

    @functools.lru_cache(maxsize=65536)  # noqa: B019 (one lexicon per process)
    def gloss(self, word: str) -> str:
        """Return English words for a German word (``""`` for an English or unknown word)."""
        word = word.lower()
        if len(word) < MIN_PART or self.is_english(word):
            return ""
        return self._gloss(word) or self._compound(word) or ""

    def _compound(self, word: str) -> str | None:
        """Gloss an unlisted word as modifier + head, or as a headword plus a short ending."""
        for cut in range(MIN_PART, len(word) - MIN_PART + 1):
            head = self._gloss(word[cut:])
            if head is None:
                continue
            modifier = word[:cut]
            for stem in (
                modifier,
                *(modifier[: -len(link)] for link in _LINKS if modifier.endswith(link)),
            ):
                found = len(stem) >= MIN_PART and self._gloss(stem)
                if found:
                    return f"{found} {head}"
        for ending in range(1, _MAX_ENDING + 1):
            gloss = self._gloss(word[:-ending]) if len(word) - ending >= MIN_PART else None
            if gloss:
                return gloss
        return None

    def glosses(self, text: str) -> str:
        """Return the English glosses of ``text``'s German words, space-separated."""
        return " ".join(filter(None, (self.gloss(word) for word in _words(text))))

    def note(self, text: str, words: int = NOTE_WORDS) -> str:
        """Return ``text`` with the first English words of its German words' glosses appended.

        What the sentence encoder reads for a memory: "Albrecht Sanitär GmbH decided to
        cancel …" becomes "… (plumber)", so a question about plumbers comes near it. In a
        run of capitalised words (a name, "Hahn Malerbetrieb GmbH") only the last glossed
        word counts: a name's head comes last, and the words before it are mostly given
        names and surnames that happen to be German words too (Hahn: cock), which would
        pull the embedding towards what the memory is not about. The text comes back
        unchanged when none of its words is glossed.
        """
        notes = []
        for group in _word_groups(text):
            glossed = [gloss for gloss in map(self.gloss, group) if gloss]
            if glossed:
                notes.append(" ".join(glossed[-1].split()[:words]))
        notes = list(dict.fromkeys(notes))
        return f"{text} ({'; '.join(notes)})" if notes else text


def _words(text: str) -> Iterable[str]:
    return dict.fromkeys(_TEXT_WORD.findall(text))


def _word_groups(text: str) -> list[list[str]]:
    """Split ``text`` into its words: runs of capitalised words together, others alone."""
    groups: list[list[str]] = []
    end = -1
    for match in _ANY_WORD.finditer(text):
        word = match.group()
        joined = match.start() > end >= 0 and not text[end : match.start()].strip()
        if word[0].isupper() and joined and groups and groups[-1][-1][0].isupper():
            groups[-1].append(word)
        else:
            groups.append([word])
        end = match.end()
    return groups


_default_lock = threading.Lock()


@functools.cache
def default_lexicon() -> Lexicon | None:
    """Return the lexicon of the installed dictionary (``DING_FILE``), or ``None`` without one."""
    if not DING_FILE.is_file():
        return None
    from nova.settings import get_settings

    with _default_lock:  # recall threads of one process build the cache once
        return _open_default(get_settings().resolved_encoder_cache_dir.parent / "lexicon")


def _open_default(cache_dir: Path) -> Lexicon | None:
    try:
        # Beside the encoder's cache (``<data dir>/cache/lexicon``), which tests share too.
        return Lexicon(DING_FILE, cache_dir)
    except (OSError, sqlite3.Error) as error:
        logger.warning("German-English glosses are off: %s", error)
        return None
