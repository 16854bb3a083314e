"""``nova setup``: prepare the embedded stores once, so the first request is quick."""

from __future__ import annotations

import time

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from nova.cli.apps import app, console


@app.command()
def setup() -> None:
    """Seed the sample ERP business and project memories (if empty) and fit the router."""
    from sqlalchemy import func, select

    from memory.embeddings import backend_name, warm_up
    from memory.encoders import onnx_path
    from memory.store import default_memory_store
    from nodes.router import nova_router
    from nova.erp import models
    from nova.erp.db import get_erp_database
    from nova.erp.seed import seed_database
    from nova.projects import load_projects
    from nova.settings import get_settings

    settings = get_settings()
    summary = Table(title=f"Nova data in {settings.data_dir.resolve()}")
    for column in ("store", "state", "seconds"):
        summary.add_column(column)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        # First, so the one-off ONNX export (the only step of the default encoder that
        # imports torch) happens here rather than in someone's first `nova ask`.
        started = time.perf_counter()
        progress.add_task("Preparing the encoder", total=None)
        export = onnx_path(settings.resolved_encoder_cache_dir)
        existed = export.is_file()
        warm_up()
        state = f"{backend_name()} back-end"
        if backend_name() == "onnx" and not existed and export.is_file():
            state += ", exported to ONNX"
        summary.add_row("encoder", state, f"{time.perf_counter() - started:.1f}")

        started = time.perf_counter()
        database = get_erp_database()
        with database.read_session() as session:
            customers = session.scalar(select(func.count()).select_from(models.Customer)) or 0
        if customers:
            summary.add_row(
                "ERP", f"kept ({customers} customers)", f"{time.perf_counter() - started:.1f}"
            )
        else:
            tasks: dict[str, TaskID] = {}

            def seeding(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = progress.add_task(f"ERP: {stage}", total=total)
                progress.update(tasks[stage], completed=done, total=total)

            report = seed_database(database, progress=seeding)
            summary.add_row(
                "ERP",
                f"seeded ({report.counts.get('customers', 0)} customers, as of {report.as_of})",
                f"{time.perf_counter() - started:.1f}",
            )

        started = time.perf_counter()
        store = default_memory_store()
        projects = load_projects()
        task = progress.add_task("Project memories", total=len(projects))
        for project in projects:
            store.seed(project)
            progress.advance(task)
        counts = ", ".join(f"{p.id} {store.count(p.id)}" for p in projects)
        summary.add_row("memory", counts, f"{time.perf_counter() - started:.1f}")

        started = time.perf_counter()
        progress.add_task("Fitting the router", total=None)
        router = nova_router()
        summary.add_row(
            "router",
            f"fitted on {len(router.agents)} agents ({router.version})",
            f"{time.perf_counter() - started:.1f}",
        )
    console.print(summary)
