"""Routing with the turn's context: the thread's previous route, and what recall found.

The classifier (``nodes.router.Router``) reads one request on its own. Two kinds of
context change what that request means, and both are applied by the ``route`` node:

**Follow-ups.** "and the oldest one?" means nothing alone; after "Which invoices are
overdue for Baker & Sons?" it is an invoice question. ``elliptical`` recognises such a
turn by its form, not its topic: it is short and either opens with a coordinating
conjunction or "what/how about", or refers back with a pro-form ("one", "same", "it",
"those"…). For such a turn ``followup_decision`` routes the bare text and the topic's
anchor request plus the text, and keeps the previous route (method ``followup``) when the
anchored reading keeps the previous agent and the classifier is at least as sure of it as
of the bare text. A turn that carries its own topic ("and what's 19% VAT on 200?") is
read more confidently alone, and is routed afresh. Two more turns are follow-ups whatever
their form: a reply that picks one of the options Nova's last question listed ("20071",
"the first" or a name after "Which customer do you mean: …?", ``option_decision``; the
topic then records the option picked), and, in an ERP topic, a question about a field of
the one record just named ("who is the customer?" after one invoice). No confidence
threshold is involved: the classifier's calibrated confidences are compared with each
other. (The one number, ``MAX_FOLLOWUP_WORDS``, is a bound on what counts as a fragment,
set by hand, not tuned.)

**Memory.** "Who is our accountant?" resembles an ERP customer question, but the answer
is a stored fact. ``memory_decision`` routes a request to an agent that answers from
memory (the router config's ``memory_agents``; method ``memory``) when four signals
agree: recall found a strong fact, decision or preference (``STRONG_MEMORY_SCORE``); the
request *asks* for information (its dialogue act, ``nodes.dialogue_act``: a memory that
matches "pay my gym membership fee" must not answer an action request); the classifier
abstained, or is less sure of its pick than recall is of the memory, or (for an agent
that is not an ERP agent) the request is closer to the memory than to any catalog example
(both cosine similarities of the request to a stored text); and, for an ERP
agent in a project that holds the ERP data, the request names no ERP entity (customer,
document, SKU, period…) for the ERP to look up. No threshold is tuned here: the relevance
floor is the memory-answer one, and the classifier's calibrated confidence is compared
with the memory's relevance.

**Scope.** "dobes total overdue" typed with no project, on a new thread, starts in the
default project (``personal``), which reads the shop's ERP data but does not own it.
``data_owner_scope`` moves such a turn, when it is routed to an ERP agent, to the project
that owns the ERP data: the one project other than the default scope that declares it
(``data: [erp]`` in projects.yaml; none, or two, and the turn stays where it is). The
decision's ``scope`` says so, and the answer repeats it; the thread's later turns stay
in that project, as any thread does.

The thread's place (``ThreadRoute``) lives in the graph state, so it is checkpointed with
the thread: no process-wide state.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage

from nodes.dialogue_act import carries_content, dialogue_act, function_word
from nova.catalog import AgentSpec, Catalog
from nova.messages import message_text
from nova.route_types import RouteMethod
from nova.state import MemoryHit, RouteCandidate, RouteDecision, ThreadRoute

if TYPE_CHECKING:
    from nodes.router import Router
    from nova.erp.followup import ErpMention
    from nova.pipelines import Pipelines
    from nova.projects import Projects

log = logging.getLogger(__name__)

__all__ = [
    "MAX_FOLLOWUP_WORDS",
    "MEMORY_TOOLS",
    "STRONG_MEMORY_SCORE",
    "OfferedOption",
    "answering_memories",
    "certain_decision",
    "data_owner",
    "data_owner_scope",
    "elliptical",
    "enabled_decision",
    "followup_decision",
    "memory_decision",
    "memory_readers",
    "moved_decision",
    "next_thread_route",
    "offered_options",
    "only_pro_forms",
    "option_decision",
    "picked_option",
    "previous_reply_asks",
    "scope_line",
]

MAX_FOLLOWUP_WORDS = 8
"""Longer turns say enough to be read alone; an elliptical follow-up is a fragment that
leaves out what the earlier turn said ("same for Nordwind", "what about last month?")."""

MAX_TOPIC_FOLLOWUPS = 6
"""Follow-ups kept per topic: older ones hardly change the parameters, and the fast path
re-reads them all."""

_OPENERS = (
    "and",
    "or",
    "but",
    "also",
    "plus",
    "then",
    "so",
    "now",
    "same",
    "what about",
    "how about",
)
"""Coordinating conjunctions, "now" ("now polish", "now for march") and "what/how about": a
turn opening with one continues the previous one."""

_PRO_FORMS = frozenset(
    "one ones it its that those them they their theirs same too instead either another"
    " he she him her his".split()
)
"""Pro-forms that stand for something named in an earlier turn."""


def answering_memories(
    memories: Sequence[MemoryHit], route: RouteDecision | None = None
) -> list[MemoryHit]:
    """Return the recalled memories strong enough to answer the request by themselves.

    With the turn's ``route`` given: a route to memory made on a memory that leads the
    others (``leading_memory``, when the classifier abstained) is answered with that one.
    """
    strong = [
        hit
        for hit in memories
        if hit["score"] >= STRONG_MEMORY_SCORE and hit["kind"] in MEMORY_ANSWER_KINDS
    ]
    if strong or route is None or route.get("method") != "memory":
        return strong
    return leading_memory(memories)


def moved_decision(
    decision: RouteDecision,
    catalog: Catalog[AgentSpec],
    target: str,
    *,
    method: RouteMethod,
    confidence: float,
    reason: str,
) -> RouteDecision:
    """Return ``decision`` moved to ``target`` for ``reason``, the classifier's reading kept.

    The classifier's candidates stay (with ``target`` added when it was not among them) and
    its reason follows the new one, so the ledger shows both readings. An abstention's
    question is dropped: it is not asked any more.
    """
    listed = any(c["agent"] == target for c in decision["candidates"])
    moved = RouteDecision(
        **{
            **decision,
            "id": uuid.uuid4().hex,
            "agent": target,
            "subgraph": catalog[target].subgraph,
            "method": method,
            "confidence": confidence,
            "candidates": [
                *decision["candidates"],
                *([] if listed else [RouteCandidate(agent=target, score=0.0)]),
            ],
            "reason": f"{reason}; classifier: {decision['reason']}",
        }
    )
    moved.pop("question", None)
    return moved


def certain_decision(
    agent: str,
    catalog: Catalog[AgentSpec],
    *,
    method: RouteMethod,
    reason: str,
    catalog_version: str,
    router_version: str,
    latency_ms: float = 0.0,
) -> RouteDecision:
    """Return a decision for an agent known without the classifier (named, or the thread's).

    Its confidence is 1: the caller named the agent, or the owner answered the question
    that agent asked. The classifier's scores would not be evidence for it.
    """
    return RouteDecision(
        id=uuid.uuid4().hex,
        agent=agent,
        subgraph=catalog[agent].subgraph,
        confidence=1.0,
        margin=1.0,
        candidates=[RouteCandidate(agent=agent, score=1.0)],
        method=method,
        reason=reason,
        catalog_version=catalog_version,
        router_version=router_version,
        latency_ms=latency_ms,
    )


def only_pro_forms(words: set[str]) -> bool:
    """Whether ``words`` (what a reading left unplaced) are all pro-forms ("same", "one")."""
    return words <= _PRO_FORMS


STRONG_MEMORY_SCORE = 0.45
"""Recall relevance from which a fact or decision is taken to answer the request.

Checked with ``python -m evals.tune_memory_route`` on the dev split (33 of the 61
hand-written paraphrase questions over the seed memories, ``memory_seed_queries.yaml``;
the tests do not use them): at 0.45 the top fact or decision is the right memory for
94.7% of the questions that reach it (54.5% of all); 0.40 drops that to 91.3%, and 0.55
gains one question's precision (100%) for 12 points of recall (42.4%). None of the ERP
agents' 200 catalog examples is moved at any threshold: each names an ERP entity or ERP
word, which keeps it with the ERP."""

LEADING_MEMORY_SCORE = 0.35
LEADING_MEMORY_MARGIN = 0.05
"""A memory below ``STRONG_MEMORY_SCORE`` still answers when the classifier abstained, if it
scores at least 0.35 and leads the next memory recalled by 0.05. Chosen with the same dev
split as ``STRONG_MEMORY_SCORE`` (33 seed paraphrases; ``python -m evals.tune_memory_route``
prints both): the top memory at 0.45 or more is right for 95.2% of the questions and answers
60.6% of them; with the leading ones below 0.45 as well, 96.2% and 75.8%."""


_CONTACT_ASKED: dict[str, re.Pattern[str]] = {
    "email address": re.compile(r"\b(?:e-?mail|mail)(?:\s+(?:address|adress|addy))?\b", re.I),
    "phone number": re.compile(
        r"\b(?:phone|telephone|mobile|cell)(?:\s+(?:number|no|nr))?\b", re.I
    ),
}
"""A contact detail a request names ("accountant email", "frau schulz's email?")."""
_CONTACT_VALUE: dict[str, re.Pattern[str]] = {
    "email address": re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"),
    "phone number": re.compile(r"\+?\d[\d ()/-]{6,}\d"),
}
"""What such a detail looks like in a stored memory."""
_DRAFTING = re.compile(
    r"\b(?:write|draft|compose|reply|respond|formulate|word|rewrite|translate|summari[sz]e)\b"
    r"|\b(?:e-?mail|mail|text|call|ring)\s+(?:him|her|them|to|the|a|an)\b",
    re.I,
)
"""Words of a request to write or to contact someone, not to look a detail up."""


TASK_AGENT_QUESTION_SHARE = 0.2
"""An agent at most this share of whose catalog examples are questions carries out tasks
(drafting, extracting, running a pipeline): a question routed to it ("who's answering the
seller mails these days?" to the email drafter) is one its examples do not cover. Its
examples' own form says so; no list of agents is kept. (Measured shares: the email drafter,
content and weekly-report pipelines 0%, the reminders pipeline 10%, the translator 15%; the
daily planner 30%, the ERP agents 50-75%.)"""


@functools.cache
def _question_share(examples: tuple[str, ...]) -> float:
    return sum(dialogue_act(e).act == "question" for e in examples) / max(1, len(examples))


def task_agent(spec: AgentSpec) -> bool:
    """Whether ``spec`` carries out tasks rather than answering questions (see above)."""
    return _question_share(tuple(spec.examples)) < TASK_AGENT_QUESTION_SHARE


def memory_with_contact(
    request: str, memories: Sequence[MemoryHit]
) -> tuple[str, MemoryHit] | None:
    """Return the detail a request asks for and the memory that states it, or ``None``.

    "accountant email" names an email address and no writing: a lookup. When a recalled
    memory (of an answering kind, at the memory-answer relevance) holds a value of that
    shape (an address with an @, a phone number), it is the answer, however strongly the
    words "email" and "send" pull the classifier toward the email drafter.
    """
    if _DRAFTING.search(request):
        return None
    for detail, asked in _CONTACT_ASKED.items():
        if not asked.search(request):
            continue
        for hit in memories:
            if hit["kind"] in MEMORY_ANSWER_KINDS and _CONTACT_VALUE[detail].search(hit["text"]):
                return detail, hit
    return None


def leading_memory(memories: Sequence[MemoryHit]) -> list[MemoryHit]:
    """Return the top memory when it states an answer and clearly leads the rest.

    See ``LEADING_MEMORY_SCORE``; like a strong memory, only a fact, decision or preference
    answers (``MEMORY_ANSWER_KINDS``).
    """
    if (
        not memories
        or memories[0]["score"] < LEADING_MEMORY_SCORE
        or memories[0]["kind"] not in MEMORY_ANSWER_KINDS
    ):
        return []
    runner_up = memories[1]["score"] if len(memories) > 1 else 0.0
    return [memories[0]] if memories[0]["score"] - runner_up >= LEADING_MEMORY_MARGIN else []


MEMORY_ANSWER_KINDS = frozenset({"fact", "decision", "preference"})
"""Memory kinds that state an answer (summaries and document chunks only point to one)."""

MEMORY_TOOLS = frozenset({"memory_search"})
"""A tool that lets an agent answer from memory."""

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def elliptical(text: str, *, answers_question: bool = False) -> str | None:
    """Say why ``text`` reads as an elliptical follow-up, or return ``None``.

    A follow-up is short (at most ``MAX_FOLLOWUP_WORDS`` words) and opens with a
    coordinating conjunction or "what/how about", refers back with a pro-form, or
    answers the question Nova's previous reply asked ("Kessler Transport AG" after
    "Which customer do you mean: …?").

    Args:
        text: This turn's request.
        answers_question: Nova's previous reply in the thread was a question.

    """
    words = [word.lower() for word in _WORD.findall(text)]
    if not words or len(words) > MAX_FOLLOWUP_WORDS:
        return None
    if answers_question:
        return "answers the question Nova asked"
    opening = " ".join(words[:2])
    for opener in _OPENERS:
        if opening == opener or opening.startswith(opener + " "):
            return f"opens with {opener!r}"
    pro_forms = [word for word in words if word in _PRO_FORMS]
    if pro_forms:
        return f"refers back with {pro_forms[0]!r}"
    return None


_DANGLING = frozenset("it that them they their those he she him her his".split())
"""Pro-forms that need something named before them ("send it to him", "remind them")."""
_DEFINITE_RECORD = re.compile(
    r"\b(?:the|that|this)\s+(?:order|invoice|delivery|shipment|parcel|payment|return|po|quote)\b"
)
"""One record named as already known ("status of the order?"): which one, a first turn
with no number or name does not say."""


def dangling_reference_decision(
    decision: RouteDecision, request: str, *, earlier_turns: bool, fallback_agent: str
) -> RouteDecision | None:
    """Ask what a thread's first request refers to when it only points back with a pro-form.

    "remind them again", "whats the price on that", "send it to him" open a conversation but
    refer to something named before it; the classifier would happily route them (to the
    reminders pipeline, pricing…) and the agent would guess. Nothing is asked when the
    thread has earlier turns (``followup_decision`` reads those), when the request carries
    a figure, a quoted or pasted text, or a name (a word no English dictionary holds), or
    when it went to the fallback agent ("how is it going": small talk needs no referent).
    """
    if earlier_turns or decision["agent"] in (None, fallback_agent):
        return None
    why = elliptical(request)
    words = [word.lower() for word in _WORD.findall(request)]
    record = _DEFINITE_RECORD.search(request.lower())
    if (why is None or not why.startswith("refers back with")) and (
        record is None or len(words) > MAX_FOLLOWUP_WORDS
    ):
        return None
    if re.search(r"\d|[:\"“„«]", request):
        return None
    from lemminflect import getAllLemmas

    readings = [{} if function_word(word) else getAllLemmas(word) for word in words]
    if any(not r and not function_word(w) for w, r in zip(words, readings, strict=True)):
        return None  # a name the request brings along is what it is about
    # A pro-form after a noun may have its antecedent there ("customers that still owe",
    # "anyone over their limit", "returns - which carrier shipped those"): only one with
    # no noun before it points outside the request.
    pro_forms = [
        word
        for i, word in enumerate(words)
        if word in _DANGLING and not any("NOUN" in r for r in readings[:i])
    ]
    if not pro_forms:
        if record is None:
            return None
        pro_forms = [record.group(0)]
    # The classifier's reading stays (candidates, similarity, versions); only what is done
    # with it changes, as in ``moved_decision``.
    return RouteDecision(
        **{
            **decision,
            "agent": None,
            "subgraph": None,
            "method": "clarify",
            "question": (
                f"What does '{pro_forms[0]}' refer to? This conversation has no earlier turn "
                "to go back to: name it (an order, an invoice, a customer, a text) and ask again."
            ),
            "reason": (
                f"the request refers back with {pro_forms[0]!r} and the thread has no earlier "
                f"turn; classifier: {decision['reason']}"
            ),
        }
    )


def previous_reply_asks(messages: Sequence[AnyMessage]) -> bool:
    """Whether Nova's last reply before the latest user message ended with a question."""
    humans = [i for i, message in enumerate(messages) if isinstance(message, HumanMessage)]
    if not humans:
        return False
    earlier = messages[: humans[-1]]
    reply = next((m for m in reversed(earlier) if isinstance(m, AIMessage)), None)
    return reply is not None and message_text(reply).rstrip().endswith("?")


