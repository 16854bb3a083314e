"""Read a request's dialogue act: does it ask for information, or ask Nova to act.

"Who is our accountant?" asks for a stored fact; "pay my gym membership fee" asks for an
action. Recall may find a strong memory for both (the gym note matches the second), so
the route node only lets memory answer a request that *asks*. This module reads that from
the request's grammar, not from its topic or from phrases seen in any dataset:

* **Interrogative clauses** (a clause is the text between sentence punctuation or dashes):
  a clause that opens with an interrogative word (*wh*-words and *how*, contracted or not:
  "when's", "whats"), or with an auxiliary or modal verb inverted before its subject
  ("is the invoice paid", "do we have", "can we"), or a request that ends in a question
  mark (a terse "tax prepayment dates?" is a question by its intonation mark).
* **Indirect requests**: a modal question addressed to Nova ("can you…", "could you…",
  "would you…", "will you…") is a polite command (Searle's indirect directive), not a
  question, whatever follows it.

Everything else (an imperative, a statement, a verbless fragment) is ``other``: without a
part-of-speech lexicon an imperative cannot be told from a noun phrase, so neither counts
as asking. The word classes below are closed grammatical classes of English (complete
lists from any grammar), not vocabulary chosen for a dataset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["DialogueAct", "dialogue_act"]

Act = Literal["question", "indirect_request", "other"]

_INTERROGATIVES = frozenset("what which who whom whose when where why how".split())
"""Interrogative pronouns, determiners and adverbs."""

_BE = frozenset("am is are was were".split())
_DO_HAVE = frozenset("do does did have has had".split())
_MODALS = frozenset("can could will would shall should may might must".split())
"""Auxiliaries and modals: a clause opening with one before its subject is inverted."""

_SUBJECT_PRONOUNS = frozenset("i you we they he she it there".split())
"""Subjects that follow an inverted auxiliary ("do we", "did they", "is there")."""

_CONTRACTION = re.compile(r"^(?P<word>[a-z]+?)(?:'?(?:s|re|ll|d|ve|m)|n't)?$")
_CLAUSE_BREAK = re.compile(r"[.!?;:,]+(?=\s|$)|\s[-–—]+\s|\n")
_QUOTED = re.compile(r"(?:(?<=\s)|^)(['\"“‘«„])[^'\"”’»“]*['\"”’»“](?=\W|$)")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


@dataclass(frozen=True, slots=True)
class DialogueAct:
    """What a request does, and the clause that shows it."""

    act: Act
    """``question``, ``indirect_request`` (a polite command) or ``other``."""
    evidence: str
    """Why, in words (recorded in the route decision's reason)."""

    @property
    def asks(self) -> bool:
        """Whether the request asks for information."""
        return self.act == "question"


def _base(word: str) -> str:
    """Return ``word`` without a clitic ("when's" -> "when", "whats" -> "what")."""
    word = word.lower().replace("’", "'")
    match = _CONTRACTION.match(word)
    stem = match.group("word") if match else word
    for candidate in (word, stem):
        if candidate in _INTERROGATIVES or candidate in _BE | _DO_HAVE | _MODALS:
            return candidate
    return word


def _clause_act(words: list[str]) -> tuple[Act, str] | None:
    if not words:
        return None
    first = _base(words[0])
    second = words[1].lower() if len(words) > 1 else ""
    if first in _INTERROGATIVES:
        return "question", f"opens with the interrogative {words[0]!r}"
    if first in _MODALS and second == "you":
        return "indirect_request", f"a modal request addressed to Nova ({words[0]} you …)"
    if first in _BE and len(words) > 1:
        return "question", f"opens with an inverted {words[0]!r}"
    if (first in _DO_HAVE or first in _MODALS) and second in _SUBJECT_PRONOUNS:
        return "question", f"opens with an inverted {words[0]!r} before its subject"
    return None


def dialogue_act(text: str) -> DialogueAct:
    """Read whether ``text`` asks for information (see the module docstring)."""
    # Quoted text is what the request carries (a tweet, a sentence to translate), not its ask.
    text = _QUOTED.sub(" ", text)
    clauses = [c for c in _CLAUSE_BREAK.split(text) if c.strip()]
    for clause in clauses:
        found = _clause_act(_WORD.findall(clause))
        if found is not None:
            act, why = found
            return DialogueAct(act, why)
    if text.rstrip().endswith("?"):
        return DialogueAct("question", "ends with a question mark")
    return DialogueAct("other", "no interrogative clause and no question mark")
