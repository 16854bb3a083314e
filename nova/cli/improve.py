"""``nova improve``: propose gated improvements; ``accept``/``reject`` one; ``--yes`` promotes.

``nova agents history|diff|rollback`` (in ``nova.cli.agents_versions``) shows and moves the
versions promoted here.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from nova.cli.apps import app, console, fail

if TYPE_CHECKING:
    from nova.improve import CandidateRecord

improve_app = typer.Typer(
    help=(
        "Turn feedback into gated improvements: `nova improve [--catalog DIR] [--yes]` "
        "proposes, `nova improve accept|reject ID` decides."
    ),
    invoke_without_command=True,
)
app.add_typer(improve_app, name="improve")

CatalogOption = Annotated[
    Path | None,
    typer.Option(
        "--catalog",
        file_okay=False,
        exists=True,
        help="A catalog folder to improve (default: Nova's own catalog).",
    ),
]


def _figures(candidate: CandidateRecord) -> str:
    from nova.improve.routing import comparison_line

    gate = candidate.gate or {}
    if candidate.kind == "gap":
        return "; ".join(
            f"{len(g['requests'])}: " + " | ".join(r[:50] for r in g["requests"][:3])
            for g in candidate.change.get("gaps", [])
        )
    parts = [
        comparison_line(gate[name])
        for name in ("targeted", "held_out", "held_out_out_of_scope", "regression")
        if isinstance(gate.get(name), dict) and gate[name].get("n")
    ]
    if isinstance(suite := gate.get("suite"), dict):
        parts.append(
            f"{comparison_line(suite)} p={suite['p_worse']}" if suite.get("n") else "no suite"
        )
    if isinstance(replay := gate.get("replay"), dict):
        parts.append(
            f"replayed: {replay.get('checkpoint', 0)} from checkpoints, "
            f"{replay.get('model turn', 0)} as model turns"
        )
    parts += [str(line) for line in gate.get("lines", [])]
    return "\n".join([*parts, str(gate.get("why", ""))])


def _table(candidates: list[CandidateRecord], title: str) -> Table:
    table = Table(title=title)
    for column in ("id", "kind", "target", "status", "reason", "gate"):
        table.add_column(column, overflow="fold")
    for c in candidates:
        table.add_row(
            c.id[:12],
            c.kind,
            c.agent or ("catalog " + Path(c.catalog).name if c.catalog else "nova"),
            c.status,
            c.reason,
            _figures(c),
        )
    return table


@improve_app.callback()
def improve(
    ctx: typer.Context,
    catalog: CatalogOption = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Promote every candidate that passes the gate.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Propose improvements from feedback since the last promotion, gate them, list them.

    Routing: corrected requests become examples (or out-of-scope requests) and the router
    refits. Prompts: with a model, failing agents' prompts are rewritten and replayed.
    Gaps: clusters of requests no agent handles are reported. Nothing is promoted unless it
    fixes a case it targets and regresses nothing held out; `--yes` promotes what passed.
    """
    if ctx.invoked_subcommand is not None:
        return
    from nova.catalog import CatalogError
    from nova.improve import improve as run_improve
    from nova.models import build_chat_model
    from nova.settings import get_settings

    try:
        suite = []
        if catalog is None:
            from nova.catalog import default_catalog
            from nova.improve.suites import default_suite

            suite = default_suite(default_catalog().names)
        # Prompt rewrites need a model; without one, routing and gaps still run.
        model_factory = build_chat_model if get_settings().model_configured else None
        report = run_improve(
            catalog, yes=yes, suite=suite, model_factory=model_factory, user=getpass.getuser()
        )
    except (CatalogError, ValueError) as error:
        raise fail(str(error)) from None
    if as_json:
        print(
            json.dumps(
                {
                    "corrections": report.corrections,
                    "candidates": [c.model_dump(mode="json") for c in report.candidates],
                    "promoted": [c.id for c in report.promoted],
                    "notes": report.notes,
                },
                indent=2,
            )
        )
        return
    console.print(f"{report.corrections} new correction(s) since the last promotion.")
    for note in report.notes[:10]:
        console.print(note, style="dim", soft_wrap=True)
    if report.candidates:
        console.print(_table(report.candidates, f"{len(report.candidates)} candidate(s)"))
    if report.promoted:
        console.print(
            f"Promoted {len(report.promoted)}: " + ", ".join(c.id[:12] for c in report.promoted)
        )
    elif any(c.status == "passed" for c in report.candidates):
        console.print("Promote one with `nova improve accept ID` (or run with --yes).", style="dim")


@improve_app.command("list")
def list_candidates(
    all_: Annotated[bool, typer.Option("--all", help="Decided ones too.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the candidates waiting for a decision (with --all: every candidate)."""
    from nova.improve import CandidateStore, pending_candidates

    found = CandidateStore().list() if all_ else pending_candidates()
    if as_json:
        print(json.dumps([c.model_dump(mode="json") for c in found], indent=2))
        return
    if not found:
        console.print(
            "No candidates waiting. `nova improve` makes some from feedback.", style="dim"
        )
        return
    console.print(_table(found, f"{len(found)} candidate(s)"))


def _decide(candidate_id: str, accept: bool) -> None:
    from nova.catalog import CatalogError
    from nova.improve import CandidateNotFound, ImproveError
    from nova.improve import accept as do_accept
    from nova.improve import reject as do_reject
    from nova.userdata import UserDataError

    try:
        done = (do_accept if accept else do_reject)(candidate_id, by=getpass.getuser())
    except (CandidateNotFound, ImproveError, CatalogError, UserDataError) as error:
        raise fail(str(error)) from None
    verb = "Promoted" if accept else "Rejected"
    console.print(f"{verb} candidate {done.id[:12]} ({done.kind}: {done.reason}).")
    if accept:
        target = f" --catalog {done.catalog}" if done.catalog else ""
        console.print(f"See the versions: nova agents history NAME{target}", style="dim")


@improve_app.command("accept")
def accept(
    candidate_id: Annotated[
        str, typer.Argument(metavar="ID", help="Candidate id (a unique prefix is enough).")
    ],
) -> None:
    """Promote a candidate that passed the gate (a new version in the data directory)."""
    _decide(candidate_id, True)


@improve_app.command("reject")
def reject(
    candidate_id: Annotated[
        str, typer.Argument(metavar="ID", help="Candidate id (a unique prefix is enough).")
    ],
) -> None:
    """Set a candidate (or a gap report) aside; its evidence waits for the next run."""
    _decide(candidate_id, False)
