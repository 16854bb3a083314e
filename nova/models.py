"""Chat models for agents: any OpenAI-compatible endpoint, or a typed "no model" state.

Models are built inside nodes at call time, never at import: a graph server imports every
graph at start-up, and no model configured is a normal state, not a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel

from nova.catalog import AgentSpec
from nova.concurrency import limit_concurrency
from nova.settings import NovaSettings, get_settings

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

    extra: dict[str, object] = {}
    if spec.model.max_tokens and settings.model_base_url:
        # llama.cpp and some local servers ignore max_completion_tokens; send both spellings.
        extra["extra_body"] = {"max_tokens": spec.model.max_tokens}
    api_key = settings.model_api_key.get_secret_value() if settings.model_api_key else "not-needed"
    client = ChatOpenAI(
        model=name,
        base_url=str(settings.model_base_url) if settings.model_base_url else None,
        api_key=api_key,  # type: ignore[arg-type]
        temperature=spec.model.temperature,
        max_completion_tokens=spec.model.max_tokens,
        timeout=settings.model_timeout_s,
        # Retries belong to the node's RetryPolicy (NOVA_MODEL_MAX_RETRIES, transient errors
        # only); a client retrying too would multiply the attempts.
        max_retries=0,
        **extra,  # type: ignore[arg-type]
    )
    if settings.model_stream_usage:
        # Token usage on streamed answers too (``nova stats``, the daily budget): ChatOpenAI
        # asks for it by default only from api.openai.com.
        client.stream_usage = True
    # Per-model slots with backpressure: a slow or rate-limited model cannot starve the others.
    return limit_concurrency(client, name)


def default_model_factory(spec: AgentSpec, run_override: str | None) -> ModelResult:
    """Build an agent's model from settings (the factory the served graphs use)."""
    return build_chat_model(spec, run_override)
