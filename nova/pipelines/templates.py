"""The template language of pipeline files: sandboxed Jinja2 with a few business helpers.

Step arguments, prompts, conditions (``when``), fan-out lists (``for_each``) and
rendering steps (``template``, ``compute``) are Jinja2, evaluated in a sandbox with
``StrictUndefined`` (a misspelt name is an error, not an empty string). Names available:

- ``inputs``: the outputs of the steps named in the step's ``inputs`` (``None`` when an
  optional input was skipped);
- ``params``: the pipeline's validated parameters;
- ``item``: the current element, in a ``for_each`` step;
- ``request``, ``project``, ``today`` (a ``date``), ``now`` (an aware ``datetime``);
- ``period(name)``: a date range relative to ``today`` (see ``PERIODS``);
- ``before(range)``: the range of the same length just before ``range`` (the week or
  month before a week or month).

Filters beyond Jinja's own: ``money``, ``table``, ``group_rows``, ``facts``, ``language_name``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.sandbox import SandboxedEnvironment

CONTEXT_NAMES = frozenset(
    {"inputs", "params", "item", "request", "project", "today", "now", "period", "before"}
)
"""Top-level names a pipeline template may use."""

PERIODS = (
    "today",
    "yesterday",
    "this_week",
    "last_week",
    "week_before_last",
    "this_month",
    "last_month",
    "month_before_last",
    "this_year",
    "last_year",
)
"""Periods ``period(name)`` knows; weeks run Monday to Sunday (ISO)."""


def _month_start(day: date, back: int = 0) -> date:
    year, month = day.year, day.month - back
    while month < 1:
        year, month = year - 1, month + 12
    while month > 12:  # back=-1 (the next month's start, for a month's end) in December
        year, month = year + 1, month - 12
    return date(year, month, 1)


def period(name: str, today: date) -> dict[str, str]:
    """Return ``{"start", "end", "label"}`` (ISO dates, end inclusive) for a named period.

    Raises:
        ValueError: ``name`` is not one of ``PERIODS``.

    """
    monday = today - timedelta(days=today.weekday())
    match name:
        case "today":
            start = end = today
        case "yesterday":
            start = end = today - timedelta(days=1)
        case "this_week" | "last_week" | "week_before_last":
            back = {"this_week": 0, "last_week": 1, "week_before_last": 2}[name]
            start = monday - timedelta(weeks=back)
            end = start + timedelta(days=6)
        case "this_month" | "last_month" | "month_before_last":
            back = {"this_month": 0, "last_month": 1, "month_before_last": 2}[name]
            start = _month_start(today, back)
            end = _month_start(today, back - 1) - timedelta(days=1)
        case "this_year" | "last_year":
            year = today.year - (name == "last_year")
            start, end = date(year, 1, 1), date(year, 12, 31)
        case _:
            raise ValueError(f"Unknown period {name!r}; use one of: {', '.join(PERIODS)}")
    if name in ("this_week", "last_week", "week_before_last"):
        label = f"week {start.isocalendar().week}/{start.isocalendar().year} ({start} – {end})"
    elif name in ("this_month", "last_month", "month_before_last"):
        label = start.strftime("%B %Y")
    else:
        label = str(start) if start == end else f"{start} – {end}"
    return {"start": start.isoformat(), "end": end.isoformat(), "label": label}


def range_label(start: date, end: date) -> str:
    """Name a date range the way ``period`` does: an ISO week, a calendar month, or its dates."""
    if start.weekday() == 0 and end == start + timedelta(days=6):
        return f"week {start.isocalendar().week}/{start.isocalendar().year} ({start} – {end})"
    if start.day == 1 and end == _month_start(start, -1) - timedelta(days=1):
        return start.strftime("%B %Y")
    return str(start) if start == end else f"{start} – {end}"


def before(span: Mapping[str, Any]) -> dict[str, str]:
    """Return the range as long as ``span`` that ends the day before it starts.

    A week gives the week before, a calendar month the month before (whatever its length),
    any other range the same number of days just before it.
    """
    start = date.fromisoformat(str(span["start"]))
    end = date.fromisoformat(str(span["end"]))
    if start.day == 1 and end == _month_start(start, -1) - timedelta(days=1):
        new_start, new_end = _month_start(start, 1), start - timedelta(days=1)
    else:
        new_end = start - timedelta(days=1)
        new_start = new_end - (end - start)
    return {
        "start": new_start.isoformat(),
        "end": new_end.isoformat(),
        "label": range_label(new_start, new_end),
    }


def money(value: object, currency: str = "EUR") -> str:
    """Format an amount with two decimals and thousands separators (``1,234.50 EUR``)."""
    try:
        amount = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    return f"{amount:,.2f} {currency}".strip()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(rows: Iterable[Mapping[str, Any]] | None, columns: Sequence[str] | None = None) -> str:
    """Render rows (mappings) as a Markdown table; ``columns`` picks and orders the fields."""
    rows = list(rows or [])
    if not rows:
        return "_(none)_"
    columns = list(columns or rows[0].keys())
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def group_rows(rows: Iterable[Mapping[str, Any]] | None, key: str) -> list[dict[str, Any]]:
    """Group rows by ``key`` in first-seen order: ``[{"key": value, "rows": [...]}, ...]``."""
    groups: dict[str, dict[str, Any]] = {}
    for row in rows or []:
        value = row.get(key)
        marker = json.dumps(value, sort_keys=True, default=str)
        groups.setdefault(marker, {"key": value, "rows": []})["rows"].append(dict(row))
    return list(groups.values())


def facts(payload: Mapping[str, Any] | None) -> dict[str, Any]:
    """Turn a skill result's ``facts`` list (``[{"key", "value", ...}]``) into ``{key: value}``."""
    if not payload:
        return {}
    return {fact["key"]: fact.get("value") for fact in payload.get("facts") or [] if "key" in fact}


