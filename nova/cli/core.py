"""Everyday commands: ask, chat, resume, agents, serve."""

from __future__ import annotations

import functools
import gc
import json
import os
import shutil
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.prompt import Prompt
from rich.table import Table

from nova.cli.apps import app, ask_approval, console, err_console, fail
from nova.errors import InvalidRequest

agents_app = typer.Typer(
    help="Inspect the agent catalog and add or change your own agents.",
    no_args_is_help=True,
)
app.add_typer(agents_app, name="agents")

ThreadOption = Annotated[
    str | None,
    typer.Option("--thread", "-t", help="Conversation id; reuse it to continue a thread."),
]
ProjectOption = Annotated[
    str | None,
    typer.Option("--project", "-p", help="Project scope (default NOVA_DEFAULT_PROJECT)."),
]
AgentOption = Annotated[
    str | None, typer.Option("--agent", "-a", help="Skip routing: send the request to this agent.")
]
LocalOption = Annotated[
    bool,
    typer.Option("--local", help="Run in this process even when a Nova server is running."),
]
ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        help="Send the request to this Nova server (default: NOVA_SERVER_URL, or the server "
        "`nova serve` announced; else in-process).",
    ),
]


def _settings_or_exit() -> Any:
    from nova.settings import SettingsError, get_settings

    try:
        return get_settings()
    except SettingsError as error:
        raise fail(str(error)) from None


def _route_line(route: dict[str, Any] | None, agent_run: dict[str, Any] | None) -> str:
    if not route:
        return ""
    agent = route.get("agent") or "—"
    where = route.get("subgraph") or "clarify"
    confidence = f"confidence {route['confidence']:.2f}"
    line = f"→ [bold]{agent}[/] ({where}) · {route['method']} · {confidence}"
    if agent_run:
        version = f"{agent_run['agent']}@{agent_run['version']}+{agent_run['content_version']}"
        line += f" · {version} · {agent_run['outcome']}"
    if route.get("scope"):
        # The route moved an unscoped turn to the project that owns its data: say where.
        line += f"\nproject {escape(route['scope'])}"
    return line


def _show_result(values: dict[str, Any]) -> None:
    from langchain_core.messages import AIMessage

    messages = values.get("messages") or []
    last = messages[-1] if messages else None
    if isinstance(last, dict) and last.get("type") == "ai":
        # A server's answer arrives as JSON: rebuild the message to render it the same way.
        last = AIMessage(
            content=last.get("content") or "", additional_kwargs=last.get("additional_kwargs") or {}
        )
    from nova.erp.render import PAYLOAD_KEY, WRITE_KEY, render_erp_answer

    renderable: Any
    if isinstance(last, AIMessage) and {PAYLOAD_KEY, WRITE_KEY} & set(last.additional_kwargs):
        # ERP answers carry their rows: show them as a table, not as text.
        renderable = render_erp_answer(last)
    else:
        from rich.markdown import Markdown  # markdown-it: only for answers shown as text

        renderable = Markdown(values.get("answer") or "")
    console.print(Panel(renderable, title="Nova", border_style="cyan", expand=False))
    if line := _route_line(values.get("route"), values.get("agent_run")):
        console.print(line, style="dim")


def _explain(error: BaseException) -> str:
    """Say why a turn failed: the model endpoint's problem with its fix, or the error itself."""
    from nova.models import describe_model_error

    return describe_model_error(error) or f"{type(error).__name__}: {error}."


