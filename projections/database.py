"""A small shim over DB-API so projections write one SQL for SQLite and PostgreSQL.

Projections write ``?`` placeholders and ``INSERT ... ON CONFLICT`` upserts,
which both databases understand; the shim turns ``?`` into psycopg's ``%s``.
Values are stored as the types both databases share: TEXT for ids, dates,
timestamps (ISO 8601, UTC) and decimals (never float), BIGINT and BOOLEAN.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self

import psycopg

from services.store import StoreLocation

Row = tuple[Any, ...]

COPYABLE = (str, int, bytes)
"""Python types that COPY and bound parameters store alike (``bool`` is an ``int``)."""

COPY_FROM = 50
"""Rows from which :meth:`Cursor.insert_many` copies them into PostgreSQL."""

SQLITE_LOCK_TIMEOUT = 30.0
"""Seconds a SQLite writer waits for another writer (the application, another runner)."""


class Cursor:
    """A DB-API cursor that takes ``?`` placeholders on both databases.

    Every ``?`` in the SQL is a placeholder: pass literal text as a parameter.
    """

    def __init__(self, cursor: sqlite3.Cursor | psycopg.Cursor[Row], *, is_postgres: bool) -> None:
        self._cursor = cursor
        self.is_postgres = is_postgres

    def execute(self, sql: str, params: Sequence[object] = ()) -> Self:
        if self.is_postgres:
            sql = sql.replace("?", "%s")
        self._cursor.execute(sql, tuple(params))
        return self

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        """One statement for many rows: one call, and on PostgreSQL one round trip."""
        if self.is_postgres:
            sql = sql.replace("?", "%s")
        self._cursor.executemany(sql, [tuple(row) for row in rows])

    def insert_many(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]], conflict: str
    ) -> None:
        """``INSERT INTO table (columns) VALUES ... conflict`` for every row.

        On PostgreSQL many rows are copied (``COPY``) into a temporary table of the
        same columns and inserted from there with one statement: about four times
        faster than ``executemany``, which executes the insert once per row. The
        rows must not clash with each other on the conflict's key, and their values
        must be what the columns store (``str`` for text, ``int``, ``bool``,
        ``bytes`` or None): COPY and parameters turn other Python values into text
        differently.
        """
        if not rows:
            return
        names = ", ".join(columns)
        if not self.is_postgres or len(rows) < COPY_FROM:
            marks = ", ".join("?" for _ in columns)
            self.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({marks}) {conflict}",  # noqa: S608
                rows,
            )
            return
        cursor = self._cursor
        assert isinstance(cursor, psycopg.Cursor)
        # One staging table per table and columns, kept for the connection's session.
        staging = f"staged_{table}_{zlib.crc32(names.encode()):08x}"
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS"  # noqa: S608
            f" AS SELECT {names} FROM {table} WITH NO DATA"
        )
        with cursor.copy(f"COPY {staging} ({names}) FROM STDIN") as copy:
            for row in rows:
                for value in row:  # COPY writes other values as text by rules of its own
                    if value is not None and not isinstance(value, COPYABLE):
                        raise TypeError(f"{table}: COPY would store {value!r} differently")
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM {staging} {conflict}"  # noqa: S608
        )
        cursor.execute(f"DELETE FROM {staging}")  # noqa: S608 (TRUNCATE: a new file each time)

    @property
    def column_names(self) -> tuple[str, ...]:
        """The names of the columns of the last query's rows, in their order."""
        return tuple(str(column[0]) for column in self._cursor.description or ())

    def fetchone(self) -> Row | None:
        row: Row | None = self._cursor.fetchone()
        return row

    def fetchall(self) -> list[Row]:
        return list(self._cursor.fetchall())


class Database:
    """One connection to the database of a store (a SQLite file or a PostgreSQL schema).

    Not thread-safe: give each thread its own, or guard it with a lock.
    """

    def __init__(self, location: StoreLocation) -> None:
        self.location = location
        self._sqlite: sqlite3.Connection | None = None
        self._postgres: psycopg.Connection[Row] | None = None
        if location.is_postgres:
            self._postgres = psycopg.connect(location.psycopg_conninfo(), autocommit=True)
        else:
            self._sqlite = sqlite3.connect(
                location.sqlite_path,
                timeout=SQLITE_LOCK_TIMEOUT,
                isolation_level=None,  # transactions are begun explicitly below
                check_same_thread=False,
            )
            # The event store uses WAL too, so readers never wait for the runner.
            self._sqlite.execute("PRAGMA journal_mode=WAL")

    @property
    def is_postgres(self) -> bool:
        return self._postgres is not None

    @property
    def is_broken(self) -> bool:
        """Whether the server closed the connection (PostgreSQL restarted, a backend
        terminated): it never answers again, and only a new one will."""
        return self._postgres is not None and (self._postgres.broken or self._postgres.closed)

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Cursor]:
        """A transaction that commits when the block ends and rolls back if it raises.

        On SQLite a writing transaction takes the write lock at the start
        (``BEGIN IMMEDIATE``), so two runners serialise instead of failing
        on a lock upgrade.
        """
        if self._postgres is not None:
            with self._postgres.transaction(), self._postgres.cursor() as cursor:
                yield Cursor(cursor, is_postgres=True)
            return
        assert self._sqlite is not None
        raw = self._sqlite.cursor()
        raw.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield Cursor(raw, is_postgres=False)
        except BaseException:
            raw.execute("ROLLBACK")
            raise
        else:
            raw.execute("COMMIT")
        finally:
            raw.close()

    def close(self) -> None:
        if self._postgres is not None:
            self._postgres.close()
        if self._sqlite is not None:
            self._sqlite.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
