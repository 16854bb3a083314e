"""Serve the inbox over HTTP in both server modes: JSON, a page with buttons, actions.

``GET /nova/inbox`` (JSON), ``GET /nova/inbox/page`` (the page),
``POST /nova/inbox/items/{id}/{action}`` (act on one item).

Who asks: with credentials configured (``NOVA_SERVER_API_KEYS`` / ``NOVA_SERVER_JWT_SECRET``,
the durable server) every data route needs ``x-api-key`` or a bearer token, checked by the
same functions as the graphs' routes (``nova.server.auth``), and the inbox is scoped to the
caller: approvals of the server threads they own (``metadata.owner``) and ledger items of
those threads only. Without credentials (``nova serve --dev``, local) the caller is the owner
and sees everything, the local checkpointer's threads included.

Where items live: approvals of the server's own threads are read and resumed through the
server in-process (``langgraph_sdk.get_client()``, one search for every interrupted thread,
no state loaded); everything else comes from ``nova.inbox``'s sources. An action on a
server thread runs there (resume, retry from the failure's checkpoint, answer with the chosen
agent); an action on anything else runs the item's own ``nova`` command (what ``nova inbox``
prints) in a child process, so the page and the CLI do exactly the same thing.
The action is looked up in a fresh inbox of the caller, never taken from the request.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from nova.inbox import Inbox, InboxItem, InboxScope, SourceReport, collect_inbox
from nova.inbox.model import VALUE_PLACEHOLDERS, Action
from nova.inbox.sources import approval_actions, approval_title
from nova.settings import get_settings

PAGE = Path(__file__).with_name("inbox.html")
ACTION_TIMEOUT_S = 300.0
"""How long an action may run (a resumed run finishes its turn) before the page is told."""
_SEARCH_PAGE = 200


class Unauthorised(Exception):
    """The request carries no valid credentials (401)."""


def _credentials_required() -> bool:
    settings = get_settings()
    return bool(settings.server_api_keys) or settings.server_jwt_secret is not None


def caller(request: Request) -> str | None:
    """Return the authenticated user, or ``None`` (the owner) on a server without credentials.

    Raises:
        Unauthorised: Credentials are configured and the request has no valid ones.

    """
    if not _credentials_required():
        return None
    from nova.server.auth import user_for_api_key, user_for_token

    if key := request.headers.get("x-api-key"):
        user = user_for_api_key(key.strip())
        if user is None:
            raise Unauthorised("Unknown API key.")
        return user
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        try:
            return user_for_token(authorization[7:].strip())
        except Exception as error:  # Auth.exceptions.HTTPException carries the reason
            raise Unauthorised(str(getattr(error, "detail", error))) from None
    raise Unauthorised(
        "Authentication required: send `x-api-key: <key>` (NOVA_SERVER_API_KEYS) or "
        "`Authorization: Bearer <jwt>` (signed with NOVA_SERVER_JWT_SECRET)."
    )


def _client() -> Any:
    from langgraph_sdk import get_client

    # In-process (ASGI) client of this server; it bypasses auth, so every call is scoped here.
    return get_client()


async def _server_threads(client: Any, user: str | None, **filters: Any) -> list[dict[str, Any]]:
    """Return the server's threads matching ``filters`` (the caller's own when ``user``)."""
    metadata = {"owner": user} if user else None
    found: list[dict[str, Any]] = []
    while True:
        page = await client.threads.search(
            metadata=metadata, limit=_SEARCH_PAGE, offset=len(found), **filters
        )
        found.extend(page)
        if len(page) < _SEARCH_PAGE:
            return found


def _thread_graph(thread: dict[str, Any]) -> str:
    metadata = thread.get("metadata") or {}
    return str(metadata.get("graph_id") or metadata.get("assistant_id") or "nova")


async def server_approvals(
    client: Any, user: str | None, limit: int
) -> tuple[list[InboxItem], int]:
    """List the interrupts of the server's interrupted threads (one search, no state loaded)."""
    threads = await _server_threads(
        client,
        user,
        status="interrupted",
        select=["thread_id", "updated_at", "metadata", "interrupts"],
    )
    items: list[InboxItem] = []
    for thread in threads:
        for interrupts in (thread.get("interrupts") or {}).values():
            for interrupt in interrupts:
                value = interrupt.get("value")
                items.append(
                    InboxItem(
                        id=f"approval:{thread['thread_id']}:{interrupt.get('id')}",
                        kind="approval",
                        created_at=thread["updated_at"],
                        title=approval_title(value),
                        detail={
                            "request": json.loads(json.dumps(value, default=str)),
                            "interrupt_id": interrupt.get("id"),
                            "graph": _thread_graph(thread),
                        },
                        actions=approval_actions(thread["thread_id"], None),
                        thread_id=thread["thread_id"],
                        origin="server",
                    )
                )
    items.sort(key=lambda item: item.created_at, reverse=True)
    return items[:limit], len(items)