def run_turn(
    graph: Any,
    payload: Any,
    *,
    thread: str,
    project: str | None,
    agent: str | None,
    interactive: bool,
    stream: bool = False,
    continuing: bool = False,
) -> dict[str, Any]:
    """Run one turn with a progress spinner, handling approval interrupts; return final values.

    With ``stream`` the answer is shown as the agent's model writes it (``nova.cli.streaming``).
    ``continuing``: the user named the thread to continue; say so when it holds nothing yet.
    """
    from langgraph.types import Command

    from memory.checkpoint import TURN_DURABILITY
    from nova.cli.streaming import TurnDisplay, turn_events
    from nova.state import NovaContext
    from nova.tracing import flush_traces, tracing_callbacks

    callbacks = tracing_callbacks(checkpointer=graph.checkpointer)
    context = NovaContext(project=project, agent=agent)
    if continuing and graph.checkpointer.get_tuple({"configurable": {"thread_id": thread}}) is None:
        # A mistyped --thread would otherwise start a fresh conversation without a word.
        err_console.print(  # stderr: --json output stays one JSON document
            f"[yellow]No conversation {thread!r} here yet[/]: starting a new one under that id "
            "(check the id if you meant to continue one)."
        )
    while True:
        # Every step (a turn or a resume) is its own traced run, recorded under its run id.
        config = {
            "configurable": {"thread_id": thread},
            "callbacks": callbacks,
            "run_id": uuid.uuid4(),
        }
        try:
            with TurnDisplay(console, working="Nova is working…", stream=stream) as display:
                parts = graph.stream(
                    payload,
                    config=config,
                    context=context,
                    durability=TURN_DURABILITY,
                    stream_mode=["updates", "messages"] if stream else ["updates"],
                    subgraphs=True,
                )
                for event in turn_events(parts):
                    display.show(event)
        except InvalidRequest as error:
            # Not a failure (nothing recorded, nothing to retry): say what to change.
            raise fail(str(error)) from None
        except Exception as error:
            # The failure recorder has already written it to the ledger and noted its id.
            notes = " ".join(getattr(error, "__notes__", []))
            raise fail(f"{_explain(error)} {notes}".strip(), code=1) from error
        finally:
            flush_traces()
        state = graph.get_state({"configurable": {"thread_id": thread}})
        interrupts = [i for task in state.tasks for i in task.interrupts]
        if not interrupts:
            return dict(state.values)
        decision = ask_approval(interrupts[0].value, interactive=interactive)
        if decision is None:
            console.print(
                "Paused for approval. Resume with: "
                f"[bold]nova resume --thread {thread} --approve[/] (or --reject)"
            )
            raise typer.Exit(3)
        payload = Command(resume=decision)


def _open_graph(stack: Any) -> Any:
    from graphs.nova import default_nova_graph
    from memory.checkpoint import open_checkpointer

    checkpointer = stack.enter_context(open_checkpointer())
    # The process's one compiled supervisor, with this command's checkpointer attached.
    graph = default_nova_graph().copy(update={"checkpointer": checkpointer})
    _freeze_startup_objects()
    return graph


@functools.cache
def _freeze_startup_objects() -> None:
    # Once per process, before the first turn: what was imported and built until now lives
    # as long as the process, so later collections (each turn of a long `nova chat`) need
    # not walk it again. Only once: a later freeze would also keep a turn's garbage forever.
    gc.freeze()


def _remote_target(settings: Any, *, server: str | None, local: bool, thread: str | None) -> Any:
    """Return the server to use for this turn, or ``None`` to run in-process."""
    from nova.cli.remote import ServerUnavailable, choose_target, thread_exists

    target = choose_target(settings, server=server, local=local)
    if target is None or thread is None or target.required:
        return target
    try:
        # A conversation started in-process lives in the local checkpointer, not on the
        # server: continue it where it is.
        return target if thread_exists(target, thread) else None
    except ServerUnavailable:
        return None


