"""Where each projection has read up to, kept beside its rows.

``projection_tracking`` has one row per projection: the id of the last
notification it has applied. It is written in the same transaction as the
rows, so the rows always show exactly the events up to that position.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Iterable, Sequence

import psycopg
import psycopg.sql

from projections.base import Projection
from projections.database import Cursor, Database
from services.store import StoreLocation

logger = logging.getLogger(__name__)

SCHEMA_LOCK = 0x6261636B  # any constant: serialises concurrent creation of the tables


def create_schema(cursor: Cursor, projections: Iterable[Projection]) -> None:
    """Create the tracking table and the projections' tables, if missing. The indexes
    only readers use wait while a rebuild of their read model is unfinished: the
    rebuild makes them when it ends (see ``ProjectionRunner.rebuild``). A read model
    whose tables an earlier version made without a column it now has is emptied, made
    again and marked as such a rebuild, from position 0: the runner that catches up
    replays the log into it and then makes its indexes."""
    lock_schema(cursor)  # two processes creating one table at once collide in PostgreSQL
    cursor.execute(
        "CREATE TABLE IF NOT EXISTS projection_tracking"
        " (name TEXT PRIMARY KEY, position BIGINT NOT NULL)"
    )
    cursor.execute("CREATE TABLE IF NOT EXISTS projection_rebuilds (name TEXT PRIMARY KEY)")
    cursor.execute(
        "CREATE TABLE IF NOT EXISTS projection_resets"
        " (name TEXT PRIMARY KEY, resets BIGINT NOT NULL)"
    )
    unfinished = rebuilding(cursor)
    for projection in projections:
        if projection.made_before_its_columns(cursor):
            logger.warning(
                "the tables of %s were made by an earlier version: replaying the log into"
                " them from the start",
                projection.name,
            )
            projection.drop_tables(cursor)
            reset(cursor, projection.name)
            start_rebuild(cursor, projection.name)
            unfinished.add(projection.name)
        projection.create_tables(cursor, read_indexes=projection.name not in unfinished)
        cursor.execute(
            "INSERT INTO projection_tracking (name, position) VALUES (?, 0)"
            " ON CONFLICT (name) DO NOTHING",
            [projection.name],
        )


def lock_schema(cursor: Cursor) -> None:
    """Hold the tables' shape (their creation, a rebuild's dropped indexes) until the
    transaction ends (PostgreSQL; on SQLite a writing transaction holds the database)."""
    if cursor.is_postgres:
        cursor.execute("SELECT pg_advisory_xact_lock(?)", [SCHEMA_LOCK])


def positions(
    cursor: Cursor, *, for_update: bool = False, names: Collection[str] | None = None
) -> dict[str, int]:
    """Every projection's position (or those ``names``); ``for_update`` holds them until the
    transaction ends, so runners of other read models go on meanwhile (on PostgreSQL;
    SQLite's ``BEGIN IMMEDIATE`` holds the whole database)."""
    sql = "SELECT name, position FROM projection_tracking"
    params: Sequence[object] = ()
    if names is not None:
        sql += f" WHERE name IN ({', '.join('?' for _ in names)})"
        params = sorted(names)
    if for_update and cursor.is_postgres:
        sql += " ORDER BY name FOR UPDATE"  # one order for every runner: no deadlock
    rows = cursor.execute(sql, params).fetchall()
    return {str(name): int(position) for name, position in rows}


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
    """Set a projection's position back to 0 (its rows were emptied), and count it."""
    cursor.execute("UPDATE projection_tracking SET position = 0 WHERE name = ?", [name])
    cursor.execute(
        "INSERT INTO projection_resets (name, resets) VALUES (?, 1)"
        " ON CONFLICT (name) DO UPDATE SET resets = projection_resets.resets + 1",
        [name],
    )


def resets(cursor: Cursor, names: Collection[str]) -> dict[str, int]:
    """How often each of ``names`` was reset: a position equal to an earlier one is the
    same state of the rows only if no reset came in between (positions only move
    forward otherwise)."""
    marks = ", ".join("?" for _ in names)
    rows = cursor.execute(
        f"SELECT name, resets FROM projection_resets WHERE name IN ({marks})",  # noqa: S608
        sorted(names),
    ).fetchall()
    return {str(name): int(count) for name, count in rows}


class Progress:
    """The position up to which a runner in this process has committed every one of its
    read models (``names``); whoever waits for a position wakes as soon as a batch
    reaches it."""

    def __init__(self, names: Collection[str]) -> None:
        self.names = frozenset(names)
        self._reached = 0
        self._changed = threading.Condition()

    @property
    def reached(self) -> int:
        return self._reached

    def reach(self, position: int) -> None:
        """Where the read models are now, as the runner's last batch found and left
        them (lower than before when a rebuild elsewhere emptied them)."""
        with self._changed:
            moved_on = position > self._reached
            self._reached = position
            if moved_on:
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