def _language_name(code: str) -> str:
    from lingua import IsoCode639_1, Language

    try:
        return Language.from_iso_code_639_1(IsoCode639_1.from_str(code.lower())).name.title()
    except ValueError:
        return code


@functools.cache
def environment() -> SandboxedEnvironment:
    """Return the sandboxed Jinja2 environment pipeline templates are compiled in."""
    env = SandboxedEnvironment(
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, autoescape=False
    )
    env.filters.update(
        money=money, table=table, group_rows=group_rows, facts=facts, language_name=_language_name
    )
    return env


def is_template(value: object) -> bool:
    """Whether a string holds Jinja markup (``{{`` or ``{%``)."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def referenced(source: str, *, expression: bool = False) -> tuple[set[str], set[str], set[str]]:
    """Return (top-level names, ``inputs.<name>`` used, ``params.<name>`` used) in a template.

    Raises:
        jinja2.TemplateSyntaxError: the template does not parse.

    """
    env = environment()
    tree = env.parse(f"{{{{ {source} }}}}" if expression else source)
    names = {node.name for node in tree.find_all(nodes.Name) if node.ctx == "load"}
    assigned = {node.name for node in tree.find_all(nodes.Name) if node.ctx in ("store", "param")}
    inputs: set[str] = set()
    params: set[str] = set()
    # ``inputs.items()`` is a method call on the mapping, not an input called "items".
    called = {id(call.node) for call in tree.find_all(nodes.Call)}
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        assert isinstance(node, nodes.Getattr | nodes.Getitem)
        base = node.node
        if (
            not isinstance(base, nodes.Name)
            or base.name not in ("inputs", "params")
            or id(node) in called
        ):
            continue
        if isinstance(node, nodes.Getattr):
            key = node.attr
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            key = node.arg.value
        else:
            continue
        (inputs if base.name == "inputs" else params).add(key)
    return names - assigned, inputs, params


def compile_check(source: str, *, expression: bool = False) -> None:
    """Compile a template or expression (unknown filters and syntax errors raise)."""
    env = environment()
    if expression:
        env.compile_expression(source)
    else:
        env.from_string(source)


def render_text(source: str, context: Mapping[str, Any]) -> str:
    """Render a text template."""
    return environment().from_string(source).render(**context)


def evaluate(source: str, context: Mapping[str, Any]) -> Any:
    """Evaluate an expression to a Python value (``inputs.rows | length > 0``)."""
    return environment().compile_expression(source, undefined_to_none=False)(**context)


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """Render an argument value: ``"{{ expr }}"`` alone keeps its type; mixed text renders to text.

    Mappings and lists are rendered element by element.
    """
    if isinstance(value, str) and is_template(value):
        stripped = value.strip()
        if stripped.startswith("{{") and stripped.endswith("}}") and stripped.count("{{") == 1:
            return evaluate(stripped[2:-2].strip(), context)
        return render_text(value, context)
    if isinstance(value, Mapping):
        return {key: render_value(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render_value(item, context) for item in value]
    return value


def template_context(
    *,
    inputs: Mapping[str, Any],
    params: Mapping[str, Any],
    request: str,
    project: str,
    today: date,
    now: datetime,
    item: Any = None,
) -> dict[str, Any]:
    """Build the names a template sees (see the module docstring)."""
    bound_period: Callable[[str], dict[str, str]] = functools.partial(
        _period_arg_first, today=today
    )
    return {
        "inputs": dict(inputs),
        "params": dict(params),
        "item": item,
        "request": request,
        "project": project,
        "today": today,
        "now": now,
        "period": bound_period,
        "before": before,
    }


def _period_arg_first(name: str, today: date) -> dict[str, str]:
    return period(name, today)
