"""Fixtures shared by every test: event stores on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from services.application import BackofficeApplication
from services.store import StoreLocation

POSTGRES_URL = os.environ.get(
    "BACKOFFICE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _postgres_reachable() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        with psycopg.connect(StoreLocation(POSTGRES_URL).psycopg_conninfo(), connect_timeout=3):
            return None
    except psycopg.OperationalError as error:
        return str(error).strip()


@pytest.fixture(scope="session")
def postgres_available() -> None:
    problem = _postgres_reachable()
    if problem is None:
        return
    message = f"PostgreSQL at {POSTGRES_URL} is not reachable: {problem}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must run the PostgreSQL tests)")
    pytest.skip(message + " (set BACKOFFICE_TEST_POSTGRES_URL to run these tests)")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'backoffice.db'}"


@pytest.fixture
def postgres_url(postgres_available: None) -> Iterator[str]:
    """A fresh schema in the test database, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conninfo = StoreLocation(POSTGRES_URL).psycopg_conninfo()
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    yield f"{POSTGRES_URL}?schema={schema}"
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest) -> str:
    """The same test on a SQLite file and on PostgreSQL."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def application(store_url: str) -> Iterator[BackofficeApplication]:
    app = BackofficeApplication(env=StoreLocation(store_url).eventsourcing_env())
    yield app
    app.close()
