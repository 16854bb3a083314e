"""Nova's router: a calibrated hybrid classifier that abstains rather than guesses.

``Router`` turns a request into a ``RouteDecision`` from the catalog alone (no model, no
ledger): the top-k agents with calibrated probabilities, and either a confident choice
(method ``semantic``) or an abstention, handled as the catalog's ``router.yaml`` says:
ask the user (``clarify``) or hand over to the fallback agent (``fallback``).

``make_route_node`` wraps it for the supervisor graph: it honours an explicit agent from
the run context, asks a model to break ties when one is configured (method ``llm``),
fills the subgraph and appends every decision to the routing ledger.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

import numpy as np
from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field, create_model

from memory.embeddings import encode
from nodes.erp_route import (
    AgentReads,
    PlanSkill,
    erp_plan_decision,
    owning_read_skill,
    planned_read_skill,
)
from nodes.question_route import answer_decision, awaiting_answer, question_decision
from nodes.route_context import (
    ERP_DATA,
    certain_decision,
    dangling_reference_decision,
    data_owner,
    data_owner_scope,
    enabled_decision,
    followup_decision,
    memory_decision,
    memory_readers,
    named_project,
    next_thread_route,
    offered_options,
    only_pro_forms,
    option_decision,
    previous_reply_asks,
)
from nodes.routing.cache import load_or_fit
from nodes.routing.config import RouterConfig, config_path_for, load_router_config
from nodes.routing.model import (
    ROUTER_ALGORITHM,
    FittedRouter,
    LexicalScorer,
    RouterScores,
    Thresholds,
    decide_abstain,
)
from nodes.routing.text import instruction_text
from nodes.text_route import textless_decision
from nova.catalog import AgentSpec, Catalog, RoutableAgent, load_specs
from nova.errors import InvalidRequest
from nova.ledger.routing import RoutingLedger
from nova.models import ModelFactory, ModelUnavailable, StructuredOutputError, structured_output
from nova.projects import load_projects
from nova.settings import get_settings
from nova.state import (
    NovaContext,
    NovaState,
    RouteCandidate,
    RouteDecision,
    RuntimeNode,
    Subgraph,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from memory.store import MemoryStore
    from nova.erp.followup import ErpMention
    from nova.erp.intents.request import Request

log = logging.getLogger(__name__)
_T = TypeVar("_T")

__all__ = [
    "Router",
    "RouterConfig",
    "UnknownAgentError",
    "UnknownRequestedAgentError",
    "make_route_node",
    "nova_router",
]


class UnknownAgentError(ValueError):
    """A caller named an agent that is not in the catalog."""


class UnknownRequestedAgentError(UnknownAgentError, InvalidRequest):
    """The run's context names an agent that is not in the catalog: the request is invalid.

    Nothing failed inside Nova (found by fuzzing the graph's input: it was recorded as a
    node failure with a retry offered); the caller is told which agents exist.
    """


def _plain_name(name: str) -> str:
    words = name.replace("_", " ").split()
    return " ".join(w.upper() if w in {"erp", "vat", "sku"} else w for w in words)


def _gist(description: str, limit: int = 90) -> str:
    first = description.strip().split(". ")[0].split(": ")[0].rstrip(".")
    if len(first) > limit:
        first = first[: limit - 1].rsplit(" ", 1)[0] + "…"
    return first[:1].lower() + first[1:]


def _cleared(p1: float, p2: float, similarity: float, thresholds: Thresholds) -> str:
    """Say which of the fitted bars the pick cleared; a bar the fit set at zero is no bar."""
    bars = [
        ("confidence", p1, thresholds.min_confidence),
        ("margin", p1 - p2, thresholds.min_margin),
        ("similarity", similarity, thresholds.min_similarity),
    ]
    cleared = [f"{name} {value:.2f} ≥ {bar:.2f}" for name, value, bar in bars if bar > 0.005]
    return (
        ", ".join(cleared)
        if cleared
        else f"confidence {p1:.2f}, margin {p1 - p2:.2f} (no fitted bar applies)"
    )


class Router:
    """Routes requests to a catalog's agents; pure: no model, no ledger, no side effects.

    Build one with ``Router.from_catalog(path_or_catalog)``; the fitted classifier is
    cached on disk and refitted automatically when the catalog or router config changes.

    Attributes:
        catalog: The agents routed to.
        config: Router settings from the catalog's ``router.yaml``.
        fitted: The fitted classifier, calibration and thresholds.
        catalog_version: Hash of the catalog's content.
        version: Router algorithm plus the fitted state's key (changes on any refit).

    """

    def __init__(
        self,
        catalog: Catalog[Any],
        config: RouterConfig,
        fitted: FittedRouter,
    ) -> None:
        """Wrap a fitted classifier (use ``from_catalog`` rather than calling this).

        Raises:
            UnknownAgentError: ``config.fallback_agent`` is not in the catalog while the
                abstain action is ``fallback``.

        """
        if config.abstain_action == "fallback" and config.fallback_agent not in catalog:
            raise UnknownAgentError(
                f"router.yaml sets abstain_action: fallback, but the catalog in "
                f"{catalog.directory} has no agent {config.fallback_agent!r}; add that agent "
                "or set fallback_agent to one of: " + ", ".join(catalog.names)
            )
        unknown = [name for name in config.memory_agents if name not in catalog]
        if unknown:
            # Not fatal: a catalog cut down from Nova's (tests, synthetic catalogs) keeps its
            # router.yaml; memory routing then uses the memory agents it does have.
            log.warning(
                "router.yaml lists memory_agents the catalog in %s lacks: %s (ignored)",
                catalog.directory,
                ", ".join(unknown),
            )
        self.catalog = catalog
        self.config = config
        self.fitted = fitted
        self.catalog_version: str = catalog.version
        self.version: str = f"{ROUTER_ALGORITHM}+{fitted.key[:10]}"
        self._agents = fitted.agents
        self._n_agents = len(fitted.agents)
        self._lexical = LexicalScorer(fitted)

    @classmethod
    def from_catalog(
        cls,
        path_or_catalog: Path | str | Catalog[Any],
        *,
        cache_dir: Path | None = None,
        progress: bool = False,
        config: RouterConfig | Path | str | None = None,
    ) -> Router:
        """Fit (or load from cache) a router for a catalog folder or a loaded catalog.

        Args:
            path_or_catalog: A folder of agent YAML files (only ``name``, ``description``
                and ``examples`` are needed) or a loaded ``Catalog``.
            cache_dir: Where fitted routers are cached; default ``<data_dir>/router``.
            progress: Show a progress bar while fitting.
            config: Router settings, or the path of a ``router.yaml``; default is the
                ``router.yaml`` beside the catalog folder, if there is one.

        Raises:
            nova.catalog.CatalogError: the catalog folder has invalid files.
            nodes.routing.config.RouterConfigError: the router config is invalid.

        """
        if isinstance(path_or_catalog, Catalog):
            catalog = path_or_catalog
        else:
            # With the versions ``nova improve`` promoted for this folder (data directory).
            catalog = load_specs(Path(path_or_catalog), RoutableAgent, promoted=True)
        if not isinstance(config, RouterConfig):
            config = load_router_config(
                Path(config) if config is not None else config_path_for(catalog.directory)
            )
            if catalog.out_of_scope:
                config = config.model_copy(
                    update={
                        "out_of_scope_examples": tuple(
                            dict.fromkeys((*config.out_of_scope_examples, *catalog.out_of_scope))
                        )
                    }
                )
        agents: list[RoutableAgent] = [catalog[name] for name in catalog.names]
        fitted, _ = load_or_fit(agents, config, cache_dir=cache_dir, progress=progress)
        return cls(catalog, config, fitted)

    @property
    def thresholds(self) -> Thresholds:
        """The abstain thresholds fitted on the catalog's validation split."""
        return self.fitted.thresholds

    @property
    def agents(self) -> list[str]:
        """The agents this router chooses among, sorted."""
        return list(self._agents)

    def warm_up(self) -> None:
        """Load the router's encoder and run one request, so the next is timed warm."""
        self.route("warm up the encoder and the vectorizer")

    def route(self, text: str) -> RouteDecision:
        """Decide which agent should handle ``text``.

        Raises:
            ValueError: ``text`` is empty.

        """
        return self.route_batch([text])[0]

    def route_batch(self, texts: Sequence[str]) -> list[RouteDecision]:
        """Decide for many requests at once (one batched encoder pass).

        Raises:
            ValueError: a text is empty (its position is named).

        """
        started = time.perf_counter()
        blank = [i for i, text in enumerate(texts) if not text or not text.strip()]
        if blank:
            raise ValueError(
                f"Cannot route an empty request (position {blank[0]}); send the request text"
            )
        if not texts:
            return []
        masked = [instruction_text(text) for text in texts]
        embeddings = encode(masked, batch_size=128, quantized=self.config.quantized)
        scores = self.fitted.score(embeddings, texts, self._lexical)
        elapsed_ms = (time.perf_counter() - started) * 1000 / len(texts)
        return self._decisions(scores, elapsed_ms)

    def clarifying_question(self, candidates: Sequence[str], *, out_of_scope: bool) -> str:
        """Return a question naming the top candidates in plain words."""
        options = [
            f"{_plain_name(name)} ({_gist(self.catalog[name].description)})"
            for name in candidates[:3]
        ]
        listing = (
            options[0] if len(options) == 1 else ", ".join(options[:-1]) + f" or {options[-1]}"
        )
        if out_of_scope:
            return (
                "I'm not sure any of my agents can help with that. The closest are "
                f"{listing}. Did you mean one of those? If so, say which, or rephrase."
            )
        return f"I'm not sure what you need: {listing}? Tell me which, or rephrase."

    def subgraph_of(self, agent: str) -> Subgraph | None:
        """Return the subgraph that runs ``agent`` (``None`` for catalogs without groups)."""
        spec = self.catalog[agent]
        return spec.subgraph if isinstance(spec, AgentSpec) else None

    def _decisions(self, scores: RouterScores, latency_ms: float) -> list[RouteDecision]:
        thresholds = self.fitted.thresholds
        top, out_of_scope, ambiguous = decide_abstain(
            scores.probabilities, scores.similarity, self._n_agents, thresholds
        )
        agent_p = scores.probabilities[:, : self._n_agents]
        order = np.argsort(-agent_p, axis=1)[:, : self.config.top_k]
        decisions = []
        for row in range(len(top)):
            candidates = [
                RouteCandidate(agent=self._agents[j], score=round(float(agent_p[row, j]), 4))
                for j in order[row]
            ]
            p1 = float(agent_p[row, order[row, 0]])
            p2 = float(agent_p[row, order[row, 1]]) if order.shape[1] > 1 else 0.0
            oos_p = (
                float(scores.probabilities[row, self._n_agents])
                if self.fitted.has_out_of_scope
                else 0.0
            )
            similarity = float(scores.similarity[row])
            nearest = int(scores.nearest[row])
            nearest_note = (
                f"nearest example {similarity:.2f}: {self.fitted.example_texts[nearest]!r} "
                f"({self.fitted.example_agents[nearest]})"
            )
            best = self._agents[int(top[row])]
            decision = RouteDecision(
                id=uuid.uuid4().hex,
                agent=best,
                subgraph=None,
                confidence=round(p1, 4),
                margin=round(p1 - p2, 4),
                candidates=candidates,
                method="semantic",
                reason="",
                catalog_version=self.catalog_version,
                router_version=self.version,
                latency_ms=round(latency_ms, 3),
                similarity=round(similarity, 4),
            )
            if not (out_of_scope[row] or ambiguous[row]):
                decision["subgraph"] = self.subgraph_of(best)
                decision["reason"] = f"{best}: {_cleared(p1, p2, similarity, thresholds)}; " + (
                    nearest_note
                )
            else:
                why = self._abstain_reason(
                    p1, p2, oos_p, similarity, thresholds, candidates, bool(out_of_scope[row])
                )
                self._abstain(decision, why + "; " + nearest_note, bool(out_of_scope[row]))
            decisions.append(decision)
        return decisions

    @staticmethod
    def _abstain_reason(
        p1: float,
        p2: float,
        oos_p: float,
        similarity: float,
        thresholds: Thresholds,
        candidates: Sequence[RouteCandidate],
        out_of_scope: bool,
    ) -> str:
        if not out_of_scope:
            return (
                f"ambiguous: margin {p1 - p2:.2f} < {thresholds.min_margin:.2f} between "
                f"{candidates[0]['agent']} ({p1:.2f}) and {candidates[1]['agent']} ({p2:.2f})"
            )
        causes = []
        if oos_p > p1:
            causes.append(f"out-of-scope probability {oos_p:.2f} > best agent {p1:.2f}")
        if p1 < thresholds.min_confidence:
            causes.append(f"confidence {p1:.2f} < {thresholds.min_confidence:.2f}")
        if similarity < thresholds.min_similarity:
            causes.append(f"similarity {similarity:.2f} < {thresholds.min_similarity:.2f}")
        return "out of scope: " + ", ".join(causes)

    def _abstain(self, decision: RouteDecision, why: str, out_of_scope: bool) -> None:
        """Apply the configured abstain action to ``decision`` in place."""
        if self.config.abstain_action == "fallback":
            fallback = self.config.fallback_agent
            decision["agent"] = fallback
            decision["subgraph"] = self.subgraph_of(fallback)
            decision["method"] = "fallback"
            decision["reason"] = f"{why}; handed to {fallback}"
        else:
            decision["agent"] = None
            decision["subgraph"] = None
            decision["method"] = "clarify"
            decision["question"] = self.clarifying_question(
                [c["agent"] for c in decision["candidates"]], out_of_scope=out_of_scope
            )
            decision["reason"] = f"{why}; asking the user"


