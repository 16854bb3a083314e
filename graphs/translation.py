"""The translation subgraph: glossary-safe translation, and the other language agents.

A request routed to ``translator`` runs a fixed path that keeps protected terms intact::

    enter -> prepare -> translate_chunk (one Send per target language x chunk) -> assemble -> check

``prepare`` separates the text from the instruction, detects the source language (lingua),
reads the target(s) from the request ("into German", "auf Deutsch", "to fr"), loads the
project glossary, masks protected spans and chunks long texts; ``assemble`` puts the
chunks back in order, restores the protected spans and runs the ``tokens_restored``,
``glossary_preserved``, ``negation_preserved`` and ``target_language`` checks; the shared
``check`` node then keeps those verdicts, records failures in the ledger and runs the
agent's other catalog checks.
Without a model the answer says so plainly, together with what was detected (no crash).
Every other translation-group agent (proofreader, summarizer, tone_editor, localizer,
glossary_manager) runs the generic agent ⇄ tools loop.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Literal, cast

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send
from typing_extensions import TypedDict

from graphs.common import add_agent_loop, make_entry_check, shared_subgraph
from nodes.agent import current_agent
from nodes.checks import CheckOutcome, CheckRegistry
from nodes.translation import (
    DEFAULT_CHUNK_CHARS,
    Chunk,
    TranslationJob,
    detect_source,
    finish_translation,
    prepare_translation,
    translate_chunk,
)
from nova.catalog import AgentSpec, Catalog, default_catalog
from nova.glossary import Glossary, GlossaryEntry, MaskedText, ProtectedSpan
from nova.ledger.failures import FailureLedger
from nova.messages import message_text
from nova.models import ModelFactory, ModelUnavailable, default_model_factory
from nova.settings import get_settings
from nova.state import AgentLoopState, AgentOutcome, AgentRun, NovaContext
from tools.language import (
    DetectedLanguage,
    SplitRequest,
    default_target,
    language_name,
    named_languages,
    parse_target_languages,
    split_request,
)

TRANSLATOR = "translator"


class _Span(TypedDict):
    start: int
    end: int
    text: str
    kind: str
    expected: str


class _Chunk(TypedDict):
    index: int
    text: str
    separator: str


class _Entry(TypedDict):
    term: str
    translations: dict[str, str]
    protected: bool


class _Job(TypedDict):
    target: str
    masked: str
    spans: list[_Span]
    chunks: list[_Chunk]


class TranslationTask(TypedDict):
    """What ``prepare`` hands to ``assemble`` (checkpointed as JSON)."""

    text: str
    source: dict[str, Any] | None
    glossary: list[_Entry]
    jobs: list[_Job]
    prompt: dict[str, str]
    """System prompt per target language."""


def _merge_or_reset(old: dict[str, str] | None, new: dict[str, str] | None) -> dict[str, str]:
    return {} if new is None else {**(old or {}), **new}


class TranslationState(AgentLoopState, total=False):
    """Nova's state plus the translation in progress (private to this subgraph).

    ``checks`` (from ``AgentLoopState``) carries the translation's own verdicts to the
    ``check`` node, which keeps them, records failures and adds the catalog's other checks.
    """

    translation_task: TranslationTask | None
    translated_chunks: Annotated[dict[str, str], _merge_or_reset]
    """Model output per ``"<target>:<chunk index>"``; ``None`` resets it for a new request."""


class ChunkTask(TypedDict):
    """Input of one ``translate_chunk`` task (sent with ``Send``)."""

    key: str
    text: str
    system_prompt: str


def _job_data(job: TranslationJob) -> _Job:
    return _Job(
        target=job.target,
        masked=job.masked.text,
        spans=[
            _Span(start=s.start, end=s.end, text=s.text, kind=s.kind, expected=s.expected)
            for s in job.masked.spans
        ],
        chunks=[_Chunk(index=c.index, text=c.text, separator=c.separator) for c in job.chunks],
    )


def _job_from(task: TranslationTask, data: _Job) -> TranslationJob:
    glossary = Glossary.of(
        GlossaryEntry(e["term"], e["translations"], e["protected"]) for e in task["glossary"]
    )
    spans = tuple(ProtectedSpan(**span) for span in data["spans"])  # type: ignore[arg-type]
    return TranslationJob(
        source_text=task["text"],
        source=DetectedLanguage(**task["source"]) if task["source"] else None,
        target=data["target"],
        glossary=glossary,
        masked=MaskedText(task["text"], data["masked"], spans),
        chunks=tuple(Chunk(**chunk) for chunk in data["chunks"]),
    )


def _record(
    spec: AgentSpec, model: str | None, steps: int, outcome: AgentOutcome, detail: str
) -> AgentRun:
    return AgentRun(
        agent=spec.name,
        version=spec.version,
        content_version=spec.content_version,
        model=model,
        steps=steps,
        outcome=outcome,
        detail=detail,
    )


def _load_glossary(project: str, owner: str | None) -> Glossary:
    from memory.glossary import project_glossary

    return project_glossary(project, owner=owner)


def _analysis(source: DetectedLanguage | None, jobs: list[TranslationJob]) -> str:
    # One Markdown bullet per finding: the CLI and Studio render answers as Markdown, where
    # single line breaks run the findings together into one line.
    lines = [
        "- Source language: "
        + (
            f"{source.language} ({source.code}, confidence {source.confidence:.2f})"
            if source
            else "unclear"
        ),
        "- Target: " + ", ".join(f"{language_name(job.target)} ({job.target})" for job in jobs),
    ]
    spans = jobs[0].masked.spans if jobs else ()
    if spans:
        kept = [f"{s.text} → {s.expected}" if s.expected != s.text else s.text for s in spans]
        lines.append(
            f"- Kept as written or by the glossary ({len(spans)}): "
            + ", ".join(f"`{k}`" for k in kept[:20])
        )
    return "\n".join(lines)


def _earlier_text(state: TranslationState, split: SplitRequest) -> SplitRequest | None:
    """Carry the thread's last supplied text into a follow-up that names none.

    "now polish" after "translate to french: …" asks for the same text in another language:
    a follow-up (the route's own method) keeps this turn's instruction and takes the text of
    the latest earlier request that supplied one (``None``: no such turn; the owner is asked
    for the text).
    """
    route = state.get("route")
    if route is None or route.get("method") != "followup":
        return None
    earlier = [m for m in state.get("messages", []) if isinstance(m, HumanMessage)][:-1]
    for message in reversed(earlier):
        supplied = split_request(message_text(message)).text
        if supplied:
            return replace(split, text=supplied)
    return None


def make_prepare_node(
    catalog: Catalog[AgentSpec],
    model_factory: ModelFactory,
    *,
    max_chars: int = DEFAULT_CHUNK_CHARS,
) -> Any:
    """Build ``prepare``: text, languages, glossary, masks and chunks; or a plain answer.

    Returns a ``translation_task`` when a model will translate; otherwise a final
    ``AIMessage`` (no text given: a question; no model: what was detected, and how to
    configure a model) with ``agent_run`` and no task.
    """

    def prepare(state: TranslationState, runtime: Runtime[NovaContext]) -> dict[str, object]:
        spec = catalog[TRANSLATOR]
        request = state.get("request") or ""
        split = split_request(request)
        carried = not split.text and _earlier_text(state, split)
        if carried:
            split = carried
        reset: dict[str, object] = {
            "translated_chunks": None,
            "translation_task": None,
            "checks": [],
        }
        if not split.text:
            question = (
                "Which text should I translate? Paste it after a colon or in quotes, e.g. "
                'Translate into German: "Your order has shipped."'
            )
            return reset | {
                "messages": [AIMessage(question, name=spec.name)],
                "agent_run": _record(
                    spec, None, 0, "clarify", "no text to translate in the request"
                ),
            }
        context = runtime.context or NovaContext()
        project = state.get("project") or context.project or get_settings().default_project
        glossary = _load_glossary(project, context.user_id)
        source = detect_source(split.text, glossary)
        targets = (
            parse_target_languages(split.instruction)
            or (named_languages(split.instruction) if carried else [])
            or [default_target(source.code if source else None)]
        )
        jobs = [
            prepare_translation(split.text, target, glossary, source=source, max_chars=max_chars)
            for target in targets
        ]
        model = model_factory(spec, context.model)
        if isinstance(model, ModelUnavailable):
            text = f"{model.message}\n\n{_analysis(source, jobs)}"
            return reset | {
                "messages": [AIMessage(text, name=spec.name)],
                "agent_run": _record(spec, None, 0, "needs_model", model.reason),
            }
        task = TranslationTask(
            text=split.text,
            source=source.model_dump() if source else None,
            glossary=[
                _Entry(term=e.term, translations=dict(e.translations), protected=e.protected)
                for e in glossary.entries
            ],
            jobs=[_job_data(job) for job in jobs],
            prompt={job.target: job.prompt(spec.prompt) for job in jobs},
        )
        return reset | {"translation_task": task}

    return prepare


def send_chunks(state: TranslationState) -> list[Send] | Literal["assemble", "check"]:
    """Fan out one ``translate_chunk`` task per target language and non-empty chunk.

    Without a task, ``prepare`` has already answered (a question, or "needs a model").
    """
    task = state.get("translation_task")
    if not task:
        return "check"
    sends = [
        Send(
            "translate_chunk",
            ChunkTask(
                key=f"{job['target']}:{chunk['index']}",
                text=chunk["text"],
                system_prompt=task["prompt"][job["target"]],
            ),
        )
        for job in task["jobs"]
        for chunk in job["chunks"]
        if chunk["text"]
    ]
    # A text with no chunk to translate (only protected spans) is assembled as it is.
    return sends or "assemble"


def make_translate_chunk_node(catalog: Catalog[AgentSpec], model_factory: ModelFactory) -> Any:
    """Build ``translate_chunk``: one model call on one masked chunk."""

    def translate(task: ChunkTask, runtime: Runtime[NovaContext]) -> dict[str, object]:
        context = runtime.context or NovaContext()
        model = model_factory(catalog[TRANSLATOR], context.model)
        if isinstance(model, ModelUnavailable):  # configured away between prepare and now
            raise RuntimeError(model.message)
        return {
            "translated_chunks": {
                task["key"]: translate_chunk(model, task["system_prompt"], task["text"])
            }
        }

    return translate


def _answer(outcomes: list[Any]) -> str:
    if len(outcomes) == 1:
        body = outcomes[0].text
    else:
        body = "\n\n".join(f"**{language_name(o.job.target)}**\n\n{o.text}" for o in outcomes)
    failed = [(o.job.target, c) for o in outcomes for c in o.checks if not c.passed]
    if failed:
        notes = "\n".join(f"- {c.name} ({target}): {c.detail}" for target, c in failed)
        body += f"\n\n⚠ Please review, a check failed:\n{notes}"
    return body


def make_assemble_node(catalog: Catalog[AgentSpec], model_factory: ModelFactory) -> Any:
    """Build ``assemble``: reassemble, unmask, check, and answer with the translation."""

    def assemble(state: TranslationState, runtime: Runtime[NovaContext]) -> dict[str, object]:
        spec = catalog[TRANSLATOR]
        task = state.get("translation_task")
        if not task:
            raise ValueError("assemble ran without a translation task; prepare must run first")
        done = state.get("translated_chunks") or {}
        outcomes = []
        for data in task["jobs"]:
            job = _job_from(task, data)
            pieces = {
                chunk.index: done[f"{job.target}:{chunk.index}"]
                for chunk in job.chunks
                if chunk.text
            }
            outcomes.append(finish_translation(job, pieces))
        checks = [
            CheckOutcome(
                name=c.name,
                passed=c.passed,
                detail=c.detail,
                target=o.job.target,
                status="passed" if c.passed else "failed",
                judges="agent",
            )
            for o in outcomes
            for c in o.checks
        ]
        context = runtime.context or NovaContext()
        model = model_factory(spec, context.model)
        model_name = (
            None if isinstance(model, ModelUnavailable) else getattr(model, "model_name", None)
        )
        verdicts = ", ".join(
            f"{c['name']}[{c['target']}] {'ok' if c['passed'] else 'FAILED'}" for c in checks
        )
        message = AIMessage(
            _answer(outcomes),
            name=spec.name,
            additional_kwargs={
                "nova_translation": {
                    "source": task["source"],
                    "targets": [o.job.target for o in outcomes],
                    "translations": {o.job.target: o.text for o in outcomes},
                    "chunks": len(done),
                },
                "nova_checks": checks,
            },
        )
        return {
            "messages": [message],
            "checks": checks,
            "agent_run": _record(spec, model_name, len(done), "answered", f"checks: {verdicts}"),
        }

    return assemble


def _is_translator(catalog: Catalog[AgentSpec]) -> Any:
    def choose(state: TranslationState) -> Literal["prepare", "agent"]:
        return "prepare" if current_agent(state, catalog).name == TRANSLATOR else "agent"

    return choose


def build_translation_graph(
    *,
    catalog: Catalog[AgentSpec] | None = None,
    model_factory: ModelFactory | None = None,
    max_chunk_chars: int = DEFAULT_CHUNK_CHARS,
    checks: CheckRegistry | None = None,
    ledger: FailureLedger | None = None,
) -> StateGraph[TranslationState, NovaContext, TranslationState, TranslationState]:
    """Build (not compile) the translation subgraph.

    Args:
        catalog: Agents; the configured catalog by default.
        model_factory: How agents get models; settings-driven by default.
        max_chunk_chars: Longest masked chunk sent to the model in one call.
        checks: Assumption checks by name (the ``check`` node); Nova's by default.
        ledger: Failure ledger for failed checks; the configured one by default.

    """
    catalog = catalog or default_catalog()
    model_factory = model_factory or default_model_factory
    builder = StateGraph(TranslationState, context_schema=NovaContext)
    builder.add_node("enter", cast(Any, make_entry_check(catalog, "translation")))
    builder.add_node(
        "prepare", make_prepare_node(catalog, model_factory, max_chars=max_chunk_chars)
    )
    builder.add_node("translate_chunk", make_translate_chunk_node(catalog, model_factory))
    builder.add_node("assemble", make_assemble_node(catalog, model_factory))
    add_agent_loop(
        builder,  # type: ignore[arg-type]
        catalog=catalog,
        model_factory=model_factory,
        subgraph="translation",
        then=END,
        checks=checks,
        ledger=ledger,
    )
    builder.add_edge(START, "enter")
    builder.add_conditional_edges("enter", _is_translator(catalog), ["prepare", "agent"])
    builder.add_conditional_edges("prepare", send_chunks, ["translate_chunk", "assemble", "check"])
    builder.add_edge("translate_chunk", "assemble")
    builder.add_edge("assemble", "check")
    return builder


# Compiled once per process and shared with the supervisor (graphs.common.shared_subgraph).
graph = shared_subgraph("translation")
