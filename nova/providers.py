"""What an OpenAI-compatible endpoint supports: provider profiles and their presets.

Servers that speak the OpenAI chat API differ in what they accept: llama.cpp ignores
``max_completion_tokens``, rejects ``json_schema`` structured output and serves one request
at a time; some servers refuse ``tool_choice`` or ``parallel_tool_calls``. A
``ProviderProfile`` says what one endpoint supports, and the model factory
(``nova.models``) sends only that. ``NOVA_MODEL_PROVIDER`` picks a preset; the
``NOVA_MODEL_*`` fields of the same name override single entries.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

StructuredOutputMethod = Literal["json_schema", "function_calling", "json_mode"]
"""How a schema-shaped answer is asked for: ``response_format`` with a JSON schema, a forced
(or offered) tool call, or ``response_format={"type": "json_object"}`` plus the schema in
the prompt."""
TokenLimitParam = Literal["max_completion_tokens", "max_tokens"]
"""Which request field carries the cap on generated tokens."""
ProviderName = Literal["openai", "vllm", "ollama", "llamacpp", "lmstudio"]


@dataclass(frozen=True, slots=True)
class ProviderProfile:
    """What one OpenAI-compatible endpoint supports."""

    name: str
    """Preset the profile started from (``custom`` when every field was given)."""
    structured_output: StructuredOutputMethod = "json_schema"
    """How Nova asks for structured output (the router's tie-break, ``nova doctor``)."""
    token_limit_param: TokenLimitParam = "max_completion_tokens"
    """Request field for the catalog's ``max_tokens``; the other spelling is not sent."""
    tool_choice: bool = True
    """Whether the endpoint accepts ``tool_choice`` (forcing a tool call)."""
    parallel_tool_calls: bool = True
    """Whether the endpoint accepts the ``parallel_tool_calls`` request field."""
    max_concurrency: int | None = None
    """Requests the endpoint serves at once (per model); ``None``: ``NOVA_MODEL_CONCURRENCY``."""
    default_base_url: str | None = None
    """Where the server listens out of the box (shown by ``nova doctor`` and the README)."""

    def with_overrides(
        self,
        *,
        structured_output: StructuredOutputMethod | None = None,
        token_limit_param: TokenLimitParam | None = None,
        tool_choice: bool | None = None,
        parallel_tool_calls: bool | None = None,
        max_concurrency: int | None = None,
    ) -> ProviderProfile:
        """Return this profile with every given (non-``None``) field replaced."""
        return replace(
            self,
            structured_output=structured_output or self.structured_output,
            token_limit_param=token_limit_param or self.token_limit_param,
            tool_choice=self.tool_choice if tool_choice is None else tool_choice,
            parallel_tool_calls=(
                self.parallel_tool_calls if parallel_tool_calls is None else parallel_tool_calls
            ),
            max_concurrency=max_concurrency or self.max_concurrency,
        )


PRESETS: dict[ProviderName, ProviderProfile] = {
    # A forced tool call works on every OpenAI chat model; json_schema only on newer ones.
    "openai": ProviderProfile("openai", structured_output="function_calling"),
    "vllm": ProviderProfile(
        "vllm",
        structured_output="json_schema",
        token_limit_param="max_tokens",
        default_base_url="http://127.0.0.1:8000/v1",
    ),
    "ollama": ProviderProfile(
        "ollama",
        structured_output="json_schema",
        token_limit_param="max_tokens",
        tool_choice=False,
        parallel_tool_calls=False,
        max_concurrency=1,
        default_base_url="http://127.0.0.1:11434/v1",
    ),
    "llamacpp": ProviderProfile(
        "llamacpp",
        structured_output="function_calling",
        token_limit_param="max_tokens",
        tool_choice=False,
        parallel_tool_calls=False,
        max_concurrency=1,
        default_base_url="http://127.0.0.1:8080/v1",
    ),
    "lmstudio": ProviderProfile(
        "lmstudio",
        structured_output="json_schema",
        token_limit_param="max_tokens",
        parallel_tool_calls=False,
        max_concurrency=1,
        default_base_url="http://127.0.0.1:1234/v1",
    ),
}
"""Profiles of the servers Nova is tested against (see the README's table)."""
