"""The candidate store and the feedback ledger's new columns, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy

from nova.improve import CandidateNotFound, CandidateStore
from nova.ledger.feedback import FeedbackLedger

# Read at import: the autouse settings fixture clears NOVA_* variables for each test.
POSTGRES_URL = os.environ.get("NOVA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _exercise(store: CandidateStore, feedback: FeedbackLedger) -> None:
    catalog = f"/catalogs/{uuid.uuid4().hex}"  # rows of this test only, in a shared database
    [first, second] = feedback.import_corrections(
        [
            json.dumps({"text": "Feed the cat", "agent": None}),
            json.dumps({"text": "Hi", "agent": "a"}),
        ],
        agents=["a"],
        catalog=catalog,
    )
    assert {r.id for r in feedback.corrections(catalog=catalog)} == {first.id, second.id}
    passed = store.add(
        kind="routing",
        catalog=catalog,
        reason="1 example",
        evidence=[first.id],
        change={"examples": {"a": ["Hi"]}},
        gate={"passed": True, "why": "ok"},
        parent_version="p1",
        version="v1",
    )
    failed = store.add(
        kind="routing",
        catalog=catalog,
        reason="2 examples",
        evidence=[second.id],
        change={},
        gate={"passed": False, "why": "no"},
    )
    assert (passed.status, failed.status) == ("passed", "failed")
    assert store.get(passed.id[:10]) == passed
    assert [c.id for c in store.list(catalog=catalog)] == [failed.id, passed.id]
    assert store.used_evidence(catalog=catalog) == set()
    store.set_status(passed.id, "promoted", by="me")
    assert store.used_evidence(catalog=catalog) == {first.id}
    assert store.supersede(catalog=catalog, kind="routing", agent=None) == 1
    assert store.get(failed.id).status == "superseded"
    assert store.get(passed.id).decided_by == "me"
    with pytest.raises(CandidateNotFound):
        store.get("no-such-candidate")


def test_store_on_sqlite() -> None:
    _exercise(CandidateStore(), FeedbackLedger())


@pytest.mark.integration
def test_store_on_postgres() -> None:
    engine = sqlalchemy.create_engine(
        POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://")
    )
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("select 1"))
    except sqlalchemy.exc.OperationalError as error:
        pytest.fail(f"Postgres at {POSTGRES_URL} is required for this test ({error})")
    finally:
        engine.dispose()
    _exercise(CandidateStore(POSTGRES_URL), FeedbackLedger(POSTGRES_URL))


def test_an_older_feedback_table_gains_the_new_columns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:  # the table as the first feedback ledger created it
        conn.execute(
            sqlalchemy.text(
                "CREATE TABLE nova_feedback (id VARCHAR(32) PRIMARY KEY, created_at DATETIME "
                "NOT NULL, rating VARCHAR(8) NOT NULL, run_id VARCHAR(200), thread_id "
                "VARCHAR(200), agent VARCHAR(200), answer TEXT, note TEXT, request TEXT, "
                "given_answer TEXT, routed_agent VARCHAR(200), route JSON, agent_versions "
                'JSON NOT NULL, "user" VARCHAR(200), project VARCHAR(200))'
            )
        )
        conn.execute(
            sqlalchemy.text(
                "INSERT INTO nova_feedback (id, created_at, rating, run_id, agent_versions) "
                "VALUES ('old1', '2026-01-01 00:00:00', 'good', 'run-1', '{}')"
            )
        )
    engine.dispose()
    ledger = FeedbackLedger(url)
    [old] = ledger.list()
    assert old.id == "old1" and old.source is None and old.out_of_scope is None
    ledger.record("bad", run_id="run-2", agent="a", source="cli")
    assert [r.source for r in ledger.list()] == ["cli", None]
