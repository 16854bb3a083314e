"""Human approval and exactly-once application of ERP writes.

``approve_and_apply`` is the only way Nova writes to the ERP. Inside a LangGraph node or
tool it:

1. derives an idempotency key from the thread id, the call id (the model's tool-call id,
   or the request message id on the fast path), the skill and its arguments;
2. returns the recorded outcome if that key was already applied (a resumed, replayed or
   crash-recovered run lands here and changes nothing);
3. plans the change and pauses the graph with ``langgraph.types.interrupt``, showing the
   ``ProposedChange`` (action, target ids, amounts, before/after);
4. on ``Command(resume={"approved": false, "reason": ...})`` returns without writing;
   on ``Command(resume={"approved": true, "approver": "name"})`` writes, in ONE
   transaction, the idempotency record, the change itself and an audit-log row naming
   the approver. A second transaction with the same key fails on the idempotency
   primary key and rolls back, so the change happens exactly once.

A process killed at any point of this (``nova.crashpoints`` stops it at each one in the
crash tests) leaves either no write, which the resumed run makes once, or a committed
write with its idempotency record, which the resumed run reports as already done.

The plan is recomputed when the node re-runs after the resume; ``apply`` re-checks the
planned "before" values, and an approver may pass ``proposal_id`` to insist on exactly
the version shown.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal, NotRequired

from langgraph.config import get_config
from langgraph.errors import GraphBubbleUp
from langgraph.types import interrupt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from typing_extensions import TypedDict

from nova.crashpoints import crash_point
from nova.erp import models as m
from nova.erp.db import ErpDatabase
from nova.erp.skills import SkillArgs, SkillError
from nova.erp.writes import ProposedChange, WriteSkill
from nova.provenance import CallReview, current_review

log = logging.getLogger(__name__)

APPROVAL_KIND: Literal["erp_write_approval"] = "erp_write_approval"
"""``type`` of the interrupt payload, so clients can recognise an ERP approval request."""


class ApprovalDecision(BaseModel):
    """What a person answers to an approval request (the ``Command(resume=...)`` value)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    approved: bool
    approver: str | None = Field(default=None, min_length=1, max_length=120)
    """Who approved; required when ``approved`` is true (it goes into the audit log)."""
    reason: str | None = Field(default=None, max_length=500)
    """Why it was rejected (or a note on the approval)."""
    proposal_id: str | None = None
    """Optional: approve only if the change is still exactly the one with this id."""

    @model_validator(mode="after")
    def _approver_named(self) -> ApprovalDecision:
        if self.approved and not self.approver:
            raise ValueError(
                'an approval must name the approver: {"approved": true, "approver": "name"}'
            )
        return self


class InvalidApproval(ValueError):
    """The resume value is not an approval decision; the graph stays paused for a valid one."""


class ApprovalRequest(TypedDict):
    """The interrupt payload: what will change, and how to answer."""

    type: Literal["erp_write_approval"]
    change: dict[str, Any]
    proposal_id: str
    idempotency_key: str
    how_to_answer: str
    review: NotRequired[CallReview]
    """The request, the agent, every argument value and where each came from (the tool
    gate's ``nova.provenance.CallReview``); values found only in untrusted text are flagged."""


OutcomeStatus = Literal["applied", "already_applied", "rejected", "refused"]


class WriteOutcome(BaseModel):
    """How a write ended; ``message`` is what the user (or the model) is told."""

    status: OutcomeStatus
    action: str
    message: str
    change: ProposedChange | None = None
    approver: str | None = None
    written_ids: list[str] = []
    idempotency_key: str | None = None
    audit_id: int | None = None


