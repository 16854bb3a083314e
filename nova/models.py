"""Chat models for agents: any OpenAI-compatible endpoint, or a typed "no model" state.

Models are built inside nodes at call time, never at import: a graph server imports every
graph at start-up, and no model configured is a normal state, not a crash.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.utils.function_calling import convert_to_openai_function
from pydantic import BaseModel, ValidationError

from nova.catalog import AgentSpec
from nova.concurrency import default_limiter, limit_concurrency
from nova.providers import ProviderProfile
from nova.settings import NovaSettings, get_settings

SchemaT = TypeVar("SchemaT", bound=BaseModel)

HOW_TO_CONFIGURE = (
    "Set NOVA_MODEL_API_KEY (OpenAI) or NOVA_MODEL_BASE_URL (any OpenAI-compatible server: "
    "vLLM, Ollama, llama.cpp, LM Studio) and NOVA_MODEL_NAME, e.g. "
    "NOVA_MODEL_BASE_URL=http://127.0.0.1:11434/v1 NOVA_MODEL_NAME=llama3.1."
)


@dataclass(frozen=True, slots=True)
class ModelUnavailable:
    """No model can serve this agent; ``message`` tells the user how to configure one."""

    agent: str
    reason: str

    @property
    def message(self) -> str:
        """A user-facing explanation with the fix."""
        return (
            f"The {self.agent} agent needs a language model, but {self.reason}. {HOW_TO_CONFIGURE}"
        )


ModelResult = BaseChatModel | ModelUnavailable
ModelFactory = Callable[[AgentSpec, str | None], ModelResult]
"""``factory(spec, run_override) -> model``: how graphs obtain a model for an agent."""


def resolve_model_name(
    spec: AgentSpec, settings: NovaSettings, run_override: str | None = None
) -> str | None:
    """Pick the model name: run override, then settings override, catalog, settings default."""
    return run_override or settings.model_override or spec.model.name or settings.model_name


def build_chat_model(
    spec: AgentSpec,
    run_override: str | None = None,
    settings: NovaSettings | None = None,
    *,
    model_name: str | None = None,
) -> ModelResult:
    """Build the chat model for ``spec`` on the configured OpenAI-compatible endpoint.

    Args:
        spec: The agent whose catalog entry chooses the model and its temperature.
        run_override: Model name from the run context, if the caller forced one.
        settings: Settings to read; defaults to the process settings.
        model_name: Build exactly this model (used for the agent's fallback model).

    Returns:
        A ``ChatOpenAI`` client, or ``ModelUnavailable`` saying what is missing.

    """
    settings = settings or get_settings()
    if not settings.model_configured:
        return ModelUnavailable(spec.name, "no model endpoint is configured")
    name = model_name or resolve_model_name(spec, settings, run_override)
    if not name:
        return ModelUnavailable(spec.name, "no model name is configured (NOVA_MODEL_NAME)")

    from langchain_openai import ChatOpenAI  # imported late: heavy, and only when a model is used

    profile = settings.provider_profile
    limits: dict[str, Any] = {}
    if spec.model.max_tokens and profile.token_limit_param == "max_tokens":
        # langchain-openai renames max_tokens to max_completion_tokens, which llama.cpp and
        # other local servers ignore: the old spelling has to travel in the body itself.
        limits["extra_body"] = {"max_tokens": spec.model.max_tokens}
    elif spec.model.max_tokens:
        limits["max_completion_tokens"] = spec.model.max_tokens
    disabled = {
        param: None
        for param, supported in (
            ("tool_choice", profile.tool_choice),
            ("parallel_tool_calls", profile.parallel_tool_calls),
        )
        if not supported
    }
    api_key = settings.model_api_key.get_secret_value() if settings.model_api_key else "not-needed"
    client = ChatOpenAI(
        model=name,
        base_url=str(settings.model_base_url) if settings.model_base_url else None,
        api_key=api_key,  # type: ignore[arg-type]
        temperature=spec.model.temperature,
        timeout=settings.model_timeout_s,
        # The client retries what another attempt can fix (429, 5xx, timeouts, dropped
        # connections), waiting as long as the server's Retry-After asks; the node's
        # RetryPolicy does not retry these again (nodes.resilience.is_retryable_model_error).
        max_retries=settings.model_max_retries,
        # Honoured by ChatOpenAI.with_structured_output; Nova's own structured_output() and
        # the agent's bind_tools() never send what the profile says the endpoint lacks.
        disabled_params=disabled or None,
        **limits,
    )
    if settings.model_stream_usage:
        # Token usage on streamed answers too (``nova stats``, the daily budget): ChatOpenAI
        # asks for it by default only from api.openai.com.
        client.stream_usage = True
    # Per-model slots with backpressure: a slow or rate-limited model cannot starve the others.
    return limit_concurrency(client, name)


def model_call_budget_s(model: BaseChatModel, settings: NovaSettings | None = None) -> float:
    """Return the longest one call of ``model`` may take, its client's own retries included.

    Each attempt may use the whole ``NOVA_MODEL_TIMEOUT_S``; between attempts the OpenAI
    client waits at most ~8 s unless the server's ``Retry-After`` asks for more. A model
    without a retrying client gets one timeout.
    """
    settings = settings or get_settings()
    retries = getattr(getattr(model, "inner", model), "max_retries", 0)
    retries = retries if isinstance(retries, int) and retries > 0 else 0
    return settings.model_timeout_s * (retries + 1) + 10.0 * retries


class StructuredOutputError(ValueError):
    """The model's answer did not hold the requested structure."""


def _as_messages(value: LanguageModelInput) -> list[BaseMessage]:
    if isinstance(value, PromptValue):
        return value.to_messages()
    if isinstance(value, str):
        return [HumanMessage(value)]
    if isinstance(value, Sequence):
        return [m if isinstance(m, BaseMessage) else HumanMessage(str(m)) for m in value]
    raise TypeError(f"Cannot send {type(value).__name__} to a model")


def _json_in(text: str) -> Any:
    text = text.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise StructuredOutputError(f"the model answered without a JSON object: {text[:200]!r}")
    try:
        return json.loads(text[start : end + 1])
    except json.JSONDecodeError as error:
        raise StructuredOutputError(f"the model's JSON is malformed ({error})") from None


def _parse(schema: type[SchemaT], reply: object, *, tool: str | None) -> SchemaT:
    if not isinstance(reply, AIMessage):
        raise StructuredOutputError(f"the model returned {type(reply).__name__}")
    data: Any
    # Whatever was asked, an answer given as a call of the schema's tool is taken as such.
    call = next((c for c in reply.tool_calls if c["name"] in (tool, schema.__name__)), None)
    if call is None and tool is not None and reply.tool_calls:
        call = reply.tool_calls[0]
    if call is not None:
        data = call["args"]
    elif tool is not None and reply.invalid_tool_calls:
        bad = reply.invalid_tool_calls[0]
        raise StructuredOutputError(
            f"the model called {bad.get('name')} with malformed arguments: {bad.get('error')}"
        )
    else:
        content = reply.content if isinstance(reply.content, str) else str(reply.content)
        data = _json_in(content)
    try:
        return schema.model_validate(data)
    except ValidationError as error:
        raise StructuredOutputError(
            f"the model's answer does not fit {schema.__name__}: {error}"
        ) from None


def structured_output(
    model: BaseChatModel,
    schema: type[SchemaT],
    profile: ProviderProfile | None = None,
) -> Runnable[LanguageModelInput, SchemaT]:
    """Return a runnable that asks ``model`` for an instance of ``schema``, as the endpoint can.

    ``json_schema`` sends the schema as ``response_format``; ``function_calling`` offers it as
    the only tool (forced with ``tool_choice`` where the endpoint accepts it); ``json_mode``
    asks for a JSON object and puts the schema in a system message. Request fields the
    endpoint rejects (``tool_choice``, ``parallel_tool_calls``) are never sent.

    Args:
        model: The chat model (as built by ``build_chat_model``).
        schema: The pydantic model of the answer.
        profile: What the endpoint supports; default: the settings' provider profile.

    Raises:
        StructuredOutputError: (when invoked) the answer does not hold a valid ``schema``.

    """
    profile = profile or get_settings().provider_profile
    function = convert_to_openai_function(schema)
    name = str(function["name"])
    bound: Runnable[LanguageModelInput, Any]
    tool: str | None = None
    prepare: Callable[[LanguageModelInput], list[BaseMessage]] = _as_messages
    if profile.structured_output == "json_schema":
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": function["parameters"]},
        }
        bound = model.bind(response_format=response_format)
    elif profile.structured_output == "function_calling":
        tool = name
        kwargs: dict[str, Any] = {}
        if profile.tool_choice:
            kwargs["tool_choice"] = name
        if profile.parallel_tool_calls:
            kwargs["parallel_tool_calls"] = False
        bound = model.bind_tools([schema], **kwargs)
    else:
        instruction = (
            "Answer with one JSON object and nothing else. It must match this JSON schema:\n"
            + json.dumps(function["parameters"], ensure_ascii=False)
        )

        def prepare(value: LanguageModelInput) -> list[BaseMessage]:
            # Into the first system message: many chat templates allow a system turn only first.
            messages = _as_messages(value)
            if messages and isinstance(messages[0], SystemMessage):
                first = f"{messages[0].text}\n\n{instruction}"
                return [SystemMessage(first), *messages[1:]]
            return [SystemMessage(instruction), *messages]

        bound = model.bind(response_format={"type": "json_object"})
    parse: Runnable[Any, SchemaT] = RunnableLambda(
        lambda reply: _parse(schema, reply, tool=tool), name="parse"
    )
    return RunnableLambda(prepare, name="prepare") | bound | parse


