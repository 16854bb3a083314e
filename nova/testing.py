"""Scripted chat models: tests, evals and benchmarks run Nova with these, never a real model.

A ``ScriptedChatModel`` replays a transcript of ``AIMessage``s (tool calls included) and
records every prompt that reached it and every tool it was bound to, so a test can assert
on exactly what the model saw.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    InputTokenDetails,
    ToolCall,
    ToolCallChunk,
    UsageMetadata,
)
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field, PrivateAttr

from nova.catalog import AgentSpec
from nova.models import ModelResult, ModelUnavailable
from nova.state import RouteDecision, RouteMethod, Subgraph


def route_to(
    agent: str | None,
    subgraph: Subgraph | None,
    *,
    method: RouteMethod = "semantic",
    confidence: float = 0.95,
    margin: float = 0.9,
) -> RouteDecision:
    """Build the route decision a test hands a subgraph: ``agent`` chosen with ``confidence``."""
    return RouteDecision(
        id="r-test",
        agent=agent,
        subgraph=subgraph,
        confidence=confidence,
        margin=margin,
        candidates=[{"agent": agent or "", "score": confidence}],
        method=method,
        reason="test",
        catalog_version="test",
        router_version="test",
        latency_ms=0.1,
    )


def tool_call(name: str, /, **args: Any) -> ToolCall:
    """Build one tool call for a scripted ``AIMessage``."""
    return ToolCall(name=name, args=args, id=f"call_{uuid.uuid4().hex[:12]}", type="tool_call")


def calls(*tool_calls: ToolCall, text: str = "") -> AIMessage:
    """Build a scripted model turn that calls tools."""
    return AIMessage(content=text, tool_calls=list(tool_calls))


def says(text: str) -> AIMessage:
    """Build a scripted model turn that answers in plain text."""
    return AIMessage(content=text)


def with_usage(turn: AIMessage, *, prompt: int, completion: int, cached: int = 0) -> AIMessage:
    """Return ``turn`` carrying ``usage_metadata`` as an OpenAI-compatible endpoint reports it."""
    usage = UsageMetadata(
        input_tokens=prompt,
        output_tokens=completion,
        total_tokens=prompt + completion,
        input_token_details=InputTokenDetails(cache_read=cached),
    )
    return turn.model_copy(update={"usage_metadata": usage})


class ScriptExhausted(RuntimeError):
    """The model was called more often than its script has turns."""


class ScriptedChatModel(GenericFakeChatModel):
    """A tool-calling fake chat model that replays a script and records what it received."""

    messages: Iterator[AIMessage | str] = Field(default_factory=lambda: iter(()))
    latency_s: float = 0.0
    """Seconds each call sleeps, to model a slow endpoint in benchmarks."""
    model_name: str = "scripted"
    disable_streaming: bool = (
        True  # tool calls must arrive whole, also under stream_mode="messages"
    )

    _received: list[list[BaseMessage]] = PrivateAttr(default_factory=list)
    _bound_tools: list[list[str]] = PrivateAttr(default_factory=list)
    _script_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    """One script, several threads (a server's workers): each call takes the next turn alone."""

    @classmethod
    def from_script(cls, turns: Iterable[AIMessage | str], **kwargs: Any) -> ScriptedChatModel:
        """Build a model that answers with ``turns`` in order."""
        return cls(messages=iter(list(turns)), **kwargs)

    @classmethod
    def repeating(cls, turn: AIMessage | str, **kwargs: Any) -> ScriptedChatModel:
        """Build a model that answers every call with a fresh copy of the same turn."""
        # Copies: LangChain stamps an id on the message it returns, and one shared object
        # would make every turn replace the previous one in a thread's messages.
        copies = (
            turn if isinstance(turn, str) else turn.model_copy(deep=True) for _ in itertools.count()
        )
        return cls(messages=copies, **kwargs)

    @property
    def received(self) -> list[list[BaseMessage]]:
        """Every prompt (list of messages) that reached the model, in call order."""
        return self._received

    @property
    def bound_tools(self) -> list[list[str]]:
        """Tool names passed to each ``bind_tools`` call."""
        return self._bound_tools

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Record the tools (by name) and return the model itself; the script decides calls."""
        names = [convert_to_openai_tool(tool)["function"]["name"] for tool in tools]
        self._bound_tools.append(names)
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self._received.append(list(messages))
        if self.latency_s:
            time.sleep(self.latency_s)
        try:
            with self._script_lock:  # a generator cannot be advanced by two threads at once
                return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)
        except StopIteration:
            raise ScriptExhausted(
                f"Scripted model called {len(self._received)} times; its script ran out"
            ) from None

    @property
    def _llm_type(self) -> str:
        return "nova-scripted"


class StreamingScriptedChatModel(ScriptedChatModel):
    """A scripted model that streams each turn token by token, as a real endpoint does.

    Text arrives word by word (whitespace kept) with ``token_delay_s`` between tokens; tool
    calls and ``usage_metadata`` arrive whole in the last chunk. Under
    ``stream_mode="messages"`` a client sees the tokens while the call is still running.
    """

    disable_streaming: bool = False
    token_delay_s: float = 0.0
    """Seconds before each token, to model a model that generates as it goes."""

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        message = self._generate(messages, stop=stop, **kwargs).generations[0].message
        assert isinstance(message, AIMessage)
        text = message.content if isinstance(message.content, str) else ""
        tokens = [token for token in re.split(r"(\s+)", text) if token]
        for token in tokens:
            if self.token_delay_s:
                time.sleep(self.token_delay_s)
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=token, id=message.id))
            if run_manager:
                run_manager.on_llm_new_token(token, chunk=chunk)
            yield chunk
        last = AIMessageChunk(
            content="",
            id=message.id,
            tool_call_chunks=[
                ToolCallChunk(
                    name=call["name"], args=json.dumps(call["args"]), id=call["id"], index=i
                )
                for i, call in enumerate(message.tool_calls)
            ],
            usage_metadata=message.usage_metadata,
            chunk_position="last",
        )
        yield ChatGenerationChunk(message=last)


class ScriptedModels:
    """A model factory mapping agent names to scripted models; others have no model.

    Pass it as ``model_factory=`` to a graph builder. Unscripted agents get
    ``ModelUnavailable``, exactly like a deployment with no model configured.
    """

    def __init__(self, scripts: Mapping[str, ScriptedChatModel] | None = None) -> None:
        self.models: dict[str, ScriptedChatModel] = dict(scripts or {})
        self.requests: list[tuple[str, str | None]] = []

    def __call__(self, spec: AgentSpec, run_override: str | None) -> ModelResult:
        """Return the scripted model for ``spec`` (recording the request)."""
        self.requests.append((spec.name, run_override))
        model = self.models.get(spec.name)
        if model is None:
            return ModelUnavailable(spec.name, "no model is configured (scripted test)")
        return model


class PromptDependentChatModel(ScriptedChatModel):
    """A fake model whose answer is a function of the prompt it receives.

    ``respond(messages)`` returns the turn; tests of prompt rewrites use it to model an
    agent that answers right only when its system prompt says the right thing.
    """

    respond: Callable[[list[BaseMessage]], AIMessage | str] = Field(default=lambda messages: "")

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        from langchain_core.outputs import ChatGeneration

        self._received.append(list(messages))
        turn = self.respond(list(messages))
        message = AIMessage(turn) if isinstance(turn, str) else turn.model_copy(deep=True)
        return ChatResult(generations=[ChatGeneration(message=message)])
