"""``nova doctor``: check what Nova depends on and say how to fix each problem.

Each check returns ``Check`` rows (what was checked, its status, what was found, and the fix
for a problem). Nothing here stalls: network checks use short timeouts, and the model probes
(a tool call and a structured answer per configured model) are skipped with ``offline``.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import BaseModel, Field

from nova.settings import NovaSettings, SettingsError, load_settings

Status = Literal["ok", "problem", "warning", "skipped"]

NETWORK_TIMEOUT_S = 2.0
"""Seconds any connection check may wait (LangSmith, Postgres, Redis, Chroma server)."""
PROBE_TIMEOUT_S = 20.0
"""Most seconds one model probe may take."""


@dataclass(frozen=True, slots=True)
class Check:
    """One row of the doctor's table."""

    area: str
    """What was checked (``settings``, ``model gpt-4o-mini: tool call``…)."""
    status: Status
    detail: str
    """What was found."""
    fix: str = ""
    """What to do about a problem or warning."""


class ProbeAnswer(BaseModel):
    """The structured answer the probe asks for."""

    word: str = Field(description="The word you were asked to repeat")


def _probe_tool(word: str) -> str:
    """Repeat ``word`` (a probe Nova's doctor asks the model to call)."""
    return word


# --- settings -------------------------------------------------------------------------------
def check_settings() -> tuple[NovaSettings | None, Check]:
    """Read the settings; a bad value becomes one problem row, never a traceback."""
    try:
        settings = load_settings()
    except SettingsError as error:
        return None, Check(
            "settings",
            "problem",
            str(error),
            "Correct or unset the variable named above (in the environment or .env).",
        )
    profile = settings.provider_profile
    return settings, Check(
        "settings",
        "ok",
        f"valid; data in {settings.data_dir.resolve()}; model provider profile {profile.name} "
        f"(structured output {profile.structured_output}, {profile.token_limit_param}, "
        f"tool_choice {'yes' if profile.tool_choice else 'no'}, "
        f"{settings.model_concurrency_default} calls at once per model)",
    )


# --- models ---------------------------------------------------------------------------------
def configured_models(settings: NovaSettings) -> list[str]:
    """Return every model name an agent may use: default, override, catalog names, fallbacks."""
    names: list[str] = []
    if settings.model_override:
        names.append(settings.model_override)
    elif settings.model_name:
        names.append(settings.model_name)
    try:
        from nova.catalog import default_catalog

        for spec in default_catalog().agents.values():
            if spec.model.name and not settings.model_override:
                names.append(spec.model.name)
            if spec.model.fallback:
                names.append(spec.model.fallback)
    except Exception:  # the catalog has its own check (nova agents check)
        pass
    return list(dict.fromkeys(names))


def _model_problem(area: str, error: BaseException, settings: NovaSettings) -> Check:
    from nova.models import explain_model_error

    explained = explain_model_error(error, settings)
    if explained is None:
        return Check(area, "problem", f"{type(error).__name__}: {error}", "See the message.")
    return Check(area, "problem", explained.problem, explained.fix)


def _list_models(settings: NovaSettings) -> list[str]:
    import openai

    key = settings.model_api_key.get_secret_value() if settings.model_api_key else "not-needed"
    client = openai.OpenAI(
        api_key=key,
        base_url=str(settings.model_base_url) if settings.model_base_url else None,
        timeout=min(settings.model_timeout_s, 10.0),
        max_retries=0,
    )
    try:
        return [model.id for model in client.models.list()]
    finally:
        client.close()


def check_endpoint(settings: NovaSettings) -> tuple[list[str] | None, Check]:
    """Check that the endpoint answers and accepts the key; return the models it lists."""
    where = str(settings.model_base_url or "https://api.openai.com/v1")
    try:
        served = _list_models(settings)
    except Exception as error:
        return None, _model_problem(f"model endpoint {where}", error, settings)
    shown = ", ".join(served[:8]) + (" …" if len(served) > 8 else "")
    return served, Check(
        f"model endpoint {where}", "ok", f"reachable, key accepted; serves {shown or 'no models'}"
    )