def endpoint_message(error: BaseException) -> str:
    """Return what the model endpoint said about ``error`` (its ``error.message``), if anything."""
    body = getattr(error, "body", None)
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return str(getattr(error, "message", None) or error)


def _error_code(error: BaseException) -> str | None:
    code = getattr(error, "code", None)
    if code:
        return str(code)
    body = getattr(error, "body", None)
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and inner.get("code"):
            return str(inner["code"])
    return None


@dataclass(frozen=True, slots=True)
class ModelProblem:
    """Why a model call failed, quoting the endpoint, and what to change."""

    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.problem}. {self.fix}"


def explain_model_error(
    error: BaseException, settings: NovaSettings | None = None
) -> ModelProblem | None:
    """Say why a model call failed and how to fix it; ``None`` if ``error`` is not a model error.

    The problem quotes the endpoint's own message (``401: Incorrect API key provided``), so
    the owner sees what the server said without a traceback.
    """
    settings = settings or get_settings()
    names = {cls.__name__ for cls in type(error).__mro__}
    status = getattr(error, "status_code", None)
    said = endpoint_message(error).rstrip(".")
    where = str(settings.model_base_url or "https://api.openai.com/v1")
    if "APITimeoutError" in names or "CallTimeout" in names:
        return ModelProblem(
            f"The model did not answer within {settings.model_timeout_s:g} s ({where})",
            "Is the server overloaded? Raise NOVA_MODEL_TIMEOUT_S or use a smaller model.",
        )
    if "APIConnectionError" in names:
        return ModelProblem(
            f"Cannot reach the model endpoint at {where} ({said})",
            "Start the server, or fix NOVA_MODEL_BASE_URL.",
        )
    if not isinstance(status, int):
        return None
    retried = f"still after {settings.model_max_retries} retries"
    if status == 401:
        return ModelProblem(
            f"The model endpoint refused the API key (401: {said})",
            "Set NOVA_MODEL_API_KEY to a valid key.",
        )
    if status == 403:
        return ModelProblem(
            f"The model endpoint denied access (403: {said})", "Check the key's permissions."
        )
    if status == 404:
        return ModelProblem(
            f"The model endpoint has no such model (404: {said})",
            "Set NOVA_MODEL_NAME (or the agent's model in the catalog) to a model the server "
            "lists; `nova doctor` shows them.",
        )
    if status == 429:
        return ModelProblem(
            f"The model endpoint is rate-limiting Nova (429: {said}), {retried}",
            "Try again later, or lower NOVA_MODEL_CONCURRENCY.",
        )
    if _error_code(error) == "context_length_exceeded":
        return ModelProblem(
            f"The request is longer than the model's context window (400: {said})",
            "Start a new thread, or lower NOVA_SUMMARY_TRIGGER_TOKENS and "
            "NOVA_RECALL_TOKEN_BUDGET.",
        )
    if status >= 500:
        return ModelProblem(
            f"The model endpoint failed ({status}: {said}), {retried}",
            "Check the server's log; try again later.",
        )
    return ModelProblem(
        f"The model endpoint refused the request ({status}: {said})",
        "If it is a local server, set NOVA_MODEL_PROVIDER to its kind (or the NOVA_MODEL_* "
        "overrides) and run `nova doctor`.",
    )


