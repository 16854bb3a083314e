"""Authentication and per-user isolation for the durable server (``langgraph_sdk.Auth``).

Who you are: ``x-api-key: <key>`` matched against ``NOVA_SERVER_API_KEYS`` (``user:key``
pairs), or ``Authorization: Bearer <jwt>`` signed with ``NOVA_SERVER_JWT_SECRET`` (HS256;
the user is the ``sub`` claim; ``aud`` is checked when ``NOVA_SERVER_JWT_AUDIENCE`` is set).

What you see: every thread, run and assistant you create carries ``metadata.owner``; reads,
searches, updates and deletes are filtered on it, so another user's ids answer 404. The
graphs' own assistants (``created_by: system``) are readable by everyone and writable by no
one. Store namespaces must start with your user id (``("alice", "notes")``); a search or
namespace listing without a prefix is narrowed to yours.

Runs: ``context.user_id`` is overwritten with the authenticated user, so a graph reads the
caller from ``Runtime[NovaContext].context.user_id`` and no client can act as someone else.
Memory (recall, memory tools, thread summaries, added glossary terms) is kept per user on
that id, so each user also sees only their own memories (``memory.store``).

Studio: langgraph-api lets requests marked ``x-auth-scheme: langsmith`` in as the Studio
user only when ``NOVA_SERVER_STUDIO_WITHOUT_AUTH=true`` (see ``nova.server.launch``).
"""

from __future__ import annotations

import hmac
from typing import Any

import jwt
from langgraph_sdk import Auth

from nova.settings import get_settings

OWNER_KEY = "owner"
"""Metadata key holding the user who created a thread, run or assistant."""

auth = Auth()

_UNAUTHORISED = (
    "Authentication required: send `x-api-key: <key>` (NOVA_SERVER_API_KEYS) or "
    "`Authorization: Bearer <jwt>` (signed with NOVA_SERVER_JWT_SECRET)."
)