def probe_model(name: str, settings: NovaSettings, served: list[str] | None) -> Iterator[Check]:
    """Ask ``name`` for a tool call and for a structured answer (two tiny requests)."""
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_core.tools import StructuredTool

    from nova.catalog import default_catalog
    from nova.models import ModelUnavailable, build_chat_model, structured_output

    probe_settings = settings.model_copy(
        update={"model_max_retries": 0, "model_timeout_s": min(settings.model_timeout_s, 20.0)}
    )
    spec = next(iter(default_catalog().agents.values()))
    model = build_chat_model(spec, settings=probe_settings, model_name=name)
    if isinstance(model, ModelUnavailable):
        yield Check(f"model {name}", "problem", model.reason, model.message)
        return
    profile = settings.provider_profile
    listed = "" if served is None or name in served else " (not in the endpoint's list)"
    tool = StructuredTool.from_function(_probe_tool, name="nova_probe")
    bound = model.bind_tools(
        [tool], **({"tool_choice": "nova_probe"} if profile.tool_choice else {})
    )
    area = f"model {name}: tool call"
    started = time.monotonic()
    try:
        reply = bound.invoke([HumanMessage("Call the nova_probe tool with the word 'ping'.")])
    except Exception as error:
        yield _model_problem(area, error, settings)
        if getattr(error, "status_code", None) == 404:
            return  # no such model: the structured probe would say the same
        reply = None
    elapsed = time.monotonic() - started
    calls = reply.tool_calls if isinstance(reply, AIMessage) else []
    if any(call["name"] == "nova_probe" for call in calls):
        yield Check(area, "ok", f"called the probe tool in {elapsed:.1f} s{listed}")
    elif reply is not None:
        yield Check(
            area,
            "problem",
            f"answered without calling the tool{listed}",
            "Agents with tools need tool calling: use a model trained for it and enable it on "
            "the server (vLLM --enable-auto-tool-choice, llama.cpp --jinja, Ollama: a model "
            "tagged 'tools').",
        )
    area = f"model {name}: structured output"
    try:
        answer = structured_output(model, ProbeAnswer, profile).invoke(
            [HumanMessage("Repeat the word 'ping' as the field 'word'.")]
        )
    except Exception as error:
        checked = _model_problem(area, error, settings)
        other = {
            "json_schema": "function_calling",
            "function_calling": "json_mode",
            "json_mode": "function_calling",
        }[profile.structured_output]
        yield Check(
            area,
            "problem",
            f"{checked.detail} (method {profile.structured_output})",
            f"Set NOVA_MODEL_PROVIDER to the server's kind (openai, vllm, ollama, llamacpp, "
            f"lmstudio), or NOVA_MODEL_STRUCTURED_OUTPUT={other}.",
        )
        return
    yield Check(area, "ok", f"{profile.structured_output}: {answer.word!r}")


def check_models(settings: NovaSettings, *, offline: bool) -> list[Check]:
    """Check every configured model: endpoint reachable, key accepted, tool call, structure."""
    from nova.models import HOW_TO_CONFIGURE

    if not settings.model_configured:
        return [
            Check(
                "models",
                "warning",
                "no model configured: routing, ERP skills, recall and pipelines' deterministic "
                "steps work; agents that need a model say so",
                HOW_TO_CONFIGURE,
            )
        ]
    names = configured_models(settings)
    if not names:
        return [
            Check(
                "models",
                "problem",
                "an endpoint is set but no model name",
                "Set NOVA_MODEL_NAME to a model the endpoint serves.",
            )
        ]
    if offline:
        return [Check("models", "skipped", f"--offline: not probing {', '.join(names)}")]
    served, endpoint = check_endpoint(settings)
    rows = [endpoint]
    if endpoint.status == "problem" and "refused the API key" in endpoint.detail:
        return rows  # every probe would get the same 401
    if endpoint.status == "problem" and "Cannot reach" in endpoint.detail:
        return rows
    for name in names:
        rows.extend(probe_model(name, settings, served))
    return rows


# --- storage --------------------------------------------------------------------------------
def _sqlite_file(url: str) -> Path | None:
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1]
    return Path(path) if path and path != ":memory:" else None


def _default_sqlite(settings: NovaSettings, filename: str) -> str:
    # As NovaSettings.sqlite_url, without creating the data directory.
    return f"sqlite:///{(settings.data_dir / filename).resolve()}"


