r"""Refuse, with a 4xx saying what is wrong, requests the Postgres runtime would fail with a 500.

Found by ``tests/test_server_fuzz.py`` (schemathesis) against langgraph-api 0.11.1 on
langgraph-runtime-pg 0.11.1:

* strings containing NUL (``\u0000``) anywhere in a JSON body: PostgreSQL's ``jsonb`` cannot
  store them (``UntranslatableCharacterError``);
* integers beyond 64 bits: they overflow Postgres ``bigint``; negative or huge ``limit``,
  ``offset`` and ``max_depth`` values in search bodies;
* ``POST /store/items/search`` without ``namespace_prefix`` (``KeyError``);
* ``GET /metrics``, whose worker statistics this runtime does not provide (``KeyError``).

Found by ``evals/soak_fuzz.py`` (randomized): a float of magnitude 2**63 or more (``1e300``
in a thread's metadata or an assistant's config) is stored by ``jsonb`` as an exact decimal
and comes back as an integer beyond 64 bits, which the JSON encoder refuses: every later
``/threads/search`` or ``/assistants/search`` of that user answered 500, so the data already
stored could no longer be listed. Such numbers, and NaN and Infinity, are refused on the way
in.
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_INT64 = 2**63 - 1
_PAGING = ("limit", "offset", "max_depth")
_MAX_PAGE = 1_000_000


class BadRequestError(ValueError):
    """A request the runtime cannot handle; the message is the response detail."""


def check_json(value: Any, where: str = "body") -> None:
    """Raise ``BadRequestError`` for NUL characters or out-of-range integers in ``value``."""
    if isinstance(value, str):
        if "\x00" in value:
            raise BadRequestError(
                f"{where} contains a NUL character (\\u0000), which cannot be stored"
            )
    elif isinstance(value, bool):
        return
    elif isinstance(value, float):
        if not math.isfinite(value) or abs(value) > _INT64:
            raise BadRequestError(
                f"{where} is {value!r}: numbers of magnitude 2**63 or more, NaN and Infinity "
                "cannot be stored and read back; send such a value as a string"
            )
    elif isinstance(value, int):
        if not -_INT64 - 1 <= value <= _INT64:
            raise BadRequestError(f"{where} is {value}, outside the 64-bit integer range")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_json(key, f"a key in {where}")
            check_json(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_json(item, f"{where}[{index}]")


def check_request(method: str, path: str, body: Any) -> None:
    """Raise ``BadRequestError`` for a request the runtime would fail on."""
    check_json(body)
    if isinstance(body, dict):
        for key in _PAGING:
            value = body.get(key)
            if (
                isinstance(value, int)
                and not isinstance(value, bool)
                and not 0 <= value <= _MAX_PAGE
            ):
                raise BadRequestError(f"{key} must be between 0 and {_MAX_PAGE:,}; got {value}")
    if method == "POST" and path == "/store/items/search" and isinstance(body, dict):
        if not isinstance(body.get("namespace_prefix"), list):
            raise BadRequestError(
                "namespace_prefix is required: a list of strings, "
                'e.g. {"namespace_prefix": ["alice"]}'
            )


class RequestGuard:
    """ASGI middleware applying ``check_request`` to JSON bodies before the runtime sees them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check HTTP requests with JSON bodies; pass everything else through untouched."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        if method == "GET" and path == "/metrics":
            await _reply(send, 404, "Metrics are not available on the Postgres runtime.")
            return
        if method not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw = b"".join(chunks)
        try:
            body = json.loads(raw) if raw.strip() else None
            check_request(method, path, body)
        except json.JSONDecodeError:
            pass  # the runtime answers malformed JSON with its own 4xx
        except BadRequestError as error:
            await _reply(send, 422, str(error))
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": raw, "more_body": False}

        await self.app(scope, replay, send)


async def _reply(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
