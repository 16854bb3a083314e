"""``POST /nova/feedback``: the user's verdict on one of their runs, over Nova's HTTP app.

From the SDK: ``client.http.post("/nova/feedback", json={"run": RUN_OR_THREAD, "rating":
"bad", "agent": "erp_payments", "answer": "...", "note": "..."})``. The caller is
authenticated as every other request to the server is (``x-api-key`` or a bearer token,
``nova.server.auth``); without keys or a JWT secret configured (``nova serve --dev``) the
local owner is the caller. A caller may judge only runs of their own threads (a thread's
``metadata.owner``); anyone else's run answers 404, as an unknown one does.
``GET /nova/feedback`` lists the caller's own verdicts.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

OwnerOf = Callable[[str], Awaitable[str | None]]
"""``await owner_of(thread_id)``: the user who owns a thread (``None``: no such thread)."""


class FeedbackIn(BaseModel):
    """The body of ``POST /nova/feedback``."""

    model_config = ConfigDict(extra="forbid")

    run: str = Field(min_length=1, max_length=200)
    """Run id (a unique prefix is enough) or thread id (its newest run)."""
    rating: Literal["good", "bad"]
    agent: str | None = Field(default=None, max_length=200)
    """The agent that should have answered."""
    answer: str | None = Field(default=None, max_length=20_000)
    note: str | None = Field(default=None, max_length=20_000)


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _auth_configured() -> bool:
    from nova.settings import get_settings

    settings = get_settings()
    return bool(settings.server_api_keys) or settings.server_jwt_secret is not None


def caller(request: Request) -> str:
    """Return the authenticated caller of ``request``.

    Raises:
        PermissionError: no valid credentials (the message is the 401's detail).

    """
    from langgraph_sdk import Auth

    from nova.server.auth import user_for_api_key, user_for_token

    if not _auth_configured():
        return getpass.getuser()  # `nova serve --dev`: the local owner, as on the CLI
    if key := request.headers.get("x-api-key"):
        user = user_for_api_key(key.strip())
        if user is None:
            raise PermissionError("Unknown API key.")
        return user
    authorization = request.headers.get("authorization") or ""
    if authorization.lower().startswith("bearer "):
        try:
            return user_for_token(authorization[7:].strip())
        except Auth.exceptions.HTTPException as error:
            raise PermissionError(str(error.detail)) from None
    raise PermissionError(
        "Authentication required: send `x-api-key: <key>` or `Authorization: Bearer <jwt>`."
    )


async def thread_owner(thread_id: str) -> str | None:
    """Return the owner of ``thread_id`` on this server (in-process SDK client, as the system)."""
    from langgraph_sdk import get_client

    from nova.server.auth import OWNER_KEY

    try:
        thread = await get_client().threads.get(thread_id)
    except Exception:  # 404 and the like: no such thread
        return None
    metadata = thread.get("metadata") or {}
    owner = metadata.get(OWNER_KEY)
    return str(owner) if owner is not None else None


def feedback_routes(owner_of: OwnerOf = thread_owner) -> list[Route]:
    """Return Nova's feedback routes; ``owner_of`` says who owns a thread."""

    async def may_judge(user: str, thread_id: str | None) -> bool:
        if not _auth_configured():
            return True  # one local owner: every run is theirs
        return thread_id is not None and await owner_of(thread_id) == user

    async def post(request: Request) -> JSONResponse:
        """Record the caller's verdict on one of their runs.

        The part after the line of dashes is this route's OpenAPI operation (YAML).
        ---
        summary: Rate one of your runs (good or bad, optionally with the right agent or answer)
        requestBody:
          required: true
          content:
            application/json:
              schema:
                type: object
                required: [run, rating]
                properties:
                  run: {type: string, description: Run id (a unique prefix) or thread id}
                  rating: {type: string, enum: [good, bad]}
                  agent: {type: string, description: The agent that should have answered}
                  answer: {type: string}
                  note: {type: string}
        responses:
          "201": {description: The stored feedback record}
          "401": {description: No valid credentials}
          "404": {description: No such run or thread of yours}
          "422": {description: A malformed body or an unknown agent}
        """
        from nova.catalog import default_catalog
        from nova.ledger.feedback import give_feedback
        from nova.tracing import TraceNotFound, TraceStore

        try:
            user = caller(request)
        except PermissionError as error:
            return _error(401, str(error))
        try:
            body = FeedbackIn.model_validate(await request.json())
        except (ValidationError, ValueError) as error:
            return _error(422, f"Send {{run, rating: good|bad, agent?, answer?, note?}}: {error}")
        if body.agent is not None and body.agent not in default_catalog():
            return _error(422, f"No agent named {body.agent!r}")
        store = TraceStore()

        def find() -> Any:
            try:
                return store.get(body.run, steps=False)
            except TraceNotFound:
                newest = store.list(thread_id=body.run, limit=1)
                return newest[0] if newest else None

        trace = await asyncio.to_thread(find)
        if trace is None or not await may_judge(user, trace.thread_id):
            return _error(404, f"No run or thread {body.run!r} of yours")
        record = await asyncio.to_thread(
            give_feedback,
            trace.run_id,
            body.rating,
            agent=body.agent,
            answer=body.answer,
            note=body.note,
            user=user,
            traces=store,
            source="server",
        )
        return JSONResponse(record.model_dump(mode="json"), status_code=201)

    async def get(request: Request) -> JSONResponse:
        """List the caller's latest feedback.

        The part after the line of dashes is this route's OpenAPI operation (YAML).
        ---
        summary: Your latest 100 feedback records, newest first
        responses:
          "200": {description: The records as a JSON list}
          "401": {description: No valid credentials}
        """
        from nova.ledger.feedback import FeedbackLedger

        try:
            user = caller(request)
        except PermissionError as error:
            return _error(401, str(error))
        records = await asyncio.to_thread(FeedbackLedger().list, user=user, limit=100)
        return JSONResponse([r.model_dump(mode="json") for r in records])

    return [
        Route("/nova/feedback", post, methods=["POST"]),
        Route("/nova/feedback", get, methods=["GET"]),
    ]
