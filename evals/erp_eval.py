"""ERP evaluation: skill, argument and answer accuracy of the fast path (and of a model).

The dataset (``evals/datasets/erp.jsonl``, written by ``evals/make_erp_dataset.py``) holds
requests over the standard sample business with the skill, arguments and answer facts
expected, plus requests the fast path must decline or ask about. Each request runs through
the real fast-path node in a small graph (writes pause for approval and are rejected, so
the evaluation database never changes). With a model configured the same requests also
go to each ERP agent's model with its tools.

Figures are given for the frozen dev and test splits side by side (``evals.discipline``:
split by hashed id; test requests that nearly repeat a catalog example or a phrase written
into the fast path are left out of test, and the count is printed). The JSON report is
headed by the dataset hash, the code version and the split.

Run it with ``nova eval erp`` (or ``python -m evals.erp_eval``).
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import BaseModel, ValidationError

from nova.erp.db import ErpDatabase
from nova.erp.grounding import mentions
from nova.erp.seed import FINGERPRINT_KEY, SeedConfig, seed_database, seed_info
from nova.erp.skills import READ_SKILLS, SkillArgs
from nova.erp.writes import WRITE_SKILLS
from nova.state import RouteDecision

DEFAULT_DATASET = Path(__file__).parent / "datasets" / "erp.jsonl"
DEFAULT_REPORT = Path("reports") / "erp_eval.json"

Expect = Literal["answer", "approval", "clarify", "decline"]
Outcome = Literal["answer", "approval", "clarify", "decline", "error"]


class ErpCase(BaseModel):
    """One dataset line."""

    id: str
    text: str
    agent: str
    expect: Expect
    kind: str
    skill: str | None = None
    args: dict[str, Any] | None = None
    facts: list[dict[str, str]] = []
    row_ids: list[str] | None = None


class DatasetError(ValueError):
    """The ERP dataset has a malformed line; the message names it."""


def load_dataset(path: Path = DEFAULT_DATASET) -> list[ErpCase]:
    """Read and validate every line of the dataset.

    Raises:
        DatasetError: naming the first bad line and what is wrong with it.

    """
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            cases.append(ErpCase.model_validate_json(line))
        except ValidationError as error:
            raise DatasetError(f"{path}:{number}: {error.errors()[0]['msg']}") from None
    return cases


def dataset_meta(path: Path = DEFAULT_DATASET) -> dict[str, Any]:
    """Return the dataset's ``.meta.json`` (seed config and the sample's fingerprint)."""
    meta = path.with_suffix(".meta.json")
    return json.loads(meta.read_text(encoding="utf-8")) if meta.exists() else {}


def evaluation_database(
    url: str | None,
    dataset: Path = DEFAULT_DATASET,
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[ErpDatabase, str]:
    """Open the database the dataset describes, seeding it first when it is not that sample.

    Args:
        url: A database to use; default ``<data_dir>/erp-eval.sqlite`` (never the user's ERP).
        dataset: The dataset whose ``.meta.json`` gives the seed config.
        progress: Seeding progress callback.

    Returns:
        The database and a note on how it was prepared.

    """
    from nova.settings import get_settings

    meta = dataset_meta(dataset)
    config = SeedConfig.model_validate(meta.get("seed_config") or {})
    database = ErpDatabase(url or get_settings().sqlite_url("erp-eval.sqlite"))
    info = seed_info(database)
    # erp.meta.json says "fingerprint", the owner set's meta (written blind) "seed_fingerprint".
    fingerprint = meta.get("fingerprint") or meta.get("seed_fingerprint")
    if fingerprint and info.get(FINGERPRINT_KEY) == fingerprint:
        return database, f"using the evaluation sample in {database.display_url}"
    report = seed_database(database, config, reset=True, progress=progress)
    note = f"seeded the evaluation sample into {database.display_url}"
    if fingerprint and report.fingerprint != fingerprint:
        note += (
            f"; WARNING: it differs from the one the dataset was generated from "
            f"({report.fingerprint} != {fingerprint}, e.g. another Faker version). "
            f"Regenerate the dataset ({dataset.name}) on this sample"
        )
    return database, note


def verbatim_examples(cases: Iterable[ErpCase]) -> list[ErpCase]:
    """Return the cases whose text is word for word a catalog or ``router.yaml`` example."""
    from evals.discipline import reference_index

    def plain(text: str) -> str:
        return " ".join(text.split()).casefold()

    examples = {
        plain(ref.text)
        for ref in reference_index().references
        if not ref.source.startswith("phrases:")
    }
    return [case for case in cases if plain(case.text) in examples]


# --- scoring ------------------------------------------------------------------------------


def args_model(skill: str) -> type[SkillArgs]:
    """Return the arguments model of ``skill``."""
    return READ_SKILLS[skill].args if skill in READ_SKILLS else WRITE_SKILLS[skill].args


def canonical_args(skill: str, args: dict[str, Any]) -> dict[str, Any] | None:
    """Validate ``args`` for ``skill``; return them with defaults filled (``None`` if invalid)."""
    try:
        return args_model(skill).model_validate(args).model_dump(mode="json")
    except ValidationError:
        return None


def fact_present(fact: dict[str, str], text: str) -> bool:
    """Whether ``text`` states ``fact`` (numbers by value, whatever their format)."""
    value = fact["value"]
    if fact["type"] in ("text", "date"):
        return value in text
    wanted = Decimal(value)
    if wanted == 0 and any(word in text for word in ("No ", "no ", "Nothing", "none")):
        return True
    return any(wanted in mention.values for mention in mentions(text) if mention.kind == "number")


def ids_match(expected: list[str] | None, actual: list[str]) -> bool:
    """Whether the result rows are the expected ones, in order (comparing the common prefix)."""
    if expected is None:
        return True
    if bool(expected) != bool(actual):
        return False
    common = min(len(expected), len(actual))
    return expected[:common] == actual[:common]


@dataclass(slots=True)
class CaseResult:
    """How one request went."""

    id: str
    text: str
    expect: str
    outcome: Outcome
    skill: str | None = None
    skill_ok: bool | None = None
    args_ok: bool | None = None
    answer_ok: bool | None = None
    latency_ms: float = 0.0
    detail: str = ""

    @property
    def correct(self) -> bool:
        """Whether the request was handled as expected, end to end."""
        if self.outcome != self.expect:
            return False
        return all(flag is not False for flag in (self.skill_ok, self.args_ok, self.answer_ok))


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


@dataclass(slots=True)
class ErpReport:
    """Figures of one evaluation run (fast path or model)."""

    runner: str
    cases: int
    resolved: int
    """Answered or proposed for approval."""
    coverage: float
    skill_accuracy: float
    argument_accuracy: float
    answer_correctness: float
    clarify_correct: float
    decline_correct: float
    latency_p50_ms: float
    latency_p95_ms: float
    outcomes: dict[str, int]
    failures: list[dict[str, Any]] = field(default_factory=list)


def summarise(runner: str, results: list[CaseResult]) -> ErpReport:
    """Aggregate case results into the report's figures."""
    resolved = [r for r in results if r.outcome in ("answer", "approval")]
    scored = [r for r in resolved if r.skill_ok is not None]
    clarify = [r for r in results if r.expect == "clarify"]
    decline = [r for r in results if r.expect == "decline"]
    latencies = sorted(r.latency_ms for r in results) or [0.0]
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    return ErpReport(
        runner=runner,
        cases=len(results),
        resolved=len(resolved),
        coverage=_ratio(len(resolved), len(results)),
        skill_accuracy=_ratio(sum(1 for r in scored if r.skill_ok), len(scored)),
        argument_accuracy=_ratio(sum(1 for r in scored if r.args_ok), len(scored)),
        answer_correctness=_ratio(sum(1 for r in resolved if r.correct), len(resolved)),
        clarify_correct=_ratio(sum(1 for r in clarify if r.correct), len(clarify)),
        decline_correct=_ratio(
            sum(1 for r in decline if r.outcome in ("decline", "clarify")), len(decline)
        ),
        latency_p50_ms=round(statistics.median(latencies), 2),
        latency_p95_ms=round(p95, 2),
        outcomes=dict(Counter(r.outcome for r in results)),
        failures=[asdict(r) for r in results if not r.correct],
    )


# --- the fast path ----------------------------------------------------------------------------


def route_for(agent: str) -> RouteDecision:
    """Return a confident route to ``agent``, as the router hands it over (method explicit)."""
    return RouteDecision(
        id=f"eval-{uuid.uuid4().hex[:8]}",
        agent=agent,
        subgraph="erp",
        confidence=1.0,
        margin=1.0,
        candidates=[{"agent": agent, "score": 1.0}],
        method="explicit",
        reason="evaluation: the dataset names the agent",
        catalog_version="eval",
        router_version="eval",
        latency_ms=0.0,
    )


def fast_path_graph(database: ErpDatabase, catalog: Any = None) -> Any:
    """Compile a one-node graph around the fast-path node (with a checkpointer, for approvals)."""
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, StateGraph

    from nodes.erp_fast_path import make_erp_fast_path_node
    from nova.state import NovaContext, NovaState

    builder = StateGraph(NovaState, context_schema=NovaContext)
    node = make_erp_fast_path_node(database=database, catalog=catalog)
    builder.add_node("fast_path", node)
    builder.add_edge(START, "fast_path")
    return builder.compile(checkpointer=InMemorySaver())


def score_fast_path(case: ErpCase, graph: Any) -> CaseResult:
    """Run ``case`` through the fast-path graph and score it."""
    from langgraph.types import Command

    from nodes.checks import numbers_grounded

    config = {"configurable": {"thread_id": f"eval-{case.id}-{uuid.uuid4().hex[:6]}"}}
    state = {
        "messages": [HumanMessage(case.text)],
        "request": case.text,
        "route": route_for(case.agent),
    }
    started = time.perf_counter()
    try:
        values = graph.invoke(state, config)
    except Exception as error:  # an evaluation records crashes instead of stopping
        return CaseResult(
            case.id, case.text, case.expect, "error", detail=f"{type(error).__name__}: {error}"
        )
    latency = (time.perf_counter() - started) * 1000
    result = CaseResult(case.id, case.text, case.expect, "decline", latency_ms=round(latency, 2))
    interrupts = values.get("__interrupt__")
    change: dict[str, Any] = {}
    if interrupts:
        request = interrupts[0].value
        result.outcome = "approval"
        change = request.get("change", {})
        result.skill = change.get("tool")
        values = graph.invoke(
            Command(resume={"approved": False, "reason": "evaluation run"}), config
        )
        text = json.dumps(change, ensure_ascii=False)
    else:
        run = values.get("agent_run")
        if not run:
            return _score_plan(case, result, None, None)
        result.outcome = "answer" if run["outcome"] == "fast_path" else "clarify"
        text = values.get("answer", "")
    message = values["messages"][-1] if values.get("messages") else None
    used = (
        message.additional_kwargs.get("erp_fast_path") if isinstance(message, AIMessage) else None
    )
    payload = message.additional_kwargs.get("erp") if isinstance(message, AIMessage) else None
    result = _score_plan(case, result, used, payload)
    if result.outcome == "clarify" or case.expect in ("clarify", "decline"):
        result.answer_ok = (
            all(fact_present(f, text) for f in case.facts)
            if result.outcome == case.expect
            else False
        )
        return result
    missing = [f["value"] for f in case.facts if not fact_present(f, text)]
    ids = payload["row_ids"] if payload else []
    grounded = numbers_grounded(
        text, [json.dumps(payload or change, ensure_ascii=False)], request=case.text
    )
    result.answer_ok = (
        not missing and ids_match(case.row_ids if payload else None, ids) and grounded.passed
    )
    if not result.answer_ok:
        expected_ids = (case.row_ids or [])[:5]
        result.detail = (
            f"missing facts {missing}; ids {ids[:5]} vs {expected_ids}; {grounded.detail}"
        )
    return result


def _score_plan(
    case: ErpCase, result: CaseResult, used: dict[str, Any] | None, payload: Any
) -> CaseResult:
    if used:
        result.skill = used["skill"]
    if case.skill is None:
        return result
    result.skill_ok = result.skill == case.skill
    if used and result.skill_ok:
        expected = canonical_args(case.skill, case.args or {})
        actual = canonical_args(used["skill"], used["args"])
        result.args_ok = expected is not None and expected == actual
        if not result.args_ok:
            result.detail = f"args {actual} != {expected}"
    elif result.outcome in ("answer", "approval"):
        result.args_ok = False
    return result


def run_fast_path(
    cases: Iterable[ErpCase],
    database: ErpDatabase,
    catalog: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[ErpReport, list[CaseResult]]:
    """Evaluate the fast path on ``cases``; approvals are always rejected (nothing is written)."""
    cases = list(cases)
    graph = fast_path_graph(database, catalog)
    score_fast_path(cases[0], graph)  # warm caches (name index, dateparser) before timing
    results = []
    for index, case in enumerate(cases, start=1):
        results.append(score_fast_path(case, graph))
        if progress:
            progress(index, len(cases))
    return summarise("fast path", results), results


# --- a model with tools ------------------------------------------------------------------------


def score_model(
    case: ErpCase,
    catalog: Any,
    model_factory: Any,
    max_steps: int = 6,
    database: ErpDatabase | None = None,
) -> CaseResult:
    """Let the case's agent model answer with its tools; writes are recorded, never run.

    ``database`` is the one the tools read (the evaluation sample, whose rows the
    dataset's facts come from); default: the configured ERP database.
    """
    from nodes.checks import numbers_grounded
    from nova.models import ModelUnavailable
    from tools.registry import get_tools

    spec = catalog[case.agent]
    model = model_factory(spec, None)
    if isinstance(model, ModelUnavailable):
        return CaseResult(case.id, case.text, case.expect, "error", detail=model.message)
    if database is None:
        tools = {tool.name: tool for tool in get_tools(spec.tools)}
    else:
        from tools.erp import build_tools

        on_sample = {tool.name: tool for tool in build_tools(lambda: database)}
        tools = {tool.name: on_sample.get(tool.name, tool) for tool in get_tools(spec.tools)}
    bound = model.bind_tools(list(tools.values()))
    messages: list[Any] = [SystemMessage(spec.prompt), HumanMessage(case.text)]
    result = CaseResult(case.id, case.text, case.expect, "decline")
    first: tuple[str, dict[str, Any]] | None = None
    sources: list[str] = []
    started = time.perf_counter()
    answer = ""
    try:
        for _ in range(max_steps):
            reply = bound.invoke(messages)
            messages.append(reply)
            if not reply.tool_calls:
                answer = reply.text
                break
            for call in reply.tool_calls:
                if first is None and (call["name"] in READ_SKILLS or call["name"] in WRITE_SKILLS):
                    first = (call["name"], call["args"])
                if call["name"] in WRITE_SKILLS:
                    content = "Proposed for approval (the evaluation does not apply writes)."
                    result.outcome = "approval"
                else:
                    content = tools[call["name"]].invoke(call).content
                sources.append(str(content))
                messages.append(
                    ToolMessage(content=str(content), tool_call_id=call["id"], name=call["name"])
                )
            if result.outcome == "approval":
                break
    except Exception as error:
        return CaseResult(
            case.id, case.text, case.expect, "error", detail=f"{type(error).__name__}: {error}"
        )
    result.latency_ms = round((time.perf_counter() - started) * 1000, 2)
    if result.outcome != "approval":
        result.outcome = (
            "answer" if first else ("clarify" if answer.rstrip().endswith("?") else "decline")
        )
    if first:
        result.skill = first[0]
    if case.skill:
        result.skill_ok = result.skill == case.skill
        expected = canonical_args(case.skill, case.args or {})
        actual = canonical_args(first[0], first[1]) if first and result.skill_ok else None
        result.args_ok = bool(actual) and _same_entities(expected, actual, database)
    if result.outcome == "answer":
        grounded = numbers_grounded(answer, sources, request=case.text)
        result.answer_ok = all(fact_present(f, answer) for f in case.facts) and grounded.passed
    return result


def _same_entities(
    expected: dict[str, Any] | None,
    actual: dict[str, Any] | None,
    database: ErpDatabase | None = None,
) -> bool:
    """Compare arguments, reading a customer or supplier name as the number it resolves to."""
    if expected is None or actual is None:
        return False
    from nova.erp.db import get_erp_database
    from nova.erp.skills import resolve_customer, resolve_supplier

    database = database or get_erp_database()
    normalised = dict(actual)
    with database.read_session() as session:
        for key, resolve in (
            ("customer", resolve_customer),
            ("supplier", resolve_supplier),
            ("query", resolve_customer),
        ):
            value = normalised.get(key)
            if isinstance(value, str) and value != expected.get(key):
                try:
                    normalised[key] = resolve(session, value).number
                except Exception:
                    continue
    return normalised == expected


def run_model(
    cases: Iterable[ErpCase],
    catalog: Any,
    model_factory: Any,
    progress: Callable[[int, int], None] | None = None,
    database: ErpDatabase | None = None,
) -> tuple[ErpReport, list[CaseResult]]:
    """Evaluate each case's agent model with its tools (reading ``database``, see ``score_model``).

    Pass the evaluation sample (``evaluation_database``): the expected facts come from its rows,
    and the user's own ERP database would make every model answer look wrong.
    """
    cases = list(cases)
    results = []
    for index, case in enumerate(cases, start=1):
        results.append(score_model(case, catalog, model_factory, database=database))
        if progress:
            progress(index, len(cases))
    return summarise("model", results), results


def write_report(
    path: Path, reports: dict[str, dict[str, ErpReport]], header: dict[str, Any]
) -> None:
    """Write the evaluation reports (runner → split → report) as JSON under ``header``.

    ``header`` is ``evals.discipline.provenance(...)`` plus a note: dataset hash, code
    version and the split.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        **header,
        "reports": {
            runner: {which: asdict(report) for which, report in by_split.items()}
            for runner, by_split in reports.items()
        },
    }
    path.write_text(json.dumps(body, indent=2, default=str) + "\n", encoding="utf-8")


def main() -> None:
    """Run ``nova eval erp`` with this command line's options."""
    import sys

    from nova.cli import app

    app(["eval", "erp", *sys.argv[1:]], prog_name="nova")


if __name__ == "__main__":
    main()
