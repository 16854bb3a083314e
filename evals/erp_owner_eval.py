"""ERP owner evaluation: the served path on requests typed the way the owner types them.

The dataset (``evals/datasets/erp_owner.jsonl``, written blind by
``evals/make_erp_owner_dataset.py`` with a plain-SQL oracle) holds one request per line with
the facts each reading of it must state::

    {"id": "own-001", "text": "whats nordwind owe us", "topic": "balances",
     "answerable": true, "readings": [{"reading": "net balance ...",
     "facts": [{"type": "number", "value": "1234.50"}], "rows": 1}], "notes": "..."}

Each request goes the way the served ``nova`` graph sends it, in the ``parts-shop`` project:
the supervisor's ``intake``, its ``route`` node over the default catalog with Nova's own
router (the route is found, never taken from a label) and ``dispatch``; an ERP route then
runs the real fast-path node on the evaluation database. Writes pause for approval and are
rejected, so the database never changes. Two things of the served graph are left out, so
that the figures depend on the fast path and the router alone: recalled memories (the
route node gets none, as in a fresh project) and the tie-break model (an abstention stands).

Outcomes: ``answer``, ``clarify`` (asked back), ``decline`` (handed to the model agent),
``approval`` (a write proposed), ``not-erp`` (routed to a non-ERP agent, or the router
abstained) and ``error``. An answer is *right* when it states every fact of one reading
(numbers read in any format, dates and ids as whole tokens: ``nova.erp.grounding``) and,
where the reading gives ``rows``, its result has that many rows (see ``rows_problem`` for
how one row is read). An answer to a request marked ``answerable: false`` is wrong
whatever it says.

Figures per frozen split (``evals.discipline``): coverage = answered / answerable,
precision = right / answered, and right / answerable. Failures are listed for dev only
unless asked for test too, so nobody tunes on test by accident.

Run it with ``nova eval erp-owner`` (or ``python -m evals.erp_owner_eval``).
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from evals.discipline import SplitCases, split_cases, split_of
from evals.erp_eval import DatasetError
from nova.erp.grounding import mentions

if TYPE_CHECKING:
    from nodes.router import Router
    from nova.catalog import AgentSpec, Catalog
    from nova.erp.db import ErpDatabase

DEFAULT_DATASET = Path(__file__).parent / "datasets" / "erp_owner.jsonl"
ROUTING_DATASET = Path(__file__).parent / "datasets" / "routing.jsonl"
DEFAULT_REPORT = Path("reports") / "erp_owner_eval.json"
PROJECT = "parts-shop"
"""The project the owner asks in: the parts shop whose ERP database Nova queries."""

Outcome = Literal["answer", "clarify", "decline", "approval", "not-erp", "error"]
OUTCOMES: tuple[Outcome, ...] = ("answer", "clarify", "decline", "approval", "not-erp", "error")

_RUN_OUTCOMES: dict[str, Outcome] = {"fast_path": "answer", "clarify": "clarify"}
"""The fast path's ``AgentRun.outcome`` as an evaluation outcome (anything else: ``error``)."""
_ZERO_WORDS = re.compile(r"\b(?:no|none|nothing|zero)\b", re.IGNORECASE)


# --- the dataset ----------------------------------------------------------------------------


class Fact(BaseModel):
    """A value an answer must state: a number (any format), a text or an ISO date."""

    model_config = ConfigDict(frozen=True)

    type: Literal["number", "text", "date"]
    value: str


class Reading(BaseModel):
    """One way to understand a request, with what an answer to it must state."""

    model_config = ConfigDict(frozen=True)

    reading: str
    """What the request means under this reading, in words."""
    facts: list[Fact] = []
    """Every fact must be mentioned in the answer."""
    rows: int | None = None
    """Rows the fast path's result must have (0: "none match"); ``None``: not checked."""


