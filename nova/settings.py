"""Nova's settings: one pydantic-settings model read from ``NOVA_*`` variables and ``.env``.

Every embedded store lives under ``data_dir`` unless its own URL is set, so a fresh
machine runs on SQLite files and a persistent Chroma folder with no set-up at all.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from nova.providers import (
    PRESETS,
    ProviderName,
    ProviderProfile,
    StructuredOutputMethod,
    TokenLimitParam,
)

_DB_SCHEMES = ("sqlite", "postgresql", "postgres")


class SettingsError(ValueError):
    """An environment variable or ``.env`` entry holds a value Nova cannot use."""


def _check_db_url(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    scheme = value.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme not in _DB_SCHEMES:
        raise ValueError(
            "expected a SQLAlchemy URL such as sqlite:///path/nova.db or "
            "postgresql://user@host:5432/dbname"
        )
    return value


DatabaseUrl = Annotated[str | None, Field(default=None)]
"""A SQLAlchemy URL (SQLite or PostgreSQL), or ``None`` for the embedded default."""


class ModelPrice(BaseModel):
    """What one model costs, in currency units per 1M tokens."""

    model_config = ConfigDict(frozen=True)

    input: float = Field(ge=0)
    """Price of 1M prompt tokens not served from the endpoint's cache."""
    output: float = Field(ge=0)
    """Price of 1M completion tokens."""
    cached: float | None = Field(default=None, ge=0)
    """Price of 1M cached prompt tokens; ``None``: the input price."""

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> float:
        """Return the cost of one call's (or many calls' summed) tokens."""
        cached_price = self.input if self.cached is None else self.cached
        fresh = max(prompt_tokens - cached_tokens, 0)
        return (
            fresh * self.input + cached_tokens * cached_price + completion_tokens * self.output
        ) / 1_000_000


def _parse_prices(value: str) -> object:
    if value.strip().startswith("{"):
        return json.loads(value)
    prices: dict[str, dict[str, str]] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        name, _, numbers = item.partition("=")
        parts = numbers.split("/")
        if not name.strip() or not 2 <= len(parts) <= 3:
            raise ValueError(
                "expected name=input/output[/cached] prices per 1M tokens, "
                "e.g. gpt-4o-mini=0.15/0.60/0.075"
            )
        prices[name.strip()] = dict(zip(("input", "output", "cached"), parts, strict=False))
    return prices