@dataclass(frozen=True, slots=True)
class OfferedOption:
    """One option Nova's question listed: "Winkler Maschinenbau AG (20071)"."""

    label: str
    """What the option is called ("Winkler Maschinenbau AG")."""
    key: str
    """Its number or code, in brackets after the label ("20071")."""


_OPTION = re.compile(r"(?P<label>[^:;()?]+?)\s*\((?P<key>[^()]+)\)")
_OPTION_SEPARATOR = re.compile(r";\s*|\s+or\s+")
_ORDINALS = {
    **{word: index for index, word in enumerate("first second third fourth fifth sixth".split())},
    **{word: index for index, word in enumerate("1st 2nd 3rd 4th 5th 6th".split())},
    "last": -1,
}
"""Ordinal words, by the position they pick (a closed class of English, not a list of cases)."""
MIN_OPTION_SIMILARITY = 90.0
"""rapidfuzz ``token_set_ratio`` from which a reply names an option (all of the reply's
words in the option's label, allowing a typo); the runner-up must score lower."""


def offered_options(messages: Sequence[AnyMessage]) -> list[OfferedOption]:
    """Return the options Nova's last reply asked the owner to choose from (none: ``[]``).

    Nova asks "Which customer do you mean: Winkler Maschinenbau AG (20071); Winkler
    Metallbau KG (20114)?": a question whose last clause lists two or more ``label (key)``
    options, separated by ";" or "or".
    """
    humans = [i for i, message in enumerate(messages) if isinstance(message, HumanMessage)]
    if not humans:
        return []
    earlier = messages[: humans[-1]]
    reply = next((m for m in reversed(earlier) if isinstance(m, AIMessage)), None)
    text = message_text(reply).strip() if reply is not None else ""
    if not text.endswith("?") or ":" not in text:
        return []
    parts = _OPTION_SEPARATOR.split(text.rsplit(":", 1)[1].rstrip("?").strip())
    found = [_OPTION.fullmatch(part.strip()) for part in parts]
    options = [OfferedOption(m["label"].strip(), m["key"].strip()) for m in found if m]
    return options if len(options) >= 2 and len(options) == len(parts) else []


