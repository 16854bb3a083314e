"""The CLI as a client: send a turn to a running Nova server through ``langgraph-sdk``.

A warm server has its graphs built, its encoder, router and databases open; the CLI then
only pays for the SDK and one HTTP round trip instead of loading everything in-process.
Which way a turn goes is chosen by ``--local`` / ``--server URL`` or ``NOVA_CLIENT_MODE``:
``auto`` (the default) uses ``NOVA_SERVER_URL`` or the server that ``nova serve`` announced in
the data directory, and runs in-process when there is none. The answer, the routing ledger,
traces and failures are the same either way: the server runs the same graph.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

from nova.cli.apps import ask_approval, console, fail

if TYPE_CHECKING:
    from langgraph_sdk.client import SyncLangGraphClient

    from nova.cli.streaming import TurnDisplay
    from nova.settings import NovaSettings

GRAPH_ID = "nova"
"""The supervisor, as langgraph.json names it."""


@dataclass(frozen=True, slots=True)
class ServerTarget:
    """A server to send turns to, and whether the user insisted on it."""

    url: str
    api_key: str | None
    required: bool
    """``True`` when chosen by ``--server`` or ``NOVA_CLIENT_MODE=server``: an unreachable
    server is then an error, not a reason to run in-process."""


def choose_target(
    settings: NovaSettings, *, server: str | None, local: bool
) -> ServerTarget | None:
    """Return the server a turn should go to, or ``None`` to run it in-process."""
    from nova.server.announce import read_announcement

    key = settings.client_api_key.get_secret_value() if settings.client_api_key else None
    if local:
        return None
    if server:
        return ServerTarget(url=server.rstrip("/"), api_key=key, required=True)
    if settings.client_mode == "local":
        return None
    required = settings.client_mode == "server"
    if settings.server_url is not None:
        return ServerTarget(
            url=str(settings.server_url).rstrip("/"), api_key=key, required=required
        )
    announced = read_announcement(settings.data_dir)
    if announced is not None:
        return ServerTarget(url=announced.url, api_key=key, required=required)
    if required:
        raise fail(
            "NOVA_CLIENT_MODE=server but no server is known: start one with `nova serve --dev`, "
            "or set NOVA_SERVER_URL"
        )
    return None


_THREADS = uuid.UUID("6f1c2a52-4e0b-4c55-9b39-7c1e6a0f9d21")
"""Namespace of the server thread ids made from the CLI's short ones."""


def server_thread_id(thread: str) -> str:
    """Return the server's id for the CLI thread ``thread`` (servers want UUIDs).

    The CLI's short ids (``3c8471bcc968``) map to one UUID each, so ``--thread`` works the same
    against a server; a UUID is used as it is.
    """
    try:
        return str(uuid.UUID(thread))
    except ValueError:
        return str(uuid.uuid5(_THREADS, thread))


class ServerUnavailable(Exception):
    """The server could not be reached (connection refused, timed out)."""


def _client(target: ServerTarget) -> SyncLangGraphClient:
    from langgraph_sdk import get_sync_client

    return get_sync_client(url=target.url, api_key=target.api_key, timeout=300.0)


def _call(what: str, target: ServerTarget, function: Any, *args: Any, **kwargs: Any) -> Any:
    """Call the SDK; turn transport and HTTP errors into one-line CLI errors."""
    import httpx

    try:
        return function(*args, **kwargs)
    except httpx.TransportError as error:
        raise ServerUnavailable(f"{target.url}: {type(error).__name__}") from error
    except httpx.HTTPStatusError as error:
        detail = error.response.text.strip().replace("\n", " ")[:300]
        status = error.response.status_code
        hint = (
            " (set NOVA_CLIENT_API_KEY to one of the server's keys)" if status in (401, 403) else ""
        )
        message = f"The Nova server at {target.url} refused to {what}: {status} {detail}{hint}"
        raise fail(message) from None


def thread_exists(target: ServerTarget, thread: str) -> bool:
    """Return whether ``thread`` lives on the server (a thread started in-process does not).

    Raises:
        ServerUnavailable: The server could not be reached.

    """
    import httpx

    try:
        _client(target).threads.get(server_thread_id(thread))
    except httpx.TransportError as error:
        raise ServerUnavailable(f"{target.url}: {type(error).__name__}") from error
    except httpx.HTTPStatusError as error:
        if error.response.status_code == 404:
            return False
        raise
    return True


def is_waiting_for_approval(target: ServerTarget, thread: str) -> bool:
    """Return whether the server's thread ``thread`` is paused on an interrupt."""
    client = _client(target)
    state = _call("read the thread", target, client.threads.get_state, server_thread_id(thread))
    return bool(_interrupts(state))


def _interrupts(state: dict[str, Any]) -> list[dict[str, Any]]:
    found = [i for task in state.get("tasks") or [] for i in task.get("interrupts") or []]
    return found or list(state.get("interrupts") or [])


def remote_turn(
    target: ServerTarget,
    *,
    text: str | None,
    resume: dict[str, Any] | None = None,
    thread: str,
    project: str | None,
    agent: str | None,
    interactive: bool,
    stream: bool = False,
) -> dict[str, Any]:
    """Run one turn (or resume an approval) on the server; return the thread's final values.

    With ``stream`` the agent's tokens are shown as the server streams them
    (``stream_mode="messages-tuple"``, ``nova.cli.streaming``).

    Raises:
        ServerUnavailable: The server could not be reached before the run started.

    """
    client = _client(target)
    on_server = server_thread_id(thread)
    _call(
        "create the thread",
        target,
        client.threads.create,
        thread_id=on_server,
        if_exists="do_nothing",
    )
    context = {key: value for key, value in {"project": project, "agent": agent}.items() if value}
    payload: dict[str, Any] | None = (
        {"messages": [{"role": "user", "content": text}]} if text is not None else None
    )
    command = {"resume": resume} if resume is not None else None
    # Streaming display (rich's Markdown and Live) loads only on the paths that show a turn.
    from nova.cli.streaming import TurnDisplay

    while True:
        with TurnDisplay(console, working="Nova (server) is working…", stream=stream) as display:
            sdk_stream = client.runs.stream(
                on_server,
                GRAPH_ID,
                input=payload,
                command=command,  # type: ignore[arg-type]  # the SDK's Command TypedDict
                context=context or None,
                stream_mode=["updates", "messages-tuple"] if stream else "updates",
                stream_subgraphs=True,
            )
            parts = _call("run the request", target, list, _progress(sdk_stream, display))
        for part in parts:
            if part.event == "error":
                data = part.data if isinstance(part.data, dict) else {"message": str(part.data)}
                message = data.get("message") or data.get("error") or str(data)
                raise fail(f"{data.get('error', 'Error')}: {message}".strip(), code=1)
        state = _call("read the thread", target, client.threads.get_state, on_server)
        interrupts = _interrupts(state)
        if not interrupts:
            return dict(state.get("values") or {})
        decision = ask_approval(interrupts[0].get("value"), interactive=interactive)
        if decision is None:
            console.print(
                "Paused for approval. Resume with: "
                f"[bold]nova resume --thread {thread} --approve[/] (or --reject)"
            )
            raise typer.Exit(3)
        payload, command = None, {"resume": decision}


def _progress(stream: Any, display: TurnDisplay) -> Any:
    from nova.cli.streaming import server_events

    for part, event in server_events(stream):
        display.show(event)
        yield part
