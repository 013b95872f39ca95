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
from projections.database import Database
from projections.registry import all_projections
from projections.runner import Progress, ProjectionRunner
from services.store import StoreLocation


@dataclass(frozen=True)
class Difference:
    table: str
    kind: Literal["missing", "unexpected"]
    """``missing``: the events give this row and the live table lacks it (or holds it
    changed); ``unexpected``: the live table holds a row the events do not give."""
    row: tuple[object, ...]

    def __str__(self) -> str:
        if self.kind == "missing":
            return f"{self.table}: missing or changed, the events give {self.row}"
        return f"{self.table}: not given by the events: {self.row}"


Snapshot = tuple[dict[str, int], dict[str, list[tuple[object, ...]]]]


def snapshot(location: StoreLocation, projections: list[Projection]) -> Snapshot:
    """Every projection's position and every row of its tables, read in one consistent
    view (one read transaction; REPEATABLE READ on PostgreSQL)."""
    with Database(location) as database:
        with database.transaction() as cursor:  # a store no runner has seen yet: empty
            tracking.create_schema(cursor, projections)
        return _read_all(database, projections)


def _read_all(database: Database, projections: list[Projection]) -> Snapshot:
    with database.transaction(write=False) as cursor:
        if cursor.is_postgres:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        positions = tracking.positions(cursor)
        rows = {
            table: [
                tuple(row)
                for row in cursor.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608
            ]
            for projection in projections
            for table in projection.tables
        }
    return {p.name: positions.get(p.name, 0) for p in projections}, rows


def compare_read_models(
    store_url: str, scratch_dir: Path, progress: Progress | None = None
) -> list[Difference]:
    """Every row that differs between the live read models and a rebuild from the events
    up to the live ones' positions; none when they agree."""
    live = StoreLocation(store_url)
    projections = all_projections()
    positions, live_rows = snapshot(live, projections)
    if live.is_postgres:
        scratch = f"{store_url.split('?')[0]}?schema=verify_{uuid.uuid4().hex[:12]}"
    else:
        scratch = f"sqlite:///{scratch_dir / 'read-models.db'}"
    try:
        by_position: dict[int, list[Projection]] = defaultdict(list)
        for projection in projections:
            by_position[positions[projection.name]].append(projection)
        for position, group in sorted(by_position.items()):
            with ProjectionRunner(
                store_url, projections=group, into=scratch, stop=position
            ) as runner:
                runner.catch_up(progress)
        _, rebuilt_rows = snapshot(StoreLocation(scratch), projections)
    finally:
        if live.is_postgres:
            _drop_schema(StoreLocation(scratch))
    differences = []
    for table, rows in live_rows.items():
        live_counts, rebuilt_counts = Counter(rows), Counter(rebuilt_rows[table])
        for row in sorted((rebuilt_counts - live_counts).elements(), key=repr):
            differences.append(Difference(table, "missing", row))
        for row in sorted((live_counts - rebuilt_counts).elements(), key=repr):
            differences.append(Difference(table, "unexpected", row))
    return differences


def _drop_schema(location: StoreLocation) -> None:
    with psycopg.connect(location.psycopg_conninfo(), autocommit=True) as connection:
        schema = psycopg.sql.Identifier(location.postgres_schema)
        connection.execute(psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(schema))