def picked_option(reply: str, options: Sequence[OfferedOption]) -> OfferedOption | None:
    """Return the option ``reply`` picks, by its key, an ordinal or its label; else ``None``.

    "20071", "the first" and "Winkler Maschinenbau AG" each pick one option of "Which
    customer do you mean: Winkler Maschinenbau AG (20071); Winkler Metallbau KG (20114)?".
    A reply that fits two options equally ("winkler") or is longer than a fragment picks
    none: it is read as a request of its own.
    """
    from rapidfuzz import fuzz

    words = [word.lower() for word in _WORD.findall(reply)]
    if not options or not words or len(words) > MAX_FOLLOWUP_WORDS:
        return None
    by_key = [option for option in options if option.key.lower() in words]
    if len(by_key) == 1:
        return by_key[0]
    ordinals = {_ORDINALS[word] for word in words if word in _ORDINALS}
    if len(ordinals) == 1:
        index = next(iter(ordinals))
        return options[index] if index < len(options) else None
    scores = sorted(
        ((fuzz.token_set_ratio(reply.lower(), option.label.lower()), i) for i, option in
         enumerate(options)),
        reverse=True,
    )  # fmt: skip
    (best, index), (runner_up, _) = scores[0], scores[1]
    return options[index] if best >= MIN_OPTION_SIMILARITY and best > runner_up else None


