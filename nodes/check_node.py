"""The ``check`` node: assumption checks on every routed turn, after the agent has answered.

It runs the always-on checks (``route_fits_entities``) and the checks the routed agent
declares in the catalog, keeps verdicts that an earlier node of the subgraph already
computed (``state["checks"]``, e.g. the translation subgraph's), records every failure in
the failure ledger, and tells the user: the final answer gets a short note listing failed
checks and the failures the turn survived (model fallbacks, tool errors, timeouts), each
with its ledger id. The verdicts are also attached to the answer as
``additional_kwargs["nova_checks"]`` and written to ``state["checks"]``.

Contract: reads ``messages``, ``route``, ``request``, ``project``, ``agent_run`` and
``checks``; writes ``checks`` and replaces the turn's final ``AIMessage`` (same id).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.runnables import RunnableConfig

from nodes.checks import (
    CHECKS,
    CheckContext,
    CheckOutcome,
    CheckRegistry,
    final_answer,
    fitting_agents,
    route_fits,
    turn_messages,
)
from nodes.consistency import model_back_translator
from nodes.corrections import RecallCorrector
from nova.catalog import AgentSpec, Catalog
from nova.ledger.failures import FailureLedger
from nova.messages import message_text
from nova.state import AgentLoopState, ConfigNode, current_run_user
from nova.tracing.blame.corrections import Correction
from nova.tracing.failures import mark_progress, record_failure

ANSWERED_OUTCOMES = frozenset({"answered", "fast_path"})
"""Agent outcomes whose answer is checked; other outcomes (no model, step limit, a
clarifying question) only get the route checks."""


def _outcome(check: Mapping[str, Any]) -> CheckOutcome:
    passed = bool(check.get("passed"))
    outcome = CheckOutcome(
        name=str(check.get("name", "?")),
        passed=passed,
        detail=str(check.get("detail", "")),
        status=check.get("status") or ("passed" if passed else "failed"),
        judges=check.get("judges") or "agent",
    )
    for key in ("target", "failure_id"):
        if check.get(key):
            outcome[key] = str(check[key])  # type: ignore[literal-required,unused-ignore]
    return outcome


def survived_failures(messages: list[BaseMessage]) -> list[dict[str, Any]]:
    """Return the failure notes this turn's messages carry (fallbacks, tool errors, timeouts)."""
    notes: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, AIMessage):
            notes.extend(message.additional_kwargs.get("nova_failures") or [])
        elif isinstance(message, ToolMessage) and message.additional_kwargs.get("nova_failure"):
            notes.append(message.additional_kwargs["nova_failure"])
    return notes


def _note_lines(failed: list[CheckOutcome], survived: list[dict[str, Any]]) -> str:
    lines = []
    for check in failed:
        ref = f" [failure {check['failure_id'][:12]}]" if check.get("failure_id") else ""
        lines.append(f"- check {check['name']} failed: {check['detail']}{ref}")
    for note in survived:
        ref = f" [failure {str(note['id'])[:12]}]" if note.get("id") else ""
        lines.append(f"- {note.get('text', 'a step failed')}{ref}")
    return "⚠ Nova flagged this answer:\n" + "\n".join(lines)