class NovaSettings(BaseSettings):
    """Everything Nova reads from its environment; defaults run fully embedded and offline."""

    model_config = SettingsConfigDict(
        env_prefix="NOVA_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    # --- models (any OpenAI-compatible endpoint) ---
    model_base_url: AnyHttpUrl | None = None
    """Base URL of an OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp server, LM Studio).
    Leave unset for api.openai.com when ``model_api_key`` is set."""
    model_name: str | None = None
    """Default chat model for agents whose catalog entry names none (e.g. ``gpt-4o-mini``)."""
    model_api_key: SecretStr | None = None
    """API key for the endpoint; local servers usually accept any non-empty string."""
    model_override: str | None = None
    """Force every agent onto this model, whatever the catalog says."""
    model_timeout_s: float = Field(default=60.0, gt=0)
    """Seconds before a model call is abandoned."""
    model_max_retries: int = Field(default=2, ge=0, le=10)
    """Retries on transient model errors (rate limits, 5xx, timeouts)."""
    tool_timeout_s: float = Field(default=30.0, gt=0)
    """Seconds before a tool call is abandoned."""
    mcp_timeout_s: float = Field(default=20.0, gt=0)
    """Seconds one MCP tool call may take (a server's ``timeout_s`` overrides it)."""
    mcp_connect_timeout_s: float = Field(default=10.0, gt=0)
    """Seconds to start or reach an MCP server and list its tools."""
    mcp_retry_after_s: float = Field(default=15.0, ge=0)
    """Seconds an MCP server that could not be reached is left alone before the next try."""
    model_concurrency: int = Field(default=8, ge=1, le=1024)
    """Calls in flight to one model name at once, per process; further calls wait their turn."""
    model_concurrency_limits: Annotated[dict[str, int], NoDecode] = Field(default_factory=dict)
    """Per-model limits overriding ``model_concurrency``, as ``name=limit`` pairs,
    comma-separated (``gpt-4o-mini=16,llama3.1=1``)."""
    model_queue_timeout_s: float = Field(default=120.0, gt=0)
    """Seconds a call waits for a free slot on its model before failing with ``ModelBusyError``."""
    model_provider: ProviderName | None = None
    """What kind of server the endpoint is: ``openai``, ``vllm``, ``ollama``, ``llamacpp`` or
    ``lmstudio`` (a preset of what it supports); default ``openai``."""
    model_structured_output: StructuredOutputMethod | None = None
    """Override the preset: ``json_schema``, ``function_calling`` or ``json_mode``."""
    model_token_limit_param: TokenLimitParam | None = None
    """Override the preset: ``max_completion_tokens`` or ``max_tokens``."""
    model_tool_choice: bool | None = None
    """Override the preset: whether the endpoint accepts ``tool_choice``."""
    model_parallel_tool_calls: bool | None = None
    """Override the preset: whether the endpoint accepts ``parallel_tool_calls``."""
    model_max_concurrency: int | None = Field(default=None, ge=1, le=1024)
    """Override the preset: requests the endpoint serves at once per model (llama.cpp: 1)."""

    # --- storage ---
    data_dir: Path = Path(".nova")
    """Folder holding every embedded store (SQLite files, Chroma) unless its own URL is set."""
    checkpoint_url: DatabaseUrl
    """Checkpointer database; default ``sqlite:///<data_dir>/checkpoints.sqlite``."""
    ledger_url: DatabaseUrl
    """Routing, failure and usage ledgers; default ``sqlite:///<data_dir>/ledger.sqlite``."""
    erp_database_url: DatabaseUrl
    """ERP database; default ``sqlite:///<data_dir>/erp.sqlite``."""
    chroma_url: AnyHttpUrl | None = None
    """A Chroma server for scale-out; default is a persistent Chroma under ``data_dir``."""

    # --- projects, memory ---
    default_project: str = Field(default="personal", min_length=1)
    """Project used when a request names none."""
    projects_file: Path | None = None
    """YAML file defining the built-in projects; default is the samples shipped with Nova.
    The owner's own projects (``nova projects add``) are merged over it from ``config_dir``."""
    config_dir: Path | None = None
    """Folder of the owner's own projects and agents (``projects.yaml``, ``agents/*.yaml``),
    merged over the built-in ones; default ``<data_dir>/config``. Never inside the package."""
    recall_top_k: int = Field(default=5, ge=0, le=50)
    """Memories retrieved per request."""
    recall_token_budget: int = Field(default=800, ge=0)
    """Most tokens of recalled memory injected into an agent's context."""
    summary_trigger_tokens: int = Field(default=3000, ge=100)
    """When a thread's messages pass this many tokens, older ones are summarised and removed."""
    summary_keep_messages: int = Field(default=6, ge=1, le=200)
    """Most recent messages kept verbatim when a thread is summarised."""

    encoder_backend: Literal["onnx", "numpy", "torch"] = "onnx"
    """What runs the bundled MiniLM: ``onnx`` (ONNX Runtime, exported once per model
    version), ``numpy`` (no export, slower) or ``torch`` (sentence-transformers; imports torch)."""
    encoder_cache_dir: Path | None = None
    """Where the ONNX export of the encoder is kept; default ``<data_dir>/cache/encoder``."""

    router_cache_dir: Path | None = None
    """Where fitted routers are cached (keyed by catalog and encoder); default
    ``<data_dir>/router``."""

    # --- agents ---
    catalog_dir: Path | None = None
    """Folder of the built-in agent YAML files; default is the catalog shipped with Nova.
    The owner's own agents (``nova agents new``) are merged over it from ``config_dir``."""
    agent_max_steps: int = Field(default=8, ge=1, le=100)
    """Upper bound on model turns in one agent's tool loop (the catalog may set fewer)."""

    # --- what models cost (`nova stats`) and how much a project may spend ---
    model_prices: Annotated[dict[str, ModelPrice], NoDecode] = Field(default_factory=dict)
    """Prices per 1M tokens by model name, for ``nova stats``: ``name=input/output[/cached]``
    pairs, comma-separated (``gpt-4o-mini=0.15/0.60/0.075,llama3.1=0/0``), or a JSON object
    (``{"gpt-4o-mini": {"input": 0.15, "output": 0.6, "cached": 0.075}}``)."""
    daily_token_budget: int | None = Field(default=None, ge=1)
    """Tokens (prompt + completion) each project may use per UTC day; once spent, further
    model calls are refused with a clear answer. Unset: no budget."""
    model_stream_usage: bool = True
    """Ask the endpoint for token usage on streamed answers (``stream_options.include_usage``);
    turn off for a server that rejects that option."""
    project_token_budgets: Annotated[dict[str, int], NoDecode] = Field(default_factory=dict)
    """Per-project daily budgets overriding ``daily_token_budget``, as ``project=tokens``
    pairs, comma-separated (``parts-shop=200000,personal=50000``)."""

    # --- LangSmith (optional; local traces never need it) ---
    langsmith_api_key: SecretStr | None = None
    """LangSmith API key; tracing to LangSmith is off without it."""
    langsmith_project: str = "nova"
    """LangSmith project name for Nova's runs."""
    langsmith_endpoint: AnyHttpUrl | None = None
    """LangSmith endpoint for self-hosted installs."""

    # --- tools ---
    web_allowlist: Annotated[tuple[str, ...], NoDecode] = ()
    """Hosts ``web_fetch`` may read, comma-separated (``docs.python.org,example.com``);
    subdomains of a listed host are allowed. Empty: web fetching is off."""

    # --- the CLI as a client of a running server (see nova/cli/remote.py) ---
    client_mode: Literal["auto", "local", "server"] = "auto"
    """Where ``nova ask``/``chat``/``resume`` run a turn: ``auto`` sends it to a running Nova
    server (``NOVA_SERVER_URL``, or the one ``nova serve`` announced in the data dir) and
    runs in-process when there is none; ``local`` always runs in-process; ``server``
    requires a server."""
    server_url: AnyHttpUrl | None = None
    """A Nova server the CLI sends its requests to (``http://127.0.0.1:2024``)."""
    client_api_key: SecretStr | None = None
    """API key the CLI presents to a durable server (one of its ``NOVA_SERVER_API_KEYS``)."""

    # --- hosted graph server (`nova serve`, see nova/server/) ---
    server_database_url: str = "postgresql://postgres@127.0.0.1:5432/nova_server"
    """PostgreSQL database of the durable server: assistants, threads, runs, checkpoints, store."""
    server_redis_url: str = "redis://127.0.0.1:6379/0"
    """Redis the durable server uses to wake workers, stream output and track live runs."""
    server_jobs: int = Field(default=64, ge=1, le=2000)
    """Runs the durable server executes at once; further runs wait in the Postgres queue."""
    server_threads: int = Field(default=64, ge=4, le=2000)
    """Threads the server gives synchronous graph nodes (models, SQLite, Chroma calls)."""
    server_workers: int = Field(default=1, ge=1, le=64)
    """Processes (uvicorn workers) of the durable server; one per core uses every core.
    ``server_jobs`` and ``server_threads`` are split among them. Each opens up to 60
    Postgres connections under load (the runtime's ``PG_POOL_SIZE`` 20 + ``PG_MAX_OVERFLOW``
    20, plus 10 each for checkpoints and the store): keep that below max_connections."""
    server_heartbeat_s: float = Field(default=30.0, ge=1)
    """Seconds between a worker's proofs of life; a run silent for 2x this is taken over."""
    server_max_attempts: int = Field(default=3, ge=1, le=20)
    """Attempts of a run whose server died under it before the run is marked failed."""
    server_api_keys: Annotated[dict[str, SecretStr], NoDecode] = Field(default_factory=dict)
    """API keys the durable server accepts, as ``user:key`` pairs, comma-separated
    (``alice:3f9c...,bob:81d2...``); clients send ``x-api-key: <key>``. Keys need 16+ characters."""
    server_jwt_secret: SecretStr | None = None
    """Secret for HS256 bearer tokens (``Authorization: Bearer <jwt>``, user in ``sub``)."""
    server_jwt_audience: str | None = None
    """Required ``aud`` claim of bearer tokens, if set."""
    server_studio_without_auth: bool = False
    """Let LangGraph Studio (requests marked ``x-auth-scheme: langsmith``) in without credentials.
    Off by default: anyone who can reach the port could then read every thread."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Log level for Nova's own loggers."""

    @field_validator("checkpoint_url", "ledger_url", "erp_database_url", mode="before")
    @classmethod
    def _db_url(cls, value: str | None) -> str | None:
        return _check_db_url(value)

    @field_validator("web_allowlist", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(host.strip().lower() for host in value.split(",") if host.strip())
        return value

    @field_validator("model_concurrency_limits", mode="before")
    @classmethod
    def _split_limits(cls, value: object) -> object:
        if isinstance(value, str):
            pairs = [item.strip() for item in value.split(",") if item.strip()]
            if any(item.count("=") != 1 for item in pairs):
                raise ValueError("expected name=limit pairs, e.g. gpt-4o-mini=16,llama3.1=1")
            return {name.strip(): limit.strip() for name, limit in (p.split("=") for p in pairs)}
        return value

    @field_validator("server_api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            pairs = [item.strip() for item in value.split(",") if item.strip()]
            keys: dict[str, str] = {}
            for item in pairs:
                user, _, key = item.partition(":")
                if not user.strip() or len(key.strip()) < 16:
                    raise ValueError("expected user:key pairs with keys of 16+ characters")
                keys[user.strip()] = key.strip()
            return keys
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper() if isinstance(value, str) else value

    @field_validator("model_provider", mode="before")
    @classmethod
    def _provider(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().lower().replace(".", "").replace("-", "").replace("_", "")
            return value or None
        return value

    @field_validator("encoder_backend", mode="before")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("model_prices", mode="before")
    @classmethod
    def _split_prices(cls, value: object) -> object:
        return _parse_prices(value) if isinstance(value, str) else value

    @field_validator("project_token_budgets", mode="before")
    @classmethod
    def _split_budgets(cls, value: object) -> object:
        if isinstance(value, str):
            pairs = [item.strip() for item in value.split(",") if item.strip()]
            if any(item.count("=") != 1 for item in pairs):
                raise ValueError("expected project=tokens pairs, e.g. parts-shop=200000")
            return {name.strip(): limit.strip() for name, limit in (p.split("=") for p in pairs)}
        return value

    def token_budget(self, project: str | None) -> int | None:
        """Return the daily token budget of ``project`` (``None``: unlimited)."""
        return self.project_token_budgets.get(project or "", self.daily_token_budget)

    # --- derived locations ---
    def sqlite_url(self, filename: str) -> str:
        """Return a SQLite URL for ``filename`` inside the data directory (created on demand)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.data_dir / filename).resolve()}"

    @property
    def resolved_checkpoint_url(self) -> str:
        """Checkpointer URL, falling back to a SQLite file in the data directory."""
        return self.checkpoint_url or self.sqlite_url("checkpoints.sqlite")

    @property
    def resolved_ledger_url(self) -> str:
        """Ledger URL, falling back to a SQLite file in the data directory."""
        return self.ledger_url or self.sqlite_url("ledger.sqlite")

    @property
    def resolved_erp_url(self) -> str:
        """ERP database URL, falling back to a SQLite file in the data directory."""
        return self.erp_database_url or self.sqlite_url("erp.sqlite")

    @property
    def resolved_config_dir(self) -> Path:
        """Folder of the owner's projects and agents, falling back to ``<data_dir>/config``."""
        return self.config_dir or self.data_dir / "config"

    @property
    def resolved_encoder_cache_dir(self) -> Path:
        """Folder of the encoder's ONNX export: ``encoder_cache_dir`` or one in the data dir."""
        return self.encoder_cache_dir or self.data_dir / "cache" / "encoder"

    @property
    def chroma_dir(self) -> Path:
        """Folder of the embedded persistent Chroma."""
        return self.data_dir / "chroma"

    @property
    def provider_profile(self) -> ProviderProfile:
        """What the model endpoint supports: the preset with the ``NOVA_MODEL_*`` overrides."""
        return PRESETS[self.model_provider or "openai"].with_overrides(
            structured_output=self.model_structured_output,
            token_limit_param=self.model_token_limit_param,
            tool_choice=self.model_tool_choice,
            parallel_tool_calls=self.model_parallel_tool_calls,
            max_concurrency=self.model_max_concurrency,
        )

    @property
    def model_concurrency_default(self) -> int:
        """Calls in flight per model: ``NOVA_MODEL_CONCURRENCY`` if set, else the profile's."""
        if "model_concurrency" in self.model_fields_set:
            return self.model_concurrency
        return self.provider_profile.max_concurrency or self.model_concurrency

    @property
    def model_configured(self) -> bool:
        """Whether any generative model endpoint is configured."""
        return bool(self.model_base_url or self.model_api_key)


def _describe(error: ValidationError) -> str:
    """Turn pydantic's report into one line per bad variable, naming it as the user typed it."""
    lines = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "?"
        variable = f"NOVA_{field.upper()}"
        info = NovaSettings.model_fields.get(field)
        hint = f" ({info.description.splitlines()[0]})" if info and info.description else ""
        # Never echo a credential back into logs or a terminal, even a malformed one.
        secret = any(word in field for word in ("key", "secret", "password", "token"))
        got = "<hidden>" if secret else repr(item.get("input"))
        lines.append(f"{variable}: {item['msg']}; got {got}{hint}")
    return "; ".join(lines)


def load_settings(**overrides: object) -> NovaSettings:
    """Read settings from the environment and ``.env``; raise ``SettingsError`` naming bad ones."""
    try:
        return NovaSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise SettingsError(f"Invalid Nova setting: {_describe(error)}") from None


@functools.cache
def get_settings() -> NovaSettings:
    """Return the process-wide settings, read once (``get_settings.cache_clear()`` re-reads)."""
    return load_settings()
