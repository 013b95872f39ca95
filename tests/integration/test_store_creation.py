"""Several processes starting at once on a new PostgreSQL schema (an API, a worker and a
projection runner) all find the store's tables (and the pages' credentials tables):
they create them in turn."""

from __future__ import annotations

import threading
import uuid

import psycopg

from services.application import BackofficeApplication
from services.credentials import Credentials
from services.store import StoreLocation

ATTEMPTS = 5
"""Fresh schemas tried: without the lock, about half the attempts failed."""


def test_applications_started_at_once_on_a_new_schema_all_start(postgres_url: str) -> None:
    base = postgres_url.split("?")[0]
    errors: list[BaseException] = []
    for _ in range(ATTEMPTS):
        location = StoreLocation(f"{base}?schema=fresh_{uuid.uuid4().hex[:10]}")
        with psycopg.connect(StoreLocation(base).psycopg_conninfo(), autocommit=True) as admin:
            admin.execute(f"CREATE SCHEMA {location.postgres_schema}")
        try:
            errors += _open_at_once(location, processes=4)
        finally:
            with psycopg.connect(StoreLocation(base).psycopg_conninfo(), autocommit=True) as admin:
                admin.execute(f"DROP SCHEMA {location.postgres_schema} CASCADE")

    assert errors == []


def _open_at_once(location: StoreLocation, processes: int) -> list[BaseException]:
    env = location.eventsourcing_env()
    start = threading.Barrier(processes, timeout=30)
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            start.wait()
            BackofficeApplication(env=env).close()
            Credentials(location)  # the pages' tables, beside the store's
        except BaseException as error:  # reported by the caller
            errors.append(error)

    threads = [threading.Thread(target=open_store) for _ in range(processes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors
