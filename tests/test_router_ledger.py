"""The routing ledger on SQLite (default) and on a real PostgreSQL server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete

from nova.ledger.db import create_tables, ledger_engine, normalise_url
from nova.ledger.routing import RouteNotFound, RoutingLedger, routing_table
from nova.settings import get_settings
from nova.state import RouteDecision

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def decision(agent: str | None, method: str = "semantic", **extra: object) -> RouteDecision:
    candidates = [{"agent": agent or "erp_invoices", "score": 0.71}, {"agent": "b", "score": 0.2}]
    data = {
        "id": uuid.uuid4().hex,
        "agent": agent,
        "subgraph": "erp" if agent else None,
        "confidence": 0.71,
        "margin": 0.51,
        "candidates": candidates,
        "method": method,
        "reason": "test",
        "catalog_version": "cat123",
        "router_version": "nova-hybrid-svm/2+abc",
        "latency_ms": 8.5,
    }
    data.update(extra)
    return data  # type: ignore[return-value]


def exercise(ledger: RoutingLedger, thread: str) -> None:
    first = ledger.append(decision("erp_invoices"), request="overdue invoices?", thread_id=thread)
    second = ledger.append(
        decision(None, "clarify", question="Did you mean invoices or payments?"),
        request="money stuff",
        thread_id=thread,
        project="parts-shop",
        thresholds={"min_confidence": 0.3, "min_margin": 0.05, "min_similarity": 0.1},
    )
    rows = ledger.list(thread_id=thread)
    assert [r.id for r in rows] == [second.id, first.id]  # newest first
    assert ledger.list(thread_id=thread, agent="erp_invoices")[0].id == first.id
    low = ledger.list(thread_id=thread, low_confidence=True)
    assert [r.id for r in low] == [second.id]
    assert low[0].question == "Did you mean invoices or payments?"
    assert low[0].thresholds["min_margin"] == pytest.approx(0.05)
    assert low[0].candidates[0].score == pytest.approx(0.71)
    assert low[0].created_at.tzinfo is not None
    assert ledger.list(thread_id=thread, since=datetime.now(UTC) + timedelta(hours=1)) == []
    assert len(ledger.list(thread_id=thread, since=datetime.now(UTC) - timedelta(hours=1))) == 2
    assert ledger.find(second.id[:12]).request == "money stuff"
    assert ledger.get(first.id) is not None
    with pytest.raises(RouteNotFound, match="No routing decision"):
        ledger.find("ffffffffffff-not-there")


def test_sqlite_ledger_round_trip(tmp_path: Path) -> None:
    exercise(RoutingLedger(f"sqlite:///{tmp_path / 'ledger.sqlite'}"), "sqlite-thread")


def test_default_ledger_lives_in_the_data_dir(_isolated_settings: Path) -> None:
    ledger = RoutingLedger()
    ledger.append(decision("erp_invoices"), request="x")
    assert (_isolated_settings / "ledger.sqlite").is_file()
    assert get_settings().resolved_ledger_url.endswith("ledger.sqlite")


def test_ambiguous_prefix_is_refused(tmp_path: Path) -> None:
    ledger = RoutingLedger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    for suffix in ("1", "2"):
        ledger.append(decision("a", id="abc" + suffix * 29), request="r")
    with pytest.raises(RouteNotFound, match="matches several"):
        ledger.find("abc")


def test_postgres_ledger_round_trip() -> None:
    """Writes and reads the real PostgreSQL at 127.0.0.1:5432 (fails if it is not running)."""
    ledger = RoutingLedger(POSTGRES_URL)
    thread = f"pg-{uuid.uuid4().hex}"
    try:
        exercise(ledger, thread)
        assert ledger.engine.dialect.name == "postgresql"
    finally:
        with ledger.engine.begin() as conn:
            conn.execute(delete(routing_table).where(routing_table.c.thread_id == thread))


def test_postgres_urls_use_psycopg3() -> None:
    assert normalise_url(POSTGRES_URL).startswith("postgresql+psycopg://")
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"
    with pytest.raises(ValueError, match="Not a database URL"):
        normalise_url("definitely not a url")


def test_engines_are_shared_per_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    assert ledger_engine(url) is ledger_engine(url)


def test_sqlite_ledgers_use_wal_without_an_fsync_per_commit(tmp_path: Path) -> None:
    """WAL + synchronous=NORMAL, like the checkpoints: a record is not an fsync of its own."""
    from sqlalchemy import text

    engine = ledger_engine(f"sqlite:///{tmp_path / 'pragmas.sqlite'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL


def test_losing_the_create_table_race_to_another_process_is_not_an_error(tmp_path: Path) -> None:
    """SQLite's check-then-create is not atomic: losing that race must not lose the store.

    Another process (the server writing its first trace while the CLI opens the store)
    creates the tables between this process's check and its CREATE TABLE.
    """
    from sqlalchemy import create_engine

    from nova.tracing.store import TraceStore, _metadata, traces_engine

    url = f"sqlite:///{tmp_path / 'raced.sqlite'}"
    engine = create_engine(url)
    real_has_table = engine.dialect.has_table
    raced = []

    def has_table_then_lose_the_race(connection: Any, name: str, *args: Any, **kw: Any) -> bool:
        if not raced:
            other = create_engine(url)
            _metadata.create_all(other)  # the other process wins
            other.dispose()
            raced.append(name)
            return False
        return bool(real_has_table(connection, name, *args, **kw))

    engine.dialect.has_table = has_table_then_lose_the_race  # type: ignore[method-assign]
    create_tables(engine, _metadata)
    assert raced  # the race did happen, and was ridden out
    engine.dispose()
    assert TraceStore(url).list() == []
    assert traces_engine(url) is traces_engine(url)
