"""Routing candidates: corrected requests become examples (or out-of-scope requests).

No model is needed. The corrections since the last promotion are added to the agents the
user named (``"agent": null`` to the out-of-scope requests) and the router is refitted
(example embeddings are cached by text, so only the new requests are encoded). The gate
(``gate_routing``) compares the candidate with its parent:

(a) the targeted cases: every correction, routed by parent and candidate fitted on all of
    them: the candidate must fix at least one;
(b) the held-out test: a frozen hash-held-out part of the corrections (never trained on
    by the probe candidate) plus, for a catalog without eval suites of its own, a held-out
    part of the catalog's examples and out-of-scope requests (left out of both probes),
    plus the suites' test cases the caller passes (Nova's routing set): paired, no net
    loss overall and on the out-of-scope slice beyond its slack;
(c) the regression sample: recorded runs that passed and got no bad feedback must still
    go where they went.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nova.catalog.loader import Catalog
from nova.catalog.spec import RoutableAgent
from nova.improve.gate import Case, Paired, held_out, paired, regresses
from nova.ledger.feedback import FeedbackRecord

CORRECTION_HOLDOUT = 0.25
"""Share of the corrections the probe candidate never trains on (the gate's test)."""
EXAMPLE_HOLDOUT = 0.2
"""Share of a suite-less catalog's examples both probes leave out (the gate's test)."""
MIN_TRAIN_EXAMPLES = 3
"""Examples of an agent that always stay in training."""
OUT_OF_SCOPE_SLACK = 0.01
"""Net out-of-scope losses tolerated on the held-out test, as a share of that slice."""


@dataclass(frozen=True, slots=True)
class Correction:
    """A request and where it belongs (``None``: no agent), with the feedback behind it."""

    text: str
    agent: str | None
    feedback_id: str
    run_id: str | None = None


@dataclass(slots=True)
class RoutingProposal:
    """A routing candidate before it is stored: the change, its versions and its gate."""

    parent_version: str
    version: str
    examples: dict[str, list[str]]
    out_of_scope: list[str]
    evidence: list[str]
    gate: dict[str, Any]
    skipped: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        """One line saying what it changes."""
        added = sum(len(v) for v in self.examples.values())
        return (
            f"{added} corrected request(s) as examples of {len(self.examples)} agent(s), "
            f"{len(self.out_of_scope)} as out-of-scope requests"
        )


def corrections_from(
    records: Sequence[FeedbackRecord], agents: Sequence[str]
) -> tuple[list[Correction], list[str]]:
    """Return one correction per request (the newest wins) and what was skipped, and why."""
    latest: dict[str, Correction] = {}
    skipped: list[str] = []
    known = set(agents)
    for record in records:
        if not record.request:
            continue
        agent = None if record.out_of_scope else record.agent
        if agent is not None and agent not in known:
            skipped.append(f"{record.id[:12]}: agent {agent!r} is no longer in the catalog")
            continue
        latest[record.request.strip().lower()] = Correction(
            record.request.strip(), agent, record.id, record.run_id
        )
    return list(latest.values()), skipped


def _with_examples(
    agents: Sequence[RoutableAgent],
    added: Mapping[str, Sequence[str]],
    removed: Mapping[str, set[str]] | None = None,
) -> list[RoutableAgent]:
    out = []
    for agent in agents:
        drop = (removed or {}).get(agent.name, set())
        kept = [e for e in agent.examples if e not in drop]
        seen = {e.lower() for e in kept}
        extra = []
        for text in added.get(agent.name, ()):
            if text.lower() not in seen:
                seen.add(text.lower())
                extra.append(text)
        out.append(
            RoutableAgent(name=agent.name, description=agent.description, examples=(*kept, *extra))
        )
    return out


def _router(
    base: Catalog[Any],
    agents: Sequence[RoutableAgent],
    config: Any,
    cache_dir: Path | None,
    *,
    keep: bool,
) -> Any:
    """Fit a router on ``agents``; ``keep`` writes it to the router cache (a promotion loads it)."""
    from nodes.router import Router
    from nodes.routing.cache import default_cache_dir, load_or_fit
    from nodes.routing.fit import embedding_cache, fit_router

    folder = cache_dir if cache_dir is not None else default_cache_dir()
    if keep:
        fitted, _ = load_or_fit(agents, config, cache_dir=folder)
    else:
        fitted = fit_router(
            agents, config, cache=embedding_cache(folder, quantized=config.quantized)
        )
    catalog = Catalog(
        agents={a.name: a for a in agents}, sources=base.sources, directory=base.directory
    )
    return Router(catalog, config, fitted)


def _verdicts(router: Any, cases: Sequence[Case]) -> list[bool]:
    if not cases:
        return []
    decisions = router.route_batch([c.text for c in cases])
    return [_right(d, c.expected) for d, c in zip(decisions, cases, strict=True)]


def _right(decision: Mapping[str, Any], expected: str | None) -> bool:
    abstained = decision["method"] in ("clarify", "fallback")
    if expected is None:
        return abstained
    return not abstained and decision["agent"] == expected


def _with_out_of_scope(config: Any, texts: Sequence[str], drop: set[str] | None = None) -> Any:
    kept = [t for t in config.out_of_scope_examples if t not in (drop or set())]
    return config.model_copy(
        update={"out_of_scope_examples": tuple(dict.fromkeys((*kept, *texts)))}
    )


def propose_routing(
    catalog: Catalog[Any],
    config: Any,
    corrections: Sequence[Correction],
    *,
    suite: Sequence[Case] = (),
    regression: Sequence[Case] = (),
    cache_dir: Path | None = None,
) -> RoutingProposal | None:
    """Make and gate the routing candidate for ``corrections`` (``None`` if nothing to add).

    Args:
        catalog: The catalog in force (promoted versions applied).
        config: Its router config (promoted out-of-scope requests included).
        corrections: Requests and where they belong.
        suite: Test cases of the catalog's eval suites (Nova's routing set); without any,
            a held-out part of the catalog's own examples is the suite.
        regression: Recorded good runs: each must still go where it went.
        cache_dir: The router cache (default: the configured one).

    """
    started = time.process_time()
    agents: list[RoutableAgent] = [catalog[name] for name in catalog.names]
    existing = {e.lower(): a.name for a in agents for e in a.examples} | {
        t.lower(): None for t in config.out_of_scope_examples
    }
    examples: dict[str, list[str]] = {}
    out_of_scope: list[str] = []
    used: list[Correction] = []
    skipped: list[str] = []
    for correction in corrections:
        where = existing.get(correction.text.lower(), ...)
        if where == correction.agent:
            skipped.append(f"{correction.feedback_id[:12]}: already an example there")
            continue
        if where is not ...:
            skipped.append(
                f"{correction.feedback_id[:12]}: {correction.text!r} is an example of "
                f"{where or 'out of scope'} (edit the catalog to move it)"
            )
            continue
        used.append(correction)
        if correction.agent is None:
            out_of_scope.append(correction.text)
        else:
            examples.setdefault(correction.agent, []).append(correction.text)
    if not used:
        return None

    from nodes.router import Router

    parent = Router.from_catalog(catalog, config=config, cache_dir=cache_dir)
    full_agents = _with_examples(agents, examples)
    full_config = _with_out_of_scope(config, out_of_scope)
    candidate = _router(catalog, full_agents, full_config, cache_dir, keep=True)

    # (a) the targeted cases, with everything fitted.
    targeted = [Case(c.text, c.agent, "targeted", c.feedback_id) for c in used]
    targeted_cmp = paired(
        "targeted", targeted, _verdicts(parent, targeted), _verdicts(candidate, targeted)
    )

    # (b) the held-out test: probes that never saw it.
    held = [c for c in used if held_out(f"correction:{c.text.lower()}", CORRECTION_HOLDOUT)]
    held_ids = {c.feedback_id for c in held}
    train_examples: dict[str, list[str]] = {}
    train_oos: list[str] = []
    for c in used:
        if c.feedback_id in held_ids:
            continue
        if c.agent is None:
            train_oos.append(c.text)
        else:
            train_examples.setdefault(c.agent, []).append(c.text)
    test: list[Case] = [Case(c.text, c.agent, "correction", c.feedback_id) for c in held]
    dropped: dict[str, set[str]] = {}
    dropped_oos: set[str] = set()
    if not suite:
        for agent in agents:
            out = [
                e for e in agent.examples if held_out(f"example:{agent.name}:{e}", EXAMPLE_HOLDOUT)
            ]
            out = out[: max(0, len(agent.examples) - MIN_TRAIN_EXAMPLES)]
            dropped[agent.name] = set(out)
            test.extend(Case(e, agent.name, "example") for e in out)
        oos = [t for t in config.out_of_scope_examples if held_out(f"oos:{t}", EXAMPLE_HOLDOUT)]
        dropped_oos = set(oos)
        test.extend(Case(t, None, "example") for t in oos)
    test.extend(suite)
    if dropped or dropped_oos:
        parent_probe = _router(
            catalog,
            _with_examples(agents, {}, dropped),
            _with_out_of_scope(config, [], dropped_oos),
            cache_dir,
            keep=False,
        )
    else:
        parent_probe = parent
    candidate_probe = _router(
        catalog,
        _with_examples(agents, train_examples, dropped),
        _with_out_of_scope(config, train_oos, dropped_oos),
        cache_dir,
        keep=False,
    )
    parent_ok = _verdicts(parent_probe, test)
    candidate_ok = _verdicts(candidate_probe, test)
    overall = paired("held-out test", test, parent_ok, candidate_ok)
    oos_rows = [i for i, c in enumerate(test) if c.expected is None]
    oos_cmp = paired(
        "held-out out-of-scope",
        [test[i] for i in oos_rows],
        [parent_ok[i] for i in oos_rows],
        [candidate_ok[i] for i in oos_rows],
    )

    # (c) the regression sample: recorded good runs.
    regression_cmp = paired(
        "recorded good runs",
        list(regression),
        _verdicts(parent, regression),
        _verdicts(candidate, regression),
    )

    reasons = []
    if targeted_cmp.wins < 1:
        reasons.append("fixes none of the corrected requests")
    if regresses(overall):
        reasons.append(
            f"loses {overall.losses} held-out case(s) for {overall.wins} won "
            f"(p={overall.p_worse:.3f})"
        )
    if regresses(oos_cmp, slack=OUT_OF_SCOPE_SLACK):
        reasons.append(f"loses {oos_cmp.losses} out-of-scope case(s) for {oos_cmp.wins} won")
    if regression_cmp.losses:
        reasons.append(f"{regression_cmp.losses} recorded good run(s) would now route elsewhere")
    gate = {
        "passed": not reasons,
        "why": "; ".join(reasons) or "fixes corrected requests and regresses nothing held out",
        "targeted": targeted_cmp.as_dict(),
        "held_out": overall.as_dict(),
        "held_out_out_of_scope": oos_cmp.as_dict(),
        "regression": regression_cmp.as_dict(),
        "suite_cases": len(suite),
        "cpu_seconds": round(time.process_time() - started, 2),
    }
    evidence = [c.feedback_id for c in used] + [c.run_id for c in used if c.run_id]
    return RoutingProposal(
        parent_version=catalog.version,
        version=candidate.version,
        examples=examples,
        out_of_scope=out_of_scope,
        evidence=evidence,
        gate=gate,
        skipped=skipped,
    )


def comparison_line(comparison: Mapping[str, Any]) -> str:
    """Return a paired comparison in one line (``n``, accuracies, losses and wins)."""
    if not comparison.get("n"):
        return f"{comparison.get('name')}: no cases"
    return (
        f"{comparison['name']}: n={comparison['n']} "
        f"{comparison['parent_accuracy']:.1%} → {comparison['candidate_accuracy']:.1%} "
        f"(−{comparison['losses']} +{comparison['wins']})"
    )


__all__ = ["Correction", "Paired", "RoutingProposal", "comparison_line", "propose_routing"]
