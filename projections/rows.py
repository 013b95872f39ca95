"""Rows that a batch of events reads once, changes in memory and writes back as a diff.

Applied one event at a time, a projection costs a statement per read and per
write, and on PostgreSQL a round trip each. Instead, a projection loads the
rows its batch can touch with a few ``IN`` queries, applies the events to them
in memory with the meaning its SQL would have had, and writes back only what
changed, with ``executemany``: the rows end up exactly as if each event had
been applied in SQL, in a handful of statements per batch.

Load everything a batch may touch before changing anything: a load never
overwrites a row already in memory, and a diff is only right for rows loaded.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Any, Generic, NamedTuple, TypeVar

from projections.database import Cursor, Row

R = TypeVar("R", bound=NamedTuple)

Key = tuple[Any, ...]

LOAD_CHUNK = 500
"""Values per ``IN (...)`` list: well within both databases' parameter limits."""


def _chunks(values: Collection[object]) -> Iterator[list[object]]:
    ordered = sorted(values, key=str)
    for start in range(0, len(ordered), LOAD_CHUNK):
        yield ordered[start : start + LOAD_CHUNK]


def _in_list(count: int) -> str:
    return f"({', '.join('?' for _ in range(count))})"


def select_where_in(
    cursor: Cursor, columns: str, table: str, column: str, values: Collection[object]
) -> Iterator[Row]:
    """``SELECT columns FROM table WHERE column IN values``, a chunk of values at a time."""
    for chunk in _chunks(values):
        yield from cursor.execute(
            f"SELECT {columns} FROM {table} WHERE {column} IN {_in_list(len(chunk))}",  # noqa: S608
            chunk,
        ).fetchall()


class TableRows(Generic[R]):
    """Some rows of one table, grouped by the leading columns of their primary key.

    ``key`` is the primary key; its first ``group`` columns name a group (a case,
    a task) and the others a row within it. Every change a projection makes
    works on whole groups, so load by a column that takes in whole groups.
    ``row`` is a NamedTuple of the other columns; ``booleans`` names those that
    SQLite returns as integers.
    """

    def __init__(
        self,
        table: str,
        key: Sequence[str],
        row: type[R],
        *,
        group: int,
        booleans: Collection[str] = (),
    ) -> None:
        self.table = table
        self.key = tuple(key)
        self.row = row
        self.group_size = group
        self._booleans = [row._fields.index(name) for name in booleans]
        self._initial: dict[Key, R] = {}
        self._groups: dict[Key, dict[Key, R]] = {}

    def load(self, cursor: Cursor, column: str, values: Collection[object]) -> None:
        """Read the rows whose ``column`` is one of ``values``."""
        columns = ", ".join((*self.key, *self.row._fields))
        width = len(self.key)
        for found in select_where_in(cursor, columns, self.table, column, values):
            key = tuple(found[:width])
            if key not in self._initial:
                self._initial[key] = row = self._row(found[width:])
                self.group(key[: self.group_size])[key[self.group_size :]] = row

    def _row(self, values: Sequence[Any]) -> R:
        converted = list(values)
        for index in self._booleans:
            converted[index] = bool(converted[index])
        return self.row._make(converted)

    def group(self, group: Key) -> dict[Key, R]:
        """The rows of a group, by the rest of their key: change this dict to change them."""
        return self._groups.setdefault(group, {})

    def items(self) -> Iterator[tuple[Key, R]]:
        """Every row in memory, with its whole key."""
        for group, members in self._groups.items():
            for member, row in members.items():
                yield group + member, row

    def flush(self, cursor: Cursor) -> None:
        """Delete the rows gone, upsert the rows new or changed."""
        current = dict(self.items())
        gone = [key for key in self._initial if key not in current]
        changed = [(*key, *row) for key, row in current.items() if self._initial.get(key) != row]
        delete(cursor, self.table, self.key, gone)
        insert(cursor, self.table, self.key, self.row._fields, changed)


class Lookup:
    """A table of ``key -> values`` rows that are written once and never change
    (``INSERT ... ON CONFLICT DO NOTHING``): the first value recorded wins."""

    def __init__(self, table: str, key: str, columns: Sequence[str]) -> None:
        self.table = table
        self.key = key
        self.columns = tuple(columns)
        self._known: dict[object, tuple[Any, ...]] = {}
        self._added: dict[object, tuple[Any, ...]] = {}

    def load(self, cursor: Cursor, keys: Collection[object]) -> None:
        columns = ", ".join((self.key, *self.columns))
        for key, *values in select_where_in(cursor, columns, self.table, self.key, keys):
            self._known.setdefault(key, tuple(values))

    def get(self, key: object) -> tuple[Any, ...] | None:
        return self._known.get(key)

    def add(self, key: object, values: Sequence[object]) -> None:
        """Record ``values`` for ``key`` unless it has some already."""
        if key not in self._known:
            self._known[key] = self._added[key] = tuple(values)

    def flush(self, cursor: Cursor) -> None:
        rows = [(key, *values) for key, values in self._added.items()]
        insert(cursor, self.table, (self.key,), self.columns, rows, update=False)


def insert(
    cursor: Cursor,
    table: str,
    key: Sequence[str],
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    update: bool = True,
) -> None:
    """Insert ``rows``; a row clashing on ``key`` updates its ``columns`` (or is kept)."""
    if not rows:
        return
    action = "NOTHING"
    if update and columns:
        action = "UPDATE SET " + ", ".join(f"{name} = excluded.{name}" for name in columns)
    conflict = f"ON CONFLICT ({', '.join(key)}) DO {action}"
    cursor.insert_many(table, (*key, *columns), rows, conflict)


def delete(cursor: Cursor, table: str, key: Sequence[str], keys: Sequence[Key]) -> None:
    """Delete the rows whose ``key`` is one of ``keys``."""
    if keys:
        where = " AND ".join(f"{column} = ?" for column in key)
        cursor.executemany(f"DELETE FROM {table} WHERE {where}", keys)  # noqa: S608
