"""Fixtures of the ERP tests: seeded sample databases on SQLite, a fresh Postgres database.

Test modules load them with ``pytest_plugins = ("tests.erp_fixtures",)``.
The Postgres fixtures connect to the server at 127.0.0.1:5432 (trust auth, user
``postgres``) and fail loudly when it is not there; each run gets its own database.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from nova.erp.db import ErpDatabase, close_erp_databases
from nova.erp.seed import SeedConfig, seed_database
from nova.settings import get_settings
from tests.erp_helpers import SMALL

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def _seeded(directory: Path, config: SeedConfig) -> Path:
    path = directory / "erp.sqlite"
    database = ErpDatabase(f"sqlite:///{path}")
    seed_database(database, config)
    database.dispose()
    return path


@pytest.fixture(scope="session")
def small_erp_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file holding the small sample (seeded once per session; copy before writing)."""
    return _seeded(tmp_path_factory.mktemp("erp-small"), SMALL)


@pytest.fixture(scope="session")
def full_erp_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file holding the standard sample the evaluation dataset describes."""
    return _seeded(tmp_path_factory.mktemp("erp-full"), SeedConfig())


@pytest.fixture
def erp_url(small_erp_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private copy of the small sample, set as NOVA_ERP_DATABASE_URL for this test."""
    path = tmp_path / "erp.sqlite"
    shutil.copy(small_erp_file, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("NOVA_ERP_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    close_erp_databases()


@pytest.fixture
def erp_db(erp_url: str) -> Iterator[ErpDatabase]:
    """The test's private small sample, opened."""
    database = ErpDatabase(erp_url)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def full_erp(full_erp_file: Path) -> Iterator[ErpDatabase]:
    """The standard sample, opened read-mostly (tests must not write to it)."""
    database = ErpDatabase(f"sqlite:///{full_erp_file}")
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, empty Postgres database for this test session (dropped afterwards).

    Fails, never skips, when Postgres is not reachable: these tests are part of the suite.
    """
    import psycopg

    name = f"nova_erp_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN, autocommit=True)
    except psycopg.OperationalError as error:
        pytest.fail(
            f"Postgres is required at 127.0.0.1:5432 (user postgres, database test): {error}"
        )
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # a name we generated, not user input
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        close_erp_databases()
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