class OwnerCase(BaseModel):
    """One dataset line: a request, and its readings when it can be answered."""

    model_config = ConfigDict(frozen=True)

    id: str
    text: str
    topic: str
    answerable: bool
    """``False``: the right behaviour is to decline or ask; any answer is wrong."""
    readings: list[Reading] = []
    """Several readings: the request is genuinely ambiguous and any one of them is right."""
    notes: str | None = None

    @model_validator(mode="after")
    def _readings_fit(self) -> OwnerCase:
        if self.answerable and not self.readings:
            raise ValueError("an answerable request needs at least one reading")
        if not self.answerable and self.readings:
            raise ValueError("a request marked answerable: false has no readings")
        return self


def load_dataset(path: Path = DEFAULT_DATASET) -> list[OwnerCase]:
    """Read and validate every line of the owner dataset.

    Raises:
        DatasetError: naming the first bad line (or duplicate id) and what is wrong with it.

    """
    cases: list[OwnerCase] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            case = OwnerCase.model_validate_json(line)
        except ValidationError as error:
            raise DatasetError(f"{path}:{number}: {error.errors()[0]['msg']}") from None
        if case.id in seen:
            raise DatasetError(f"{path}:{number}: duplicate id {case.id!r}")
        seen.add(case.id)
        cases.append(case)
    if not cases:
        raise DatasetError(f"{path}: holds no requests")
    return cases


def split_owner_cases(cases: Sequence[OwnerCase]) -> SplitCases[OwnerCase]:
    """Cut the owner set into its frozen splits, near-duplicates of references out of test."""
    return split_cases(cases, case_id=lambda c: c.id, text=lambda c: c.text)


# --- judging ----------------------------------------------------------------------------------


def _rounds_to(stated: Decimal, wanted: Decimal) -> bool:
    """Whether ``stated`` is ``wanted`` written with fewer decimals (39.8% for 39.85)."""
    places = max(0, -int(stated.as_tuple().exponent))
    wanted_places = max(0, -int(wanted.as_tuple().exponent))
    if places >= wanted_places or abs(stated) < 10:
        return False  # small numbers must match exactly: almost anything rounds to 3
    # Both are roundings of one true value: they may differ by half a unit of each.
    slack = Decimal(5).scaleb(-places - 1) + Decimal(5).scaleb(-wanted_places - 1)
    return abs(stated - wanted) <= slack


def fact_mentioned(fact: Fact, text: str) -> bool:
    """Whether ``text`` states ``fact``: numbers by value in any format, dates and ids whole.

    A number matches any reading of a number written in the text (``1.234,50``,
    ``€1,234.50`` and ``1234.5`` all state 1234.50), also written with fewer decimals
    (``39.8%`` states 39.85, ``€1,235`` states 1234.50; not below 10); zero is also stated
    by "no", "none", "nothing" or "zero". Dates and texts match as written (texts ignoring
    case, runs of spaces and underscores: a stored code such as ``in_transit`` is stated
    by "in transit"), or as a date or id token of the text.
    """
    if fact.type == "number":
        try:
            wanted = Decimal(fact.value)
        except InvalidOperation:
            return False
        if wanted == 0 and _ZERO_WORDS.search(text):
            return True
        return any(
            wanted == value or -wanted == value or _rounds_to(value, wanted)
            for mention in mentions(text)
            if mention.kind == "number"
            for value in mention.values
        )
    if fact.type == "date":
        return any(m.kind == "date" and m.text == fact.value for m in mentions(text)) or (
            fact.value in text
        )
    # A stored code reads as words in an answer: "in_transit" is stated by "in transit".
    wanted_text = " ".join(fact.value.replace("_", " ").split()).casefold()
    return wanted_text in " ".join(text.replace("_", " ").split()).casefold() or any(
        m.kind == "id" and m.text == fact.value for m in mentions(text)
    )


