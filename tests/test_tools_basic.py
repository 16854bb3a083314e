import json
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest

from nova.settings import get_settings
from tools.general import calculator, current_datetime
from tools.language import detect_language
from tools.registry import UnknownToolError, get_tools
from tools.web import web_fetch


def test_registry_returns_tools_in_order_and_names_unknown_ones() -> None:
    assert [t.name for t in get_tools(["web_fetch", "calculator"])] == ["web_fetch", "calculator"]
    with pytest.raises(UnknownToolError, match=r"\['nope'\]"):
        get_tools(["calculator", "nope"])


@pytest.mark.parametrize(
    ("expression", "result"),
    [("1299.90 * 1.19", "1546.881"), ("round(250 / 3, 2)", "83.33"), ("2 ** 10 - 24", "1000")],
)
def test_calculator(expression: str, result: str) -> None:
    assert calculator.invoke({"expression": expression}) == result


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("1 / 0", "Division by zero"),
        ("__import__('os').system('ls')", "Cannot evaluate"),
        ("'a' * 3", "not an arithmetic"),
    ],
)
def test_calculator_refuses_with_a_reason(expression: str, message: str) -> None:
    assert message in calculator.invoke({"expression": expression})


def test_current_datetime_in_a_zone_and_a_bad_zone() -> None:
    offset = datetime.now(ZoneInfo("Europe/Berlin")).strftime("%z")
    assert f"{offset[:3]}:{offset[3:]}" in current_datetime.invoke({"timezone": "Europe/Berlin"})
    assert "Unknown time zone 'Mars/Base'" in current_datetime.invoke({"timezone": "Mars/Base"})


def test_detect_language() -> None:
    found = json.loads(
        detect_language.invoke({"text": "Bitte liefern Sie die Bremsscheiben bis Freitag."})
    )
    assert found["code"] == "de"
    assert found["confidence"] > 0.5


class _Pages(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/away":
            self.send_response(302)
            self.send_header("Location", "http://example.org/secret")
            self.end_headers()
            return
        body = (
            b"<html><head><title>Docs</title><script>x()</script></head>"
            b"<body><h1>Brake discs</h1><p>Fit BRK-2210.</p></body></html>"
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_web_fetch_reads_allowlisted_pages_as_text(
    site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOVA_WEB_ALLOWLIST", "127.0.0.1")
    get_settings.cache_clear()
    text = web_fetch.invoke({"url": f"{site}/docs"})
    assert "Title: Docs" in text
    assert "Fit BRK-2210." in text
    assert "x()" not in text


def test_web_fetch_refuses_hosts_and_redirects_off_the_allowlist(
    site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "NOVA_WEB_ALLOWLIST" in web_fetch.invoke({"url": f"{site}/docs"})
    monkeypatch.setenv("NOVA_WEB_ALLOWLIST", "127.0.0.1")
    get_settings.cache_clear()
    assert "not on an allowlisted host" in web_fetch.invoke({"url": "https://example.org/"})
    assert "not on an allowlisted host" in web_fetch.invoke({"url": f"{site}/away"})
    assert "not on an allowlisted host" in web_fetch.invoke({"url": "file:///etc/passwd"})