def describe_model_error(error: BaseException, settings: NovaSettings | None = None) -> str | None:
    """Say, in one line with the fix, why a model call failed; ``None`` if not a model error."""
    explained = explain_model_error(error, settings)
    return str(explained) if explained else None


_built_lock = threading.Lock()
_Built = tuple[NovaSettings, object, AgentSpec, BaseChatModel]
_built: dict[tuple[int, int, int, str | None], _Built] = {}
_BUILT_MAX = 512


def default_model_factory(spec: AgentSpec, run_override: str | None) -> ModelResult:
    """Return an agent's model built from settings (the factory the served graphs use).

    A model is built once per process for the same settings, concurrency limiter, agent
    spec and run override, and shared by every turn (a ``ChatOpenAI`` is safe to share):
    building one cost ~2.5 ms of every model turn. New settings (``get_settings`` cache
    cleared), a reset limiter or a reloaded catalog build anew.
    """
    settings, limiter = get_settings(), default_limiter()
    # ids are safe keys: the entry holds the objects, so no id is reused while it exists.
    key = (id(settings), id(limiter), id(spec), run_override)
    with _built_lock:
        if (entry := _built.get(key)) is not None:
            return entry[3]
    model = build_chat_model(spec, run_override, settings)
    if isinstance(model, BaseChatModel):
        with _built_lock:
            if len(_built) >= _BUILT_MAX:
                _built.clear()
            _built.setdefault(key, (settings, limiter, spec, model))
    return model
