"""``nova improve``: gather what happened since the last promotion, propose, gate, promote.

``improve`` reads the feedback ledger (corrections, bad verdicts), the failure ledger
(errors, failed checks, router abstains and fallbacks naming an agent) and saved blame
results (``nova.improve.evidence``), makes candidates —
routing (always), prompts (when a model is configured), gap reports (clusters of
out-of-scope requests) — gates each, and stores them all in the candidate store.
``accept`` promotes a candidate that passed (``--yes`` promotes every one), ``reject``
sets one aside. Promotions write new agent versions to the data directory
(``nova.improve.versions``); the installed catalog is never touched.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nova.catalog.loader import Catalog
from nova.catalog.promoted import OUT_OF_SCOPE
from nova.catalog.spec import AgentSpec, RoutableAgent
from nova.improve.gate import Case
from nova.improve.routing import corrections_from, propose_routing
from nova.improve.store import CandidateRecord, CandidateStore
from nova.improve.versions import VersionStore, store_for
from nova.ledger.failures import FailureLedger
from nova.ledger.feedback import FeedbackLedger

if TYPE_CHECKING:
    from nova.improve.replay import RecordedRuns
    from nova.improve.suites import PromptSuite
    from nova.models import ModelFactory
    from nova.tracing.store import TraceStore

log = logging.getLogger(__name__)


class ImproveError(ValueError):
    """A candidate cannot be accepted or rejected as asked (the message says why)."""


@dataclass(slots=True)
class ImproveReport:
    """What one ``nova improve`` made and did."""

    catalog: str | None
    candidates: list[CandidateRecord] = field(default_factory=list)
    promoted: list[CandidateRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    corrections: int = 0


def catalog_id(catalog_dir: Path | None) -> str | None:
    """Return how feedback and candidates name a catalog (``None``: Nova's own)."""
    return str(Path(catalog_dir).resolve()) if catalog_dir is not None else None


def load_current(catalog_dir: Path | None) -> tuple[Catalog[Any], Any]:
    """Return the catalog in force (promoted versions applied) and its router config."""
    from nodes.routing.config import config_path_for, load_router_config

    catalog: Catalog[Any]
    if catalog_dir is None:
        from nova.catalog import default_catalog

        catalog = default_catalog()
    else:
        from nova.catalog import load_specs

        catalog = load_specs(Path(catalog_dir), RoutableAgent, promoted=True)
    config = load_router_config(config_path_for(catalog.directory))
    if catalog.out_of_scope:
        config = config.model_copy(
            update={
                "out_of_scope_examples": tuple(
                    dict.fromkeys((*config.out_of_scope_examples, *catalog.out_of_scope))
                )
            }
        )
    return catalog, config


REGRESSION_SAMPLE = 200
"""Newest traced runs of Nova's catalog replayed as the regression sample."""


def _regression_cases(
    ledger: FeedbackLedger, catalog: Catalog[Any], key: str | None, corrected: set[str]
) -> list[Case]:
    """Return recorded runs that passed and got no bad feedback: they must still route the same.

    These are the runs the user called good, and (for Nova's catalog) the newest traced
    runs that finished, passed every check and were routed by the classifier itself; a
    request the user corrected is not among them.
    """
    records = ledger.list(limit=10_000)
    bad_runs = {r.run_id for r in records if r.rating == "bad" and r.run_id}
    bad_threads = {r.thread_id for r in records if r.rating == "bad" and r.thread_id}
    cases: dict[str, Case] = {}
    for record in records:
        if record.rating != "good" or record.catalog != key or not record.request:
            continue
        if record.run_id in bad_runs or record.routed_agent not in catalog:
            continue
        cases.setdefault(
            record.request, Case(record.request, record.routed_agent, "regression", record.id)
        )
    if key is None:
        from nova.tracing import TraceStore

        for trace in TraceStore().list(status="ok", limit=REGRESSION_SAMPLE):
            route = trace.route or {}
            agent = route.get("agent")
            if (
                route.get("method") != "semantic"
                or agent not in catalog
                or not trace.request
                or trace.request.strip().lower() in corrected
                or trace.run_id in bad_runs
                or trace.thread_id in bad_threads
                or not all(c.get("passed", True) for c in trace.checks)
            ):
                continue
            cases.setdefault(trace.request, Case(trace.request, agent, "regression", trace.run_id))
    return list(cases.values())


def _trace_store() -> TraceStore:
    from nova.tracing import TraceStore

    return TraceStore()


def improve(
    catalog_dir: Path | None = None,
    *,
    yes: bool = False,
    suite: Sequence[Case] = (),
    model_factory: ModelFactory | None = None,
    store: CandidateStore | None = None,
    feedback: FeedbackLedger | None = None,
    cache_dir: Path | None = None,
    user: str | None = None,
    prompt_candidates: int = 3,
    failures: FailureLedger | None = None,
    traces: TraceStore | None = None,
    recorded: RecordedRuns | None = None,
    prompt_suites: Callable[[str], PromptSuite | None] | None = None,
) -> ImproveReport:
    """Make, gate and store candidates for the catalog; promote those that pass if ``yes``.

    Args:
        catalog_dir: A catalog folder (``--catalog``); ``None`` is Nova's own catalog.
        yes: Promote every candidate that passed the gate.
        suite: Test cases of the catalog's eval suites for the routing gate (the CLI
            passes the routing set's test split for Nova's catalog); none: held-out
            examples of the catalog stand in.
        model_factory: The model that rewrites prompts; ``None`` makes no prompt candidates.
        store: Where candidates go (default: the configured ledger URL).
        feedback: The feedback ledger (default: the configured one).
        cache_dir: The router cache (default: the configured one).
        user: Who runs it (recorded with promotions made by ``yes``).
        prompt_candidates: Prompt rewrites asked for per agent.
        failures: The failure ledger whose failures are prompt evidence (default: the
            configured one).
        traces: The trace store (failed and blamed runs' requests, saved blame results;
            default: the configured one).
        recorded: The graph and checkpoints prompt candidates' runs are replayed from
            (default: Nova's graph on the configured checkpoints, opened if a run needs it).
        prompt_suites: The eval suite for an agent's prompt candidates (default: the
            checkout's ``evals/`` suites, ``nova.improve.suites.prompt_suite``).

    """
    store = store or CandidateStore()
    feedback = feedback or FeedbackLedger()
    key = catalog_id(catalog_dir)
    report = ImproveReport(catalog=key)
    catalog, config = load_current(catalog_dir)

    used = store.used_evidence(catalog=key)
    records = [r for r in feedback.corrections(catalog=key) if r.id not in used]
    corrections, skipped = corrections_from(records, catalog.names)
    report.corrections = len(corrections)
    report.notes.extend(skipped)
    if corrections:
        proposal = propose_routing(
            catalog,
            config,
            corrections,
            suite=suite,
            regression=_regression_cases(
                feedback, catalog, key, {c.text.strip().lower() for c in corrections}
            ),
            cache_dir=cache_dir,
        )
        if proposal is not None:
            store.supersede(catalog=key, kind="routing", agent=None)
            by_agent: dict[str, list[str]] = {}
            for correction in corrections:
                by_agent.setdefault(correction.agent or OUT_OF_SCOPE, []).append(
                    correction.feedback_id
                )
            report.candidates.append(
                store.add(
                    kind="routing",
                    catalog=key,
                    reason=proposal.reason,
                    evidence=proposal.evidence,
                    change={
                        "examples": proposal.examples,
                        "out_of_scope": proposal.out_of_scope,
                        "evidence_by_agent": by_agent,
                        "skipped": proposal.skipped,
                    },
                    gate=proposal.gate,
                    parent_version=proposal.parent_version,
                    version=proposal.version,
                )
            )
            report.notes.extend(proposal.skipped)
    else:
        report.notes.append("No new routing corrections since the last promotion.")

    if model_factory is not None and catalog_dir is None:
        from nova.improve.prompts import propose_prompts
        from nova.improve.replay import open_recorded
        from nova.improve.suites import prompt_suite

        traces = traces or _trace_store()
        with contextlib.ExitStack() as stack:
            if recorded is None:
                recorded = stack.enter_context(open_recorded(traces))
            report.candidates.extend(
                propose_prompts(
                    catalog,
                    feedback=feedback,
                    store=store,
                    model_factory=model_factory,
                    per_agent=prompt_candidates,
                    failures=failures or FailureLedger(),
                    traces=traces,
                    notes=report.notes,
                    recorded=recorded,
                    suites=prompt_suites or prompt_suite,
                )
            )
    elif catalog_dir is None:
        report.notes.append(
            "No model configured: no prompt candidates (set NOVA_MODEL_NAME to have "
            "failing agents' prompts rewritten)."
        )

    from nova.improve.gaps import report_gaps

    gap = report_gaps(catalog, key, feedback=feedback, store=store)
    if gap is not None:
        report.candidates.append(gap)

    if yes:
        # Best first: of several prompt rewrites for one agent, the one that fixes most
        # (then the smallest edit) is promoted, and its siblings are superseded.
        order = sorted(
            range(len(report.candidates)),
            key=lambda i: (
                -((report.candidates[i].gate or {}).get("targeted") or {}).get("wins", 0),
                len(str(report.candidates[i].change.get("diff", ""))),
            ),
        )
        for index in order:
            candidate = store.get(report.candidates[index].id)
            if candidate.kind == "gap" or candidate.status != "passed":
                report.candidates[index] = candidate
                continue
            try:
                promoted = accept(candidate.id, by=user or "nova improve --yes", store=store)
            except ImproveError as error:
                report.notes.append(str(error))
                continue
            report.promoted.append(promoted)
        report.candidates = [store.get(c.id) for c in report.candidates]
    return report


def accept(
    candidate_id: str, *, by: str | None = None, store: CandidateStore | None = None
) -> CandidateRecord:
    """Promote a candidate that passed the gate: write its new versions to the data directory.

    Raises:
        ImproveError: it did not pass, was decided already, is a gap report, or its parent
            is no longer the version in force (run ``nova improve`` again).
        nova.improve.store.CandidateNotFound: no such candidate.

    """
    store = store or CandidateStore()
    candidate = store.get(candidate_id)
    if candidate.kind == "gap":
        raise ImproveError(
            "A gap report is for you to act on (add an agent); it has nothing to promote"
        )
    if candidate.status != "passed":
        why = (candidate.gate or {}).get("why", "")
        raise ImproveError(
            f"Candidate {candidate.id[:12]} is {candidate.status}"
            + (f" ({why})" if candidate.status == "failed" and why else "")
            + "; only a candidate that passed the gate and is undecided can be promoted"
        )
    catalog_dir = Path(candidate.catalog) if candidate.catalog else None
    versions = store_for(catalog_dir)
    model: type[RoutableAgent] = AgentSpec if catalog_dir is None else RoutableAgent
    if candidate.kind == "routing":
        catalog, _ = load_current(catalog_dir)
        if catalog.version != candidate.parent_version:
            raise ImproveError(
                f"Candidate {candidate.id[:12]} was made from catalog version "
                f"{candidate.parent_version}, but {catalog.version} is in force now; run "
                "`nova improve` again for a candidate on top of it"
            )
        _promote_routing(candidate, versions, model)
    else:
        agent = candidate.agent or ""
        current = versions.current_data(agent)
        from nova.catalog.promoted import spec_hash

        if spec_hash(current) != candidate.parent_version:
            raise ImproveError(
                f"Candidate {candidate.id[:12]} rewrites {agent} version "
                f"{candidate.parent_version}, but {spec_hash(current)} is in force now; run "
                "`nova improve` again"
            )
        current["prompt"] = candidate.change["prompt"]
        versions.promote(
            agent,
            current,
            reason=candidate.reason,
            evidence=candidate.evidence,
            candidate=candidate.id,
            model=model,
        )
    promoted = store.set_status(candidate.id, "promoted", by=by)
    if candidate.kind == "prompt":  # other rewrites of the same version are moot now
        store.supersede(catalog=candidate.catalog, kind="prompt", agent=candidate.agent)
    return promoted


def _promote_routing(
    candidate: CandidateRecord, versions: VersionStore, model: type[RoutableAgent]
) -> None:
    change = candidate.change
    by_agent: dict[str, list[str]] = change.get("evidence_by_agent") or {}
    for agent, texts in sorted((change.get("examples") or {}).items()):
        data = versions.current_data(agent)
        examples = list(data.get("examples") or [])
        seen = {e.strip().lower() for e in examples}
        examples.extend(t for t in texts if t.strip().lower() not in seen)
        data["examples"] = examples
        versions.promote(
            agent,
            data,
            reason=f"routing: {len(texts)} corrected request(s) added as examples",
            evidence=by_agent.get(agent, []),
            candidate=candidate.id,
            model=model,
        )
    added = list(change.get("out_of_scope") or [])
    if added:
        data = versions.current_data(OUT_OF_SCOPE)
        texts = list(data.get("out_of_scope_examples") or [])
        seen = {t.strip().lower() for t in texts}
        texts.extend(t for t in added if t.strip().lower() not in seen)
        versions.promote(
            OUT_OF_SCOPE,
            {"out_of_scope_examples": texts},
            reason=f"routing: {len(added)} request(s) marked out of scope",
            evidence=by_agent.get(OUT_OF_SCOPE, []),
            candidate=candidate.id,
        )


def reject(
    candidate_id: str, *, by: str | None = None, store: CandidateStore | None = None
) -> CandidateRecord:
    """Set a candidate aside: it is never promoted, and its evidence waits for the next run.

    Raises:
        ImproveError: it was promoted or decided already.

    """
    store = store or CandidateStore()
    candidate = store.get(candidate_id)
    if candidate.status not in ("passed", "failed", "reported"):
        raise ImproveError(f"Candidate {candidate.id[:12]} is {candidate.status} already")
    return store.set_status(candidate.id, "rejected", by=by)