def option_decision(
    request: str,
    previous: ThreadRoute | None,
    options: Sequence[OfferedOption],
    catalog: Catalog[AgentSpec],
    *,
    catalog_version: str,
    router_version: str,
) -> tuple[RouteDecision, str] | None:
    """Route a reply that picks one of the options Nova's question offered back to its topic.

    After "Which customer do you mean: Winkler Maschinenbau AG (20071); Winkler Metallbau
    KG (20114)?", "20071" or "the first" is not a request of its own: it completes the
    topic's request. The route keeps the thread's agent, and the topic records the picked
    option's label, so the agent re-reads the topic with the name it asked for.

    Returns:
        The decision (method ``followup``) and the text the topic records for this turn
        (the option's label); ``None`` when there is no topic or the reply picks nothing.

    """
    if previous is None or previous["agent"] not in catalog:
        return None
    option = picked_option(request, options)
    if option is None:
        return None
    agent = previous["agent"]
    decision = certain_decision(
        agent,
        catalog,
        method="followup",
        reason=(
            f"follow-up to route {previous['route_id'][:12]} ({agent}): the request answers "
            f"the question Nova asked: it picks {option.label} ({option.key}) of the options "
            "offered"
        ),
        catalog_version=catalog_version,
        router_version=router_version,
    )
    return decision, option.label