def _turn(
    *,
    text: str | None,
    resume: dict[str, Any] | None,
    thread: str,
    project: str | None,
    agent: str | None,
    interactive: bool,
    target: Any,
    stream: bool = False,
    continuing: bool = False,
) -> dict[str, Any]:
    """Run one turn on the server ``target`` (or in-process when ``None``): final values.

    ``continuing``: the user named ``thread`` to continue it (``--thread``).
    """
    import contextlib

    if target is not None:
        from nova.cli.remote import ServerUnavailable, remote_turn

        try:
            return remote_turn(
                target,
                text=text,
                resume=resume,
                thread=thread,
                project=project,
                agent=agent,
                interactive=interactive,
                stream=stream,
            )
        except ServerUnavailable as error:
            if target.required:
                raise fail(
                    f"No Nova server answers at {error}; start one with `nova serve --dev`, "
                    "or run in-process with --local"
                ) from None
            console.print(f"[dim]no server at {target.url}; running in-process[/]")
    import threading

    from memory.embeddings import warm_up

    # Load the encoder (ONNX Runtime, mostly C++ without the GIL) while the graphs import.
    threading.Thread(target=warm_up, name="nova-encoder-warm-up", daemon=True).start()
    from langchain_core.messages import HumanMessage
    from langgraph.types import Command

    payload: Any = (
        Command(resume=resume) if resume is not None else {"messages": [HumanMessage(text or "")]}
    )
    with contextlib.ExitStack() as stack:
        graph = _open_graph(stack)
        return run_turn(
            graph,
            payload,
            thread=thread,
            project=project,
            agent=agent,
            interactive=interactive,
            stream=stream,
            continuing=continuing and resume is None,
        )


@app.command()
def ask(
    text: Annotated[str, typer.Argument(help="Your request.")],
    thread: ThreadOption = None,
    project: ProjectOption = None,
    agent: AgentOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the final state as JSON.")] = False,
    local: LocalOption = False,
    server: ServerOption = None,
) -> None:
    """Ask Nova one thing (continue a conversation with --thread)."""
    settings = _settings_or_exit()
    if not text.strip():
        raise fail('Nova needs a request, e.g. nova ask "Which invoices are overdue?"')
    target = _remote_target(settings, server=server, local=local, thread=thread)
    continuing = thread is not None
    thread = thread or uuid.uuid4().hex[:12]
    values = _turn(
        text=text,
        resume=None,
        thread=thread,
        project=project,
        agent=agent,
        interactive=sys.stdin.isatty() and not as_json,
        target=target,
        continuing=continuing,
        # The answer as it is written, on a terminal only: pipes and --json get the final one.
        stream=console.is_terminal and not as_json,
    )
    if as_json:
        out = {k: v for k, v in values.items() if k != "messages"}
        out["thread"] = thread
        console.print_json(json.dumps(out, default=str))
        return
    _show_result(values)
    console.print(f"thread {thread} (continue with --thread {thread})", style="dim")


@app.command()
def resume(
    thread: Annotated[str, typer.Option("--thread", "-t", help="Thread paused for approval.")],
    approve: Annotated[
        bool, typer.Option("--approve/--reject", help="Apply or reject the change.")
    ],
    reason: Annotated[str, typer.Option(help="Why (recorded with a rejection).")] = "",
    approver: Annotated[str | None, typer.Option(help="Who approves (default $USER).")] = None,
    local: LocalOption = False,
    server: ServerOption = None,
) -> None:
    """Approve or reject the change a paused thread is waiting on."""
    import contextlib

    settings = _settings_or_exit()
    who = approver or os.environ.get("USER") or "cli-user"
    decision = {"approved": approve, "approver": who, "reason": reason}
    target = _remote_target(settings, server=server, local=local, thread=thread)
    if target is None:
        with contextlib.ExitStack() as stack:
            state = _open_graph(stack).get_state({"configurable": {"thread_id": thread}})
            waiting = any(task.interrupts for task in state.tasks)
    else:
        from nova.cli.remote import is_waiting_for_approval

        waiting = is_waiting_for_approval(target, thread)
    if not waiting:
        raise fail(f"Thread {thread!r} is not waiting for an approval")
    values = _turn(
        text=None,
        resume=decision,
        thread=thread,
        project=None,
        agent=None,
        interactive=False,
        target=target,
    )
    _show_result(values)


def _check_project(project: str) -> None:
    """Exit with the projects' own one-line error when ``project`` is not defined."""
    from nova.projects import ProjectError, load_projects

    try:
        load_projects().get(project)
    except ProjectError as error:
        raise fail(str(error)) from None


