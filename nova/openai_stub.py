"""An OpenAI-compatible server on loopback that replays scripted turns, for tests of the real path.

Tests (and ``nova doctor``'s tests) point Nova's real model factory and ``ChatOpenAI`` at
it. It speaks ``/v1/chat/completions`` (plain JSON, or SSE chunks with a final usage chunk
when ``stream_options.include_usage`` is set) and ``/v1/models``, and answers with the
shapes real endpoints send: tool calls (single and parallel), ``usage``, and the errors
of a wrong key (401), an unknown model (404 ``model_not_found``), a rate limit (429 with
``Retry-After``), a server error (500), a slow answer (a delay beyond the client's timeout),
malformed tool-call JSON and ``context_length_exceeded`` (400).

Every request is recorded (``StubServer.requests``) so a test can assert on the messages,
tool schemas and parameters that reached the endpoint. ``EndpointQuirks`` make the
server behave like llama.cpp, Ollama, vLLM or LM Studio (``quirks_for(profile)``).

Example::

    with StubServer() as server:
        server.script(reply("Hello"), rate_limited(retry_after_s=1), reply("Again"))
        ... NOVA_MODEL_BASE_URL=server.base_url ...
        assert server.requests[0].messages[-1]["content"] == "hi"
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Self

from nova.providers import ProviderProfile

DEFAULT_MODELS = ("stub-model",)


# --- scripted turns -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StubToolCall:
    """One tool call in a scripted answer; ``arguments`` is sent as-is (may be malformed)."""

    name: str
    arguments: str
    id: str = field(default_factory=lambda: f"call_{uuid.uuid4().hex[:12]}")


@dataclass(frozen=True, slots=True)
class Turn:
    """One scripted answer of the server: a completion, or an error, after ``delay_s``."""

    content: str | None = ""
    tool_calls: tuple[StubToolCall, ...] = ()
    status: int = 200
    error: Mapping[str, Any] | None = None
    """The ``error`` object of an error answer (``message``, ``type``, ``param``, ``code``)."""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    """Seconds before the answer starts (beyond the client's timeout: a timeout)."""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int = 0
    model: str | None = None
    """Serve this turn only to requests for this model (``None``: any model)."""


def reply(text: str, **kwargs: Any) -> Turn:
    """Answer with ``text``."""
    return Turn(content=text, **kwargs)


def call(name: str, /, **arguments: Any) -> StubToolCall:
    """Build a tool call of ``name`` with ``arguments`` (encoded as JSON)."""
    return StubToolCall(name, json.dumps(arguments))


def tool_calls(*calls: StubToolCall, text: str | None = None, **kwargs: Any) -> Turn:
    """Answer with one or more (parallel) tool calls."""
    return Turn(content=text, tool_calls=tuple(calls), **kwargs)


def malformed_tool_call(name: str, raw_arguments: str = '{"sku": "A-1",', **kwargs: Any) -> Turn:
    """Answer with a tool call whose arguments are not valid JSON."""
    return Turn(content=None, tool_calls=(StubToolCall(name, raw_arguments),), **kwargs)


def error(
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> Turn:
    """Answer with an OpenAI-shaped error."""
    body = {"message": message, "type": type_, "param": param, "code": code}
    return Turn(status=status, error=body, headers=dict(headers or {}), **kwargs)


def unauthorized(key_hint: str = "sk-wro****") -> Turn:
    """Answer with the 401 of a wrong API key."""
    return error(
        401,
        f"Incorrect API key provided: {key_hint}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )


def model_not_found(model: str) -> Turn:
    """Answer with the 404 of a model the endpoint does not serve."""
    return error(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
    )


def rate_limited(retry_after_s: float = 1.0, **kwargs: Any) -> Turn:
    """Answer with a 429 asking the client to wait ``retry_after_s`` seconds."""
    return error(
        429,
        "Rate limit reached for requests. Please try again later.",
        type_="requests",
        code="rate_limit_exceeded",
        headers={"Retry-After": f"{retry_after_s:g}"},
        **kwargs,
    )


def server_error(**kwargs: Any) -> Turn:
    """Answer with a 500, worded the way OpenAI words it."""
    return error(
        500,
        "The server had an error while processing your request. Sorry about that!",
        type_="server_error",
        **kwargs,
    )


def context_length_exceeded(limit: int = 8192, sent: int = 9000, **kwargs: Any) -> Turn:
    """Answer with the 400 of a prompt longer than the model's context window."""
    return error(
        400,
        f"This model's maximum context length is {limit} tokens. However, your messages "
        f"resulted in {sent} tokens. Please reduce the length of the messages.",
        param="messages",
        code="context_length_exceeded",
        **kwargs,
    )


def slow(delay_s: float, turn: Turn | None = None) -> Turn:
    """``turn`` (default: a short answer) after ``delay_s`` seconds."""
    return replace(turn or reply("too late"), delay_s=delay_s)


# --- what the server accepts --------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EndpointQuirks:
    """What the emulated server accepts; the defaults behave like api.openai.com."""

    json_schema: bool = True
    """Accept ``response_format`` of type ``json_schema`` (llama.cpp: rejected)."""
    json_mode: bool = True
    """Accept ``response_format`` of type ``json_object``."""
    token_limit_param: Literal["max_completion_tokens", "max_tokens"] = "max_completion_tokens"
    """The field that caps the answer; the other one is ignored (llama.cpp: ``max_tokens``)."""
    tool_choice: bool = True
    """Accept ``tool_choice`` (rejected with a 400 otherwise)."""
    parallel_tool_calls: bool = True
    """Accept ``parallel_tool_calls`` (rejected with a 400 otherwise)."""
    max_concurrency: int | None = None
    """Requests served at once; more answer 503 (llama.cpp with one slot: 1)."""


def quirks_for(profile: ProviderProfile) -> EndpointQuirks:
    """Return quirks that make the server behave like the endpoint ``profile`` describes.

    What the profile says the endpoint lacks is rejected, so a request that uses it fails.
    """
    return EndpointQuirks(
        json_schema=profile.structured_output == "json_schema",
        json_mode=profile.structured_output in ("json_schema", "json_mode"),
        token_limit_param=profile.token_limit_param,
        tool_choice=profile.tool_choice,
        parallel_tool_calls=profile.parallel_tool_calls,
        max_concurrency=profile.max_concurrency,
    )


# --- recorded requests --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Mapping[str, Any]
    status: int = 0
    """Status the server answered with."""

    @property
    def model(self) -> str | None:
        """The requested model."""
        value = self.body.get("model")
        return str(value) if value is not None else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages sent."""
        return list(self.body.get("messages") or [])

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The tool schemas sent (OpenAI ``tools`` format)."""
        return list(self.body.get("tools") or [])

    @property
    def tool_names(self) -> list[str]:
        """Names of the tools sent, in order."""
        return [tool["function"]["name"] for tool in self.tools]

    @property
    def params(self) -> dict[str, Any]:
        """Every request field but ``messages`` and ``tools`` (model, temperature, limits…)."""
        return {k: v for k, v in self.body.items() if k not in ("messages", "tools")}


# --- the server ---------------------------------------------------------------------------
Responder = Callable[[RecordedRequest], Turn]


def _words(text: str) -> list[str]:
    return text.split()


def _estimate_tokens(body: Mapping[str, Any]) -> int:
    text = json.dumps(body.get("messages") or []) + json.dumps(body.get("tools") or [])
    return max(1, len(text) // 4)


def sample_instance(schema: Mapping[str, Any], defs: Mapping[str, Any] | None = None) -> Any:
    """Return a small value that satisfies a JSON schema (what an obliging model would send)."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return sample_instance(defs[str(schema["$ref"]).rsplit("/", 1)[-1]], defs)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return sample_instance(schema[key][0], defs)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties") or {}
        required = schema.get("required") or list(properties)
        return {name: sample_instance(properties[name], defs) for name in required}
    if kind == "array":
        return [sample_instance(schema.get("items") or {"type": "string"}, defs)]
    return {"string": "ok", "integer": 1, "number": 1.0, "boolean": True}.get(str(kind))


def obliging_turn(request: RecordedRequest) -> Turn:
    """Answer a request the way a willing model would, when no turn is scripted.

    A requested JSON schema gets an instance of it, a forced or only tool gets a call with
    sample arguments, a JSON-mode request gets ``{}``; anything else gets ``"ok"``.
    """
    body = request.body
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        return reply(json.dumps(sample_instance(schema)))
    tools = request.tools
    choice = body.get("tool_choice")
    if tools and choice != "none":
        forced = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
        if forced or choice == "required" or len(tools) == 1:
            tool = next((t for t in tools if t["function"]["name"] == forced), tools[0])
            arguments = sample_instance(tool["function"].get("parameters") or {})
            return tool_calls(StubToolCall(tool["function"]["name"], json.dumps(arguments)))
    if response_format.get("type") == "json_object":
        return reply("{}")
    return reply("ok")


class StubServer:
    """An OpenAI-compatible HTTP server on 127.0.0.1 that answers with scripted turns.

    Turns are served in order (a turn for a named model only to that model); when none is
    left the ``responder`` answers (``obliging_turn`` by default). Requests with a wrong
    key (``api_key`` set) get a 401, requests for a model not in ``models`` a 404, and
    requests using a feature ``quirks`` turns off a 400.
    """

    def __init__(
        self,
        turns: Iterable[Turn] = (),
        *,
        models: Sequence[str] = DEFAULT_MODELS,
        api_key: str | None = None,
        quirks: EndpointQuirks | None = None,
        responder: Responder | None = None,
    ) -> None:
        """Prepare a server (``start()`` or ``with`` runs it)."""
        self.models = list(models)
        self.api_key = api_key
        self.quirks = quirks or EndpointQuirks()
        self.responder = responder or obliging_turn
        self.requests: list[RecordedRequest] = []
        """Every request received, in arrival order (status filled in as answered)."""
        self.peak_concurrency = 0
        """Most chat requests in progress at once."""
        self.busy_s = 0.0
        """Seconds the app spent answering requests, from the request's arrival to the last
        byte of its answer (summed; a benchmark subtracts it from a turn's time)."""
        self._turns: collections.deque[Turn] = collections.deque(turns)
        self._lock = threading.Lock()
        self._in_flight = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._port: int | None = None

    # --- scripting ------------------------------------------------------------------------
    def script(self, *turns: Turn) -> None:
        """Append ``turns`` to the script."""
        with self._lock:
            self._turns.extend(turns)

    @property
    def pending(self) -> int:
        """Scripted turns not served yet."""
        with self._lock:
            return len(self._turns)

    def chat_requests(self) -> list[RecordedRequest]:
        """Return the ``/chat/completions`` requests received."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def _next_turn(self, request: RecordedRequest) -> Turn:
        with self._lock:
            for index, turn in enumerate(self._turns):
                if turn.model is None or turn.model == request.model:
                    del self._turns[index]
                    return turn
        return self.responder(request)

    # --- lifecycle ------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The port the server listens (or listened) on."""
        if self._port is None:
            raise RuntimeError("The stub server was never started; call start() first")
        return self._port

    @property
    def base_url(self) -> str:
        """The OpenAI base URL to configure (``http://127.0.0.1:<port>/v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout_s: float = 10.0) -> Self:
        """Start serving in a background thread; return once it accepts connections."""
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._socket, self._port = sock, int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app(), log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="openai-stub", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("The OpenAI stub server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving (delayed answers are cut short)."""
        if self._loop is not None and self._stopped is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                self._loop.call_soon_threadsafe(self._stopped.set)
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()

    def __enter__(self) -> Self:
        """Start the server."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop the server."""
        self.stop()

    # --- the ASGI app ---------------------------------------------------------------------
    def app(self) -> Any:
        """Return the ASGI app (timed Starlette routes; mount it or use ``httpx.ASGITransport``)."""
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse, Response, StreamingResponse
        from starlette.routing import Route

        def failure(turn: Turn) -> JSONResponse:
            return JSONResponse({"error": dict(turn.error or {})}, turn.status, dict(turn.headers))

        def record(request: Request, body: Mapping[str, Any]) -> int:
            recorded = RecordedRequest(
                request.method, request.url.path, dict(request.headers), dict(body)
            )
            with self._lock:
                self.requests.append(recorded)
                return len(self.requests) - 1

        def answered(index: int, status: int) -> None:
            with self._lock:
                old = self.requests[index]
                self.requests[index] = RecordedRequest(
                    old.method, old.path, old.headers, old.body, status
                )

        def refused_key(request: Request) -> Turn | None:
            if self.api_key is None:
                return None
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if given == self.api_key:
                return None
            return unauthorized(f"{given[:3]}****{given[-2:]}" if given else "<none>")

        async def list_models(request: Request) -> Response:
            index = record(request, {})
            if (refusal := refused_key(request)) is not None:
                answered(index, refusal.status)
                return failure(refusal)
            answered(index, 200)
            data = [
                {"id": name, "object": "model", "created": 0, "owned_by": "stub"}
                for name in self.models
            ]
            return JSONResponse({"object": "list", "data": data})

        async def chat(request: Request) -> Response:
            try:
                body = json.loads(await request.body() or b"{}")
            except json.JSONDecodeError:
                body = {}
            index = record(request, body)
            turn = (
                refused_key(request) or self._check(body) or self._next_turn(self.requests[index])
            )
            with self._lock:
                self._in_flight += 1
                busy = (
                    self.quirks.max_concurrency is not None
                    and self._in_flight > self.quirks.max_concurrency
                )
                self.peak_concurrency = max(self.peak_concurrency, self._in_flight)
            try:
                if busy:
                    turn = error(503, "Server busy: all slots are in use", type_="server_error")
                if turn.delay_s:
                    await self._sleep(turn.delay_s)
                answered(index, turn.status)
                if turn.status >= 400:
                    return failure(turn)
                completion = self._completion(body, turn)
                if body.get("stream"):
                    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                    return StreamingResponse(
                        _sse(completion, include_usage), media_type="text/event-stream"
                    )
                return JSONResponse(completion)
            finally:
                with self._lock:
                    self._in_flight -= 1

        routes = Starlette(
            routes=[
                Route("/v1/models", list_models, methods=["GET"]),
                Route("/v1/chat/completions", chat, methods=["POST"]),
            ]
        )

        async def timed(scope: Any, receive: Any, send: Any) -> None:
            # Plain ASGI around the routes, so a streamed answer counts until its last chunk.
            started = time.perf_counter()
            try:
                await routes(scope, receive, send)
            finally:
                if scope["type"] == "http":
                    with self._lock:
                        self.busy_s += time.perf_counter() - started

        return timed

    async def _sleep(self, seconds: float) -> None:
        if self._stopped is None:
            self._loop, self._stopped = asyncio.get_running_loop(), asyncio.Event()
        # At least ``seconds`` by the clock that ``busy_s`` is measured with: the event loop
        # may wake a timer up to its clock resolution early (0.29992 s for a 0.3 s delay).
        deadline = time.perf_counter() + seconds
        while (left := deadline - time.perf_counter()) > 0 and not self._stopped.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), timeout=left)

    def _check(self, body: Mapping[str, Any]) -> Turn | None:
        """Refuse what a real endpoint would: unknown model, unsupported request fields."""
        model = body.get("model")
        if self.models and model not in self.models:
            return model_not_found(str(model))
        quirks = self.quirks
        kind = (body.get("response_format") or {}).get("type")
        if kind == "json_schema" and not quirks.json_schema:
            return error(400, "response_format type 'json_schema' is not supported")
        if kind == "json_object" and not quirks.json_mode:
            return error(400, "response_format type 'json_object' is not supported")
        if "tool_choice" in body and not quirks.tool_choice:
            return error(400, "Unsupported param: tool_choice", param="tool_choice")
        if "parallel_tool_calls" in body and not quirks.parallel_tool_calls:
            return error(400, "Unsupported param: parallel_tool_calls", param="parallel_tool_calls")
        return None

    def _completion(self, body: Mapping[str, Any], turn: Turn) -> dict[str, Any]:
        content = turn.content
        finish = "tool_calls" if turn.tool_calls else "stop"
        limit = body.get(self.quirks.token_limit_param)
        if isinstance(limit, int) and content and len(_words(content)) > limit:
            content = " ".join(_words(content)[:limit])
            finish = "length"
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if turn.tool_calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in turn.tool_calls
            ]
        prompt = turn.prompt_tokens if turn.prompt_tokens is not None else _estimate_tokens(body)
        produced = len(_words(content or "")) + sum(
            len(c.arguments) // 4 + 1 for c in turn.tool_calls
        )
        completion = turn.completion_tokens if turn.completion_tokens is not None else produced
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": turn.cached_tokens},
            },
        }