async def build_inbox(user: str | None, *, sources: str = "all", limit: int = 100) -> Inbox:
    """Return the caller's inbox: the server's approvals, then (not for 'server') the rest."""
    client: Any = None
    reports: list[SourceReport] = []
    items: list[InboxItem] = []
    started = time.perf_counter()
    try:
        client = _client()
        found, total = await server_approvals(client, user, limit)
        items += found
        reports.append(
            SourceReport(
                name="server approvals",
                total=total,
                shown=len(found),
                elapsed_ms=(time.perf_counter() - started) * 1000,
            )
        )
    except Exception as error:
        reports.append(
            SourceReport(name="server approvals", error=f"{type(error).__name__}: {error}")
        )
    if sources != "server":
        owned: frozenset[str] | None = None
        if user is not None:
            try:
                if client is None:
                    raise ConnectionError("the server's threads cannot be read")
                threads = await _server_threads(client, user, select=["thread_id"])
                owned = frozenset(str(t["thread_id"]) for t in threads)
            except Exception as error:
                # Without the caller's threads nothing thread-bound can be shown safely.
                owned = frozenset()
                reports.append(
                    SourceReport(name="your threads", error=f"{type(error).__name__}: {error}")
                )
        scope = InboxScope(
            get_settings(),
            user=user,
            thread_ids=owned,
            limit=limit,
            # The local checkpointer holds the owner's CLI runs: only the unauthenticated owner
            # (a server without credentials) sees them.
            include_local_threads=user is None,
        )
        local = await asyncio.to_thread(collect_inbox, scope)
        items += local.items
        reports += local.sources
    items.sort(key=lambda item: item.created_at, reverse=True)
    return Inbox(items=items, sources=reports, user=user)


# --- acting on an item ---------------------------------------------------------------------


class ActionError(Exception):
    """The action cannot be done; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


async def _run_on_server(client: Any, thread_id: str, graph: str, **kwargs: Any) -> str:
    """Run on a server thread until the run ends; return its answer in words."""
    values = await client.runs.wait(thread_id, graph, raise_error=False, **kwargs)
    if isinstance(values, dict):
        if values.get("__error__"):
            raise ActionError(f"The run failed: {values['__error__']}", status=502)
        if values.get("__interrupt__"):
            return "The run paused again for another approval; it is in the inbox."
        answer = values.get("answer") or values.get("outcome")
        if answer:
            return str(answer)
    return "Done."


async def _run_command(argv: list[str]) -> str:
    """Run ``nova <argv>`` as a child process (what ``nova inbox`` tells the owner to run)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "nova.cli",
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "120", "NOVA_CLIENT_MODE": "local"},
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), ACTION_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        raise ActionError(
            f"`nova {' '.join(argv[:3])}` took over {ACTION_TIMEOUT_S:g} s", 504
        ) from None
    text = output.decode(errors="replace").strip()
    if process.returncode != 0:
        raise ActionError(text.splitlines()[-1] if text else f"exit code {process.returncode}", 409)
    return text[-2000:] or "Done."


async def act(
    item: InboxItem, action: Action, *, user: str | None, approver: str, value: str | None
) -> str:
    """Do ``action`` to ``item`` (it comes from the caller's fresh inbox); return what happened.

    Raises:
        ActionError: The action does not apply, lacks its value, or failed.

    """
    if action not in item.actions:
        raise ActionError(f"{item.kind} items can be: {', '.join(item.actions)}; not {action!r}")
    if action == "answer" and value not in item.choices:
        raise ActionError(f"Answer with one of: {', '.join(item.choices)}")
    if action == "dismiss":
        from nova.ledger.failures import FailureLedger

        ledger = FailureLedger()
        ids = item.detail.get("failure_ids") or [item.detail["failure_id"]]
        for failure_id in ids if isinstance(ids, list) else [ids]:
            await asyncio.to_thread(
                ledger.dismiss, str(failure_id), by=approver, reason=value or ""
            )
        count = len(ids) if isinstance(ids, list) else 1
        return f"Dismissed {count} failure(s) of {str(item.detail['failure_id'])[:12]}."
    server_thread = client = None
    if item.origin == "server" or action in ("retry", "answer"):
        try:
            client = _client()
            server_thread = await _find_server_thread(client, item.thread_id, user)
        except Exception as error:
            if item.origin == "server":
                raise ActionError(f"The server's threads cannot be reached: {error}", 503) from None
            # A local item's thread is not on a server that cannot be read: run its command.
    if server_thread is not None:
        thread_id, graph = server_thread["thread_id"], _thread_graph(server_thread)
        context = {"user_id": user} if user else {}
        metadata = {"owner": user} if user else {}
        if action in ("approve", "reject"):
            decision = {
                "approved": action == "approve",
                "approver": approver,
                "reason": value or "",
            }
            return await _run_on_server(
                client,
                thread_id,
                graph,
                command={"resume": decision},
                context=context,
                metadata=metadata,
            )
        if action == "retry":
            from nova.ledger.failures import FailureLedger

            checkpoint = item.detail.get("checkpoint_id")
            answer = await _run_on_server(
                client,
                thread_id,
                graph,
                input=None,
                context=context,
                metadata=metadata,
                **({"checkpoint_id": checkpoint} if checkpoint else {}),
            )
            await asyncio.to_thread(
                FailureLedger().mark_retried, str(item.detail["failure_id"]), "server"
            )
            return answer
        if action == "answer":
            request = str(item.detail["request"])
            return await _run_on_server(
                client,
                thread_id,
                graph,
                input={"messages": [{"role": "user", "content": request}]},
                context={**context, "agent": value},
                metadata=metadata,
            )
    if user is not None:
        raise ActionError(
            "This item's thread is not on this server; act on it with its command", 409
        )
    given = value or ("rejected in the inbox page" if action == "reject" else "")
    # Arguments, never a shell line: the value fills its placeholder and nothing else.
    argv = [given if arg in VALUE_PLACEHOLDERS else arg for arg in item.actions[action]]
    if item.kind == "approval":
        argv += ["--approver", approver]
    return await _run_command(argv)