@app.command()
def chat(
    thread: ThreadOption = None,
    project: ProjectOption = None,
    local: LocalOption = False,
    server: ServerOption = None,
) -> None:
    """Talk to Nova interactively (Ctrl-D or 'exit' to leave)."""
    settings = _settings_or_exit()
    if project is not None:
        _check_project(project)  # before the first prompt, not after the first message
    target = _remote_target(settings, server=server, local=local, thread=thread)
    # A continued thread keeps its own project unless one is named (nodes.supervisor.intake).
    scope = project or ("the thread's" if thread else settings.default_project)
    continuing = thread is not None
    thread = thread or uuid.uuid4().hex[:12]
    where = f" · server {target.url}" if target is not None else ""
    console.print(f"[bold cyan]Nova[/] · thread {thread} · project {scope}{where}")
    while True:
        try:
            text = Prompt.ask("[bold]you[/]").strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if text.lower() in {"exit", "quit", ":q"}:
            return
        if not text:
            continue
        values = _turn(
            text=text,
            resume=None,
            thread=thread,
            project=project,
            agent=None,
            interactive=True,
            target=target,
            stream=console.is_terminal,
            continuing=continuing,
        )
        continuing = False
        _show_result(values)


@agents_app.command("list")
def agents_list(
    group: Annotated[
        str | None, typer.Option(help="Only this group (chat, erp, translation, pipeline, other).")
    ] = None,
) -> None:
    """List the agents with their group, versions and tools."""
    from nova.catalog import load_catalog

    catalog = load_catalog()
    groups = sorted({spec.group for spec in catalog.agents.values()})
    if group is not None and group not in groups:
        raise fail(f"No agent group {group!r}; the groups are {', '.join(groups)}")
    shown = [spec for spec in catalog.agents.values() if group is None or spec.group == group]
    of_group = f" in group {group}" if group else ""
    table = Table(title=f"{len(shown)} agents{of_group} · catalog {catalog.version}")
    for column in ("name", "group", "version", "content", "tools", "description"):
        table.add_column(column, overflow="fold")
    for spec in shown:
        table.add_row(
            spec.name,
            spec.group,
            spec.version,
            spec.content_version,
            str(len(spec.tools)),
            spec.description,
        )
    console.print(table)


@agents_app.command("show")
def agents_show(
    name: Annotated[str, typer.Argument(help="Agent name.")],
    version: Annotated[
        str | None,
        typer.Option(
            "--version",
            help="A recorded version: its number in `nova agents history`, its hash, or the "
            "version a run recorded (name@1.2.0+content). Default: the version in force.",
        ),
    ] = None,
) -> None:
    """Show one agent: prompt, tools, model, examples, versions."""
    from nova.catalog import load_catalog

    catalog = load_catalog()
    if name not in catalog:
        from rapidfuzz import process

        close = [match for match, _, _ in process.extract(name, catalog.names, limit=3)]
        raise fail(f"No agent named {name!r}. Did you mean: {', '.join(close)}?")
    spec = catalog[name]
    where = str(catalog.sources[name])
    if version is not None:
        from nova.improve.versions import VersionError, store_for

        store = store_for(None)
        try:
            found = store.find(name, version)
            spec = store.spec(name, found.number)
        except VersionError as error:
            raise fail(str(error)) from None
        active = store.active_number(name)
        where = f"version {found.number} ({found.hash}) of {name}" + (
            ", in force" if found.number == active else f"; version {active} is in force"
        )
    console.print(
        Panel(spec.description, title=f"{spec.version_label} · {spec.group}", expand=False)
    )
    console.print(f"[bold]file[/] {where}")
    console.print(
        f"[bold]model[/] {spec.model.model_dump(exclude_none=True)}  "
        f"[bold]max steps[/] {spec.max_steps}"
    )
    console.print(
        f"[bold]tools[/] {', '.join(spec.tools) or '—'}   "
        f"[bold]checks[/] {', '.join(spec.checks) or '—'}"
    )
    console.print(Panel(spec.prompt.strip(), title="prompt", expand=False))
    console.print("[bold]examples[/]")
    for example in spec.examples:
        console.print(f"  • {example}")


