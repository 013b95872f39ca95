"""Do the read models say what the events say? Rebuild each into a scratch copy up to
the position the live one has reached, and compare the two row by row."""

from __future__ import annotations

import re
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

Key = tuple[tuple[str, object], ...]
"""A row's primary key: each of its columns with the row's value."""


@dataclass(frozen=True)
class Difference:
    table: str
    """The table that differs (for ``ahead``, the read model)."""
    kind: Literal["missing", "unexpected", "changed", "no_table", "ahead"]
    """``missing``: the events give a row whose key the live table lacks;
    ``unexpected``: the live table holds a row whose key the events do not give;
    ``changed``: the live row and the replayed one of that key differ (``changes``);
    ``no_table``: the live read model has no such table; ``ahead``: the read model's
    position is beyond the last event (``row``: its position and the last event's)."""
    row: tuple[object, ...]
    """The row: the replayed one (missing), or the live one (unexpected, changed)."""
    key: Key = ()
    """The row's primary key (its whole row in a table without one)."""
    columns: tuple[str, ...] = ()
    """The names of ``row``'s columns."""
    changes: tuple[tuple[str, object, object], ...] = ()
    """For ``changed``: each column that differs, its live value and the replayed one."""

    def __str__(self) -> str:
        where = f"{self.table} [{_named(self.key)}]"
        if self.kind == "missing":
            return f"{where}: missing; the events give {_named(self._rest())}"
        if self.kind == "unexpected":
            return f"{where}: not given by the events: {_named(self._rest())}"
        if self.kind == "changed":
            return f"{where}: " + "; ".join(
                f"{column} ours {ours!r}, replayed {replayed!r}"
                for column, ours, replayed in self.changes
            )
        if self.kind == "no_table":
            return f"{self.table}: the table is missing"
        position, last = self.row
        return (
            f"{self.table}: at position {position}, beyond the last event ({last}):"
            f" the events recorded next, up to {position}, would never reach it"
        )

    def _rest(self) -> Key:
        """The row's columns but its key's."""
        keys = {column for column, _ in self.key}
        named = zip(self.columns, self.row, strict=True)
        return tuple(pair for pair in named if pair[0] not in keys)


def _named(pairs: Key) -> str:
    return ", ".join(f"{column}={value!r}" for column, value in pairs)


@dataclass(frozen=True)
class Snapshot:
    tracked: dict[str, int]
    """The position of each read model that has one recorded."""
    rows: dict[str, list[tuple[object, ...]]]
    """Every row of each table there is."""
    columns: dict[str, tuple[str, ...]]
    """The names of each table's columns, in the order of its rows' values."""
    last_event: int
    """The position of the last event in the log (0 when it is empty or elsewhere)."""
    recorded_after: dict[int, int]
    """For each read model's position (and 0), how many events the log holds after it."""

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
        rows: dict[str, list[tuple[object, ...]]] = {}
        columns: dict[str, tuple[str, ...]] = {}
        for projection in projections:
            for table in projection.tables:
                if table in present:
                    found = cursor.execute(f"SELECT * FROM {table}")  # noqa: S608
                    rows[table] = [tuple(row) for row in found.fetchall()]
                    columns[table] = found.column_names
        events = POSTGRES_EVENTS_TABLE if cursor.is_postgres else SQLITE_EVENTS_TABLE
        position = "notification_id" if cursor.is_postgres else "rowid"
        last = None
        recorded_after: dict[int, int] = {}
        if events in present:  # a copy of read models has no log
            last = cursor.execute(f"SELECT MAX({position}) FROM {events}").fetchone()  # noqa: S608
            for reached in {0, *tracked.values()}:  # counted: PostgreSQL's ids have gaps
                after = f"SELECT COUNT(*) FROM {events} WHERE {position} > ?"  # noqa: S608
                (count,) = cursor.execute(after, [reached]).fetchone() or (0,)
                recorded_after[reached] = int(count)
    return Snapshot(
        tracked,
        rows,
        columns,
        int(last[0]) if last is not None and last[0] is not None else 0,
        recorded_after,
    )


def _tables(cursor: Cursor) -> set[str]:
    if cursor.is_postgres:
        found = cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
    else:
        found = cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {str(name) for (name,) in found}


