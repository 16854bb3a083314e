"""``--langsmith`` for every ``nova eval`` subcommand (``evals.langsmith_upload`` does the work).

Each eval command calls ``begin`` before it runs (an unconfigured LangSmith fails at once,
in one line, before any work) and ``end`` with its per-case results after it has written its
local report; without ``--langsmith`` both do nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nova.cli.apps import console, err_console, fail

if TYPE_CHECKING:
    from evals.langsmith_upload import ExampleResult, LangSmithUpload

LangSmithOption = Annotated[
    bool,
    typer.Option(
        "--langsmith",
        help="Also upload the dataset (once per version) and this run as a LangSmith "
        "experiment with per-example scores (needs NOVA_LANGSMITH_API_KEY).",
    ),
]


def begin(enabled: bool, eval_name: str) -> LangSmithUpload | None:
    """Return an upload for ``eval_name`` when ``--langsmith`` was given, else ``None``.

    Raises:
        typer.Exit: LangSmith is not configured (one line saying what to set).

    """
    if not enabled:
        return None
    from evals.langsmith_upload import LangSmithNotConfigured, LangSmithUpload
    from nova.settings import get_settings

    try:
        return LangSmithUpload.start(eval_name, get_settings())
    except LangSmithNotConfigured as error:
        raise fail(str(error)) from None


def end(
    upload: LangSmithUpload | None,
    *,
    datasets: Sequence[Path],
    examples: Sequence[ExampleResult],
    summary: Mapping[str, Any],
) -> None:
    """Upload the eval's cases and scores (bounded wait) and say in one line how it went."""
    if upload is None:
        return
    from evals.discipline import code_version, file_hash

    upload.submit(
        dataset_hash=file_hash(*datasets),
        code_version=code_version(),
        examples=examples,
        summary=summary,
    )
    with console.status(f"[cyan]Uploading to LangSmith ({upload.endpoint})…[/]"):
        outcome = upload.finish()
    if outcome.ok:
        console.print(outcome.message)
    else:
        err_console.print(f"[yellow]{outcome.message}[/]")