@agents_app.command("schema")
def agents_schema() -> None:
    """Print the JSON Schema for agent files (generated from AgentSpec)."""
    from nova.catalog import catalog_json_schema

    print(json.dumps(catalog_json_schema(), indent=2))


def find_langgraph_config() -> Path:
    """Locate langgraph.json: the current directory, else the checkout Nova runs from."""
    for candidate in (
        Path.cwd() / "langgraph.json",
        Path(__file__).resolve().parents[2] / "langgraph.json",
    ):
        if candidate.is_file():
            return candidate
    raise fail("No langgraph.json found: run `nova serve` from the Nova checkout")


@app.command()
def serve(
    dev: Annotated[
        bool,
        typer.Option(
            "--dev",
            help="In-memory dev server for Studio (langgraph dev); loses threads on a crash.",
        ),
    ] = False,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 2024,
    config: Annotated[
        Path | None, typer.Option(help="langgraph.json to serve (default: Nova's).")
    ] = None,
    install_runtime: Annotated[
        bool,
        typer.Option(
            "--install-runtime",
            help="Install the durable server's runtime (langgraph-runtime-pg) and exit.",
        ),
    ] = False,
) -> None:
    """Serve the graphs: durable (Postgres + Redis, authenticated) or --dev (in memory)."""
    if install_runtime:
        from nova.server.runtime import install_runtime as install

        console.print("Installing the durable server runtime (langgraph-runtime-pg)…")
        console.print(f"Installed: {install()}")
        return
    config_path = (config or find_langgraph_config()).resolve()
    studio = f"https://smith.langchain.com/studio/?baseUrl=http://{host}:{port}"
    if dev:
        langgraph = shutil.which("langgraph") or str(Path(sys.executable).with_name("langgraph"))
        env = {
            **os.environ,
            "LANGGRAPH_CLI_NO_ANALYTICS": "1",
            "LANGGRAPH_NO_VERSION_CHECK": "true",
            "HF_HUB_OFFLINE": "1",
        }
        from nova.server.launch import (
            ServerConfigError,
            check_port_free,
            dev_command,
            replace_process,
        )

        settings = _settings_or_exit()
        try:
            check_port_free(host, port, dev=True)
        except ServerConfigError as error:
            raise fail(str(error)) from None
        command = dev_command(config_path, settings, langgraph=langgraph, host=host, port=port)
        console.print(
            f"Serving {config_path.parent.name}/langgraph.json in memory on "
            f"http://{host}:{port} ({settings.server_jobs} concurrent runs; Studio: {studio})"
        )
        from nova.server.announce import announce

        # The CLI finds the warm server through this (nova/cli/remote.py); the server keeps
        # this process id, so the announcement lapses when it stops.
        announce(settings.data_dir, f"http://{host}:{port}", "dev")
        try:
            replace_process(command, cwd=config_path.parent, env=env)
        except ServerConfigError as error:
            raise fail(str(error)) from None

    from nova.server.launch import (
        ServerConfigError,
        check_port_free,
        durable_server,
        replace_process,
    )
    from nova.server.runtime import RuntimeMissingError, check_runtime

    settings = _settings_or_exit()
    try:
        check_port_free(host, port, dev=False)
        server = durable_server(
            config_path,
            settings,
            python=check_runtime(),
            host=host,
            port=port,
            base_env=os.environ,
        )
    except (RuntimeMissingError, ServerConfigError) as error:
        raise fail(str(error)) from None
    console.print(
        f"Serving {config_path.parent.name}/langgraph.json durably on {server.url} "
        f"(Postgres {settings.server_database_url}, {settings.server_jobs} concurrent runs in "
        f"{settings.server_workers} process{'es' if settings.server_workers > 1 else ''}; "
        f"Studio: {studio})"
    )
    from nova.server.announce import announce

    announce(settings.data_dir, server.url, "durable")
    try:
        replace_process(server.command, cwd=server.cwd, env=server.env)
    except ServerConfigError as error:
        raise fail(str(error)) from None
