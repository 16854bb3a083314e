"""The recall node: the project's most relevant memories for this turn, within a token budget.

Contract (for ``graphs/nova.py``): runs after ``intake``; reads ``state["request"]`` and
``state["project"]`` (falling back to ``runtime.context.project``, then
``NOVA_DEFAULT_PROJECT``), and searches the memories of ``runtime.context.user_id`` (the
authenticated user on the durable server; the local owner when unset); returns
``{"memories": list[MemoryHit]}``, best first, at most ``NOVA_RECALL_TOP_K`` hits whose
rendered lines fit ``NOVA_RECALL_TOKEN_BUDGET`` MiniLM tokens. The agent node renders them
with ``format_memories`` into its system prompt.

The node is synchronous on purpose: embedding and Chroma block, and a blocking call inside
an ``async`` node fails on the dev server; LangGraph runs sync nodes in worker threads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from langgraph.runtime import Runtime

from memory.store import MemoryStore, default_memory_store
from memory.tokens import count_tokens, count_tokens_many
from nova.settings import get_settings
from nova.state import MemoryHit, NovaContext, NovaState, RuntimeNode

MEMORY_HEADER = (
    "Relevant project memory (cite the [mem:<id>] of every memory you rely on; "
    "say so when memory does not cover the question):"
)

MIN_RECALL_SCORE = 0.2
"""Hits scoring lower are noise, not context. Chosen on the dev split of ``nova eval
memory``'s queries by ``python -m evals.tune_memory_fusion``: the highest floor that costs
dev recall@5 at most half a point (0.2 keeps all of it, 0.225 loses 0.6 points); small
talk ("hi there, how are you?") tops out near 0.10 on the seeds. ``nova eval memory``
prints recall after this floor, dev and test."""


def memory_line(hit: MemoryHit) -> str:
    """Render one hit as a context line with its citation."""
    return f"- [mem:{hit['id']}] ({hit['kind']}) {hit['text']}"


def format_memories(hits: Sequence[MemoryHit]) -> str:
    """Render recalled memories as the context block of an agent's system prompt.

    Returns:
        ``""`` when there are no hits, else a header and one ``[mem:<id>]`` line per hit.

    """
    if not hits:
        return ""
    return "\n".join([MEMORY_HEADER, *(memory_line(hit) for hit in hits)])


def fit_to_budget(hits: Sequence[MemoryHit], token_budget: int) -> list[MemoryHit]:
    """Keep hits, best first, while the rendered block stays within ``token_budget`` tokens.

    A hit too long for the remaining budget is skipped, so a shorter, lower-ranked memory
    can still fit after it.
    """
    if not hits or token_budget <= 0:
        return []
    used = count_tokens(MEMORY_HEADER) + 1
    kept: list[MemoryHit] = []
    for hit, tokens in zip(hits, count_tokens_many([memory_line(h) for h in hits]), strict=True):
        if used + tokens + 1 <= token_budget:  # +1: the newline between lines
            kept.append(hit)
            used += tokens + 1
    return kept


def make_recall_node(
    store: Callable[[], MemoryStore] | None = None,
    *,
    min_score: float = MIN_RECALL_SCORE,
) -> RuntimeNode[NovaState, dict[str, list[MemoryHit]]]:
    """Build the recall node.

    Args:
        store: Returns the memory store (called at run time, never at build time, so a
            server can import the graph without opening Chroma); the store configured
            by settings by default.
        min_score: Drop hits with a lower cosine similarity than this.

    """
    open_store = store or default_memory_store

    def recall(state: NovaState, runtime: Runtime[NovaContext]) -> dict[str, list[MemoryHit]]:
        """Recall the project's memories most relevant to the request."""
        context = runtime.context or NovaContext()
        project = state.get("project") or context.project or get_settings().default_project
        request = state.get("request") or ""
        return {
            "memories": recall_memories(
                open_store, project, request, owner=context.user_id, min_score=min_score
            )
        }

    return recall


def recall_memories(
    store: Callable[[], MemoryStore],
    project: str,
    request: str,
    *,
    owner: str | None,
    min_score: float = MIN_RECALL_SCORE,
) -> list[MemoryHit]:
    """Return ``project``'s memories most relevant to ``request``, as the recall node does.

    Args:
        store: Returns the memory store.
        project: The project whose memories are searched.
        request: The turn's request.
        owner: The run's user (``runtime.context.user_id``): their memories only.
        min_score: Drop hits with a lower cosine similarity than this.

    """
    settings = get_settings()
    request = request.strip()
    if not request or settings.recall_top_k == 0 or settings.recall_token_budget == 0:
        return []
    # The run's user (set by the server's auth, never by the client): their memories only.
    memory = store().for_owner(owner)
    hits = memory.search(project, request, k=settings.recall_top_k)
    hits = [hit for hit in hits if hit["score"] >= min_score]
    return fit_to_budget(hits, settings.recall_token_budget)