def make_check_node(
    catalog: Catalog[AgentSpec],
    *,
    registry: CheckRegistry | None = None,
    ledger: FailureLedger | None = None,
    model_factory: Any = None,
) -> ConfigNode[AgentLoopState, dict[str, object]]:
    """Build the ``check`` node (see the module docstring for its contract).

    Args:
        catalog: The agents (their ``checks:`` and tools).
        registry: Checks by name; Nova's ``CHECKS`` by default.
        ledger: Failure ledger; the configured one by default.
        model_factory: How checks that use a model (``back_translation``) get one; such
            checks run only when a model is configured for the agent.

    """
    checks = registry or CHECKS

    # Annotated with the subgraph state: LangGraph reads a node's input schema from this
    # annotation, and with NovaState the node would never see the upstream ``checks``.
    def check(state: AgentLoopState, config: RunnableConfig) -> dict[str, object]:
        mark_progress(config)
        route = state.get("route") or None
        name = route.get("agent") if route else None
        spec = catalog[name] if name and name in catalog else None
        messages = list(state.get("messages") or [])
        turn = turn_messages(messages)
        answer = final_answer(messages)
        context = CheckContext(
            request=state.get("request") or (message_text(turn[0]) if turn else ""),
            answer=message_text(answer),
            agent=spec,
            route=route,
            project=state.get("project"),
            messages=turn,
            catalog=catalog,
            user=current_run_user(),
            memories=list(state.get("memories") or []),
            thread=messages,
            back_translate=(
                model_back_translator(spec, model_factory)
                if model_factory is not None and spec is not None
                else None
            ),
        )
        upstream = [_outcome(c) for c in (state.get("checks") or []) if isinstance(c, Mapping)]
        names = checks.for_agent(spec.checks if spec else ())
        agent_run: Mapping[str, Any] = state.get("agent_run") or {}
        outcome = agent_run.get("outcome")
        if outcome is not None and outcome not in ANSWERED_OUTCOMES:
            names = [n for n in names if n in checks and checks[n].judges == "route"]
        done = {c["name"] for c in upstream}
        results = upstream + checks.run([n for n in names if n not in done], context)

        reported = {
            c.get("name")
            for c in (answer.additional_kwargs.get("nova_checks") or [] if answer else [])
            if isinstance(c, Mapping) and not c.get("passed")
        }
        new_failures: list[CheckOutcome] = []
        for result in results:
            if result["passed"]:
                continue
            record = record_failure(
                "check_failed",
                ledger=ledger,
                config=config,
                error_type="CheckFailed",
                message=f"{result['name']}: {result['detail']}",
                node=result["judges"],
                agent=spec.name if spec else None,
                agent_version=spec.version_label if spec else None,
                project=state.get("project"),
                details={
                    "check": result["name"],
                    "status": result["status"],
                    "checked_by": "check",
                },
            )
            if record is not None:
                result["failure_id"] = record.id
            if result["name"] not in reported:
                new_failures.append(result)

        update: dict[str, object] = {"checks": results}
        if answer is not None:
            survived = survived_failures(turn)
            if route and route.get("method") == "fallback":
                survived.insert(
                    0,
                    {
                        "id": None,
                        "kind": "route_fallback",
                        "text": "the router was not sure where this belongs "
                        f"({route.get('reason')}); the fallback agent {name} answered",
                    },
                )
            content = answer.content
            if (new_failures or survived) and isinstance(content, str):
                content = f"{content}\n\n{_note_lines(new_failures, survived)}"
            kwargs = {**answer.additional_kwargs, "nova_checks": results}
            if survived:
                kwargs["nova_failures"] = survived
            update["messages"] = [
                answer.model_copy(update={"content": content, "additional_kwargs": kwargs})
            ]
        return update

    return check


class RouteCorrector:
    """Blame corrections from ``route_fits_entities``: the route the request's documents call for.

    For a ``route`` step whose agent has no tool for the documents the request names, it
    proposes the best fitting agent (``nodes.checks.fitting_agents``) as the corrected
    route, for ``nova.tracing.blame.attribution.blame``.
    """

    def __init__(self, catalog: Catalog[AgentSpec]) -> None:
        self.catalog = catalog

    def __call__(self, step: Any, run: Any) -> Iterator[Correction]:
        """Yield a corrected route when the step is a route that does not fit the request."""
        route = step.writes.get("route") if step.node == "route" else None
        if not isinstance(route, Mapping) or not route.get("agent"):
            return
        request = str(step.before.values.get("request") or "")
        candidates = [c["agent"] for c in route.get("candidates") or []]
        current = self.catalog[route["agent"]] if route["agent"] in self.catalog else None
        if current is not None and route_fits(request, current) is not False:
            return
        fits = fitting_agents(request, self.catalog, candidates)
        if not fits or route["agent"] in fits:
            return
        agent = self.catalog[fits[0]]
        corrected = {
            **route,
            "agent": agent.name,
            "subgraph": agent.subgraph,
            "reason": f"corrected by route_fits_entities (was {route['agent']})",
        }
        yield Correction("check", {"route": corrected}, f"route_fits_entities: {agent.name}")


