"""Do the read models say what the events say? Rebuild each into a scratch copy up to
the position the live one has reached, and compare the two row by row."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psycopg
import psycopg.sql

from projections import tracking
from projections.base import Projection
from projections.database import Cursor, Database
from projections.registry import all_projections
from projections.runner import Progress, ProjectionRunner
from services.hash_chain import POSTGRES_EVENTS_TABLE, SQLITE_EVENTS_TABLE
from services.store import StoreLocation


@dataclass(frozen=True)
class Difference:
    table: str
    """The table that differs (for ``ahead``, the read model)."""
    kind: Literal["missing", "unexpected", "no_table", "ahead"]
    """``missing``: the events give this row and the live table lacks it (or holds it
    changed); ``unexpected``: the live table holds a row the events do not give;
    ``no_table``: the live read model has no such table; ``ahead``: the read model's
    position is beyond the last event (``row``: its position and the last event's)."""
    row: tuple[object, ...]

    def __str__(self) -> str:
        if self.kind == "missing":
            return f"{self.table}: missing or changed, the events give {self.row}"
        if self.kind == "no_table":
            return f"{self.table}: the table is missing"
        if self.kind == "ahead":
            position, last = self.row
            return (
                f"{self.table}: at position {position}, beyond the last event ({last}):"
                f" the events recorded next, up to {position}, would never reach it"
            )
        return f"{self.table}: not given by the events: {self.row}"


@dataclass(frozen=True)
class Snapshot:
    tracked: dict[str, int]
    """The position of each read model that has one recorded."""
    rows: dict[str, list[tuple[object, ...]]]
    """Every row of each table there is."""
    last_event: int
    """The position of the last event in the log (0 when it is empty or elsewhere)."""

    def position(self, name: str) -> int:
        """Where the read model ``name`` is (0 where none is recorded)."""
        return self.tracked.get(name, 0)


def snapshot(location: StoreLocation, projections: list[Projection]) -> Snapshot:
    """Every projection's position and every row of its tables, read in one consistent
    view (one read transaction; REPEATABLE READ on PostgreSQL), writing nothing: a
    table or position that is missing is left out."""
    with Database(location) as database, database.transaction(write=False) as cursor:
        if cursor.is_postgres:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        present = _tables(cursor)
        tracked = tracking.positions(cursor) if "projection_tracking" in present else {}
        rows = {
            table: [
                tuple(row)
                for row in cursor.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608
            ]
            for projection in projections
            for table in projection.tables
            if table in present
        }
        events = POSTGRES_EVENTS_TABLE if cursor.is_postgres else SQLITE_EVENTS_TABLE
        position = "notification_id" if cursor.is_postgres else "rowid"
        last = None
        if events in present:  # a copy of read models has no log
            last = cursor.execute(f"SELECT MAX({position}) FROM {events}").fetchone()  # noqa: S608
    return Snapshot(
        tracked,
        rows,
        int(last[0]) if last is not None and last[0] is not None else 0,
    )


def _tables(cursor: Cursor) -> set[str]:
    if cursor.is_postgres:
        found = cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
    else:
        found = cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {str(name) for (name,) in found}


def compare_read_models(
    store_url: str, scratch_dir: Path, progress: Progress | None = None
) -> list[Difference]:
    """Every row that differs between the live read models and a rebuild from the events
    up to the live ones' positions, every table missing and every position beyond the
    log's end; none when they agree."""
    live_location = StoreLocation(store_url)
    projections = all_projections()
    live = snapshot(live_location, projections)
    if live_location.is_postgres:
        scratch = f"{store_url.split('?')[0]}?schema=verify_{uuid.uuid4().hex[:12]}"
    else:
        scratch = f"sqlite:///{scratch_dir / 'read-models.db'}"
    try:
        by_position: dict[int, list[Projection]] = defaultdict(list)
        for projection in projections:
            by_position[live.position(projection.name)].append(projection)
        for position, group in sorted(by_position.items()):
            with ProjectionRunner(
                store_url, projections=group, into=scratch, stop=position
            ) as runner:
                runner.catch_up(progress)
        rebuilt = snapshot(StoreLocation(scratch), projections)
    finally:
        if live_location.is_postgres:
            _drop_schema(StoreLocation(scratch))
    differences = [
        Difference(p.name, "ahead", (live.position(p.name), live.last_event))
        for p in projections
        if live.position(p.name) > live.last_event
    ]
    for projection in projections:
        never_built = projection.name not in live.tracked and not any(
            table in live.rows for table in projection.tables
        )  # empty at position 0: it says nothing false
        for table in projection.tables:
            if table not in live.rows:
                if not never_built:
                    differences.append(Difference(table, "no_table", ()))
                continue
            live_counts, rebuilt_counts = Counter(live.rows[table]), Counter(rebuilt.rows[table])
            for row in sorted((rebuilt_counts - live_counts).elements(), key=repr):
                differences.append(Difference(table, "missing", row))
            for row in sorted((live_counts - rebuilt_counts).elements(), key=repr):
                differences.append(Difference(table, "unexpected", row))
    return differences


def _drop_schema(location: StoreLocation) -> None:
    with psycopg.connect(location.psycopg_conninfo(), autocommit=True) as connection:
        schema = psycopg.sql.Identifier(location.postgres_schema)
        connection.execute(psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(schema))
