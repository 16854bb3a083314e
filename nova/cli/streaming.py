"""Show a turn while it runs: the step it is on, then the answer as the model writes it.

Both ways a turn runs feed the same display: in-process, ``graph.stream`` with
``stream_mode=["updates", "messages"]`` (``turn_events``); on a server, the SDK's
``stream_mode=["updates", "messages-tuple"]`` (``server_events``). Only the agent node's
tokens are shown (not the router's tie-break or the summariser), and only on a terminal:
piped output and ``--json`` print the final answer alone, as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.spinner import Spinner

ANSWER_NODES = frozenset({"agent"})
"""Graph nodes whose model output is the answer being written."""


@dataclass(frozen=True, slots=True)
class Step:
    """The turn reached a node (``chat.agent``, ``respond``…)."""

    name: str


@dataclass(frozen=True, slots=True)
class Token:
    """A piece of the answer: ``text`` extends message ``message_id``."""

    message_id: str
    text: str


TurnEvent = Step | Token


def _token(message: Any, metadata: Any) -> Token | None:
    """Return the answer text a ``messages`` stream item carries, if any."""
    if not isinstance(metadata, dict) or metadata.get("langgraph_node") not in ANSWER_NODES:
        return None
    if isinstance(message, dict):
        kind, content, message_id = message.get("type"), message.get("content"), message.get("id")
    else:
        kind, content, message_id = message.type, message.content, message.id
    if kind not in ("AIMessageChunk", "ai") or not isinstance(content, str) or not content:
        return None
    return Token(message_id=str(message_id or ""), text=content)


def turn_events(stream: Iterable[Any]) -> Iterator[TurnEvent]:
    """Turn ``graph.stream(stream_mode=["updates", "messages"], subgraphs=True)`` into events."""
    for namespace, mode, chunk in stream:
        if mode == "updates" and isinstance(chunk, dict):
            yield Step(".".join([part.split(":")[0] for part in namespace] + list(chunk)))
        elif mode == "messages" and (token := _token(*chunk)) is not None:
            yield token


def server_events(parts: Iterable[Any]) -> Iterator[tuple[Any, TurnEvent | None]]:
    """Pair each SDK stream part (``updates`` + ``messages-tuple``) with its event, if any."""
    for part in parts:
        event: TurnEvent | None = None
        if part.event.startswith("updates") and isinstance(part.data, dict):
            event = Step(".".join(part.data))
        elif part.event.startswith("messages") and isinstance(part.data, list | tuple):
            if len(part.data) == 2:
                event = _token(*part.data)
        yield part, event


class TurnDisplay:
    """A live line (spinner and step) that becomes the answer panel as tokens arrive.

    Transient: when the turn ends the live view is cleared and the caller prints the final
    answer (rendered tables, route line) exactly as without streaming.
    """

    def __init__(self, console: Console, *, working: str, stream: bool) -> None:
        """Show ``working`` until the first step; stream tokens only when ``stream``."""
        self.console = console
        self.stream = stream
        self.working = working
        self.step = ""
        self.message_id: str | None = None
        self.text = ""
        """The answer shown so far (the agent's latest message)."""
        self.tokens = 0
        self._live = Live(self._render(), console=console, transient=True, refresh_per_second=12)

    def _render(self) -> RenderableType:
        spinner = Spinner("dots", text=f"[cyan]{self.step or self.working}[/]")
        if not self.text:
            return spinner
        # Markdown (markdown-it) loads once an answer is written, not for every turn shown.
        from rich.markdown import Markdown

        answer = Panel(Markdown(self.text), title="Nova", border_style="cyan", expand=False)
        return Group(answer, spinner)

    def __enter__(self) -> TurnDisplay:
        """Start the live view."""
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Clear the live view."""
        self._live.stop()

    def show(self, event: TurnEvent | None) -> None:
        """Update the view with one event."""
        if isinstance(event, Step):
            self.step = event.name
        elif isinstance(event, Token) and self.stream:
            if event.message_id != self.message_id:
                # A new model turn (after a tool call): its text replaces the previous one.
                self.message_id, self.text = event.message_id, ""
            self.text += event.text
            self.tokens += 1
        else:
            return
        self._live.update(self._render())