class ArgumentCorrector:
    """Blame corrections from ``tool_args_consistent``: the tool call with the user's document.

    For an ``agent`` step whose tool call names a document of a kind the user named in the
    thread, but not one they named, it proposes the same call with the document the user
    named (when they named exactly one of that kind).
    """

    def __init__(self, parties: Callable[[str], Mapping[str, set[str]]] | None = None) -> None:
        """Find the parties a text names with ``parties`` (default: the ERP database's)."""
        self.parties = parties or erp_parties

    def __call__(self, step: Any, run: Any) -> Iterator[Correction]:
        """Yield the step's tool calls with the user's document numbers put back."""
        from langchain_core.messages import HumanMessage

        from nodes.consistency import DOCUMENT_ARGS, documents_in
        from nova.erp.resolve import canonical_number

        if step.node != "agent":
            return
        written = step.writes.get("messages")
        messages = written if isinstance(written, list) else [written]
        calls = [m for m in messages if isinstance(m, AIMessage) and m.tool_calls]
        if not calls:
            return
        before = list(step.before.values.get("messages") or [])
        said = "\n".join(message_text(m) for m in before if isinstance(m, HumanMessage))
        named: dict[str, set[str]] = {}
        for doc in documents_in(said):
            spelt = canonical_number(doc.kind, doc.text)
            named.setdefault(doc.kind, set()).add(spelt or doc.text)
        parties: Mapping[str, set[str]] | None = None
        changed = False
        fixed: list[BaseMessage] = []
        for message in messages:
            if not (isinstance(message, AIMessage) and message.tool_calls):
                fixed.append(message)
                continue
            new_calls = []
            for call in message.tool_calls:
                args = dict(call["args"])
                for arg, kind in DOCUMENT_ARGS.items():
                    value = args.get(arg)
                    options = named.get(kind, set())
                    if not isinstance(value, str) or len(options) != 1:
                        continue
                    docs = [d for d in documents_in(value) if d.kind == kind]
                    wanted = next(iter(options))
                    if docs and all(d.key != documents_in(wanted)[0].key for d in docs):
                        args[arg] = wanted
                        changed = True
                for arg in PARTY_ARGS & set(args):
                    value = args[arg]
                    if not isinstance(value, str) or documents_in(value):
                        continue
                    if parties is None:
                        parties = self.parties(said)
                    options = parties.get(arg, set())
                    # Only a party the user named, and only one of its kind: never a guess.
                    if len(options) == 1 and value.strip() not in options:
                        number = next(iter(options))
                        if value.strip().isdigit() or not _same_party(value, number, arg):
                            args[arg] = number
                            changed = True
                new_calls.append({**call, "args": args})
            fixed.append(message.model_copy(update={"tool_calls": new_calls, "id": None}))
        if changed:
            yield Correction(
                "check", {"messages": fixed}, "tool_args_consistent: the user's document or party"
            )


PARTY_ARGS = frozenset({"customer", "supplier"})
"""Tool arguments that name a business party (by name or number)."""


def erp_parties(text: str) -> dict[str, set[str]]:
    """Return the numbers of the customers and suppliers ``text`` names unambiguously."""
    from nova.erp import models as m
    from nova.erp.db import get_erp_database
    from nova.erp.skills.common import name_index

    found: dict[str, set[str]] = {}
    try:
        with get_erp_database().read_session() as session:
            for arg, model in (("customer", m.Customer), ("supplier", m.Supplier)):
                for mention in name_index(session, model).find_in_text(text):
                    if mention.resolved is not None:
                        found.setdefault(arg, set()).add(mention.resolved.number)
    except Exception:  # no ERP database: no party to put back
        return {}
    return found


def _same_party(value: str, number: str, arg: str) -> bool:
    from nova.erp import models as m
    from nova.erp.db import get_erp_database
    from nova.erp.skills.common import name_index

    model = m.Customer if arg == "customer" else m.Supplier
    with get_erp_database().read_session() as session:
        matches = name_index(session, model).lookup(value)
    return any(match.number == number for match in matches)


class MemoryCorrector(RecallCorrector):
    """Blame corrections from ``memory_fresh``: the recalled memories with successors swapped in.

    For a ``recall`` step that returned a superseded memory, it proposes the same hits with
    each superseded memory replaced by the memory that superseded it.
    """

    reason = "memory_fresh: current memories"

    def replacement(self, project: str, hit: Mapping[str, Any]) -> dict[str, Any] | None:
        """Return ``hit`` as its successor, or ``None`` if it was not superseded."""
        item = self.store.get(project, hit.get("id", ""))
        newer = getattr(item, "superseded_by", None) if item is not None else None
        successor = self.store.get(project, newer) if newer else None
        if successor is None:
            return None
        return {**hit, "id": successor.id, "text": successor.text}


