import socket

import pytest
from conftest import NetworkBlockedError, RealModelClientError


def test_building_a_real_model_client_fails() -> None:
    from langchain_openai import ChatOpenAI

    with pytest.raises(RealModelClientError):
        ChatOpenAI(model="gpt-4o-mini", api_key="sk-test")


def test_non_loopback_socket_fails() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(NetworkBlockedError):
            sock.connect(("203.0.113.7", 443))


def test_loopback_socket_is_allowed() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