# --- the default router --------------------------------------------------------------------

_router_lock = threading.Lock()
_routers: dict[tuple[Path, str], Router] = {}


def nova_router(*, progress: bool = False, catalog: Catalog[AgentSpec] | None = None) -> Router:
    """Return the router for Nova's configured catalog, fitted or loaded once per process.

    Args:
        progress: Show a progress bar if the catalog has to be fitted (first use after
            a catalog change).
        catalog: The configured catalog, when the caller has just read it (each read
            checks every agent file for changes); read here otherwise.

    """
    from nova.catalog import default_catalog

    catalog = catalog or default_catalog()
    key = (catalog.directory, catalog.version)
    # One fit at a time: graph threads asking at once must not all fit the same catalog.
    with _router_lock:
        if key not in _routers:
            _routers[key] = Router.from_catalog(catalog, progress=progress)
        return _routers[key]


# --- the graph node ------------------------------------------------------------------------


def _choice_schema(candidates: Sequence[str]) -> type[BaseModel]:
    options = (*candidates, "none")
    return create_model(
        "RouteChoice",
        __doc__="The agent that should handle the user's request.",
        agent=(
            cast(Any, Literal)[options],  # the candidates are only known at run time
            Field(description="Name of the best-fitting agent, or 'none' if none fits."),
        ),
        reason=(str, Field(default="", description="One short sentence saying why.")),
    )


def _tie_break_prompt(
    request: str, candidates: Sequence[str], catalog: Catalog[AgentSpec]
) -> list[SystemMessage | HumanMessage]:
    listing = "\n".join(f"- {name}: {catalog[name].description.strip()}" for name in candidates)
    return [
        SystemMessage(
            "You route a user's request to one of Nova's agents. Choose the single agent "
            "that should handle the request, from these candidates only:\n"
            f"{listing}\n"
            "If none of them can handle it, choose 'none'. Answer with a RouteChoice."
        ),
        HumanMessage(request),
    ]


def _thread_id() -> str | None:
    from langgraph.config import get_config

    try:
        configurable = get_config().get("configurable") or {}
    except RuntimeError:  # called outside a graph run (tests, CLI)
        return None
    thread = configurable.get("thread_id")
    return str(thread) if thread is not None else None


def decide(
    request: str,
    *,
    router: Router | None,
    catalog: Catalog[AgentSpec],
    model_factory: ModelFactory | None = None,
    run_model: str | None = None,
    agent: str | None = None,
) -> RouteDecision:
    """Make the full routing decision for one request (explicit agent, classifier, model).

    Args:
        request: The request text.
        router: The classifier (not needed, and not fitted, when ``agent`` is given).
        catalog: The agents the graph can run (subgraphs come from here).
        model_factory: How to get the tie-break model; ``None`` never asks one.
        run_model: Model override from the run context, passed to the factory.
        agent: An agent named by the caller: skips the classifier (method ``explicit``).

    Raises:
        UnknownAgentError: ``agent`` (or the router's choice) is not in ``catalog``.

    """
    started = time.perf_counter()
    if agent is not None:
        if agent not in catalog:
            raise UnknownRequestedAgentError(
                f"The run context names agent {agent!r}, which is not in the catalog; "
                f"use one of: {', '.join(catalog.names)} (see `nova agents list`)"
            )
        return certain_decision(
            agent,
            catalog,
            method="explicit",
            reason=f"the caller named {agent}; routing skipped",
            catalog_version=catalog.version,
            router_version=router.version if router is not None else ROUTER_ALGORITHM,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
        )
    if router is None:
        raise ValueError("decide() needs a router unless the caller names the agent")
    decision = router.route(request)
    abstained = decision["method"] in ("clarify", "fallback")
    if abstained and model_factory is not None and router.config.use_model:
        _tie_break(decision, request, router, catalog, model_factory, run_model)
    chosen = decision["agent"]
    if chosen is not None:
        if chosen not in catalog:
            raise UnknownAgentError(
                f"The router chose {chosen!r}, which the graph's catalog ({catalog.directory}) "
                "does not have; build the router and the graph from the same catalog"
            )
        decision["subgraph"] = catalog[chosen].subgraph
    else:
        decision["subgraph"] = None
    decision["latency_ms"] = round((time.perf_counter() - started) * 1000, 3)
    return decision


def _tie_break(
    decision: RouteDecision,
    request: str,
    router: Router,
    catalog: Catalog[AgentSpec],
    model_factory: ModelFactory,
    run_model: str | None,
) -> None:
    fallback = router.config.fallback_agent
    if fallback not in catalog:
        log.warning("No tie-break model: fallback agent %r is not in the catalog", fallback)
        return
    model = model_factory(catalog[fallback], run_model)
    if isinstance(model, ModelUnavailable):
        return  # no model configured: the classifier's abstention stands
    candidates = [c["agent"] for c in decision["candidates"] if c["agent"] in catalog]
    schema = _choice_schema(candidates)
    try:
        # As the endpoint supports it (llama.cpp: a tool without tool_choice; OpenAI: schema).
        structured = structured_output(model, schema)
        choice: BaseModel | None = structured.invoke(
            _tie_break_prompt(request, candidates, catalog)
        )
    except StructuredOutputError as error:
        # The model answered, but not with a choice: nothing is guessed.
        log.warning("Router tie-break model gave no usable choice: %s", error)
        choice = None
    except Exception as error:
        # A failing model must not stop routing: the abstention stands, and says why.
        log.warning("Router tie-break model failed (%s: %s)", type(error).__name__, error)
        decision["reason"] += f"; tie-break model failed ({type(error).__name__}: {error})"
        return
    picked = getattr(choice, "agent", None)
    why = getattr(choice, "reason", "") or ""
    decision["method"] = "llm"
    if picked in candidates:
        decision["agent"] = picked
        decision.pop("question", None)
        decision["reason"] += f"; the model chose {picked}" + (f": {why}" if why else "")
        return
    decision["reason"] += "; the model found no fitting candidate" + (f": {why}" if why else "")
    if router.config.abstain_action == "fallback":
        decision["agent"] = fallback
    else:
        decision["agent"] = None
        decision["question"] = decision.get("question") or router.clarifying_question(
            candidates, out_of_scope=True
        )


def _earlier_turns(messages: Sequence[Any]) -> bool:
    return sum(1 for m in messages if isinstance(m, HumanMessage)) >= 2


def _record_clarify_choice(
    request: str, thread_id: str, project: str | None, user: str | None, ledger: RoutingLedger
) -> None:
    """Record an answer to the router's question that picks a candidate as a correction."""
    from nova.improve.clarify import record_clarify_choice

    try:
        record_clarify_choice(
            request, thread_id=thread_id, project=project, user=user, routing=ledger
        )
    except Exception:
        # Losing the correction must not lose the turn; it is logged with its cause.
        log.exception("Could not record the clarifying answer in thread %s", thread_id)


def _against_erp(check: Callable[[Session], _T], about: str, unavailable: _T) -> _T:
    """Run ``check`` on a read session of the ERP database; ``unavailable`` without one."""
    from sqlalchemy.exc import SQLAlchemyError

    from nova.erp.db import get_erp_database

    try:
        with get_erp_database().read_session() as session:
            return check(session)
    except SQLAlchemyError as error:
        log.warning("Could not check %r against the ERP database: %s", about, error)
        return unavailable


def is_erp_name(word: str) -> bool:
    """Whether ``word`` names an ERP customer or supplier (``False`` without an ERP)."""
    from nova.erp import models as m
    from nova.erp.skills.common import name_index

    def named(session: Session) -> bool:
        return any(name_index(session, model).lookup(word) for model in (m.Customer, m.Supplier))

    return _against_erp(named, word, False)


def _erp_mention(text: str) -> ErpMention:
    from nova.erp.followup import erp_mention

    # Without the ERP database the request cannot be checked: keep the ERP route.
    return _against_erp(lambda session: erp_mention(text, session), text, "entity")


def _parsed(text: str, session: Session) -> Request | None:
    """Return the ERP reader's parse of ``text`` (``None``: a date or period it cannot read)."""
    from nova.erp.intents import NotForFastPath, Unclear, parse_request

    try:
        return parse_request(text, session)
    except (NotForFastPath, Unclear):
        return None


def _names_only_erp_records(text: str) -> bool:
    """Whether ``text`` names ERP records and nothing else but function words and pro-forms."""
    from nova.erp.intents import GLOBAL_WORDS

    def names_only(session: Session) -> bool:
        request = _parsed(text, session)
        return (
            request is not None
            and bool(request.kinds())
            and only_pro_forms(set(request.residual) - GLOBAL_WORDS)
        )

    return _against_erp(names_only, text, False)


def _erp_plan_skill(text: str) -> str | None:
    """Return the read skill whose agent owns what ``text`` asks (``None``: not read)."""
    # Without the ERP database nothing is read: the classifier's decision stands.
    return _against_erp(lambda session: owning_read_skill(text, session), text, None)


def erp_reads(text: str) -> bool:
    """Whether the ERP fast path answers ``text`` or asks which record it means."""
    from nova.erp.intents import Clarify, Plan, plan_request
    from nova.erp.skills import READ_SKILLS

    def reads(session: Session) -> bool:
        return isinstance(plan_request(text, session, READ_SKILLS), Plan | Clarify)

    return _against_erp(reads, text, False)


def erp_dated(text: str) -> bool:
    """Whether ``text`` names a period or date the ERP's records are dated by."""

    def dated(session: Session) -> bool:
        request = _parsed(text, session)
        return request is not None and (
            request.period is not None or request.due_period is not None
        )

    return _against_erp(dated, text, False)


def _has_model(
    agent: str | None,
    catalog: Catalog[AgentSpec],
    model_factory: ModelFactory | None,
    run_model: str | None,
) -> bool:
    """Whether ``agent`` has a language model for this run (``model_factory`` gives one)."""
    if agent is None or agent not in catalog or model_factory is None:
        return False
    return not isinstance(model_factory(catalog[agent], run_model), ModelUnavailable)


def _calculates(text: str) -> bool:
    """Whether the calculator's fast path computes ``text`` from the figures it states."""
    from nova.calc import calculate

    return calculate(text) is not None


def _erp_agent_reads(text: str, tools: Collection[str]) -> bool:
    """Whether the ERP fast path answers ``text`` with ``tools`` (one agent's skills)."""
    return (
        _against_erp(lambda session: planned_read_skill(text, session, tools), text, None)
        is not None
    )


def _asks_about_erp_record(turns: Sequence[str]) -> bool:
    """Whether the last of ``turns`` asks about a field of the one ERP record named before."""
    from nova.erp.followup import asks_about_record_shown

    return _against_erp(lambda session: asks_about_record_shown(turns, session), turns[-1], False)


