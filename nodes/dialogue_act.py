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

* **Information requests phrased as imperatives**: a clause that opens with an open-class
  word (an imperative verb: no pronoun, determiner, preposition, conjunction, auxiliary
  or interrogative) whose object is information, read from the object's form:

  - an embedded question: "tell me which invoices are overdue", "remind me what we
    decided", "check whether it was paid", "explain how the fee works" (the verb, the
    speaker as indirect object "me"/"us", then an interrogative, *whether* or *if*; with no
    indirect object only *which*, *whether*, *how* and *why*, which open no free relative
    clause: "pay what we owe" names a thing to act on, not a question);
  - the topic of a telling: "remind me of our reminder policy", "tell us about the
    returns rule" (the speaker, then *of*/*about*);
  - something the speaker and Nova already hold: "show me our credit limits" (the
    speaker, then a possessive *our*/*my*: a thing that exists, not one to be made, as
    "draft me a letter" would be).

  These are ``information_request``: not questions, but they seek information
  (``DialogueAct.seeks_information``): the memory route answers them from memory as it
  answers questions ("remind me how long customers have to send parts back"), and a blame
  detector can tell them from requests to act.

* **Verbless fragments**: a short request (at most ``MAX_FRAGMENT_WORDS`` words, one
  clause) in which no word can be a verb by itself and whose first content word cannot be
  a verb at all ("accountant email", "nordwind phone no") is a terse lookup, ``fragment``.
  The lexicon is lemminflect's (every English word's possible parts of speech), so
  "email the accountant" (a verb first) stays an imperative. A fragment may be answered
  from memory (``asks``) but is not counted as seeking information for blame: "weekly
  sales report" is also a fragment, and there it names a job to run; the route node only
  lets memory take one that memory answers better than the classifier's pick.

Everything else (an imperative, a statement) is ``other``. The word classes below are
closed grammatical classes of English (complete lists from any grammar), not vocabulary
chosen for a dataset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["DialogueAct", "carries_content", "dialogue_act", "function_word", "only_asks"]

Act = Literal["question", "indirect_request", "information_request", "fragment", "other"]

MAX_FRAGMENT_WORDS = 5
"""Longer verbless requests are rare; past this a missing verb is more likely a typo."""

_INTERROGATIVES = frozenset("what which who whom whose when where why how".split())
"""Interrogative pronouns, determiners and adverbs."""

_BE = frozenset("am is are was were".split())
_DO_HAVE = frozenset("do does did have has had".split())
_MODALS = frozenset("can could will would shall should may might must".split())
"""Auxiliaries and modals: a clause opening with one before its subject is inverted."""

_SUBJECT_PRONOUNS = frozenset("i you we they he she it there".split())
"""Subjects that follow an inverted auxiliary ("do we", "did they", "is there")."""

_SPEAKER_OBJECTS = frozenset("me us".split())
"""The speaker as indirect object of an imperative ("tell me", "show us")."""
_NON_RELATIVE_WH = frozenset("which whether how why".split())
"""Words that open an embedded question but no free relative ("pay what we owe")."""
_SPEAKER_WH = _INTERROGATIVES | frozenset({"whether", "if"})
_TOPIC = frozenset("of about".split())
_POSSESSIVES = frozenset("our my".split())
_CLOSED = (
    _INTERROGATIVES
    | _BE
    | _DO_HAVE
    | _MODALS
    | _SUBJECT_PRONOUNS
    | frozenset(
        "me us him her them my our your his its their this that these those the a an some any "
        "each every no all both either neither please "
        "of about to for in on at by with from into onto over under after before since until "
        "and or but nor so yet if whether because although though while as than then".split()
    )
)
"""Closed-class words: a clause opening with one is not an imperative (``please`` is a
politeness marker, read past, not a verb)."""

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
        """Whether memory may answer the request: a question, or a terse verbless lookup."""
        return self.act in ("question", "fragment")

    @property
    def seeks_information(self) -> bool:
        """Whether the request asks for information, as a question or an imperative."""
        return self.act in ("question", "information_request")


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
    return _imperative_for_information(words)


_ASKING = frozenset("asks asked asking wonders wondered wondering".split())
"""Verbs that report a question ("the seller asks when we pay out")."""


def _reported_question(clauses: list[str]) -> DialogueAct | None:
    """Find a question someone else asked, passed on: "neon seller at the fair asks when …".

    Only a request that asks nothing else: a clause opening with a word that can be a verb
    ("draft a reply, he asks when we pay out") is a task about the question, not the question.
    """
    from lemminflect import getAllLemmas

    found: DialogueAct | None = None
    for clause in clauses:
        words = _WORD.findall(clause)
        lowered = [w.lower() for w in words]
        if lowered and lowered[0] not in _CLOSED and "VERB" in getAllLemmas(lowered[0]):
            if not (len(lowered) > 1 and lowered[1] in _ASKING):
                return None  # "draft a reply …" (but "customer asks …" is no command)
        for index, word in enumerate(lowered[:-1]):
            following = _base(lowered[index + 1])
            if word in _ASKING and (following in _INTERROGATIVES or following in ("whether", "if")):
                why = f"passes on a question ({words[index]} {words[index + 1]} …)"
                found = found or DialogueAct("information_request", why)
    return found


def _imperative_for_information(words: list[str]) -> tuple[Act, str] | None:
    lowered = [w.lower() for w in words]
    if lowered and lowered[0] == "please":
        words, lowered = words[1:], lowered[1:]
    if len(lowered) < 3 or lowered[0] in _CLOSED:
        return None
    verb, second, third = words[0], lowered[1], lowered[2]
    if second in _SPEAKER_OBJECTS:
        if third in _SPEAKER_WH:
            why = f"an imperative ({verb} {second} …) whose object asks {third!r}"
        elif third in _TOPIC:
            why = f"an imperative ({verb} {second} {third} …) naming what to tell"
        elif third in _POSSESSIVES:
            why = f"an imperative ({verb} {second} {third} …) for something already held"
        else:
            return None
        return "information_request", why
    if second in _NON_RELATIVE_WH:
        return "information_request", f"an imperative ({verb} {second} …) with an embedded question"
    return None


def dialogue_act(text: str) -> DialogueAct:
    """Read whether ``text`` asks for information (see the module docstring)."""
    # Quoted text is what the request carries (a tweet, a sentence to translate), not its ask.
    text = _QUOTED.sub(" ", text)
    clauses = [c for c in _CLAUSE_BREAK.split(text) if c.strip()]
    # "frau schulz's email? want to send her the june stuff": a clause asked with its own
    # question mark, before the reason for asking.
    asked_first = bool(re.match(r"[^.!?;:\n]+\?(?=\s|$)", text.strip()))
    imperative: DialogueAct | None = None
    for clause in clauses:
        found = _clause_act(_WORD.findall(clause))
        if found is None:
            continue
        act, why = found
        if act != "information_request":
            return DialogueAct(act, why)
        imperative = imperative or DialogueAct(act, why)
    if text.rstrip().endswith("?"):
        return DialogueAct("question", "ends with a question mark")
    if asked_first:
        return DialogueAct("question", "its first clause ends with a question mark")
    if imperative is None and len(clauses) == 1 and _verbless(_WORD.findall(clauses[0])):
        return DialogueAct("fragment", "a verbless fragment (a terse lookup)")
    reported = None if imperative else _reported_question(clauses)
    return (
        imperative
        or reported
        or DialogueAct("other", "no interrogative clause and no question mark")
    )


def carries_content(text: str) -> bool:
    """Whether ``text`` carries quoted content to work on (an email to translate, a tweet)."""
    return _QUOTED.search(text) is not None


def function_word(word: str) -> bool:
    """Whether ``word`` is a closed-class word of English ("with", "the", "whats", "it")."""
    return _base(word) in _CLOSED


def _verbless(words: list[str]) -> bool:
    """Whether ``words`` form a short fragment with no verb (see the module docstring)."""
    from lemminflect import getAllLemmas  # a tenth of a second: only requests memory may answer

    lowered = [w.lower() for w in words]
    content = [w for w in lowered if w not in _CLOSED]
    if not 2 <= len(lowered) <= MAX_FRAGMENT_WORDS or not content:
        return False
    if any(_base(word) in _BE | _DO_HAVE | _MODALS for word in lowered):
        return False  # "do the month end close": an auxiliary is a verb too
    readings = [getAllLemmas(word) for word in content]
    if "VERB" in readings[0]:
        return False  # "email the accountant", "list overdue invoices": an imperative
    # A word that is only ever a verb ("send", "remind") makes a clause of the fragment.
    return not any(set(r) == {"VERB"} for r in readings)


def only_asks(text: str) -> bool:
    """Whether every clause of ``text`` is a grammatical question (nothing else is asked for).

    "What did we decide about listing fees?" only asks; "Which listings failed to sync last
    time? Retry them" asks and then commands, and "can you run the sync?" is a polite
    command. A terse fragment with a question mark ("listing sync for SGN-1042?") is not
    counted: its grammar does not say whether it asks about the thing or for it.
    """
    clauses = [c for c in _CLAUSE_BREAK.split(_QUOTED.sub(" ", text)) if c.strip()]
    words = [_without_conjunction(_WORD.findall(clause)) for clause in clauses]
    if any(_proposes(clause) for clause in words):
        return False
    acts = [_clause_act(clause) for clause in words]
    return bool(acts) and all(found is not None and found[0] == "question" for found in acts)


def _proposes(words: list[str]) -> bool:
    """Whether a clause is "what/how about …": an elliptical proposal ("do the same for …")."""
    return len(words) > 1 and words[0].lower() in ("what", "how") and words[1].lower() == "about"


_COORDINATORS = frozenset("and or but so".split())


def _without_conjunction(words: list[str]) -> list[str]:
    """Drop a coordinating conjunction that joins a clause to the one before it."""
    return words[1:] if words and words[0].lower() in _COORDINATORS else words
