"""Test-wide guards: no real model client, no network beyond loopback, no user data touched."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

# Nova's CLI consoles read the terminal width once, when nova.cli is first imported; fix it
# for the whole session so CLI assertions do not depend on which test imported it first.
os.environ.setdefault("COLUMNS", "200")

from nova.settings import get_settings

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


class NetworkBlockedError(RuntimeError):
    """A test tried to reach a non-loopback address."""


class RealModelClientError(RuntimeError):
    """A test tried to build a real model client."""


def _is_loopback(address: object) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if not isinstance(host, str):
        return False
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _guarded(real):  # type: ignore[no-untyped-def]
    def connect(self: socket.socket, address: object):  # type: ignore[no-untyped-def]
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise NetworkBlockedError(f"Test opened a non-loopback socket to {address!r}")
        return real(self, address)

    return connect


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that opens a socket to anything but loopback (or a Unix socket)."""
    monkeypatch.setattr(socket.socket, "connect", _guarded(_real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded(_real_connect_ex))


@pytest.fixture(autouse=True)
def _no_real_models(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that builds a real OpenAI-compatible client (unless marked to inspect one)."""
    if request.node.get_closest_marker("allow_model_client"):
        return
    from langchain_openai import ChatOpenAI

    def refuse(self: object, *args: object, **kwargs: object) -> None:
        raise RealModelClientError(
            "A test built a real ChatOpenAI client; use nova.testing.ScriptedChatModel instead"
        )

    monkeypatch.setattr(ChatOpenAI, "__init__", refuse)


@pytest.fixture(scope="session")
def router_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One router cache for the whole session: the fit is keyed by catalog and encoder anyway."""
    return tmp_path_factory.mktemp("router-cache")


@pytest.fixture(scope="session")
def encoder_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ONNX export of the encoder for the whole session (it is keyed by model version)."""
    return tmp_path_factory.mktemp("encoder-cache")


@pytest.fixture(autouse=True)
def _isolated_settings(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    router_cache_dir: Path,
    encoder_cache_dir: Path,
) -> Iterator[Path]:
    """Point every store at a fresh data dir; no model, no LangSmith, no hub look-ups."""
    for name in list(__import__("os").environ):
        if name.startswith("NOVA_"):
            monkeypatch.delenv(name)
    data_dir = tmp_path / "nova-data"
    monkeypatch.setenv("NOVA_DATA_DIR", str(data_dir))
    monkeypatch.setenv("NOVA_ROUTER_CACHE_DIR", str(router_cache_dir))
    monkeypatch.setenv("NOVA_ENCODER_CACHE_DIR", str(encoder_cache_dir))
    monkeypatch.setenv("LANGSMITH_TRACING", "false")
    monkeypatch.setenv("LANGSMITH_TEST_TRACKING", "false")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout is read
    from nova.tracing.config import get_tracing_settings

    # Tracing settings are cached apart: a test that points traces at its own stores and
    # exporters must not leave them to the next test.
    get_settings.cache_clear()
    get_tracing_settings.cache_clear()
    yield data_dir
    get_settings.cache_clear()
    get_tracing_settings.cache_clear()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "allow_model_client: the test may build a real model client (calls reach only a "
        "loopback server the test started, such as nova.openai_stub.StubServer)",
    )