@dataclass(frozen=True)
class ReadModelsCheck:
    """What :func:`check_read_models` found, and how far it looked."""

    differences: list[Difference]
    """Every row that differs, table missing and position beyond the log's end."""
    positions: dict[str, int]
    """Each read model built (a table or a position recorded), with the position up to
    which it was compared: its own."""
    never_built: list[str]
    """The read models with neither table nor position: nothing to compare."""
    recorded_after: dict[int, int]
    """For each of those positions (and 0), how many events the log holds after it."""
    last_event: int

    def reach(self) -> str:
        """How far the comparison reached, as said when nothing differs: a read model
        behind the events (no projection runner running) agrees with them only up to
        its position, and one never built was not compared at all."""
        if not self.positions:
            return (
                f"no read model was ever built: nothing was compared; {self.recorded_after[0]}"
                " events are recorded (is the projection runner running? projections rebuild"
                " builds them)"
            )
        lines = [f"{name}: never built, nothing compared" for name in self.never_built]
        reached = min(self.positions.values())
        if len(set(self.positions.values())) > 1:
            lines += [
                f"{name}: compared up to position {position}"
                for name, position in sorted(self.positions.items())
                if position < self.last_event
            ]
        unapplied = self.recorded_after.get(reached, 0)
        if not unapplied:
            lines.append(f"the read models match the events, up to the last ({self.last_event})")
        else:
            events = (
                "event recorded after it is" if unapplied == 1 else "events recorded after it are"
            )
            lines.append(
                f"the read models match the events up to position {reached}; {unapplied}"
                f" {events} not applied yet (is the projection runner running?)"
            )
        return "\n".join(lines)


def compare_read_models(
    store_url: str, scratch_dir: Path, progress: Progress | None = None
) -> list[Difference]:
    """Every row that differs between the live read models and a rebuild from the events
    up to the live ones' positions, every table missing and every position beyond the
    log's end; none when they agree."""
    return check_read_models(store_url, scratch_dir, progress).differences


def check_read_models(
    store_url: str, scratch_dir: Path, progress: Progress | None = None
) -> ReadModelsCheck:
    """:func:`compare_read_models`, with how far the comparison reached."""
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
    never_built = [
        projection.name
        for projection in projections
        if projection.name not in live.tracked
        and not any(table in live.rows for table in projection.tables)
    ]  # empty at position 0: it says nothing false, and nothing was compared
    for projection in projections:
        for table in projection.tables:
            if table not in live.rows:
                if projection.name not in never_built:
                    differences.append(Difference(table, "no_table", ()))
                continue
            key = key_columns(projection.tables[table])
            differences += _rows_differing(table, key, live, rebuilt)
    positions = {p.name: live.position(p.name) for p in projections if p.name not in never_built}
    return ReadModelsCheck(
        differences, positions, never_built, live.recorded_after, live.last_event
    )


def key_columns(definition: str) -> tuple[str, ...]:
    """The columns of a table's primary key, as its definition in ``Projection.tables``
    declares it (``case_id TEXT PRIMARY KEY``, or ``PRIMARY KEY (case_id, day)``)."""
    if found := re.search(r"PRIMARY KEY\s*\(([^)]*)\)", definition):
        return tuple(column.strip() for column in found.group(1).split(","))
    return tuple(part.split()[0] for part in definition.split(",") if "PRIMARY KEY" in part)


def _rows_differing(
    table: str, key: tuple[str, ...], live: Snapshot, rebuilt: Snapshot
) -> list[Difference]:
    """The rows of ``table`` that differ, by key: a key on one side only is a row missing
    or unexpected, one on both sides with other values a row changed, column by column."""
    ours, replayed = _by_key(table, key, live), _by_key(table, key, rebuilt)
    columns = rebuilt.columns[table]
    differences: list[Difference] = []
    for row_key in sorted(ours.keys() | replayed.keys(), key=repr):
        live_rows, rebuilt_rows = ours.get(row_key, []), replayed.get(row_key, [])
        if len(live_rows) == len(rebuilt_rows) == 1 and live_rows != rebuilt_rows:
            [live_row], [rebuilt_row] = live_rows, rebuilt_rows
            was = dict(zip(live.columns[table], live_row, strict=True))
            changes = tuple(
                (column, was.get(column), value)
                for column, value in zip(columns, rebuilt_row, strict=True)
                if was.get(column) != value
            )
            differences.append(
                Difference(table, "changed", live_row, row_key, live.columns[table], changes)
            )
            continue
        live_counts, rebuilt_counts = Counter(live_rows), Counter(rebuilt_rows)
        for row in sorted((rebuilt_counts - live_counts).elements(), key=repr):
            differences.append(Difference(table, "missing", row, row_key, columns))
        for row in sorted((live_counts - rebuilt_counts).elements(), key=repr):
            differences.append(Difference(table, "unexpected", row, row_key, live.columns[table]))
    return differences


def _by_key(
    table: str, key: tuple[str, ...], snapshot: Snapshot
) -> dict[Key, list[tuple[object, ...]]]:
    """The table's rows by their key (the whole row in a table without one)."""
    columns = snapshot.columns[table]
    grouped: dict[Key, list[tuple[object, ...]]] = defaultdict(list)
    for row in snapshot.rows[table]:
        named = tuple(zip(columns, row, strict=True))
        grouped[tuple(pair for pair in named if pair[0] in key) if key else named].append(row)
    return grouped


def _drop_schema(location: StoreLocation) -> None:
    with psycopg.connect(location.psycopg_conninfo(), autocommit=True) as connection:
        schema = psycopg.sql.Identifier(location.postgres_schema)
        connection.execute(psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(schema))
