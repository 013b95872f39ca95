"""Where each projection has read up to, kept beside its rows.

``projection_tracking`` has one row per projection: the id of the last
notification it has applied. It is written in the same transaction as the
rows, so the rows always show exactly the events up to that position.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence

import psycopg
import psycopg.sql

from projections.base import Projection
from projections.database import Cursor, Database
from services.store import StoreLocation

SCHEMA_LOCK = 0x6261636B  # any constant: serialises concurrent creation of the tables


def create_schema(cursor: Cursor, projections: Iterable[Projection]) -> None:
    """Create the tracking table and the projections' tables, if missing. The indexes
    only readers use wait while a rebuild of their read model is unfinished: the
    rebuild makes them when it ends (see ``ProjectionRunner.rebuild``)."""
    if cursor.is_postgres:
        # Two processes creating the same table at once can collide in PostgreSQL.
        cursor.execute("SELECT pg_advisory_xact_lock(?)", [SCHEMA_LOCK])
    cursor.execute(
        "CREATE TABLE IF NOT EXISTS projection_tracking"
        " (name TEXT PRIMARY KEY, position BIGINT NOT NULL)"
    )
    cursor.execute("CREATE TABLE IF NOT EXISTS projection_rebuilds (name TEXT PRIMARY KEY)")
    unfinished = rebuilding(cursor)
    for projection in projections:
        projection.create_tables(cursor, read_indexes=projection.name not in unfinished)
        cursor.execute(
            "INSERT INTO projection_tracking (name, position) VALUES (?, 0)"
            " ON CONFLICT (name) DO NOTHING",
            [projection.name],
        )


def positions(cursor: Cursor, *, for_update: bool = False) -> dict[str, int]:
    """Every projection's position; ``for_update`` holds them until the transaction ends."""
    sql = "SELECT name, position FROM projection_tracking"
    if for_update and cursor.is_postgres:  # SQLite's BEGIN IMMEDIATE already holds the lock
        sql += " FOR UPDATE"
    return {str(name): int(position) for name, position in cursor.execute(sql).fetchall()}


def advance(cursor: Cursor, name: str, position: int) -> None:
    """Move a projection's position forward to ``position``; never backwards."""
    cursor.execute(
        "UPDATE projection_tracking SET position = ? WHERE name = ? AND position < ?",
        [position, name, position],
    )


def create_postgres_schema(location: StoreLocation) -> None:
    """Create the schema a PostgreSQL URL names, for read models built into a copy."""
    with psycopg.connect(location.psycopg_conninfo(), autocommit=True) as connection:
        schema = psycopg.sql.Identifier(location.postgres_schema)
        connection.execute(psycopg.sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))


def rebuilding(cursor: Cursor) -> set[str]:
    """The projections emptied for a rebuild that has not finished."""
    rows = cursor.execute("SELECT name FROM projection_rebuilds").fetchall()
    return {str(name) for (name,) in rows}


def start_rebuild(cursor: Cursor, name: str) -> None:
    cursor.execute(
        "INSERT INTO projection_rebuilds (name) VALUES (?) ON CONFLICT (name) DO NOTHING", [name]
    )


def end_rebuild(cursor: Cursor, name: str) -> None:
    cursor.execute("DELETE FROM projection_rebuilds WHERE name = ?", [name])


def reset(cursor: Cursor, name: str) -> None:
    cursor.execute("UPDATE projection_tracking SET position = 0 WHERE name = ?", [name])


class Progress:
    """The position a runner in this process has committed every projection up to;
    whoever waits for a position wakes as soon as a batch reaches it."""

    def __init__(self) -> None:
        self._reached = 0
        self._changed = threading.Condition()

    @property
    def reached(self) -> int:
        return self._reached

    def advance(self, position: int) -> None:
        with self._changed:
            if position > self._reached:
                self._reached = position
                self._changed.notify_all()

    def wait(self, position: int, timeout: float) -> bool:
        """Whether this process's runner reaches ``position`` within ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: self._reached >= position, timeout)


def wait_for(
    database: Database,
    names: Sequence[str],
    position: int,
    timeout: float,
    *,
    interval: float = 0.01,
    progress: Progress | None = None,
) -> bool:
    """Whether every named projection reaches ``position`` within ``timeout`` seconds.

    Polls the tracking table, backing off up to 0.1 s between polls, so it
    works wherever the runner runs: another thread, process or machine. With the
    ``progress`` of a runner in this process (for every projection in ``names``),
    it wakes as soon as that runner commits the position, between polls.
    """
    deadline = time.monotonic() + timeout
    while True:
        if progress is not None and progress.reached >= position:
            return True
        with database.transaction(write=False) as cursor:
            reached = positions(cursor)
        if all(reached.get(name, -1) >= position for name in names):
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if progress is not None:
            if progress.wait(position, min(interval, left)):
                return True
        else:
            time.sleep(min(interval, left))
        interval = min(interval * 2, 0.1)