def rows_problem(reading: Reading, served: Served) -> str | None:
    """Return why the result's rows do not fit ``reading`` (``None``: they fit).

    ``rows`` counts the rows of the reading's SQL, so one row is either one record ("how
    much was INV-2024-01289") or one aggregate ("how many orders today": ``COUNT(*)``). One
    row therefore fits a result of one row, or any result whose headline (the answer's first
    line after the reading line, where the fast path states its totals) states every fact of
    the reading: "3 sales orders …, worth €3,897.90" answers the count, a list of six
    payments does not answer "the last payment". Otherwise the result must have that many
    rows, counting either the rows shown (a top 5) or all that matched (a list cut at its
    limit); 0 means none match.
    """
    if reading.rows is None:
        return None
    counts = {n for n in (served.rows, served.shown_rows) if n is not None}
    if reading.rows in counts:
        return None
    if reading.rows == 1 and served.text:
        text = served.text
        if served.reading and text.startswith(served.reading):
            text = text[len(served.reading) :].lstrip()  # the reading line comes first
        headline = text.splitlines()[0] if text else ""
        if reading.facts and all(fact_mentioned(f, headline) for f in reading.facts):
            return None
    return f"{served.rows if served.rows is not None else 'no'} rows, expected {reading.rows}"


def reading_problems(reading: Reading, served: Served) -> list[str]:
    """Return why the answer in ``served`` does not fit ``reading`` (empty: it fits)."""
    problems = [
        f"{f.type} {f.value} not stated"
        for f in reading.facts
        if not fact_mentioned(f, served.text)
    ]
    rows = rows_problem(reading, served)
    return [*problems, rows] if rows else problems


@dataclass(frozen=True, slots=True)
class Served:
    """What the served path did with one request."""

    outcome: Outcome
    agent: str | None = None
    """The routed agent (``None`` when the router abstained)."""
    method: str | None = None
    """The route's method (``semantic``, ``clarify``, ``fallback``, …)."""
    skill: str | None = None
    text: str = ""
    """The answer, question or approval request shown to the owner."""
    rows: int | None = None
    """Rows the result matched (``total_rows`` of the payload), for answers."""
    shown_rows: int | None = None
    """Rows the result holds (``row_count``: a top 5 holds 5 of all that matched)."""
    latency_ms: float = 0.0
    detail: str = ""
    reading: str = ""
    """How the fast path read the request, which the answer states before its headline."""


@dataclass(slots=True)
class Verdict:
    """How one request went, and whether the answer was right."""

    id: str
    text: str
    topic: str
    split: str
    answerable: bool
    outcome: Outcome
    agent: str | None = None
    method: str | None = None
    skill: str | None = None
    right: bool | None = None
    """For answers: whether one reading fits (``None`` for other outcomes)."""
    reading: str | None = None
    """The reading the answer fitted."""
    problems: list[str] = field(default_factory=list)
    """Why the closest reading did not fit (for wrong answers)."""
    rows: int | None = None
    shown_rows: int | None = None
    answer: str = ""
    latency_ms: float = 0.0
    detail: str = ""


def judge(case: OwnerCase, served: Served, split: str = "") -> Verdict:
    """Judge what the served path did with ``case`` against its readings."""
    verdict = Verdict(
        id=case.id,
        text=case.text,
        topic=case.topic,
        split=split or split_of(case.id),
        answerable=case.answerable,
        outcome=served.outcome,
        agent=served.agent,
        method=served.method,
        skill=served.skill,
        rows=served.rows,
        shown_rows=served.shown_rows,
        answer=served.text,
        latency_ms=served.latency_ms,
        detail=served.detail,
    )
    if served.outcome != "answer":
        return verdict
    if not case.answerable:
        verdict.right = False
        verdict.problems = ["answered a request that cannot be answered from the data"]
        return verdict
    closest: list[str] | None = None
    for reading in case.readings:
        problems = reading_problems(reading, served)
        if not problems:
            verdict.right, verdict.reading, verdict.problems = True, reading.reading, []
            return verdict
        if closest is None or len(problems) < len(closest):
            closest = problems
    verdict.right = False
    verdict.problems = closest or []
    return verdict


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def figures(verdicts: Sequence[Verdict]) -> dict[str, Any]:
    """Return the figures of one split, in the order the table prints them.

    ``answered`` counts every answer, to answerable requests or not; coverage counts only
    answers to answerable requests, precision counts an answer to an unanswerable request
    as wrong.
    """
    answerable = [v for v in verdicts if v.answerable]
    answers = [v for v in verdicts if v.outcome == "answer"]
    right = sum(1 for v in answers if v.right)
    counts = Counter(v.outcome for v in verdicts)
    unanswerable = [v for v in verdicts if not v.answerable]
    return {
        "requests": len(verdicts),
        "answerable": len(answerable),
        "answered": len(answers),
        "right": right,
        "wrong": len(answers) - right,
        "asked back": counts["clarify"],
        "declined": counts["decline"],
        "not-erp": counts["not-erp"],
        "approval": counts["approval"],
        "error": counts["error"],
        "coverage": _share(sum(1 for v in answerable if v.outcome == "answer"), len(answerable)),
        "precision": _share(right, len(answers)),
        "right / answerable": _share(sum(1 for v in answerable if v.right), len(answerable)),
        "unanswerable": len(unanswerable),
        "unanswerable answered": sum(1 for v in unanswerable if v.outcome == "answer"),
    }