def make_route_node(
    *,
    router: Callable[[], Router] | None = None,
    ledger: RoutingLedger | None = None,
    model_factory: ModelFactory | None = None,
    catalog: Catalog[AgentSpec] | None = None,
    erp_mention: Callable[[str], ErpMention] | None = None,
    erp_plan: PlanSkill | None = None,
    erp_agent_reads: AgentReads | None = None,
    memory: Callable[[], MemoryStore] | None = None,
) -> RuntimeNode[NovaState, dict[str, Any]]:
    """Build the supervisor's ``route`` node.

    The node routes ``state["request"]`` (or takes ``runtime.context.agent`` as given,
    method ``explicit``). An elliptical follow-up keeps the thread's previous route
    (method ``followup``, ``nodes.route_context``); otherwise the classifier decides, and
    the tie-break model is asked when the classifier abstains and a model is available.
    A question that a strong recalled memory answers better than the classifier's pick
    (or abstention) goes to an agent that answers from memory (method ``memory``,
    ``nodes.route_context.memory_decision``). The node fills
    ``subgraph`` from the chosen agent's catalog entry (``None`` for clarify, with
    ``decision["question"]`` set), appends the decision to the routing ledger with the
    thread id and project, and returns ``{"route": decision, "thread_route": topic}``
    (the thread's topic, checkpointed with the thread, for the next turn).

    A run that names no project, on a new thread, routed to an ERP agent, is scoped to the
    project that owns the ERP data (``nodes.route_context.data_owner_scope``): the node
    then also returns that ``project`` (the thread's later turns stay there) and the
    memories recalled in it, and ``decision["scope"]`` says why.

    Args:
        router: Returns the router to use (called on first use); default is the router
            fitted on ``catalog`` (or on Nova's configured catalog).
        ledger: The routing ledger; default is ``RoutingLedger()`` on the settings' URL.
        model_factory: How to get the tie-break model (the fallback agent's model, with
            the run's model override); ``ModelUnavailable`` means "no model".
        catalog: The agents the graph runs; default is Nova's configured catalog.
        erp_mention: What a request names of the ERP (an entity, only ERP words, or
            nothing; asked only when a strong memory competes with an ERP route); default:
            ``nova.erp.followup.erp_mention`` against the configured ERP database.
        erp_plan: The ERP fast path's reading of a request (the read skill it would answer
            with, or ``None``), asked when the classifier does not pick an ERP agent in a
            project that holds the ERP data (``nodes.erp_route``); default: the fast path's
            reader against the configured ERP database.
        erp_agent_reads: Whether the fast path answers a request with one ERP agent's skills,
            asked when the classifier picks an ERP agent that may not (``nodes.erp_route``);
            default: the fast path's reader against the configured ERP database, when
            ``erp_plan`` is not given either.
        memory: Returns the memory store, to recall in the project a turn is scoped to;
            the store configured by settings by default.

    Raises:
        UnknownAgentError: (from the node) the run context names an unknown agent.
        sqlalchemy.exc.SQLAlchemyError: (from the node) the ledger write failed; it is
            logged and re-raised, never swallowed.

    """
    state_lock = threading.Lock()
    resolved: dict[str, Any] = {}

    def get_catalog() -> Catalog[AgentSpec]:
        if catalog is not None:
            return catalog
        from nova.catalog import default_catalog

        return default_catalog()

    def get_router() -> Router:
        if router is not None:
            return router()
        if catalog is None:
            return nova_router()
        with state_lock:
            if "router" not in resolved:
                resolved["router"] = Router.from_catalog(catalog)
            return cast(Router, resolved["router"])

    def get_ledger() -> RoutingLedger:
        if ledger is not None:
            return ledger
        # The graph is built once per process; the ledger follows the settings in force (a
        # changed data directory or ledger URL must not keep writing to the old one).
        key = f"ledger:{get_settings().resolved_ledger_url}"
        with state_lock:
            if key not in resolved:
                resolved[key] = RoutingLedger()
            return cast(RoutingLedger, resolved[key])

    def route(state: NovaState, runtime: Runtime[NovaContext]) -> dict[str, Any]:
        context = runtime.context or NovaContext()
        # The instruction, not the document it carries, decides the route (intake splits them).
        request = state.get("instruction") or state.get("request") or ""
        agents = get_catalog()
        previous = state.get("thread_route")
        messages = state.get("messages") or []
        memories = state.get("memories") or []
        # An explicit agent needs no classifier: do not fit one just to skip it.
        active_router = get_router() if context.agent is None else None
        awaiting = awaiting_answer(messages)
        decision = (
            answer_decision(
                request,
                previous,
                awaiting,
                agents,
                catalog_version=active_router.catalog_version,
                router_version=active_router.version,
            )
            if active_router is not None and awaiting is not None
            else None
        )
        topic_text = request
        offered = offered_options(messages)
        if decision is None and active_router is not None and offered:
            picked = option_decision(
                request,
                previous,
                offered,
                agents,
                catalog_version=active_router.catalog_version,
                router_version=active_router.version,
            )
            if picked is not None:
                # The topic records the option picked, so "20071" re-reads as its name.
                decision, topic_text = picked
        decision = decision or (
            followup_decision(
                active_router,
                request,
                previous,
                agents,
                answers_question=previous_reply_asks(messages),
                names_only=_names_only_erp_records,
                about_record=(
                    _asks_about_erp_record
                    if previous is not None and previous["subgraph"] == "erp"
                    else None
                ),
            )
            if active_router is not None
            else None
        )
        if decision is None:
            decision = decide(
                request,
                router=active_router,
                catalog=agents,
                model_factory=model_factory,
                run_model=context.model,
                agent=context.agent,
            )
        thread_id = _thread_id()
        earlier_turns = _earlier_turns(messages)
        settings = get_settings()
        projects = load_projects()
        turn_project = state.get("project") or settings.default_project
        if thread_id and previous is None and earlier_turns:
            # A thread without a topic after earlier turns: its last turn may have been the
            # router's question (a clarify leaves no topic), and this turn the answer.
            _record_clarify_choice(
                request, thread_id, state.get("project"), context.user_id, get_ledger()
            )
        if active_router is not None:
            config = active_router.config
            readers = memory_readers(agents, config.memory_agents, config.fallback_agent)
            project = projects.get(turn_project)
            allows = project.allows_agent
            if decision["method"] in ("semantic", "clarify", "fallback"):
                # Only the classifier's own decision is weighed against memory (not a model's
                # tie-break, a follow-up or an agent the caller named).
                decision = enabled_decision(decision, agents, allows) or decision
                # A new thread that names no project may be an ERP lookup the classifier
                # misses ("welche lieferanten haben wir in polen?"): the reader decides, with
                # the agents of the project that owns the ERP data (data_owner_scope then
                # scopes the thread there).
                erp_owner = (
                    data_owner(projects, ERP_DATA, settings.default_project)
                    if context.project is None
                    and not earlier_turns
                    and turn_project == settings.default_project
                    and not project.holds("erp")
                    else None
                )
                if project.holds("erp") or erp_owner is not None:
                    decision = (
                        erp_plan_decision(
                            decision,
                            request,
                            agents,
                            plan_skill=erp_plan or _erp_plan_skill,
                            allows=(
                                projects.get(erp_owner).allows_agent
                                if erp_owner is not None
                                else allows
                            ),
                            agent_reads=erp_agent_reads
                            or (_erp_agent_reads if erp_plan is None else None),
                        )
                        or decision
                    )
                decision = (
                    textless_decision(
                        decision,
                        # The whole request: the instruction alone has the carried text cut out.
                        state.get("request") or request,
                        memories,
                        agents,
                        readers=readers,
                        allows=allows,
                        erp_data=project.holds("erp"),
                    )
                    or decision
                )
                whole = state.get("request") or request
                moved = memory_decision(
                    decision,
                    request,
                    memories,
                    agents,
                    # The carried text was cut out of ``request``; quotes left in it are
                    # checked there.
                    carries_text=whole != request,
                    fallback_agent=config.fallback_agent,
                    memory_agents=config.memory_agents,
                    erp_mention=erp_mention or _erp_mention,
                    erp_data=project.holds("erp"),
                    allows=allows,
                    # With a model the ERP agent answers what its fast path cannot read (its
                    # tools query the data); without one, memory is what can answer.
                    erp_reads=(
                        None
                        if _has_model(decision["agent"], agents, model_factory, context.model)
                        else erp_reads
                        if erp_plan is None
                        else (lambda t: erp_plan(t) is not None)
                    ),
                    calculates=_calculates,
                    erp_dated=erp_dated,
                )
                decision = moved or decision
                decision = (
                    dangling_reference_decision(
                        decision,
                        request,
                        earlier_turns=earlier_turns,
                        fallback_agent=config.fallback_agent,
                    )
                    or decision
                )
            # A question is never the request to run a pipeline that acts, however the
            # classifier or the thread's topic read it.
            questioned = question_decision(
                decision,
                request,
                memories,
                agents,
                readers=readers,
                fallback_agent=config.fallback_agent,
                allows=allows,
            )
            decision = questioned or decision
        update: dict[str, Any] = {}
        owner = data_owner_scope(
            decision,
            agents,
            projects,
            project=turn_project,
            default_project=settings.default_project,
            named_project=context.project,
            earlier_turns=earlier_turns,
        )
        if owner is not None:
            from memory.store import default_memory_store
            from nodes.recall import recall_memories

            decision["scope"] = (
                f"{owner}, because no project was named and {owner} owns the ERP data that "
                f"{decision['agent']} reads"
            )
            decision["reason"] += f"; scoped to {decision['scope']}"
            # What recall found in the default project is not this project's memory.
            update = {
                "project": owner,
                "memories": recall_memories(
                    memory or default_memory_store,
                    owner,
                    state.get("request") or "",
                    owner=context.user_id,
                ),
            }
        if (
            owner is None
            and context.project is None
            and not earlier_turns
            and turn_project != settings.default_project
        ):
            # intake scoped this new thread by the project its request names: say so.
            named = named_project(
                request,
                projects,
                default_project=settings.default_project,
                is_erp_name=is_erp_name,
                erp_reads=erp_reads,
            )
            if named is not None and named[0] == turn_project:
                decision["scope"] = f"{turn_project}, because the request names it ({named[1]!r})"
                decision["reason"] += f"; scoped to {decision['scope']}"
        project_id = update.get("project") or state.get("project")
        try:
            get_ledger().append(
                decision,
                request=request,
                thread_id=thread_id,
                project=project_id,
                thresholds=active_router.thresholds.as_dict() if active_router else None,
            )
        except Exception:
            log.exception("Could not append routing decision %s to the ledger", decision["id"])
            raise
        if decision["method"] in ("clarify", "fallback"):
            # An abstention is a failure to route: it goes to the failure ledger too.
            from nova.tracing.failures import record_failure

            record_failure(
                "route_abstain" if decision["method"] == "clarify" else "route_fallback",
                error_type="RouterAbstained",
                message=f"{decision['method']}: {decision['reason']}",
                node="route",
                agent=decision["agent"],
                project=project_id,
                details={
                    "route_id": decision["id"],
                    "confidence": decision["confidence"],
                    "margin": decision["margin"],
                    "candidates": decision["candidates"],
                },
            )
        return {
            **update,
            "route": decision,
            "thread_route": next_thread_route(decision, topic_text, previous),
        }

    return route
