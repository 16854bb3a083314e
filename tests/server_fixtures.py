"""Start a real graph server on a free loopback port for integration tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _nova_settings_from(env: dict[str, str]) -> dict[str, str]:
    """Return the ``NOVA_*`` variables of ``env`` as ``load_settings`` keyword arguments."""
    return {k.removeprefix("NOVA_").lower(): v for k, v in env.items() if k.startswith("NOVA_")}


def wait_until_ok(url: str, process: subprocess.Popen[bytes], log: Path, deadline_s: float) -> None:
    """Poll ``url``/ok until it answers, the process dies, or the deadline passes."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited with {process.returncode}:\n{log.read_text()[-4000:]}"
            )
        try:
            if httpx.get(f"{url}/ok", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"server not ready after {deadline_s}s:\n{log.read_text()[-4000:]}")


@contextmanager
def dev_server(
    data_dir: Path, extra_env: dict[str, str] | None = None, *, config: Path | None = None
) -> Iterator[str]:
    """Run ``langgraph dev`` on ``config`` (Nova's langgraph.json); yield its URL; stop it after."""
    with dev_server_process(data_dir, extra_env, config=config) as (url, _process):
        yield url


@contextmanager
def dev_server_process(
    data_dir: Path, extra_env: dict[str, str] | None = None, *, config: Path | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Like ``dev_server``, yielding the server process too (benchmarks measure its CPU)."""
    from nova.server.launch import dev_command
    from nova.settings import load_settings

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = data_dir / "dev-server.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "NOVA_DATA_DIR": str(data_dir),
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGGRAPH_NO_VERSION_CHECK": "true",
        "LANGSMITH_TRACING": "false",
        "HF_HUB_OFFLINE": "1",
        **(extra_env or {}),
    }
    settings = load_settings(**_nova_settings_from(env))
    command = dev_command(
        config or ROOT / "langgraph.json",
        settings,
        langgraph=str(Path(sys.executable).with_name("langgraph")),
        host="127.0.0.1",
        port=port,
    )
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=data_dir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_ok(url, process, log, deadline_s=180)
        yield url, process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# --- the durable server (langgraph-api on langgraph-runtime-pg) ------------------------------

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
API_KEYS = {"alice": "alice-key-0123456789abcdef", "bob": "bob-key-0123456789abcdef0"}
"""Credentials every durable test server accepts (NOVA_SERVER_API_KEYS)."""


def require_services() -> None:
    """Fail loudly (never skip) when the PostgreSQL or Redis the tests need is down."""
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=5) as conn:
            conn.execute("select 1")
    except psycopg.OperationalError as error:
        raise RuntimeError(
            f"PostgreSQL at {PG_ADMIN_URL} is down ({error}); start it "
            "(pg_ctlcluster <version> main start) before the integration tests"
        ) from None
    try:
        # A raw PING keeps the redis client out of Nova's environment (only the runtime needs it).
        with socket.create_connection(("127.0.0.1", 6379), timeout=5) as sock:
            sock.sendall(b"PING\r\n")
            if not sock.recv(64).startswith(b"+PONG"):
                raise OSError("no PONG")
    except OSError as error:
        raise RuntimeError(
            f"Redis at {REDIS_URL} is down ({error}); start it (redis-server --daemonize yes) "
            "before the integration tests"
        ) from None


@contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """Create a fresh database, yield its URL, drop it afterwards (even if it is in use)."""
    import uuid

    import psycopg

    require_services()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def write_langgraph_json(folder: Path, graphs: dict[str, str]) -> Path:
    """Write a langgraph.json serving ``graphs`` (module or absolute file paths).

    It names ``nova.server.dev_app`` as the ``http.app``: Nova's node thread pool under
    ``langgraph dev`` (the durable server leaves that entry out).
    """
    import json

    from nova.server.launch import DEV_APP_PATH

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "langgraph.json"
    path.write_text(
        json.dumps({"dependencies": ["."], "graphs": graphs, "http": {"app": DEV_APP_PATH}})
    )
    return path


TEST_GRAPHS = {
    "echo": f"{ROOT / 'evals' / 'bench_graphs.py'}:echo",
    "durable": f"{ROOT / 'tests' / 'server_graphs.py'}:durable",
    "sleepy": f"{ROOT / 'tests' / 'server_graphs.py'}:sleepy",
    "memory": f"{ROOT / 'tests' / 'server_graphs.py'}:memory",
}


class DurableServer:
    """One durable server process that a test can kill -9 and start again on the same port."""

    def __init__(self, config: Path, data_dir: Path, nova_env: dict[str, str]) -> None:
        from nova.server.launch import durable_server
        from nova.server.runtime import check_runtime
        from nova.settings import load_settings

        self.data_dir = data_dir
        self.log = data_dir / "durable-server.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "NOVA_DATA_DIR": str(data_dir),
            "LANGSMITH_TRACING": "false",
            "HF_HUB_OFFLINE": "1",
            **nova_env,
        }
        settings = load_settings(**_nova_settings_from(env))
        spec = durable_server(
            config, settings, python=check_runtime(), host="127.0.0.1", port=self.port, base_env=env
        )
        self.command, self.env, self.cwd = spec.command, spec.env, spec.cwd
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, deadline_s: float = 120) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until_ok(self.url, self.process, self.log, deadline_s=deadline_s)

    def kill9(self) -> None:
        """SIGKILL the whole server process group, as a crash or an OOM kill would."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@contextmanager
def durable_server(
    data_dir: Path, graphs: dict[str, str], extra_env: dict[str, str] | None = None
) -> Iterator[DurableServer]:
    """Run a durable server on its own Postgres database; yield it started; stop, drop after."""
    with postgres_database("nova_server_test") as database_url:
        config = write_langgraph_json(data_dir / "config", graphs)
        nova_env = {
            "NOVA_SERVER_DATABASE_URL": database_url,
            "NOVA_SERVER_REDIS_URL": REDIS_URL,
            "NOVA_SERVER_API_KEYS": ",".join(f"{u}:{k}" for u, k in API_KEYS.items()),
            "NOVA_LEDGER_URL": f"sqlite:///{data_dir / 'ledger.sqlite'}",
            "NOVA_ERP_DATABASE_URL": f"sqlite:///{data_dir / 'erp.sqlite'}",
            **(extra_env or {}),
        }
        server = DurableServer(config, data_dir, nova_env)
        try:
            server.start()
            yield server
        finally:
            server.stop()


def seed_erp(path: Path) -> str:
    """Seed a tiny ERP database for the approval graph; return a product SKU."""
    from sqlalchemy import select

    from nova.erp import models as m
    from nova.erp.db import ErpDatabase
    from nova.erp.seed import SeedConfig, seed_database

    database = ErpDatabase(f"sqlite:///{path}")
    seed_database(database, SeedConfig(customers=5, products=10, suppliers=2, orders=10))
    with database.read_session() as session:
        sku = session.scalars(select(m.Product.sku).order_by(m.Product.sku)).first()
    database.dispose()
    assert sku
    return sku