def idempotency_key(thread_id: str, call_id: str, skill: str, args: SkillArgs) -> str:
    """Derive the key of one requested write: same thread, call and arguments, same key."""
    body = json.dumps(
        [thread_id, call_id, skill, args.model_dump(mode="json")], sort_keys=True, default=str
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _recorded(database: ErpDatabase, key: str) -> WriteOutcome | None:
    with database.read_session() as session:
        record = session.get(m.IdempotencyRecord, key)
        if record is None:
            return None
        outcome = WriteOutcome.model_validate(record.result)
    return outcome.model_copy(
        update={
            "status": "already_applied",
            "message": f"Already done, nothing changed now: {outcome.message}",
        }
    )


class _NoGraph(RuntimeError):
    """There is a thread id but no running graph to pause."""


def _request(change: ProposedChange, key: str) -> ApprovalRequest:
    request = ApprovalRequest(
        type=APPROVAL_KIND,
        change=change.model_dump(mode="json"),
        proposal_id=change.proposal_id,
        idempotency_key=key,
        how_to_answer=(
            'Resume with Command(resume={"approved": true, "approver": "<your name>"}) to apply, '
            'or Command(resume={"approved": false, "reason": "..."}) to reject.'
        ),
    )
    if (review := current_review.get()) is not None:
        request["review"] = review
    return request


def _ask(request: ApprovalRequest) -> ApprovalDecision:
    """Pause the graph with ``request``; on resume, return the validated decision."""
    try:
        # LangGraph validates the answer before recording it: a bad one leaves the pause in
        # place. It is re-raised as InvalidApproval so the tool does not turn it into a message.
        decision = interrupt(request, response_schema=ApprovalDecision)
    except GraphBubbleUp:
        raise
    except ValidationError as error:
        problems = "; ".join(item["msg"].removeprefix("Value error, ") for item in error.errors())
        raise InvalidApproval(
            f"Not an approval decision ({problems}). Resume again with "
            '{"approved": true, "approver": "<name>"} or {"approved": false, "reason": "..."}.'
        ) from None
    except (KeyError, RuntimeError):
        raise _NoGraph from None
    return decision


def approve_and_apply(
    database: ErpDatabase, skill: WriteSkill, args: SkillArgs, *, call_id: str
) -> WriteOutcome:
    """Ask a person to approve ``skill(args)`` and apply it exactly once if they do.

    Must run inside a LangGraph node or tool of a graph with a checkpointer (it pauses the
    graph); ``call_id`` identifies this request within the thread.

    Returns:
        The outcome: ``applied``, ``already_applied`` (a replay), ``rejected`` (nothing
        written) or ``refused`` (invalid, stale, or not run inside a graph).

    Raises:
        GraphInterrupt: the first time, to pause for approval (LangGraph handles it).

    """
    try:
        thread_id = get_config().get("configurable", {}).get("thread_id")
    except RuntimeError:
        thread_id = None
    if not thread_id:
        return WriteOutcome(
            status="refused",
            action=skill.name,
            message=(
                "Writes need a person's approval: run this through Nova's graph (a thread "
                "with a checkpointer) so it can pause and ask. Nothing was written."
            ),
        )
    key = idempotency_key(str(thread_id), call_id, skill.name, args)
    recorded = _recorded(database, key)
    if recorded is not None:
        # Re-executed after the write (a resume, a replay, a restart): pass the pause again so
        # any later pause in this node keeps its position, and report what was done.
        if recorded.change is not None:
            with contextlib.suppress(_NoGraph):
                _ask(_request(recorded.change, key))
        return recorded
    try:
        with database.read_session() as session:
            plan = skill.plan(session, args)
    except SkillError as error:
        return WriteOutcome(
            status="refused", action=skill.name, message=f"{error} Nothing was written."
        )
    change = plan.change
    try:
        decision = _ask(_request(change, key))
    except _NoGraph:
        return WriteOutcome(
            status="refused",
            action=skill.name,
            message=(
                "This write cannot pause for approval outside a running graph. Nothing was written."
            ),
        )
    if not decision.approved:
        reason = f": {decision.reason}" if decision.reason else ""
        return WriteOutcome(
            status="rejected",
            action=skill.name,
            change=change,
            message=f"Rejected{reason}. Nothing was changed.",
            idempotency_key=key,
        )
    if decision.proposal_id and decision.proposal_id != change.proposal_id:
        return WriteOutcome(
            status="refused",
            action=skill.name,
            change=change,
            message=(
                "The data changed after you saw the proposal, so this approval no longer "
                "matches it. Nothing was written; ask again to see the current change."
            ),
        )
    approver = str(decision.approver)
    crash_point("erp.approved")  # test-only: kill -9 after the approval, before the write
    try:
        with database.write_session() as session:
            # The key goes in first: a concurrent twin blocks here and then fails on it.
            session.execute(
                insert(m.IdempotencyRecord).values(
                    key=key, action=skill.name, created_at=datetime.now(UTC), result={}
                )
            )
            written = plan.apply(session, approver)
            audit_id = session.execute(
                insert(m.AuditLog)
                .values(
                    at=datetime.now(UTC),
                    action=change.action,
                    target_type=change.target_type,
                    target_ids=written,
                    change=change.model_dump(mode="json") | {"note": decision.reason},
                    approver=approver,
                    thread_id=str(thread_id),
                    call_id=call_id,
                    idempotency_key=key,
                )
                .returning(m.AuditLog.id)
            ).scalar_one()
            outcome = WriteOutcome(
                status="applied",
                action=skill.name,
                change=change,
                approver=approver,
                written_ids=written,
                idempotency_key=key,
                audit_id=audit_id,
                message=f"Done, approved by {approver}: {change.summary} ({', '.join(written)}).",
            )
            record = session.get(m.IdempotencyRecord, key)
            assert record is not None
            record.result = outcome.model_dump(mode="json")
    except IntegrityError:
        recorded = _recorded(database, key)
        if recorded is not None:
            return recorded
        raise
    except SkillError as error:
        return WriteOutcome(
            status="refused",
            action=skill.name,
            change=change,
            message=str(error),
            idempotency_key=key,
        )
    # Test-only: kill -9 after the commit, before the node returns (no checkpoint has it yet).
    crash_point("erp.committed")
    log.info("ERP write %s applied, approved by %s (audit %s)", skill.name, approver, audit_id)
    return outcome


def audit_trail(database: ErpDatabase, limit: int = 50) -> list[m.AuditLog]:
    """Return the newest audit-log rows, newest first."""
    with database.read_session() as session:
        rows = list(session.scalars(select(m.AuditLog).order_by(m.AuditLog.id.desc()).limit(limit)))
        session.expunge_all()
        return rows
