"""Start the durable server: ``langgraph.json`` plus Nova's settings become langgraph-api's env.

langgraph-api reads its whole configuration from environment variables at import time
(``LANGSERVE_GRAPHS``, ``LANGGRAPH_AUTH``, ``DATABASE_URI``, ...), the way ``langgraph dev``
and the official images set them from ``langgraph.json``. ``durable_env`` does the same for
the Postgres runtime and adds Nova's auth; uvicorn then serves ``nova.server.app:app``
(langgraph-api's app with Nova's lifespan). Both server modes serve one ``langgraph.json``.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from nova.settings import NovaSettings

AUTH_PATH = "nova.server.auth:auth"
KEEP_ALIVE_S = 75
"""How long the server keeps an idle client connection open. uvicorn's default, 5 s, equals
httpx's (the SDK's) idle expiry: a client then reuses a connection the server is closing at
that moment and the request fails with ``ReadError`` (1-6 of 200 requests in
``evals/bench_server.py``). Longer than the client's expiry, the client always closes first."""
APP_PATH = "nova.server.app:app"
"""What uvicorn serves: langgraph-api's app wrapped with Nova's lifespan."""
DEV_APP_PATH = "nova.server.dev_app:app"
"""``langgraph.json``'s ``http.app`` for ``langgraph dev``: Nova's node thread pool there.
The durable server leaves it out: ``APP_PATH`` does the same, and the hook breaks start-up."""


class ServerConfigError(ValueError):
    """``langgraph.json`` or the server settings cannot start a durable server."""


@dataclass(frozen=True, slots=True)
class DurableServer:
    """Everything needed to start one durable server process."""

    command: list[str]
    """Argument vector (the overlay's Python running ``nova.server.serve``: uvicorn on the app)."""
    env: dict[str, str]
    """Complete environment of the server process."""
    cwd: Path
    """Working directory: the folder of ``langgraph.json`` (relative graph paths resolve there)."""
    url: str
    """Base URL clients use."""


def load_langgraph_config(path: Path) -> dict[str, Any]:
    """Read ``langgraph.json`` and check the parts the durable server uses.

    Raises:
        ServerConfigError: The file is missing, is not JSON, or names no graphs.

    """
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise ServerConfigError(f"{path} does not exist; run from Nova's checkout") from None
    except json.JSONDecodeError as error:
        raise ServerConfigError(f"{path} is not valid JSON: {error}") from None
    graphs = config.get("graphs") if isinstance(config, dict) else None
    if not isinstance(graphs, dict) or not graphs:
        raise ServerConfigError(
            f'{path} names no graphs; add e.g. "graphs": {{"nova": "graphs.nova:graph"}}'
        )
    return config


def _env_from_config(config: Mapping[str, Any], root: Path) -> dict[str, str]:
    env = config.get("env")
    if isinstance(env, dict):
        return {str(k): str(v) for k, v in env.items()}
    if isinstance(env, str) and (root / env).is_file():
        from dotenv import dotenv_values

        return {k: v for k, v in dotenv_values(root / env).items() if v is not None}
    return {}


def check_auth_configured(settings: NovaSettings) -> None:
    """Refuse to serve without credentials: the durable server always authenticates.

    Raises:
        ServerConfigError: Neither API keys nor a JWT secret is set.

    """
    if not settings.server_api_keys and settings.server_jwt_secret is None:
        raise ServerConfigError(
            "The durable server requires authentication: set NOVA_SERVER_API_KEYS "
            "(user:key pairs, e.g. alice:$(openssl rand -hex 16)) or NOVA_SERVER_JWT_SECRET. "
            "For a local server without auth use `nova serve --dev`."
        )