def _short(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        url = url.replace(f":{parsed.password}@", ":***@")
    return url


def check_erp_database(settings: NovaSettings) -> Check:
    """Check the ERP database exists and is migrated to the shipped head."""
    from sqlalchemy import create_engine

    from nova.erp.migrate import current_revision, head_revision

    url = settings.erp_database_url or _default_sqlite(settings, "erp.sqlite")
    file = _sqlite_file(url)
    if file is not None and not file.exists():
        return Check(
            "ERP database", "problem", f"{file} does not exist", "Run `nova setup` to create it."
        )
    engine = create_engine(url, connect_args={"connect_timeout": 2} if file is None else {})
    try:
        current, head = current_revision(engine), head_revision()
    except Exception as error:
        return Check(
            "ERP database",
            "problem",
            f"cannot open {_short(url)}: {error}".splitlines()[0],
            "Fix NOVA_ERP_DATABASE_URL, or start the database server.",
        )
    finally:
        engine.dispose()
    if current != head:
        return Check(
            "ERP database",
            "problem",
            f"schema at revision {current or 'none'}, Nova needs {head}",
            "Run `nova setup` (it migrates the database).",
        )
    return Check("ERP database", "ok", f"{_short(url)} at revision {head}")


def check_sql_store(area: str, url: str, variable: str) -> Check:
    """Check a ledger or checkpoint database can be opened (tables are created on first use)."""
    from sqlalchemy import create_engine, text

    file = _sqlite_file(url)
    if file is not None and not file.exists():
        folder = next((p for p in file.parents if p.exists()), Path("/"))
        if os.access(folder, os.W_OK):
            return Check(area, "ok", f"{file} (created on first use)")
        return Check(area, "problem", f"{file.parent} is not writable", f"Fix {variable}.")
    engine = create_engine(url, connect_args={"connect_timeout": 2} if file is None else {})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        return Check(
            area,
            "problem",
            f"cannot open {_short(url)}: {error}".splitlines()[0],
            f"Fix {variable}, or start the database server.",
        )
    finally:
        engine.dispose()
    return Check(area, "ok", _short(url))


def check_chroma(settings: NovaSettings) -> Check:
    """Check the memory store: a Chroma server's heartbeat, or the persistent folder."""
    if settings.chroma_url is not None:
        import httpx

        url = str(settings.chroma_url).rstrip("/")
        try:
            response = httpx.get(f"{url}/api/v2/heartbeat", timeout=NETWORK_TIMEOUT_S)
            response.raise_for_status()
        except Exception as error:
            return Check(
                "Chroma",
                "problem",
                f"no heartbeat from {url}: {error}",
                "Start the Chroma server, or unset NOVA_CHROMA_URL for the embedded store.",
            )
        return Check("Chroma", "ok", f"server {url} answers")
    folder = settings.chroma_dir
    if not folder.exists():
        return Check("Chroma", "ok", f"{folder} (created on first use)")
    try:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        client = chromadb.PersistentClient(
            path=str(folder), settings=ChromaSettings(anonymized_telemetry=False)
        )
        count = len(client.list_collections())
    except Exception as error:
        return Check(
            "Chroma",
            "problem",
            f"cannot open {folder}: {error}".splitlines()[0],
            "Another Nova version may have written it; move the folder away and run `nova setup`.",
        )
    return Check("Chroma", "ok", f"{folder}, {count} collections")


# --- durable server -------------------------------------------------------------------------
_SERVER_FIELDS = ("server_database_url", "server_redis_url", "server_api_keys", "server_jwt_secret")


def durable_server_configured(settings: NovaSettings) -> bool:
    """Return whether the owner set up the durable server (its settings or its runtime)."""
    from nova.server.runtime import runtime_dir

    return bool(set(_SERVER_FIELDS) & settings.model_fields_set) or runtime_dir().exists()


def _redis_ping(url: str) -> str:
    parsed = urlparse(url)
    with socket.create_connection(
        (parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=NETWORK_TIMEOUT_S
    ) as connection:
        if parsed.password:
            user = f"{parsed.username} " if parsed.username else ""
            connection.sendall(f"AUTH {user}{parsed.password}\r\n".encode())
            connection.recv(256)
        connection.sendall(b"PING\r\n")
        return connection.recv(256).decode(errors="replace").strip()


def check_durable_server(settings: NovaSettings) -> list[Check]:
    """Check the durable server's runtime, Postgres and Redis, when it is configured."""
    if not durable_server_configured(settings):
        return [Check("durable server", "skipped", "not configured (`nova serve` not set up)")]
    from nova.server.runtime import RuntimeMissingError, check_runtime

    # `make install` installs the runtime for everyone; until the owner sets the server's
    # settings, its Postgres and Redis not answering is worth a warning, not a problem.
    unreachable: Status = (
        "problem" if set(_SERVER_FIELDS) & settings.model_fields_set else "warning"
    )
    rows: list[Check] = []
    try:
        python = check_runtime()
        rows.append(Check("durable server runtime", "ok", str(python)))
    except RuntimeMissingError as error:
        rows.append(
            Check(
                "durable server runtime",
                "problem",
                str(error).split(". ")[0],
                "Run `nova serve --install-runtime` (needs PyPI access).",
            )
        )
    try:
        import psycopg

        with psycopg.connect(settings.server_database_url, connect_timeout=2) as connection:
            connection.execute("SELECT 1")
        rows.append(Check("server Postgres", "ok", _short(settings.server_database_url)))
    except Exception as error:
        rows.append(
            Check(
                "server Postgres",
                unreachable,
                f"{_short(settings.server_database_url)}: {error}".splitlines()[0],
                _postgres_fix(settings.server_database_url, error),
            )
        )
    try:
        answer = _redis_ping(settings.server_redis_url)
        if answer != "+PONG":
            raise ConnectionError(f"answered {answer!r} to PING")
        rows.append(Check("server Redis", "ok", _short(settings.server_redis_url)))
    except Exception as error:
        rows.append(
            Check(
                "server Redis",
                unreachable,
                f"{_short(settings.server_redis_url)}: {error}",
                "Start Redis, or fix NOVA_SERVER_REDIS_URL.",
            )
        )
    return rows


def _postgres_fix(url: str, error: Exception) -> str:
    if "does not exist" in str(error):
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        return (
            f"Create the database: createdb -h {parsed.host or '127.0.0.1'} "
            f"-U {parsed.username or 'postgres'} {parsed.database}"
            " (or point NOVA_SERVER_DATABASE_URL at one that exists)."
        )
    return "Start Postgres, or fix NOVA_SERVER_DATABASE_URL."


# --- LangSmith ------------------------------------------------------------------------------
def langsmith_enabled(settings: NovaSettings) -> bool:
    """Return whether runs are sent to LangSmith (Nova's key, or LangSmith's own switch)."""
    switched_on = os.environ.get("LANGSMITH_TRACING", "").lower() in ("1", "true", "yes")
    return settings.langsmith_api_key is not None or switched_on


def check_langsmith(settings: NovaSettings) -> Check:
    """Check LangSmith answers within a short timeout when tracing to it is on."""
    if not langsmith_enabled(settings):
        return Check("LangSmith", "skipped", "tracing to LangSmith is off (local traces only)")
    import httpx

    endpoint = str(
        settings.langsmith_endpoint
        or os.environ.get("LANGSMITH_ENDPOINT")
        or "https://api.smith.langchain.com"
    ).rstrip("/")
    try:
        response = httpx.get(f"{endpoint}/info", timeout=NETWORK_TIMEOUT_S)
        response.raise_for_status()
    except Exception as error:
        detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        return Check(
            "LangSmith",
            "problem",
            f"{endpoint} did not answer within {NETWORK_TIMEOUT_S:g} s ({detail})",
            "Check the network or NOVA_LANGSMITH_ENDPOINT, or unset NOVA_LANGSMITH_API_KEY "
            "(and LANGSMITH_TRACING): an unreachable endpoint delays every process exit.",
        )
    return Check("LangSmith", "ok", f"{endpoint} answers")


# --- all of it ------------------------------------------------------------------------------
def run_checks(*, offline: bool = False) -> Iterator[Check]:
    """Run every check in order, yielding rows as they are found (secrets masked)."""
    from nova.secrets import redact

    for row in _checks(offline=offline):
        yield Check(row.area, row.status, redact(row.detail), redact(row.fix))


def _checks(*, offline: bool) -> Iterator[Check]:
    settings, row = check_settings()
    yield row
    if settings is None:
        yield Check("everything else", "skipped", "the settings must be valid first")
        return
    steps: Iterable[Callable[[], Check | list[Check]]] = (
        lambda: check_models(settings, offline=offline),
        lambda: check_erp_database(settings),
        lambda: check_sql_store(
            "ledgers",
            settings.ledger_url or _default_sqlite(settings, "ledger.sqlite"),
            "NOVA_LEDGER_URL",
        ),
        lambda: check_sql_store(
            "checkpoints",
            settings.checkpoint_url or _default_sqlite(settings, "checkpoints.sqlite"),
            "NOVA_CHECKPOINT_URL",
        ),
        lambda: check_chroma(settings),
        lambda: check_durable_server(settings),
        lambda: check_langsmith(settings),
    )
    for step in steps:
        result = step()
        yield from result if isinstance(result, list) else [result]
