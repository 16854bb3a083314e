"""The summarize node: keep long threads within bounds without losing what was said.

Contract (for ``graphs/nova.py``): run it at the end of a turn (``respond → summarize →
END``). When the thread's messages pass ``NOVA_SUMMARY_TRIGGER_TOKENS`` MiniLM tokens,
every message but the last ``NOVA_SUMMARY_KEEP_MESSAGES`` (moved back to the start of a
user turn, so a tool call is never separated from its result) is folded into
``state["summary"]`` and removed from ``messages`` with ``RemoveMessage``. The agent node
shows ``summary`` in its system prompt. The new summary is also saved in the project's
memory as a ``conversation_summary`` with topic ``thread:<thread_id>``, so the newest
summary of a thread supersedes the previous one and the older versions stay in its history.

Who writes the summary: the ``memory_curator`` agent's model (from the catalog, through
the model factory) when one is available; otherwise a deterministic extractive summary
(the user's requests and the agents' final answers, each truncated). A model that raises
is a failure of the run and is not hidden; a model that answers with nothing falls back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Literal

from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from memory.store import MemoryStore, default_memory_store
from memory.tokens import count_tokens_many, truncate_to_tokens
from nova.catalog import AgentSpec, Catalog, default_catalog
from nova.messages import message_text
from nova.models import ModelFactory, ModelUnavailable, default_model_factory
from nova.settings import get_settings
from nova.state import NovaContext, NovaState
from nova.tracing.usage import BudgetExceeded

logger = logging.getLogger(__name__)

SUMMARY_AGENT = "memory_curator"
"""Catalog agent whose model writes summaries."""

SUMMARY_PROMPT = """You maintain the running summary of a conversation between the owner and Nova.
Rewrite the earlier summary to include the new part of the conversation. Keep: what the owner
asked for, facts and figures given, decisions made, preferences stated, answers Nova gave and
open questions. Drop greetings and small talk. Never invent anything that is not in the text.
Write short bullet points in the language of the conversation, oldest first, at most
{max_words} words. Reply with the summary only."""

_USER_TOKENS = 60
_ANSWER_TOKENS = 90


def _counted_text(message: AnyMessage) -> str:
    text = message_text(message)
    if isinstance(message, AIMessage) and message.tool_calls:
        text += " " + " ".join(f"{c['name']}({c['args']})" for c in message.tool_calls)
    return text


def thread_tokens(messages: Sequence[AnyMessage]) -> int:
    """Return the MiniLM token count of ``messages`` (tool-call arguments included)."""
    return sum(count_tokens_many([_counted_text(m) for m in messages]))


def split_point(messages: Sequence[AnyMessage], keep: int) -> int:
    """Return the index where kept messages start (0: nothing can be summarised).

    At least ``keep`` messages stay. The cut moves back to the start of a user turn so that
    the kept part begins with a ``HumanMessage``; failing that, it moves back past tool
    results so that no ``ToolMessage`` loses the call it answers.
    """
    cut = max(len(messages) - keep, 0)
    for index in range(cut, 0, -1):
        if isinstance(messages[index], HumanMessage):
            return index
    while cut > 0 and isinstance(messages[cut], ToolMessage):
        cut -= 1
    return cut


def extractive_summary(messages: Sequence[AnyMessage]) -> list[str]:
    """Summarise ``messages`` without a model: requests and final answers, truncated."""
    lines: list[str] = []
    tools_used: list[str] = []
    for message in messages:
        if isinstance(message, HumanMessage):
            text = " ".join(message_text(message).split())
            if text:
                lines.append(f"- User asked: {truncate_to_tokens(text, _USER_TOKENS)}")
        elif isinstance(message, AIMessage):
            if message.tool_calls:
                tools_used.extend(call["name"] for call in message.tool_calls)
                continue
            text = " ".join(message_text(message).split())
            if not text:
                continue
            speaker = message.name or "Nova"
            via = f" (using {', '.join(dict.fromkeys(tools_used))})" if tools_used else ""
            lines.append(f"- {speaker} answered{via}: {truncate_to_tokens(text, _ANSWER_TOKENS)}")
            tools_used = []
    return lines


def _cap(lines: list[str], max_tokens: int) -> str:
    """Join ``lines``, dropping the oldest until the summary fits ``max_tokens``."""
    counts = count_tokens_many(lines)
    total = sum(counts) + len(lines)
    start = 0
    while start < len(lines) - 1 and total > max_tokens:
        total -= counts[start] + 1
        start += 1
    kept = lines[start:]
    if start:
        kept.insert(0, f"- ({start} older summary lines dropped to stay within the size limit)")
    return "\n".join(kept)


def _transcript(messages: Sequence[AnyMessage]) -> str:
    lines = []
    for message in messages:
        if isinstance(message, HumanMessage):
            lines.append(f"User: {message_text(message)}")
        elif isinstance(message, AIMessage):
            if message.tool_calls:
                calls = ", ".join(f"{c['name']}({c['args']})" for c in message.tool_calls)
                lines.append(f"{message.name or 'Nova'} called tools: {calls}")
            if text := message_text(message):
                lines.append(f"{message.name or 'Nova'}: {text}")
        elif isinstance(message, ToolMessage):
            result = truncate_to_tokens(message_text(message), 120)
            lines.append(f"Tool {message.name or ''} returned: {result}")
    return "\n".join(lines)


def needs_summary(state: NovaState) -> Literal["summarize", "__end__"]:
    """Choose the step after ``respond``: ``summarize`` once the thread passes its size limit.

    Most turns end here without the summarize step (and its checkpoint); the node itself
    checks again, as it may also run on its own.
    """
    settings = get_settings()
    messages = state.get("messages") or []
    if thread_tokens(messages) > settings.summary_trigger_tokens and split_point(
        messages, settings.summary_keep_messages
    ):
        return "summarize"
    return "__end__"  # END, spelled as the Literal that lets Studio draw this edge


def make_summarize_node(
    model_factory: ModelFactory | None = None,
    *,
    catalog: Catalog[AgentSpec] | None = None,
    store: Callable[[], MemoryStore] | None = None,
    save_to_memory: bool = True,
    max_summary_tokens: int | None = None,
) -> Callable[[NovaState, RunnableConfig, Runtime[NovaContext]], dict[str, object]]:
    """Build the summarize node.

    Args:
        model_factory: How to obtain the ``memory_curator`` model; settings-driven by
            default. ``ModelUnavailable`` (no model configured) selects the extractive summary.
        catalog: Catalog holding ``memory_curator``; loaded at run time by default. Without
            that agent the summary is extractive.
        store: Returns the memory store the summary is saved in; the configured one by default.
        save_to_memory: Whether to save each new summary as a ``conversation_summary`` memory.
        max_summary_tokens: Longest running summary (it is part of every prompt); a third
            of ``NOVA_SUMMARY_TRIGGER_TOKENS`` by default. The extractive summary drops its
            oldest lines to fit; a model's summary is cut.

    """
    factory = model_factory or default_model_factory
    open_store = store or default_memory_store

    def write_summary(
        previous: str, older: Sequence[AnyMessage], context: NovaContext, max_tokens: int
    ) -> str:
        agents = catalog if catalog is not None else default_catalog()
        model = factory(agents[SUMMARY_AGENT], context.model) if SUMMARY_AGENT in agents else None
        if model is None or isinstance(model, ModelUnavailable):
            previous_lines = [line for line in previous.splitlines() if line.strip()]
            return _cap([*previous_lines, *extractive_summary(older)], max_tokens)
        request = (
            f"Earlier summary:\n{previous or '(none)'}\n\n"
            f"New part of the conversation:\n{_transcript(older)}"
        )
        prompt = SUMMARY_PROMPT.format(max_words=max(50, max_tokens * 2 // 3))
        try:
            response = model.invoke([SystemMessage(prompt), HumanMessage(request)])
        except BudgetExceeded:
            # The project's daily token budget is spent: the answer stands, summarise without.
            previous_lines = [line for line in previous.splitlines() if line.strip()]
            return _cap([*previous_lines, *extractive_summary(older)], max_tokens)
        text = message_text(response).strip() if isinstance(response, AIMessage) else ""
        if not text:
            logger.warning(
                "The %s model returned an empty summary; using the extractive one", SUMMARY_AGENT
            )
            previous_lines = [line for line in previous.splitlines() if line.strip()]
            return _cap([*previous_lines, *extractive_summary(older)], max_tokens)
        return truncate_to_tokens(text, max_tokens)

    def summarize(
        state: NovaState, config: RunnableConfig, runtime: Runtime[NovaContext]
    ) -> dict[str, object]:
        """Fold older messages into ``summary`` once the thread passes its size limit."""
        settings = get_settings()
        messages = state.get("messages") or []
        if thread_tokens(messages) <= settings.summary_trigger_tokens:
            return {}
        cut = split_point(messages, settings.summary_keep_messages)
        if cut == 0:
            return {}
        older = messages[:cut]
        context = runtime.context or NovaContext()
        max_tokens = max_summary_tokens or max(settings.summary_trigger_tokens // 3, 100)
        summary = write_summary(state.get("summary") or "", older, context, max_tokens)
        if save_to_memory and summary:
            project = state.get("project") or context.project or settings.default_project
            thread = (config.get("configurable") or {}).get("thread_id")
            open_store().for_owner(context.user_id).save(
                project,
                summary,
                kind="conversation_summary",
                source=f"thread:{thread}" if thread else "conversation",
                topic=f"thread:{thread}" if thread else None,
            )
        removals = [RemoveMessage(id=m.id) for m in older if m.id]
        return {"summary": summary, "messages": removals}

    return summarize