def _top_agent(decision: RouteDecision) -> str | None:
    return decision["candidates"][0]["agent"] if decision["candidates"] else None


def followup_decision(
    router: Router,
    request: str,
    previous: ThreadRoute | None,
    catalog: Catalog[AgentSpec],
    *,
    answers_question: bool = False,
    names_only: Callable[[str], bool] | None = None,
    about_record: Callable[[Sequence[str]], bool] | None = None,
) -> RouteDecision | None:
    """Route ``request`` as a follow-up of the thread's topic, or return ``None``.

    Args:
        router: The classifier.
        request: This turn's text.
        previous: The thread's topic (``None`` on a new thread).
        catalog: The graph's agents (the previous agent must still be one).
        answers_question: Nova's previous reply in the thread was a question.
        names_only: Whether a text names records (a customer, a period …) and says nothing
            else but pro-forms: "same for Müller Metallbau GmbH" has no topic of its own,
            so the classifier's reading of it alone (a customer name resembles a customer
            example) cannot outweigh the thread's topic.
        about_record: Whether the last of the topic's texts (the anchor, its follow-ups,
            then this request) names nothing and only asks about a field of the one
            record named before ("who is the customer?" after "Show me invoice
            INV-2025-00412"): such a turn is a follow-up whatever its form, and its bare
            reading (every customer) cannot outweigh the record it is about.

    Returns:
        A decision with method ``followup`` for the previous agent when ``request`` is
        elliptical, the anchored reading keeps the previous agent, and the bare reading is
        no more confident; ``None`` when the request should be routed afresh.

    """
    if previous is None or previous["agent"] not in catalog:
        return None
    why = elliptical(request, answers_question=answers_question)
    asks_of_record = about_record is not None and about_record(
        [previous["anchor"], *previous["followups"], request]
    )
    if asks_of_record:
        why = "asks about a field of the one record named before"
    if why is None:
        return None
    started = time.perf_counter()
    bare, anchored = router.route_batch([request, f"{previous['anchor']} {request}"])
    agent = previous["agent"]
    # "and uk?" after a sales question names only a record (a country) and says nothing
    # else: it has no topic of its own for any reading to give it, so it keeps the thread's.
    only_names = names_only is not None and names_only(request)
    if (
        _top_agent(anchored) != agent or anchored["method"] not in ("semantic",)
    ) and not only_names:
        return None  # with the topic's context the classifier reads it otherwise
    bare_sure = bare["method"] == "semantic" and bare["agent"] != agent
    if (
        bare_sure
        and bare["confidence"] > anchored["confidence"]
        and not asks_of_record
        and not only_names
    ):
        return None  # the turn carries a topic of its own
    bare_note = (
        f"{bare['agent']} ({bare['confidence']:.2f}, {bare['method']})"
        if bare["agent"]
        else f"nothing ({bare['method']}, best {_top_agent(bare)} {bare['confidence']:.2f})"
    )
    return RouteDecision(
        id=uuid.uuid4().hex,
        agent=agent,
        subgraph=catalog[agent].subgraph,
        confidence=anchored["confidence"],
        margin=anchored["margin"],
        candidates=anchored["candidates"],
        method="followup",
        reason=(
            f"follow-up to route {previous['route_id'][:12]} ({agent}): the request {why}; "
            f"alone it reads as {bare_note}, after {previous['anchor']!r} as {agent} "
            f"({anchored['confidence']:.2f})"
        ),
        catalog_version=router.catalog_version,
        router_version=router.version,
        latency_ms=round((time.perf_counter() - started) * 1000, 3),
    )


def memory_readers(
    catalog: Catalog[AgentSpec], memory_agents: Sequence[str], fallback_agent: str
) -> list[str]:
    """Return the agents that answer from memory, in the order a tie between them is settled."""
    named = [name for name in memory_agents if name in catalog]
    if named:
        return named
    # A catalog that names none: any agent with a memory tool, the fallback agent first.
    with_tool = [name for name in catalog.names if MEMORY_TOOLS & set(catalog[name].tools)]
    return sorted(with_tool, key=lambda name: name != fallback_agent)