def failures(verdicts: Iterable[Verdict]) -> list[Verdict]:
    """Return the requests handled wrongly: wrong answers first, then answerable ones missed."""
    verdicts = list(verdicts)
    wrong = [v for v in verdicts if v.outcome == "answer" and not v.right]
    missed = [v for v in verdicts if v.answerable and v.outcome != "answer"]
    return wrong + missed


# --- the served path --------------------------------------------------------------------------


def owner_graph(
    database: ErpDatabase,
    *,
    catalog: Catalog[AgentSpec] | None = None,
    router: Router | None = None,
) -> Any:
    """Compile the served path from the supervisor's real nodes, with the fast path as ``erp``.

    ``intake``, ``route`` and the ``dispatch`` edge are the supervisor's; ``erp`` is the fast-path
    node on ``database``; the other subgraphs and ``respond`` are empty stand-ins (a
    request that reaches them is ``not-erp``). Routing decisions go to an in-memory ledger.
    """
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from sqlalchemy import create_engine
    from sqlalchemy.pool import StaticPool

    from nodes.erp_fast_path import make_erp_fast_path_node
    from nodes.erp_route import owning_read_skill, planned_read_skill
    from nodes.router import make_route_node, nova_router
    from nodes.supervisor import SUBGRAPHS, dispatch, intake, with_unroutable_reply
    from nova.catalog import default_catalog
    from nova.erp.followup import ErpMention, erp_mention
    from nova.ledger.routing import RoutingLedger
    from nova.state import NovaContext, NovaState

    agents = catalog or default_catalog()
    chosen = router or nova_router()
    ledger = RoutingLedger(
        engine=create_engine(
            "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    )

    def mention(text: str) -> ErpMention:
        with database.read_session() as session:
            return erp_mention(text, session)

    def plan(text: str) -> str | None:
        with database.read_session() as session:
            return owning_read_skill(text, session)

    def agent_reads(text: str, tools: Collection[str]) -> bool:
        with database.read_session() as session:
            return planned_read_skill(text, session, tools) is not None

    def stand_in(state: NovaState) -> dict[str, Any]:
        return {}

    builder = StateGraph(NovaState, context_schema=NovaContext)
    builder.add_node("intake", intake)
    route = make_route_node(
        router=lambda: chosen,
        ledger=ledger,
        model_factory=None,
        catalog=agents,
        erp_mention=mention,
        erp_plan=plan,
        erp_agent_reads=agent_reads,
    )
    builder.add_node("route", with_unroutable_reply(route))
    builder.add_node("erp", make_erp_fast_path_node(database=database, catalog=agents))
    for name in (*(s for s in SUBGRAPHS if s != "erp"), "respond"):
        builder.add_node(name, stand_in)
    builder.add_edge(START, "intake")
    builder.add_edge("intake", "route")
    builder.add_conditional_edges("route", dispatch)
    for name in (*SUBGRAPHS, "respond"):
        builder.add_edge(name, END)
    return builder.compile(checkpointer=InMemorySaver())


def serve(text: str, graph: Any, *, project: str = PROJECT) -> Served:
    """Send ``text`` through ``graph`` as a new thread; reject any write it proposes."""
    from langchain_core.messages import AIMessage, HumanMessage
    from langgraph.types import Command

    from nodes.erp_fast_path import FAST_PATH_KEY
    from nova.erp.render import PAYLOAD_KEY
    from nova.state import NovaContext
    from nova.tracing.failures import ledger_muted

    config = {"configurable": {"thread_id": f"owner-eval-{uuid.uuid4().hex[:12]}"}}
    context = NovaContext(project=project)
    started = time.perf_counter()
    try:
        with ledger_muted():  # an evaluation's abstentions are not the owner's failures
            values = graph.invoke({"messages": [HumanMessage(text)]}, config, context=context)
            interrupts = values.get("__interrupt__")
            if interrupts:
                request = interrupts[0].value
                graph.invoke(
                    Command(resume={"approved": False, "reason": "evaluation run"}),
                    config,
                    context=context,
                )
    except Exception as error:  # an evaluation records crashes instead of stopping
        return Served("error", detail=f"{type(error).__name__}: {error}")
    latency = round((time.perf_counter() - started) * 1000, 2)
    route = values.get("route") or {}
    agent, method = route.get("agent"), route.get("method")
    if interrupts:
        change = request.get("change", {}) if isinstance(request, dict) else {}
        return Served(
            "approval", agent, method, change.get("tool"), str(request), latency_ms=latency
        )
    if agent is None or route.get("subgraph") != "erp":
        return Served("not-erp", agent, method, latency_ms=latency, detail=route.get("reason", ""))
    run = values.get("agent_run")
    if not run:
        return Served("decline", agent, method, latency_ms=latency)
    message = values["messages"][-1] if values.get("messages") else None
    extra = message.additional_kwargs if isinstance(message, AIMessage) else {}
    used = extra.get(FAST_PATH_KEY) or {}
    payload = extra.get(PAYLOAD_KEY) or {}
    return Served(
        _RUN_OUTCOMES.get(run["outcome"], "error"),
        agent,
        method,
        used.get("skill"),
        values.get("answer", ""),
        payload.get("total_rows") if payload else None,
        payload.get("row_count") if payload else None,
        latency,
        run.get("detail", ""),
        used.get("reading", ""),
    )


@dataclass(slots=True)
class OwnerRun:
    """Verdicts of one run over the owner set, with its split."""

    split: SplitCases[OwnerCase]
    verdicts: list[Verdict]

    def by_split(self) -> dict[str, dict[str, Any]]:
        """Return the figures of dev and test (leaked test requests excluded)."""
        return {
            "dev": figures([v for v in self.verdicts if v.split == "dev"]),
            "test": figures([v for v in self.verdicts if v.split == "test"]),
        }


def run_owner_eval(
    cases: Sequence[OwnerCase],
    database: ErpDatabase,
    *,
    catalog: Catalog[AgentSpec] | None = None,
    router: Router | None = None,
    split: SplitCases[OwnerCase] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> OwnerRun:
    """Serve and judge every request of dev and test (near-duplicates of references left out).

    Args:
        cases: The owner set.
        database: The evaluation database (``evals.erp_eval.evaluation_database``).
        catalog: Agents; the default catalog by default.
        router: The router; Nova's own (``nodes.router.nova_router``) by default.
        split: The split to use; computed from ``cases`` by default.
        progress: Called with (done, total) after each request.

    """
    split = split or split_owner_cases(cases)
    graph = owner_graph(database, catalog=catalog, router=router)
    chosen = [(case, "dev") for case in split.dev] + [(case, "test") for case in split.test]
    verdicts = []
    for index, (case, which) in enumerate(chosen, start=1):
        verdicts.append(judge(case, serve(case.text, graph), which))
        if progress:
            progress(index, len(chosen))
    return OwnerRun(split, verdicts)


# --- the ERP lines of the routing set -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoutingLine:
    """An ERP request of ``routing.jsonl``; its text is its id (the file has no ids)."""

    text: str
    agent: str


@dataclass(slots=True)
class RoutingLineResult:
    """What the served path did with one ERP line of the routing set."""

    text: str
    agent: str
    split: str
    outcome: Outcome
    routed_to: str | None
    skill: str | None
    detail: str = ""


def erp_routing_lines(
    path: Path = ROUTING_DATASET, catalog: Catalog[AgentSpec] | None = None
) -> list[RoutingLine]:
    """Return the lines of the routing set labelled with an ERP agent."""
    from evals.routing_eval import load_dataset as load_routing
    from nova.catalog import default_catalog

    agents = catalog or default_catalog()
    return [
        RoutingLine(case.text, case.agent)
        for case in load_routing(path)
        if case.agent is not None and case.agent in agents and agents[case.agent].subgraph == "erp"
    ]


def routing_figures(results: Sequence[RoutingLineResult]) -> dict[str, Any]:
    """Return the fast path's coverage of one split of the routing set's ERP lines."""
    counts = Counter(r.outcome for r in results)
    return {
        "requests": len(results),
        "routed to its agent": sum(1 for r in results if r.routed_to == r.agent),
        "answered": counts["answer"],
        "asked back": counts["clarify"],
        "declined": counts["decline"],
        "approval": counts["approval"],
        "not-erp": counts["not-erp"],
        "error": counts["error"],
        "coverage": _share(counts["answer"], len(results)),
    }


def run_routing_lines(
    lines: Sequence[RoutingLine],
    database: ErpDatabase,
    *,
    catalog: Catalog[AgentSpec] | None = None,
    router: Router | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[SplitCases[RoutingLine], list[RoutingLineResult]]:
    """Serve the routing set's ERP lines (split by their text; near-duplicates out of test)."""
    split = split_cases(lines, case_id=lambda line: line.text, text=lambda line: line.text)
    graph = owner_graph(database, catalog=catalog, router=router)
    chosen = [(line, "dev") for line in split.dev] + [(line, "test") for line in split.test]
    results = []
    for index, (line, which) in enumerate(chosen, start=1):
        served = serve(line.text, graph)
        results.append(
            RoutingLineResult(
                line.text, line.agent, which, served.outcome, served.agent, served.skill,
                served.detail,
            )
        )  # fmt: skip
        if progress:
            progress(index, len(chosen))
    return split, results


# --- the report -------------------------------------------------------------------------------


def report_body(
    dataset: Path,
    run: OwnerRun,
    *,
    note: str = "",
    routing: tuple[Path, SplitCases[RoutingLine], list[RoutingLineResult]] | None = None,
) -> dict[str, Any]:
    """Return the JSON report: provenance header, figures by split, every verdict."""
    from evals.discipline import provenance

    body: dict[str, Any] = {
        **provenance([dataset], run.split),
        "project": PROJECT,
        "note": note,
        "figures": run.by_split(),
        "by_topic": {
            which: {
                topic: figures([v for v in run.verdicts if v.split == which and v.topic == topic])
                for topic in sorted({v.topic for v in run.verdicts if v.split == which})
            }
            for which in ("dev", "test")
        },
        "leaks": [
            {"id": leak.case_id, "reference": leak.reference.source, "score": leak.score}
            for leak in run.split.leaks
        ],
        "verdicts": [asdict(v) for v in run.verdicts],
    }
    if routing is not None:
        path, split, results = routing
        body["routing_erp_lines"] = {
            **provenance([path], split),
            "figures": {
                which: routing_figures([r for r in results if r.split == which])
                for which in ("dev", "test")
            },
            "results": [asdict(r) for r in results],
        }
    return body


def main() -> None:
    """Run ``nova eval erp-owner`` with this command line's options."""
    import sys

    from nova.cli import app

    app(["eval", "erp-owner", *sys.argv[1:]], prog_name="nova")


if __name__ == "__main__":
    main()