def blame_correctors(catalog: Catalog[AgentSpec]) -> list[Any]:
    """Return the correctors the checks offer beyond the route.

    Arguments (the user's document or party put back), memories (a superseded memory's
    successor, a memory's current text) and a model text's numbers (from its sources).
    """
    from nodes.corrections import MemoryRereadCorrector, NumberRepairCorrector

    return [
        ArgumentCorrector(),
        MemoryCorrector(),
        MemoryRereadCorrector(),
        NumberRepairCorrector(),
    ]


def samples(step: Any) -> bool:
    """Whether re-running ``step`` can give another output: it ran a model or a tool.

    An agent's turn that wrote a new AI message, a pipeline record a model wrote, a
    translated chunk or a tool call. Routing, checks (which only annotate the answer they
    were given), joins, templates and a pipeline's finish are deterministic: re-running
    them repeats the output and only spends the replay budget.
    """
    from nodes.corrections import model_written

    if step.node in ("tools", "translate_chunk"):
        return True
    if step.node == "agent":
        before = {getattr(m, "id", None) for m in step.before.values.get("messages") or []}
        written = step.writes.get("messages")
        listed = written if isinstance(written, list) else [written]
        return any(isinstance(m, AIMessage) and m.id not in before for m in listed)
    for key in ("steps", "items"):
        records = step.writes.get(key)
        if isinstance(records, Mapping) and any(model_written(r) for r in records.values()):
            return True
    return False


def blame_inputs(
    catalog: Catalog[AgentSpec],
    final: Mapping[str, Any],
    *,
    feedback: Any = None,
    context: Any = None,
    resample: int = 0,
    reference: Any = None,
) -> tuple[Any, list[Any]]:
    """Return the evaluator and correctors ``nova trace blame`` uses for a run.

    One place for the CLI and the served-graph eval, so the eval measures what a user
    runs. ``feedback`` is the user's record on the run (``nova.ledger.feedback``): "bad"
    makes it the evaluator and its agent a route correction; ``final`` is the state the
    user judged. ``reference`` is a loaded reference run; ``resample`` the re-samples per
    step.
    """
    from nodes.detectors import (
        ArithmeticCorrector,
        DetectorEvaluator,
        QuestionRouteCorrector,
        RouteRescoreCorrector,
        ToolReplayer,
        ToolRerunCorrector,
        blame_detectors,
    )
    from nova.tracing.blame.corrections import ReferenceCorrector, ResampleCorrector
    from nova.tracing.blame.feedback import FeedbackEvaluator, FeedbackRouteCorrector
    from nova.tracing.blame.verdicts import checks_evaluator

    base: Any = checks_evaluator
    correctors: list[Any] = []
    if feedback is not None:
        base = FeedbackEvaluator(feedback, final)
        subgraphs = {spec.name: spec.subgraph for spec in catalog}
        correctors.append(FeedbackRouteCorrector(feedback, subgraphs))
    # What the stores say (tools re-run, memories as stored, the router asked again) judges
    # the run and every replay beside the checks: blame starts where no check fired.
    # The owner's "good" outranks them: what they judged right is not re-opened.
    replayer = ToolReplayer()
    user = getattr(context, "user_id", None)
    trusted = feedback is not None and feedback.rating != "bad"
    evaluator = (
        base
        if trusted
        else DetectorEvaluator(base, blame_detectors(user=user, replayer=replayer, catalog=catalog))
    )
    correctors += [
        RouteCorrector(catalog),
        RouteRescoreCorrector(catalog),
        QuestionRouteCorrector(catalog),
        ToolRerunCorrector(replayer),
        ArithmeticCorrector(),
        *blame_correctors(catalog),
    ]
    if reference is not None:
        correctors.append(ReferenceCorrector(reference))
    if resample:
        correctors.append(ResampleCorrector(context=context, samples=resample, applies=samples))
    return evaluator, correctors