def memory_decision(
    decision: RouteDecision,
    request: str,
    memories: Sequence[MemoryHit],
    catalog: Catalog[AgentSpec],
    *,
    fallback_agent: str,
    erp_mention: Callable[[str], ErpMention],
    memory_agents: Sequence[str] = (),
    erp_data: bool = True,
    allows: Callable[[str], bool] | None = None,
    min_score: float = STRONG_MEMORY_SCORE,
    erp_reads: Callable[[str], bool] | None = None,
    calculates: Callable[[str], bool] | None = None,
    erp_dated: Callable[[str], bool] | None = None,
    carries_text: bool = False,
) -> RouteDecision | None:
    """Route a question that recalled memory answers to an agent that answers from memory.

    Four signals are combined, each for what it can tell (see the module docstring):

    1. **Memory**: recall found a fact, decision or preference at ``min_score`` or more.
    2. **Request form** (``nodes.dialogue_act``): the request asks for information. An
       action request ("pay my gym membership fee") is never answered from memory, however
       well a memory matches its words.
    3. **The classifier**: it abstained (no agent it is sure of), or its confidence in its
       pick is below the memory's relevance, or (not for an ERP agent, nor for a verbless
       fragment, whose form does not say whether it asks: "taglines for the app") the
       request's similarity to its nearest catalog example (``decision["similarity"]``)
       is below it.
    4. **The picked agent's data**: an ERP agent keeps a request that names an ERP entity
       (customer, document, SKU, period…) in a project that holds the ERP data: only the
       ERP can look that up, whatever memory says. A request that names nothing of the
       ERP, not even a word of its vocabulary ("Who is our accountant?"), gives the ERP
       agent nothing to query: there memory answers however sure the classifier is.

    Args:
        decision: The classifier's decision (``semantic``, or an abstention: ``clarify``
            or ``fallback``); decisions of other methods are kept.
        request: This turn's text.
        memories: What recall found for it, best first.
        catalog: The graph's agents.
        fallback_agent: The router's fallback agent.
        erp_mention: What a text names of the ERP (``nova.erp.followup.erp_mention``;
            asked only when the rest of the evidence already points to memory).
        memory_agents: The router config's agents that answer from memory (empty: any
            agent with a memory tool, the fallback agent first).
        erp_data: Whether the turn's project holds the ERP data.
        allows: Whether the turn's project enables an agent (default: all).
        min_score: Recall relevance of a strong hit.
        erp_reads: Whether the ERP fast path reads a request (a plan or a question back).
            Given, an ERP agent's request that names the ERP's words but that no ERP skill
            reads ("brake prices going up when and by how much?": a price change the owner
            decided, not a record) goes to memory when memory holds it strongly.
        calculates: Whether the calculator computes a request from its own figures. Given,
            a pick with the calculator tool keeps such a request ("if mrr goes from 58k up 3%
            every month, where are we after 12 months"): the figures are in the request, and
            a memory about the same subject does not compute them.
        carries_text: The request carried text to work on (cut out of ``request``): "what
            does it say in english: '…'" asks a task of that text, not a stored fact.
        erp_dated: Whether a request names a period or date of the ERP's records. Given, an
            ERP agent keeps such a request even when no ERP skill reads it ("any stock
            corrections since last monday?"): it asks what happened then, which the records
            hold and a standing memory ("stock counts happen twice a year") does not.

    Returns:
        A decision with method ``memory``, or ``None`` to keep ``decision``.

    """
    method = decision["method"]
    if method not in ("semantic", "clarify", "fallback"):
        return None
    readers = [
        name
        for name in memory_readers(catalog, memory_agents, fallback_agent)
        if allows is None or allows(name)
    ]
    agent = decision["agent"]
    if not readers or (method == "semantic" and (agent is None or agent in readers)):
        return None
    strong = [
        hit for hit in memories if hit["score"] >= min_score and hit["kind"] in MEMORY_ANSWER_KINDS
    ]
    act = dialogue_act(request)
    # A question sent to an agent that carries out tasks: its examples do not cover it.
    asked_of_task = (
        method == "semantic"
        and agent is not None
        and act.seeks_information  # "remind me how long …" asks as much as "how long …?"
        and not carries_text  # "what does it say in english: '…'": a task on that text
        and not carries_content(request)
        and catalog[agent].subgraph != "erp"
        and task_agent(catalog[agent])
    )
    if not strong and (method != "semantic" or asked_of_task):
        # The classifier abstained (the alternative is asking back), or picked a task agent
        # for a question: a memory that clearly leads the others answers at a lower
        # relevance ("when am i off in august").
        strong = leading_memory(memories)
    if not strong:
        return None
    if not (act.asks or act.seeks_information):
        return None
    best = strong[0]
    if method == "semantic":
        assert agent is not None  # checked above
        if calculates is not None and "calculator" in catalog[agent].tools and calculates(request):
            return None
        erp_agent = catalog[agent].subgraph == "erp"
        mention = erp_mention(request) if erp_agent and erp_data else None
        unread = erp_agent and erp_data and erp_reads is not None and not erp_reads(request)
        if unread and erp_dated is not None and erp_dated(request):
            return None  # records of a period: the ERP agent's, read or not
        if mention == "entity" and not unread:
            return None
        contact = None if erp_agent else memory_with_contact(request, strong)
        if contact is not None:
            detail, best = contact
            classifier = f"the request asks for an {detail}, which the memory states"
        elif asked_of_task:
            share = _question_share(tuple(catalog[agent].examples))
            classifier = (
                f"a question, and {agent} carries out tasks ({share:.0%} of its examples ask)"
            )
        elif unread:
            classifier = f"no ERP skill of {agent} reads it, and memory holds it"
        elif erp_agent and not erp_data:
            # "pro tier rheintal - price per user?" in the ERP product's project: there is no
            # ERP data there for the agent to look up, whatever the request names.
            classifier = f"the project holds no ERP data for {agent} to look up"
        elif mention == "none":
            classifier = f"the request names nothing of the ERP for {agent} to look up"
        elif mention == "unknown":
            classifier = f"the request names someone the ERP does not hold for {agent}"
        elif best["score"] > decision["confidence"]:
            classifier = f"the classifier is less sure of {agent} ({decision['confidence']:.2f})"
        elif (
            mention is None
            and act.act != "fragment"
            and best["score"] > decision.get("similarity", 1.0)
        ):
            # Both are the request's similarity to a stored text: the memory is closer to it
            # than any agent's example is, so the catalog knows such requests less well.
            # (Not for an ERP agent: its data, not its examples, is what memory competes with.)
            classifier = (
                f"the request is closer to the memory than to any agent's example "
                f"({decision.get('similarity', 1.0):.2f})"
            )
        else:
            return None
    else:
        classifier = f"the classifier abstained ({method})"
    ranked = [c["agent"] for c in decision["candidates"] if c["agent"] in readers]
    return moved_decision(
        decision,
        catalog,
        (ranked or readers)[0],
        method="memory",
        # The evidence for this route is the memory's relevance, not the classifier's.
        confidence=best["score"],
        reason=(
            f"memory answers it: the request asks ({act.evidence}); recalled "
            f"{best['kind']} [mem:{best['id']}] at {best['score']:.2f} "
            + (
                f"≥ {min_score:.2f}; "
                if best["score"] >= min_score
                else f"(≥ {LEADING_MEMORY_SCORE:.2f}, ahead of the next by "
                f"≥ {LEADING_MEMORY_MARGIN:.2f}); "
            )
            + f"{classifier}"
        ),
    )


