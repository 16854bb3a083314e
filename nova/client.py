"""Run many requests through a compiled graph in-process, with bounded concurrency.

The script-side twin of the hosted server's worker pool: ``run_many`` keeps at most
``max_concurrency`` runs in flight, gives every run its own thread id, and returns one
``RunOutcome`` per request in request order (an error in one run is reported, not raised,
so a batch of 1,000 does not stop at the first bad request)::

    from graphs.nova import build_nova_graph
    from langgraph.checkpoint.memory import InMemorySaver
    from nova.client import RunRequest, run_many

    graph = build_nova_graph().compile(checkpointer=InMemorySaver())
    outcomes = run_many(graph, [RunRequest.ask("What is 2+2?"), ...], max_concurrency=16)

Model calls inside the runs are further limited per model by ``nova.concurrency``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from langgraph.pregel import Pregel

from nova.state import NovaContext


@dataclass(frozen=True, slots=True)
class RunRequest:
    """One run: graph input, the thread to run on, and the run context."""

    input: Any
    """Graph input, e.g. ``{"messages": [{"role": "user", "content": "..."}]}``."""
    thread_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    """Thread (conversation) id; a fresh one per request by default."""
    context: NovaContext | None = None
    """Run-scoped settings (project, user, model, agent)."""

    @classmethod
    def ask(cls, text: str, **kwargs: Any) -> RunRequest:
        """Build a request that asks ``text`` as the user."""
        return cls(input={"messages": [{"role": "user", "content": text}]}, **kwargs)


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How one request ended: its final values, or the error it raised."""

    request: RunRequest
    values: dict[str, Any] | None
    error: BaseException | None
    seconds: float

    @property
    def ok(self) -> bool:
        """Whether the run finished without raising."""
        return self.error is None


async def arun_many(
    graph: Pregel[Any, Any, Any, Any],
    requests: Sequence[RunRequest],
    *,
    max_concurrency: int = 8,
    on_done: Callable[[RunOutcome], None] | None = None,
) -> list[RunOutcome]:
    """Run ``requests`` on ``graph`` with at most ``max_concurrency`` in flight.

    Args:
        graph: A compiled graph (with a checkpointer if requests share threads).
        requests: What to run.
        max_concurrency: Most runs in flight at once.
        on_done: Called as each run finishes (progress bars, streaming results).

    Returns:
        One outcome per request, in request order.

    Raises:
        ValueError: ``max_concurrency`` is below 1.

    """
    if max_concurrency < 1:
        raise ValueError(f"max_concurrency must be at least 1; got {max_concurrency}")
    gate = asyncio.Semaphore(max_concurrency)

    async def one(request: RunRequest) -> RunOutcome:
        async with gate:
            started = time.perf_counter()
            values: dict[str, Any] | None = None
            error: BaseException | None = None
            try:
                result = await graph.ainvoke(
                    request.input,
                    {"configurable": {"thread_id": request.thread_id}},
                    context=request.context or NovaContext(),
                )
                values = dict(result) if isinstance(result, dict) else {"output": result}
            except Exception as exc:  # reported per request, see the docstring
                error = exc
            outcome = RunOutcome(request, values, error, time.perf_counter() - started)
        if on_done is not None:
            on_done(outcome)
        return outcome

    return list(await asyncio.gather(*(one(request) for request in requests)))


def run_many(
    graph: Pregel[Any, Any, Any, Any],
    requests: Sequence[RunRequest],
    *,
    max_concurrency: int = 8,
    on_done: Callable[[RunOutcome], None] | None = None,
) -> list[RunOutcome]:
    """Run ``requests`` from synchronous code (a script); see ``arun_many``.

    Synchronous graph nodes run in threads; the pool is sized to ``max_concurrency`` so the
    limit, not the CPU count, decides how many runs make progress at once.
    """

    async def main() -> list[RunOutcome]:
        asyncio.get_running_loop().set_default_executor(executor)
        return await arun_many(graph, requests, max_concurrency=max_concurrency, on_done=on_done)

    with ThreadPoolExecutor(
        max_workers=max(max_concurrency, 4), thread_name_prefix="nova-run"
    ) as executor:
        return asyncio.run(main())