def jobs_per_worker(settings: NovaSettings) -> int:
    """Return the runs one worker process executes at once (``server_jobs`` split evenly)."""
    return -(-settings.server_jobs // settings.server_workers)


def durable_env(
    config_path: Path,
    settings: NovaSettings,
    *,
    base_env: Mapping[str, str],
) -> dict[str, str]:
    """Return the environment of a durable server for ``config_path`` under ``settings``.

    Args:
        config_path: The ``langgraph.json`` to serve.
        settings: Nova settings (database, Redis, workers, auth, Studio access).
        base_env: The environment to extend (usually ``os.environ``).

    Raises:
        ServerConfigError: The config is unusable or no credentials are configured.

    """
    config = load_langgraph_config(config_path)
    check_auth_configured(settings)
    root = config_path.parent.resolve()
    env = {
        **_env_from_config(config, root),
        **base_env,
        "LANGGRAPH_RUNTIME_EDITION": "pg",
        "DATABASE_URI": settings.server_database_url,
        "REDIS_URI": settings.server_redis_url,
        "LANGSERVE_GRAPHS": json.dumps(config["graphs"]),
        "LANGGRAPH_AUTH": json.dumps(
            {"path": AUTH_PATH, "disable_studio_auth": not settings.server_studio_without_auth}
        ),
        # server_jobs counts runs across all workers; each worker claims at most its share.
        "N_JOBS_PER_WORKER": str(jobs_per_worker(settings)),
        # The runtime re-queues a run whose heartbeat is older than 2x this, and sweeps as often.
        "LG_BG_JOB_HEARTBEAT": str(settings.server_heartbeat_s),
        "BG_JOB_MAX_RETRIES": str(settings.server_max_attempts),
        "LANGGRAPH_NO_VERSION_CHECK": "true",
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGGRAPH_UI_BUNDLER": "false",
        "HF_HUB_OFFLINE": "1",
    }
    http = config.get("http")
    if isinstance(http, dict) and http.get("app") == DEV_APP_PATH:
        http = {k: v for k, v in http.items() if k != "app"}
    if http:
        env["LANGGRAPH_HTTP"] = json.dumps(http)
    if store := config.get("store"):
        env["LANGGRAPH_STORE"] = json.dumps(store)
    if checkpointer := config.get("checkpointer"):
        env["LANGGRAPH_CHECKPOINTER"] = json.dumps(checkpointer)
    if settings.server_studio_without_auth:
        # langgraph-api admits requests marked `x-auth-scheme: langsmith` as the Studio user
        # only in this variant; without it Studio must send credentials like any client.
        env["LANGSMITH_LANGGRAPH_API_VARIANT"] = "local_dev"
    else:
        env.pop("LANGSMITH_LANGGRAPH_API_VARIANT", None)
    return env


def check_port_free(host: str, port: int, *, dev: bool) -> None:
    """Refuse a port another process listens on, before starting a server on it.

    ``langgraph dev`` quietly moves to another free port when its port is taken, so the
    address Nova prints (and the README's SDK snippet) would point at the other process;
    the durable server's uvicorn would fail with a bare ``[Errno 98]``. The probe binds the
    way langgraph-api's does (``SO_REUSEADDR``), so it refuses exactly what it would move from.

    Raises:
        ServerConfigError: naming the port and how to choose another.

    """
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            command = "nova serve --dev" if dev else "nova serve"
            raise ServerConfigError(
                f"Port {port} on {host} is taken ({error.strerror or error}): another process "
                f"serves there (`ss -ltnp 'sport = :{port}'` names it). Stop it, or serve on "
                f"another port: {command} --port {port + 1}"
            ) from None


def replace_process(command: list[str], *, cwd: Path, env: Mapping[str, str]) -> NoReturn:
    """Become the server process (``exec``): signals then reach the server itself.

    Run as a child, the server outlived a SIGTERM sent to ``nova serve`` (what systemd and
    ``kill`` send): the launcher died and the server kept serving, orphaned. As the same
    process, Ctrl-C and SIGTERM go to the server, which shuts down its workers and its
    Chroma server itself. Returns only by raising.

    Raises:
        ServerConfigError: the program cannot be started (missing, not executable).

    """
    sys.stdout.flush()
    sys.stderr.flush()
    previous = os.getcwd()
    try:
        os.chdir(cwd)
        os.execve(command[0], command, dict(env))
    except OSError as error:
        os.chdir(previous)
        raise ServerConfigError(
            f"Cannot start {command[0]} ({error.strerror or error}): "
            "reinstall Nova's environment with `make install`"
        ) from None


def dev_command(
    config_path: Path, settings: NovaSettings, *, langgraph: str, host: str, port: int
) -> list[str]:
    """Return the ``langgraph dev`` command serving ``config_path`` (``nova serve --dev``).

    ``langgraph dev`` executes one run at a time unless ``--n-jobs-per-worker`` says
    otherwise (it sets ``N_JOBS_PER_WORKER=1`` over the environment's value): 200
    concurrent runs then took 200 runs' time. It gets ``server_jobs`` like the durable server.
    """
    return [
        langgraph, "dev", "--config", str(config_path), "--host", host, "--port", str(port),
        "--no-browser", "--no-reload", "--n-jobs-per-worker", str(settings.server_jobs),
    ]  # fmt: skip


def durable_server(
    config_path: Path,
    settings: NovaSettings,
    *,
    python: Path,
    host: str,
    port: int,
    base_env: Mapping[str, str],
) -> DurableServer:
    """Describe the durable server process for ``config_path`` (see ``durable_env``)."""
    env = durable_env(config_path, settings, base_env=base_env)
    command = [
        str(python), "-m", "nova.server.serve", APP_PATH,
        "--host", host, "--port", str(port), "--no-access-log", "--lifespan", "on",
        "--log-level", settings.log_level.lower(), "--timeout-keep-alive", str(KEEP_ALIVE_S),
    ]  # fmt: skip
    if settings.server_workers > 1:
        # Runs are claimed from Postgres (SKIP LOCKED) and their output fanned out through
        # Redis, so each worker process serves any request and executes any queued run.
        command += ["--workers", str(settings.server_workers)]
    return DurableServer(
        command=command, env=env, cwd=config_path.parent.resolve(), url=f"http://{host}:{port}"
    )