def enabled_decision(
    decision: RouteDecision, catalog: Catalog[AgentSpec], allows: Callable[[str], bool]
) -> RouteDecision | None:
    """Route to the classifier's best candidate the project enables, when its pick is not.

    A project that enables only some agents scopes what its requests can mean: "invoice pdf
    downloads are blank in safari" in client-work is a bug report about a client's product,
    not a question for the parts shop's ERP, however close the ERP's words are. The
    classifier's own short list (its top-k candidates, best first) is kept, with the agents
    the project does not enable taken out; with none of them left, the decision stands and
    Nova says which agents the project enables (``nodes.supervisor.unroutable_reply``).

    Returns:
        A ``semantic`` decision for the best enabled candidate, or ``None`` to keep
        ``decision`` (not a classifier pick, already enabled, or no enabled candidate).

    """
    agent = decision["agent"]
    if decision["method"] != "semantic" or agent is None or allows(agent):
        return None
    enabled = [c for c in decision["candidates"] if c["agent"] in catalog and allows(c["agent"])]
    if not enabled:
        return None
    best = enabled[0]
    runner_up = enabled[1]["score"] if len(enabled) > 1 else 0.0
    return RouteDecision(
        **{
            **decision,
            "id": uuid.uuid4().hex,
            "agent": best["agent"],
            "subgraph": catalog[best["agent"]].subgraph,
            "confidence": best["score"],
            "margin": round(best["score"] - runner_up, 4),
            "reason": (
                f"{agent} is not enabled in this project; its best enabled candidate is "
                f"{best['agent']} ({best['score']:.2f}); classifier: {decision['reason']}"
            ),
        }
    )


ERP_DATA = "erp"
"""The business data ERP agents read (``data: [erp]`` in projects.yaml)."""


def data_owner(projects: Projects, data: str, default_project: str) -> str | None:
    """Return the project that owns business data ``data``, or ``None`` if that is unclear.

    The default project is the scope of runs that name none; when it declares ``data`` it
    reads the owner's business data, it does not own it. The owner is the one other project
    that declares ``data``; with none, or several, there is no single owner.
    """
    owners = [p.id for p in projects if p.holds(data) and p.id != default_project]
    return owners[0] if len(owners) == 1 else None


