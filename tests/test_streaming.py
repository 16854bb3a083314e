"""Streaming: the CLI shows the answer while the model writes it; a server streams the tokens."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from rich.console import Console

from graphs.chat import build_chat_graph
from nova.cli import core
from nova.cli.streaming import Step, Token, TurnDisplay, turn_events
from nova.state import NovaContext
from nova.testing import ScriptedModels, StreamingScriptedChatModel, route_to, says

ANSWER = " ".join(f"token{i:02d}" for i in range(25))


def _graph(delay_s: float = 0.03) -> Any:
    model = StreamingScriptedChatModel.repeating(says(ANSWER), token_delay_s=delay_s)
    models = ScriptedModels({"general_chat": model})
    return build_chat_graph(model_factory=models).compile(checkpointer=InMemorySaver())


def _payload(text: str = "tell me a story") -> dict[str, Any]:
    return {
        "messages": [HumanMessage(text)],
        "route": route_to("general_chat", "chat", method="explicit"),
        "request": text,
        "project": "personal",
    }


def test_turn_events_yield_the_agents_tokens_while_the_run_goes_on() -> None:
    graph = _graph()
    started = time.perf_counter()
    seen: list[tuple[float, Any]] = []
    parts = graph.stream(
        _payload(),
        {"configurable": {"thread_id": "t"}},
        context=NovaContext(project="personal"),
        stream_mode=["updates", "messages"],
        subgraphs=True,
    )
    for event in turn_events(parts):
        seen.append((time.perf_counter() - started, event))
    ended = time.perf_counter() - started

    tokens = [(at, e) for at, e in seen if isinstance(e, Token)]
    assert "".join(e.text for _, e in tokens) == ANSWER
    assert len(tokens) >= 25  # word by word, not one final message
    # The first words arrive while the model is still writing (25 x 30 ms).
    assert tokens[0][0] < ended - 0.4, (tokens[0][0], ended)
    assert len({e.message_id for _, e in tokens}) == 1
    steps = [e.name for _, e in seen if isinstance(e, Step)]
    assert "agent" in steps and "check" in steps


def test_nova_ask_renders_the_answer_progressively_and_then_the_final_panel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = io.StringIO()
    terminal = Console(file=out, force_terminal=True, width=120)
    monkeypatch.setattr(core, "console", terminal)
    shown: list[tuple[float, str]] = []
    original = TurnDisplay.show

    def record(self: TurnDisplay, event: Any) -> None:
        original(self, event)
        if isinstance(event, Token):
            shown.append((time.perf_counter(), self.text))

    monkeypatch.setattr(TurnDisplay, "show", record)
    graph = _graph()
    values = core.run_turn(
        graph,
        _payload(),
        thread="t",
        project="personal",
        agent=None,
        interactive=False,
        stream=True,
    )
    ended = time.perf_counter()
    assert values["messages"][-1].content == ANSWER
    # What the display held grew token by token, each a prefix of the answer.
    texts = [text for _, text in shown]
    assert texts[-1] == ANSWER and len(texts) >= 25
    assert all(ANSWER.startswith(text) for text in texts)
    assert shown[0][0] < ended - 0.4
    # The live view drew partial answers on the terminal before the run ended.
    assert "token05" in out.getvalue()


def test_without_a_terminal_nothing_is_streamed() -> None:
    out = io.StringIO()
    display_console = Console(file=out, force_terminal=False)
    with TurnDisplay(display_console, working="working", stream=False) as display:
        for event in turn_events(
            _graph(0.0).stream(
                _payload(),
                {"configurable": {"thread_id": "t"}},
                context=NovaContext(project="personal"),
                stream_mode=["updates", "messages"],
                subgraphs=True,
            )
        ):
            display.show(event)
    assert display.text == "" and display.tokens == 0
    assert out.getvalue() == ""


@pytest.mark.integration
@pytest.mark.slow
async def test_dev_server_streams_the_agents_tokens_to_the_sdk_before_the_run_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from langgraph_sdk import get_client
    from server_fixtures import ROOT, dev_server, write_langgraph_json
    from streaming_graphs import ANSWER as SERVED
    from streaming_graphs import COMPLETION_TOKENS, PROMPT_TOKENS

    config = write_langgraph_json(
        tmp_path / "config", {"streaming": f"{ROOT / 'tests' / 'streaming_graphs.py'}:streaming"}
    )
    data_dir = tmp_path / "server-data"
    with dev_server(data_dir, config=config) as url:
        client = get_client(url=url)
        thread = await client.threads.create()
        started = time.perf_counter()
        partials: list[tuple[float, str]] = []
        async for part in client.runs.stream(
            thread["thread_id"],
            "streaming",
            input={"messages": [{"role": "user", "content": "Tell me about your day"}]},
            context={"project": "personal", "agent": "general_chat"},
            stream_mode="messages",
            stream_subgraphs=True,
        ):
            if part.event == "messages/partial":
                for message in part.data:
                    if message.get("content"):
                        partials.append((time.perf_counter() - started, message["content"]))
        ended = time.perf_counter() - started

        assert partials, "no messages/partial events reached the SDK"
        assert partials[-1][1] == SERVED
        assert len(partials) >= 20, len(partials)  # token by token
        assert all(SERVED.startswith(text) for _, text in partials)
        # 30 words at 50 ms: the first arrive well before the run ends.
        assert partials[0][0] < ended - 0.8, (partials[0][0], ended)

        # The CLI's server path shows the same tokens as they come (messages-tuple).
        from nova.cli.remote import ServerTarget, remote_turn

        shown: list[tuple[float, str]] = []
        original = TurnDisplay.show

        def record(self: TurnDisplay, event: Any) -> None:
            original(self, event)
            if isinstance(event, Token):
                shown.append((time.perf_counter(), self.text))

        monkeypatch.setattr(TurnDisplay, "show", record)
        monkeypatch.setattr("nova.cli.remote.GRAPH_ID", "streaming")
        values = remote_turn(
            ServerTarget(url=url, api_key=None, required=True),
            text="And tomorrow?",
            thread="cli-thread",
            project="personal",
            agent="general_chat",
            interactive=False,
            stream=True,
        )
        ended_at = time.perf_counter()
        assert values["answer"].startswith(SERVED)
        assert shown and shown[-1][1] == SERVED and len(shown) >= 20
        assert shown[0][0] < ended_at - 0.8

    # The served run recorded its model call's usage in the server's ledger.
    from nova.ledger.usage import UsageLedger

    ledger = UsageLedger(f"sqlite:///{data_dir / 'ledger.sqlite'}")
    # Written by the server's usage worker while it ran (and flushed when it stopped).
    records = ledger.list()
    calls = [r for r in records if r.kind == "model"]
    assert calls and calls[0].agent == "general_chat" and calls[0].model == "streaming-test"
    assert (calls[0].prompt_tokens, calls[0].completion_tokens) == (
        PROMPT_TOKENS,
        COMPLETION_TOKENS,
    )


@pytest.mark.integration
@pytest.mark.slow
async def test_durable_server_streams_the_agents_tokens_before_the_run_ends(
    tmp_path: Path,
) -> None:
    from langgraph_sdk import get_client
    from server_fixtures import API_KEYS, ROOT, durable_server
    from streaming_graphs import ANSWER as SERVED

    graphs = {"streaming": f"{ROOT / 'tests' / 'streaming_graphs.py'}:streaming"}
    with durable_server(tmp_path / "durable-data", graphs) as server:
        client = get_client(url=server.url, api_key=API_KEYS["alice"])
        thread = await client.threads.create()
        started = time.perf_counter()
        tokens: list[tuple[float, str]] = []
        async for part in client.runs.stream(
            thread["thread_id"],
            "streaming",
            input={"messages": [{"role": "user", "content": "Tell me about your day"}]},
            context={"project": "personal", "agent": "general_chat"},
            stream_mode="messages-tuple",
            stream_subgraphs=True,
        ):
            if part.event.startswith("messages") and isinstance(part.data, list):
                message, metadata = part.data
                if metadata.get("langgraph_node") == "agent" and message.get("content"):
                    tokens.append((time.perf_counter() - started, message["content"]))
        ended = time.perf_counter() - started
    assert "".join(text for _, text in tokens) == SERVED
    assert len(tokens) >= 30
    assert tokens[0][0] < ended - 0.8, (tokens[0][0], ended)
