"""The ERP data layer: migrations, read-only engines, deterministic seeding, SQLite and Postgres."""

from __future__ import annotations

from datetime import date

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, insert, inspect, select, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from nova.cli import app
from nova.erp import models as m
from nova.erp.db import ErpConfigError, ErpDatabase, business_date, normalise_url
from nova.erp.migrate import current_revision, head_revision
from nova.erp.seed import SeedConfig, SeedError, seed_database, seed_info
from nova.erp.skills import READ_SKILLS
from tests.erp_helpers import SMALL

pytest_plugins = ("tests.erp_fixtures",)

TINY = SeedConfig(customers=12, products=20, suppliers=3, orders=80, years=1)


def _schema_drift(database: ErpDatabase) -> list[object]:
    with database.engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), m.Base.metadata)


def test_migrations_create_exactly_the_models(tmp_path) -> None:
    database = ErpDatabase(f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    assert current_revision(database.engine) == head_revision()
    assert set(inspect(database.engine).get_table_names()) >= {
        t.name for t in m.Base.metadata.sorted_tables
    }
    assert _schema_drift(database) == []


def test_read_only_sqlite_refuses_writes(erp_db: ErpDatabase) -> None:
    with erp_db.read_session() as session, pytest.raises(DBAPIError, match="readonly"):
        session.execute(insert(m.ErpMeta).values(key="x", value="y"))
        session.commit()
    with erp_db.read_session() as session:
        assert session.get(m.ErpMeta, "x") is None


def test_in_memory_and_unknown_urls_are_refused_with_a_fix() -> None:
    with pytest.raises(ErpConfigError, match="must be a file"):
        normalise_url("sqlite://")
    with pytest.raises(ErpConfigError, match="postgresql://"):
        normalise_url("mysql://x@y/z")
    assert normalise_url("postgresql://u@h/d").drivername == "postgresql+psycopg"


def test_seeding_is_deterministic_and_dated(tmp_path) -> None:
    first = ErpDatabase(f"sqlite:///{tmp_path / 'a.sqlite'}")
    second = ErpDatabase(f"sqlite:///{tmp_path / 'b.sqlite'}")
    a = seed_database(first, TINY)
    b = seed_database(second, TINY)
    assert a.fingerprint == b.fingerprint and a.counts == b.counts
    other = seed_database(
        ErpDatabase(f"sqlite:///{tmp_path / 'c.sqlite'}"), TINY.model_copy(update={"seed": 7})
    )
    assert other.fingerprint != a.fingerprint
    with first.read_session() as session:
        assert business_date(session) == TINY.anchor
        latest = session.scalar(select(func.max(m.SalesOrder.order_date)))
        assert latest is not None and latest <= TINY.anchor
    assert seed_info(first)["seed_fingerprint"] == a.fingerprint


def test_seed_has_the_shapes_the_skills_ask_about(erp_db: ErpDatabase) -> None:
    today = SMALL.anchor
    with erp_db.read_session() as session:
        overdue = session.scalar(
            select(func.count()).where(
                m.Invoice.status == "open",
                m.Invoice.due_date < today,
                m.Invoice.paid_cents < m.Invoice.total_cents,
            )
        )
        assert overdue and overdue > 0
        low = session.scalar(
            select(func.count())
            .select_from(m.StockLevel)
            .join(m.Product, m.Product.id == m.StockLevel.product_id)
            .where(m.StockLevel.on_hand - m.StockLevel.reserved <= m.Product.reorder_point)
        )
        assert low and low > 0
        # Stock levels are the sum of their movements: the history is consistent.
        level = session.scalars(select(m.StockLevel)).first()
        moved = session.scalar(
            select(func.sum(m.StockMovement.quantity)).where(
                m.StockMovement.product_id == level.product_id,
                m.StockMovement.warehouse == level.warehouse,
            )
        )
        assert moved == level.on_hand
        for invoice in session.scalars(select(m.Invoice).limit(200)):
            paid = session.scalar(
                select(func.coalesce(func.sum(m.Payment.amount_cents), 0)).where(
                    m.Payment.invoice_id == invoice.id
                )
            )
            assert paid == invoice.paid_cents


def test_seed_refuses_to_overwrite_without_reset(erp_db: ErpDatabase) -> None:
    with pytest.raises(SeedError, match="--reset"):
        seed_database(erp_db, TINY)
    report = seed_database(erp_db, TINY, reset=True)
    assert report.counts["customers"] == TINY.customers


def test_cli_migrates_seeds_and_reports(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    runner = CliRunner()
    result = runner.invoke(app, ["erp", "migrate", "--url", url])
    assert result.exit_code == 0, result.output
    assert head_revision() in result.output
    result = runner.invoke(
        app,
        [
            "erp",
            "seed",
            "--url",
            url,
            "--customers",
            "12",
            "--products",
            "20",
            "--suppliers",
            "3",
            "--orders",
            "80",
            "--years",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "customers" in result.output and "fingerprint" in result.output
    again = runner.invoke(app, ["erp", "seed", "--url", url, "--customers", "12"])
    assert again.exit_code != 0 and "--reset" in again.output
    status = runner.invoke(app, ["erp", "status", "--url", url])
    assert status.exit_code == 0 and "business date 2025-06-30" in status.output
    bad = runner.invoke(app, ["erp", "seed", "--url", url, "--anchor", "2025-02-30"])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output


def test_postgres_migrates_seeds_and_answers(postgres_url: str) -> None:
    database = ErpDatabase(postgres_url)
    assert _schema_drift(database) == []
    seed_database(database, TINY, reset=True)
    skill = READ_SKILLS["erp_overdue_invoices"]
    with database.read_session() as session:
        result = skill.run(session, skill.args())
        assert result.total_rows > 0
        assert business_date(session) == date(2025, 6, 30)
    # Explicit ids from the seed must not collide with the next insert (sequences were reset).
    with database.write_session() as session:
        session.execute(
            insert(m.AuditLog).values(
                at=func.now(),
                action="test",
                target_type="t",
                target_ids=[],
                change={},
                approver="t",
                idempotency_key="pg-sequence-check",
            )
        )
        session.execute(insert(m.Warehouse).values(code="TST", name="Test", city="Ulm"))
    database.dispose()


def test_postgres_read_only_connection_refuses_writes(postgres_url: str) -> None:
    database = ErpDatabase(postgres_url)
    with (
        database.read_session() as session,
        pytest.raises(DBAPIError, match="read-only transaction"),
    ):
        session.execute(text("CREATE TABLE should_not_exist (id int)"))
    with (
        database.read_session() as session,
        pytest.raises(DBAPIError, match="read-only transaction"),
    ):
        session.execute(insert(m.ErpMeta).values(key="x", value="y"))
    database.dispose()


def test_shipped_head_constant_matches_alembic() -> None:
    """The fast up-to-date check trusts SHIPPED_HEAD: it must be the migrations' real head."""
    from nova.erp.migrate import SHIPPED_HEAD

    assert SHIPPED_HEAD == head_revision()