def data_owner_scope(
    decision: RouteDecision,
    catalog: Catalog[AgentSpec],
    projects: Projects,
    *,
    project: str,
    default_project: str,
    named_project: str | None,
    earlier_turns: bool,
) -> str | None:
    """Return the project an unscoped ERP turn belongs to, or ``None`` to keep ``project``.

    Args:
        decision: This turn's route.
        catalog: The graph's agents.
        projects: Nova's projects.
        project: The turn's project so far (the default one, for an unscoped new thread).
        default_project: ``NOVA_DEFAULT_PROJECT``.
        named_project: The project the run names (``runtime.context.project``).
        earlier_turns: Whether the thread had turns before this one (it then has a
            project of its own, which its later turns keep).

    Returns:
        The owner of the ERP data (``data_owner``) when the run names no project, the
        thread is new, its project is the default one and the route goes to an ERP agent
        (an agent of the ``erp`` subgraph) or a pipeline working on ERP data alone;
        ``None`` otherwise.

    """
    agent = decision["agent"]
    if named_project is not None or earlier_turns or project != default_project:
        return None
    if agent is None or agent not in catalog:
        return None
    if not (catalog[agent].subgraph == "erp" or erp_pipeline(catalog, agent)):
        return None
    owner = data_owner(projects, ERP_DATA, default_project)
    return owner if owner is not None and owner != project else None


_PIPELINES: dict[str, Pipelines | None] = {}
_PIPELINES_LOCK = threading.Lock()


def routing_pipelines(catalog: Catalog[AgentSpec]) -> Pipelines | None:
    """Return the shipped pipelines, loaded once per catalog version, for routing checks.

    ``None`` when they cannot be loaded: a broken pipeline file must not stop routing, so
    each check then treats the pipelines as unknown (and says so in the log).
    """
    with _PIPELINES_LOCK:
        if catalog.version not in _PIPELINES:
            from graphs.pipeline import shipped_pipelines

            try:
                _PIPELINES[catalog.version] = shipped_pipelines(catalog)
            except Exception as error:
                log.warning("Could not load the shipped pipelines to check them: %s", error)
                _PIPELINES[catalog.version] = None
        return _PIPELINES[catalog.version]


def erp_pipeline(catalog: Catalog[AgentSpec], agent: str) -> bool:
    """Whether ``agent`` runs a pipeline whose steps read and write the ERP only.

    The weekly sales report, the reminder run and the month-end close work on the shop's
    ERP data alone; the morning briefing also reads every project's memory, so it is not one.
    """
    pipelines = routing_pipelines(catalog)
    if pipelines is None or agent not in catalog or catalog[agent].subgraph != "pipeline":
        return False
    spec = pipelines.for_agent(agent)
    skills = [step.skill for step in spec.steps if step.skill] if spec is not None else []
    return bool(skills) and all(skill.startswith("erp_") for skill in skills)


def named_project(
    request: str,
    projects: Projects,
    *,
    default_project: str,
    is_erp_name: Callable[[str], bool],
    erp_reads: Callable[[str], bool] | None = None,
) -> tuple[str, str] | None:
    """Return the project a new, unscoped thread's first request names, and the name used.

    "signcraft trustpilot rating?" is about the SignCraft marketplace, whatever the default
    project is (``Project.own_names``: protected glossary terms and brand words). Nothing is
    returned when the request names several projects, or names only the default project.

    A single word that is also an ERP customer or supplier (``is_erp_name``: "rheintal" is
    the Rheintal ERP product and the supplier Rheintal Bearings) names the project only when
    the ERP cannot read the request (``erp_reads``: the fast path neither answers it nor asks
    which record is meant): "open pos with rheintal" is the supplier's, "rheintal mrr in
    may?" the product's. Without ``erp_reads`` such a word names no project.
    """
    found = [
        (project.id, name)
        for project in projects
        if project.id != default_project and (name := project.named_in(request))
    ]
    if len(found) != 1:
        return None
    project_id, name = found[0]
    if " " not in name and is_erp_name(name) and (erp_reads is None or erp_reads(request)):
        return None
    return project_id, name


def scope_line(decision: RouteDecision | None) -> str | None:
    """Return the answer's line saying why the turn runs in its project (``None``: no move)."""
    scope = decision.get("scope") if decision else None
    return f"Project: {scope}." if scope else None


def next_thread_route(
    decision: RouteDecision, request: str, previous: ThreadRoute | None
) -> ThreadRoute | None:
    """Return the thread's topic after this turn's decision.

    A follow-up extends the topic; any other routed decision starts a new one with this
    request as its anchor. When the router asks the user which agent they mean (no
    agent), the thread has no topic: the answer refers to the unclear request, not to
    the earlier topic, so it is routed afresh.
    """
    agent = decision["agent"]
    if agent is None:
        return None
    if decision["method"] == "followup" and previous is not None:
        followups = [*previous["followups"], request][-MAX_TOPIC_FOLLOWUPS:]
        return ThreadRoute(
            agent=previous["agent"],
            subgraph=previous["subgraph"],
            route_id=previous["route_id"],
            anchor=previous["anchor"],
            followups=followups,
        )
    return ThreadRoute(
        agent=agent,
        subgraph=decision["subgraph"],
        route_id=decision["id"],
        anchor=request,
        followups=[],
    )
