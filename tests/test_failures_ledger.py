"""The failure ledger: durable records on SQLite (default) and on the local Postgres."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy

from nova.ledger.failures import FAILURE_KINDS, FailureLedger, FailureNotFound
from nova.settings import get_settings

# Read at import: the autouse settings fixture clears NOVA_* variables for each test.
POSTGRES_URL = os.environ.get("NOVA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _exercise(ledger: FailureLedger) -> None:
    thread = f"t-{uuid.uuid4().hex[:8]}"
    first = ledger.record(
        "node_error",
        error=ValueError("boom"),
        thread_id=thread,
        run_id="r1",
        checkpoint_id="c1",
        node="agent",
        agent="erp_invoices",
        agent_version="erp_invoices@1.0.0+abc",
        project="parts-shop",
        details={"attempts": 3, "when": datetime.now(UTC)},
    )
    second = ledger.record(
        "check_failed", error_type="CheckFailed", message="numbers_grounded: 4711", thread_id=thread
    )

    assert (first.error_type, first.message, first.kind) == ("ValueError", "boom", "node_error")
    assert isinstance(first.details["when"], str)  # stored as JSON, whatever was passed
    listed = ledger.list(thread_id=thread)
    assert [r.id for r in listed] == [second.id, first.id]  # newest first
    assert [r.id for r in ledger.list(thread_id=thread, kind="node_error")] == [first.id]
    assert ledger.list(thread_id=thread, since=datetime.now(UTC) + timedelta(minutes=1)) == []
    got = ledger.get(first.id)
    assert (
        got is not None
        and got.checkpoint_id == "c1"
        and got.agent_version == "erp_invoices@1.0.0+abc"
    )
    assert got.created_at.tzinfo is not None
    assert ledger.find(first.id[:10]).id == first.id
    ledger.mark_retried(first.id, "r2")
    retried = ledger.get(first.id)
    assert retried is not None and retried.retried_run_id == "r2" and retried.retried_at is not None


def test_records_are_durable_and_queryable_on_sqlite() -> None:
    _exercise(FailureLedger())
    # A second ledger object on the same URL (another process, the CLI) sees the same rows.
    assert FailureLedger(get_settings().resolved_ledger_url).list(limit=5)


@pytest.mark.integration
def test_records_are_durable_and_queryable_on_postgres() -> None:
    engine = sqlalchemy.create_engine(
        POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://")
    )
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("select 1"))
    except sqlalchemy.exc.OperationalError as error:
        pytest.fail(
            f"Postgres at {POSTGRES_URL} is required for this test and is not reachable ({error}); "
            "start it (see README, Services) before running the suite"
        )
    finally:
        engine.dispose()
    _exercise(FailureLedger(POSTGRES_URL))


def test_bad_records_are_refused_with_a_clear_error() -> None:
    ledger = FailureLedger()
    with pytest.raises(ValueError, match="Unknown failure kind 'oops'; use one of"):
        ledger.record("oops", error=ValueError("x"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs an exception"):
        ledger.record("timeout")
    assert "abandoned" in FAILURE_KINDS and "route_abstain" in FAILURE_KINDS


def test_find_reports_unknown_and_ambiguous_ids() -> None:
    ledger = FailureLedger()
    with pytest.raises(FailureNotFound, match="nova failures list"):
        ledger.find("doesnotexist")
    records = [ledger.record("timeout", error=TimeoutError("slow")) for _ in range(40)]
    prefixes = [r.id[0] for r in records]
    shared = max(set(prefixes), key=prefixes.count)  # 40 ids over 16 hex digits: some share one
    with pytest.raises(FailureNotFound, match="ambiguous"):
        ledger.find(shared)