async def _sse(completion: Mapping[str, Any], include_usage: bool) -> AsyncIterator[str]:
    """Stream ``completion`` as ``chat.completion.chunk`` events, the way OpenAI does."""
    choice = completion["choices"][0]
    message = choice["message"]
    head = {
        "id": completion["id"],
        "object": "chat.completion.chunk",
        "created": completion["created"],
        "model": completion["model"],
    }

    def chunk(delta: Mapping[str, Any], finish: str | None = None) -> str:
        event = {**head, "choices": [{"index": 0, "delta": dict(delta), "finish_reason": finish}]}
        return f"data: {json.dumps(event)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    words = (message.get("content") or "").split(" ")
    for position, word in enumerate(words if message.get("content") else []):
        yield chunk({"content": word if position == 0 else f" {word}"})
    for index, tool in enumerate(message.get("tool_calls") or []):
        function = tool["function"]
        start = {"index": index, "id": tool["id"], "type": "function"}
        yield chunk({"tool_calls": [{**start, "function": {"name": function["name"]}}]})
        arguments = function["arguments"]
        half = len(arguments) // 2
        for piece in (arguments[:half], arguments[half:]):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield chunk({}, choice["finish_reason"])
    if include_usage:
        yield f"data: {json.dumps({**head, 'choices': [], 'usage': completion['usage']})}\n\n"
    yield "data: [DONE]\n\n"
