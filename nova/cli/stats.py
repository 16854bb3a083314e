"""``nova stats``: what Nova's model calls cost, and how many answers needed no model."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from nova.cli.apps import app, console


def _cost(row: Any, prices: Any) -> float | None:
    price = prices.get(row.model) if row.model else None
    if price is None:
        return None
    return float(price.cost(row.prompt_tokens, row.completion_tokens, row.cached_tokens))


@app.command()
def stats(
    since: Annotated[
        str | None,
        typer.Option("--since", help='Only since then: "1d", "2h", "yesterday", "2025-01-31".'),
    ] = None,
    project: Annotated[
        str | None, typer.Option("--project", "-p", help="Only this project.")
    ] = None,
    agent: Annotated[str | None, typer.Option("--agent", "-a", help="Only this agent.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print model calls, tokens and cost by agent and model, and the model-free answers.

    Costs use the prices per 1M tokens in NOVA_MODEL_PRICES; calls to a model without a
    price show no cost.
    """
    from nova.cli.route import parse_since
    from nova.ledger.usage import UsageLedger
    from nova.settings import get_settings

    since_at = parse_since(since) if since else None
    summary = UsageLedger().summary(since=since_at, project=project, agent=agent)
    prices = get_settings().model_prices
    costs = [_cost(row, prices) for row in summary.rows]
    if as_json:
        rows = [
            {
                "agent": row.agent,
                "model": row.model,
                "calls": row.calls,
                "errors": row.errors,
                "prompt_tokens": row.prompt_tokens,
                "cached_tokens": row.cached_tokens,
                "completion_tokens": row.completion_tokens,
                "cost": cost,
                "latency_ms_mean": round(row.latency_ms_mean, 1),
            }
            for row, cost in zip(summary.rows, costs, strict=True)
        ]
        out = {"rows": rows, "model_free_answers": summary.model_free_answers}
        print(json.dumps(out, indent=2))
        return
    scope = " · ".join(
        part
        for part in (
            f"since {since_at:%Y-%m-%d %H:%M} UTC" if since_at else "all time",
            f"project {project}" if project else "",
            f"agent {agent}" if agent else "",
        )
        if part
    )
    table = Table(title=f"Model usage · {scope}")
    for column in ("agent", "model"):
        table.add_column(column)
    for column in ("calls", "prompt", "cached", "completion", "cost", "ms/call"):
        table.add_column(column, justify="right")
    for row, cost in zip(summary.rows, costs, strict=True):
        calls = f"{row.calls:,}" + (f" ({row.errors} failed)" if row.errors else "")
        table.add_row(
            row.agent or "—",
            row.model or "—",
            calls,
            f"{row.prompt_tokens:,}",
            f"{row.cached_tokens:,}",
            f"{row.completion_tokens:,}",
            "—" if cost is None else f"{cost:.6f}",
            f"{row.latency_ms_mean:,.0f}",
        )
    if summary.rows:
        known = [cost for cost in costs if cost is not None]
        table.add_section()
        table.add_row(
            "total",
            "",
            f"{sum(row.calls for row in summary.rows):,}",
            f"{sum(row.prompt_tokens for row in summary.rows):,}",
            f"{sum(row.cached_tokens for row in summary.rows):,}",
            f"{sum(row.completion_tokens for row in summary.rows):,}",
            f"{sum(known):.6f}" if known else "—",
            "",
        )
        console.print(table)
    else:
        console.print(f"No model calls recorded ({scope}).", style="dim")
    free = ", ".join(
        f"{name} {count}" for name, count in sorted(summary.model_free_by_agent.items())
    )
    console.print(
        f"model-free answers: {summary.model_free_answers}" + (f" ({free})" if free else "")
    )
    missing = sorted(
        {
            row.model
            for row, cost in zip(summary.rows, costs, strict=True)
            if cost is None and row.model
        }
    )
    if missing:
        console.print(
            f"no price for {', '.join(missing)}: set NOVA_MODEL_PRICES "
            "(e.g. gpt-4o-mini=0.15/0.60/0.075, per 1M input/output/cached tokens)",
            style="dim",
        )
