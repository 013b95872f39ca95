"""What every projection is: tables, and how each event changes their rows."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import ClassVar

from projections.database import Cursor


class Projection(ABC):
    """A read model: some tables in the store's database, kept up to date from events.

    ``apply`` takes a batch of events, in log order, and leaves the rows as
    applying them one after the other would; at its heart is a ``match`` over
    the event types the read model cares about. It reads and writes only
    through the cursor, only its own tables, and uses no clock (times come
    from the events), so a rebuild gives exactly the same rows. It writes with
    upserts and recomputes totals instead of adding to them, so applying the
    tail of the log a second time ends in the same rows.
    """

    name: ClassVar[str]
    """The key of the projection's tracking position."""
    handles: ClassVar[tuple[type, ...]]
    """The event types it cares about: ``apply`` is given these and no others."""
    tables: ClassVar[dict[str, str]]
    """Each table's name and column definitions; helper tables included."""
    indexes: ClassVar[tuple[str, ...]] = ()
    """``CREATE INDEX IF NOT EXISTS`` statements."""
    read_indexes: ClassVar[tuple[str, ...]] = ()
    """``CREATE INDEX IF NOT EXISTS`` statements of indexes that only readers use, never
    ``apply``: a rebuild drops them and creates them again when it ends, one sort
    each instead of an update per row (readers meanwhile get slower answers)."""
    with_positions: ClassVar[bool] = False
    """Whether ``apply`` is given ``(position, event)`` pairs rather than events."""

    def create_tables(self, cursor: Cursor, *, read_indexes: bool = True) -> None:
        for table, columns in self.tables.items():
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
        for statement in (*self.indexes, *(self.read_indexes if read_indexes else ())):
            cursor.execute(statement)

    def made_before_its_columns(self, cursor: Cursor) -> bool:
        """Whether a table of this read model is in the database without a column it now
        declares: made by an earlier version, its rows cannot show what the new column
        holds until the log is replayed into it from the start."""
        found = table_columns(cursor, self.tables)
        return any(
            not set(declared_columns(definition)) <= found[table]
            for table, definition in self.tables.items()
            if table in found
        )

    def drop_tables(self, cursor: Cursor) -> None:
        for table in self.tables:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")

    def drop_read_indexes(self, cursor: Cursor) -> None:
        for statement in self.read_indexes:
            name = statement.split(" ON ", 1)[0].split()[-1]
            cursor.execute(f"DROP INDEX IF EXISTS {name}")

    def clear(self, cursor: Cursor) -> None:
        for table in self.tables:
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608 (a table name of ours)

    @abstractmethod
    def apply(self, cursor: Cursor, events: Sequence[object]) -> None:
        """Change the rows as ``events`` (of the types it ``handles``) say, in order."""

    def prepare(self, cursor: Cursor, events: Sequence[object]) -> object:
        """What applying ``events`` can work out before writing: rows computed from the
        events and the rows they change, read through ``cursor`` (a reading transaction).
        The runner calls it before its write transaction (on SQLite that holds the whole
        database, so other runners and the application's writers wait meanwhile), and
        gives the result to :meth:`apply_prepared` if no other runner moved this read
        model on in between. Nothing, unless a projection overrides it."""
        return None

    def apply_prepared(self, cursor: Cursor, events: Sequence[object], prepared: object) -> None:
        """:meth:`apply`, given what :meth:`prepare` made of the same ``events``."""
        self.apply(cursor, events)


class PreparedProjection(Projection):
    """A projection that does all its reading in :meth:`prepare` and only writes in
    :meth:`apply_prepared`; ``apply`` runs both, in one transaction."""

    def apply(self, cursor: Cursor, events: Sequence[object]) -> None:
        self.apply_prepared(cursor, events, self.prepare(cursor, events))

    @abstractmethod
    def prepare(self, cursor: Cursor, events: Sequence[object]) -> object: ...

    @abstractmethod
    def apply_prepared(
        self, cursor: Cursor, events: Sequence[object], prepared: object
    ) -> None: ...


CONSTRAINTS = {"PRIMARY", "UNIQUE", "CHECK", "FOREIGN", "CONSTRAINT"}


def declared_columns(definition: str) -> tuple[str, ...]:
    """The columns a table's definition in ``Projection.tables`` declares, without its
    constraints (``PRIMARY KEY (case_id, day)``)."""
    parts = re.sub(r"\([^)]*\)", "", definition).split(",")
    names = (part.split()[0] for part in parts if part.strip())
    return tuple(name for name in names if name.upper() not in CONSTRAINTS)


def table_columns(cursor: Cursor, tables: Collection[str]) -> dict[str, set[str]]:
    """The columns of those of ``tables`` that the database holds (in the current schema
    on PostgreSQL), by table."""
    marks = ", ".join("?" for _ in tables)
    if cursor.is_postgres:
        sql = (
            "SELECT table_name, column_name FROM information_schema.columns"  # noqa: S608
            f" WHERE table_schema = current_schema() AND table_name IN ({marks})"
        )
    else:
        sql = (
            "SELECT tables.name, columns.name FROM sqlite_master AS tables,"  # noqa: S608
            " pragma_table_info(tables.name) AS columns"
            f" WHERE tables.type = 'table' AND tables.name IN ({marks})"
        )
    columns: dict[str, set[str]] = {}
    for table, column in cursor.execute(sql, sorted(tables)).fetchall():
        columns.setdefault(str(table), set()).add(str(column))
    return columns


def utc_text(moment: datetime) -> str:
    """A timestamp as fixed-width ISO 8601 in UTC, so text order is time order."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    elif moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")