async def _find_server_thread(client: Any, thread_id: str | None, user: str | None) -> Any:
    if thread_id is None:
        return None
    found = await client.threads.search(
        ids=[thread_id], metadata={"owner": user} if user else None, limit=1
    )
    return found[0] if found else None


# --- routes --------------------------------------------------------------------------------


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


async def get_inbox(request: Request) -> Response:
    """Return the caller's inbox as JSON.

    The part after the line of dashes is this route's OpenAPI operation (YAML): the
    servers' schema generator reads it, and a docstring that is not YAML logs a traceback.
    ---
    summary: The caller's inbox (approvals, clarifications, failures, proposals)
    description: >-
      Query `sources=server` for the server's part only, `limit=N` (1 to 10,000, default
      100) for at most N items of each kind.
    responses:
      "200": {description: The inbox as JSON}
      "401": {description: No valid credentials}
      "422": {description: A malformed limit}
    """
    try:
        user = caller(request)
    except Unauthorised as error:
        return _error(str(error), 401)
    try:
        limit = int(request.query_params.get("limit", "100"))
    except ValueError:
        return _error("limit must be a whole number", 422)
    if not 1 <= limit <= 10_000:
        return _error("limit must be between 1 and 10,000", 422)
    inbox = await build_inbox(user, sources=request.query_params.get("sources", "all"), limit=limit)
    payload = inbox.model_dump(mode="json")
    for item, dumped in zip(inbox.items, payload["items"], strict=True):
        dumped["command"] = item.command
    return JSONResponse(payload)


async def post_action(request: Request) -> Response:
    """Act on one inbox item (approve, reject, answer, retry …).

    The part after the line of dashes is this route's OpenAPI operation (YAML).
    ---
    summary: Act on one inbox item
    parameters:
      - {name: item_id, in: path, required: true, schema: {type: string}}
      - {name: action, in: path, required: true, schema: {type: string}}
    requestBody:
      content:
        application/json:
          schema:
            type: object
            properties: {value: {type: string}, approver: {type: string}}
    responses:
      "200": {description: What was done}
      "404": {description: Nothing waits under that id}
      "422": {description: A malformed body}
    """
    try:
        user = caller(request)
    except Unauthorised as error:
        return _error(str(error), 401)
    item_id, action = request.path_params["item_id"], request.path_params["action"]
    try:
        body = await request.json() if await request.body() else {}
    except json.JSONDecodeError:
        return _error('The body must be JSON, e.g. {"value": "erp_invoices"}', 422)
    if not isinstance(body, dict):
        return _error("The body must be a JSON object", 422)
    value = body.get("value")
    if value is not None and not isinstance(value, str):
        return _error("value must be a string", 422)
    approver = user or str(body.get("approver") or "").strip() or getpass.getuser()
    inbox = await build_inbox(user, limit=10_000)
    item = next((i for i in inbox.items if i.id == item_id), None)
    if item is None:
        return _error(f"Nothing waits under {item_id!r} (already done?); reload the inbox", 404)
    try:
        message = await act(item, action, user=user, approver=approver[:120], value=value)
    except ActionError as error:
        return _error(str(error), error.status)
    return JSONResponse({"item": item_id, "action": action, "message": message})


async def get_page(request: Request) -> Response:
    """Serve the inbox page (its script reads the JSON route).

    The part after the line of dashes is this route's OpenAPI operation (YAML).
    ---
    summary: The inbox as a web page
    responses:
      "200": {description: The page (HTML)}
    """
    return HTMLResponse(PAGE.read_text(), headers={"cache-control": "no-store"})


routes = [
    Route("/nova/inbox", get_inbox, methods=["GET"]),
    Route("/nova/inbox/page", get_page, methods=["GET"]),
    Route("/nova/inbox/items/{item_id:str}/{action:str}", post_action, methods=["POST"]),
]
"""Nova's own HTTP routes, served by both server modes."""

inbox_app = Starlette(routes=routes)