def _header(headers: dict[bytes, bytes], name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1").strip() if value else None


def user_for_api_key(key: str) -> str | None:
    """Return the user whose API key is ``key`` (constant-time comparison), or ``None``."""
    found = None
    for user, secret in get_settings().server_api_keys.items():
        # Compare against every key so the time taken does not reveal which prefix matched.
        if hmac.compare_digest(secret.get_secret_value().encode(), key.encode()):
            found = user
    return found


def user_for_token(token: str) -> str:
    """Return the ``sub`` of a valid bearer token.

    Raises:
        Auth.exceptions.HTTPException: 401 naming what is wrong with the token.

    """
    settings = get_settings()
    if settings.server_jwt_secret is None:
        raise Auth.exceptions.HTTPException(
            status_code=401, detail="Bearer tokens are not enabled on this server; use x-api-key."
        )
    try:
        claims = jwt.decode(
            token,
            settings.server_jwt_secret.get_secret_value(),
            algorithms=["HS256"],
            audience=settings.server_jwt_audience,
            options={
                "require": ["sub", "exp"],
                "verify_aud": settings.server_jwt_audience is not None,
            },
        )
    except jwt.PyJWTError as error:
        raise Auth.exceptions.HTTPException(
            status_code=401, detail=f"Invalid bearer token: {error}"
        ) from None
    return str(claims["sub"])


@auth.authenticate
async def authenticate(headers: dict[bytes, bytes]) -> Auth.types.MinimalUserDict:
    """Identify the caller from an API key or a bearer token; 401 otherwise."""
    if api_key := _header(headers, b"x-api-key"):
        user = user_for_api_key(api_key)
        if user is None:
            raise Auth.exceptions.HTTPException(status_code=401, detail="Unknown API key.")
        return {"identity": user, "display_name": user, "is_authenticated": True}
    authorization = _header(headers, b"authorization")
    if authorization and authorization.lower().startswith("bearer "):
        user = user_for_token(authorization[7:].strip())
        return {"identity": user, "display_name": user, "is_authenticated": True}
    raise Auth.exceptions.HTTPException(status_code=401, detail=_UNAUTHORISED)


def _own(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> dict[str, str]:
    metadata = value.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
        value["metadata"] = metadata
    metadata[OWNER_KEY] = ctx.user.identity
    return {OWNER_KEY: ctx.user.identity}


@auth.on.threads.create
async def on_thread_create(
    ctx: Auth.types.AuthContext, value: Auth.types.ThreadsCreate
) -> Auth.types.FilterType:
    """Stamp the new thread with its owner."""
    return _own(ctx, value)  # type: ignore[arg-type]


@auth.on.threads.create_run
async def on_run_create(
    ctx: Auth.types.AuthContext, value: Auth.types.RunsCreate
) -> Auth.types.FilterType:
    """Stamp the run with its owner and run the graph as the authenticated user."""
    kwargs = value.get("kwargs")
    if isinstance(kwargs, dict):
        context = kwargs.get("context")
        if not isinstance(context, dict):
            context = {}
            kwargs["context"] = context
        # Never trust a client-supplied user_id: the graph scopes memory by it.
        context["user_id"] = ctx.user.identity
        configurable = (kwargs.get("config") or {}).get("configurable")
        if isinstance(configurable, dict) and "langgraph_auth_user" in configurable:
            # The Postgres runtime stores run kwargs as JSON; langgraph-api put the user
            # object there, which json cannot encode. Its worker accepts the plain dict.
            configurable["langgraph_auth_user"] = {
                "identity": ctx.user.identity,
                "display_name": ctx.user.display_name,
                "is_authenticated": True,
                "permissions": list(ctx.permissions),
            }
    return _own(ctx, value)  # type: ignore[arg-type]


@auth.on.threads
async def on_threads(ctx: Auth.types.AuthContext, value: Any) -> Auth.types.FilterType:
    """Let users read, update, delete and search only their own threads (and their runs)."""
    return {OWNER_KEY: ctx.user.identity}


@auth.on.assistants.create
async def on_assistant_create(
    ctx: Auth.types.AuthContext, value: Auth.types.AssistantsCreate
) -> Auth.types.FilterType:
    """Stamp the new assistant with its owner."""
    return _own(ctx, value)  # type: ignore[arg-type]


@auth.on.assistants.read
async def on_assistant_read(ctx: Auth.types.AuthContext, value: Any) -> Auth.types.FilterType:
    """Show the graphs' own assistants to everyone, and a user's assistants to that user."""
    return {"$or": [{OWNER_KEY: ctx.user.identity}, {"created_by": "system"}]}  # type: ignore[return-value]  # SDK FilterType omits "$or"


@auth.on.assistants.search
async def on_assistant_search(ctx: Auth.types.AuthContext, value: Any) -> Auth.types.FilterType:
    """Search the graphs' own assistants and the user's."""
    return {"$or": [{OWNER_KEY: ctx.user.identity}, {"created_by": "system"}]}  # type: ignore[return-value]  # SDK FilterType omits "$or"


@auth.on.assistants
async def on_assistants(ctx: Auth.types.AuthContext, value: Any) -> Auth.types.FilterType:
    """Let users update and delete only assistants they created."""
    return {OWNER_KEY: ctx.user.identity}


@auth.on.crons
async def on_crons(ctx: Auth.types.AuthContext, value: Any) -> Auth.types.FilterType:
    """Keep scheduled runs private to their owner, like threads."""
    if isinstance(value, dict) and "metadata" in value:
        return _own(ctx, value)
    return {OWNER_KEY: ctx.user.identity}


@auth.on.store()  # type: ignore[type-var]  # SDK bounds handlers to dict values, not its own TypedDicts
async def on_store(ctx: Auth.types.AuthContext, value: Auth.types.on.store.value) -> None:
    """Confine store access to namespaces that start with the user's id."""
    user = ctx.user.identity
    namespace = tuple(value.get("namespace") or ())
    if not namespace and value.get("key") is None:
        # A search or listing with no prefix would span every user: narrow it to this one.
        value["namespace"] = (user,)
        return
    if not namespace or namespace[0] != user:
        raise Auth.exceptions.HTTPException(
            status_code=403,
            detail=(
                f"Store namespaces must start with your user id: use ({user!r}, ...); "
                f"got {namespace!r}."
            ),
        )
