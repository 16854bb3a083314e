"""A local stub of the LangSmith REST API (the endpoints ``evals.langsmith_upload`` uses).

It keeps datasets, examples, experiments (sessions), runs and feedback in memory, records
every request, and can answer slowly (``delay_s``) or fail (``fail_with``) to check that a
bad endpoint never stalls an eval.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

TENANT = "00000000-0000-4000-8000-000000000001"


class LangSmithStub:
    """The stub server; ``url`` is its base URL."""

    def __init__(self) -> None:
        self.datasets: dict[str, dict[str, Any]] = {}
        self.examples: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.runs: list[dict[str, Any]] = []
        self.feedback: list[dict[str, Any]] = []
        self.tags: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        self.api_keys: set[str] = set()
        self.delay_s = 0.0
        self.fail_with: int | None = None
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def _body(self) -> Any:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                return json.loads(raw) if raw else None

            def _answer(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a slow-endpoint test)

            def _handle(self, method: str) -> None:
                parsed = urlparse(self.path)
                body = self._body() if method in ("POST", "PUT", "PATCH") else None
                with stub.lock:
                    stub.requests.append((method, parsed.path))
                    if key := self.headers.get("x-api-key"):
                        stub.api_keys.add(key)
                if stub.delay_s:
                    time.sleep(stub.delay_s)
                if stub.fail_with is not None:
                    self._answer(stub.fail_with, {"detail": "stub failure"})
                    return
                status, payload = stub.route(method, parsed.path, parse_qs(parsed.query), body)
                self._answer(status, payload)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PUT(self) -> None:
                self._handle("PUT")

            def do_PATCH(self) -> None:
                self._handle("PATCH")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def route(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        now = datetime.now(UTC).isoformat()
        parts = [p for p in path.split("/") if p]
        with self.lock:
            if method == "GET" and parts == ["sessions"]:
                return 200, [{"id": str(uuid.uuid4()), "tenant_id": TENANT}]
            if method == "GET" and parts == ["datasets"]:
                name = (query.get("name") or [None])[0]
                return 200, [d for d in self.datasets.values() if name in (None, d["name"])]
            if method == "POST" and parts == ["datasets"]:
                dataset = {
                    "id": str(uuid.uuid4()),
                    "name": body["name"],
                    "description": body.get("description"),
                    "metadata": body.get("extra", {}).get("metadata") or body.get("metadata"),
                    "data_type": body.get("data_type") or "kv",
                    "created_at": now,
                    "modified_at": now,
                }
                self.datasets[dataset["id"]] = dataset
                return 200, dataset
            if (
                method == "PUT"
                and len(parts) == 3
                and parts[0] == "datasets"
                and parts[2] == "tags"
            ):
                self.tags.append({"dataset_id": parts[1], **(body or {})})
                return 200, {}
            if method == "GET" and len(parts) == 2 and parts[0] == "examples":
                example = self.examples.get(parts[1])
                return (200, example) if example else (404, {"detail": "Example not found"})
            if method == "POST" and parts == ["examples", "bulk"]:
                created = []
                for item in body:
                    example = {**item, "id": item.get("id") or str(uuid.uuid4()), "created_at": now}
                    self.examples[example["id"]] = example
                    created.append(example)
                return 200, created
            if method == "POST" and parts == ["sessions"]:
                session = {
                    "id": str(uuid.uuid4()),
                    "name": body["name"],
                    "tenant_id": TENANT,
                    "start_time": now,
                    "reference_dataset_id": body.get("reference_dataset_id"),
                    "extra": body.get("extra"),
                    "description": body.get("description"),
                }
                self.sessions[session["id"]] = session
                return 200, session
            if method == "POST" and parts == ["runs", "batch"]:
                self.runs.extend(body.get("post") or [])
                return 200, {}
            if method == "POST" and parts == ["feedback"]:
                self.feedback.append(body)
                return 200, {}
        return 404, {"detail": f"stub has no {method} {path}"}
