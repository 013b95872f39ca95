"""Writing events: commands through the domain versus raw inserts of the same rows.

Ours: leave cases driven through ``BackofficeApplication``'s use cases (submit,
open the approval task, decide, mark taken), each one load-command-save with
its metadata, one transaction per command. Baseline: the very rows those
commands stored, inserted again into an empty store of the same kind (the
same table, created by the library, the same journal and sync settings), one
transaction per command's rows, with nothing else done.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import psycopg

from bench.common import STORE_KINDS, Figure, Size, Stopwatch, fresh_store, ratio_at_least
from bench.workload import leave_period, meta, organisation, reports
from domain.case import Decision
from domain.employee import EmployeeProfile
from domain.leave import LeaveType
from services.application import BackofficeApplication, approval_task_id
from services.store import StoreLocation

NAME = "writes"
CASES = {Size.TINY: 8, Size.SMALL: 150, Size.DEFAULT: 1000, Size.LARGE: 1000}
WARM_UP_CASES = 3
TARGET = ratio_at_least(0.8)
ASKED_AT = datetime(2029, 12, 3, 9, 0, tzinfo=UTC)

Row = tuple[UUID, int, str, bytes]


@dataclass
class Commands:
    """The use cases run so far, and where each one's events end in the log."""

    app: BackofficeApplication
    ends: list[int]

    def leave_case(self, requester: str, manager: str, index: int, approve: bool) -> None:
        case_id = uuid.uuid4()
        app = self.app
        saved = app.submit_leave_request(
            case_id, requester, LeaveType.ANNUAL, leave_period(index), None, meta(requester)
        )
        self.ends.append(saved.position)
        self.ends.append(app.open_approval_task(case_id, ASKED_AT, meta("system")).position)
        decision = Decision.APPROVE if approve else Decision.REJECT
        task_id = approval_task_id(case_id)
        saved = app.decide_leave_request(case_id, task_id, decision, None, meta(manager))
        self.ends.append(saved.position)
        if approve:
            self.ends.append(app.mark_leave_taken(case_id, meta("system")).position)


def run(size: Size) -> Iterator[Figure]:
    for kind in STORE_KINDS:
        yield _measure(kind, CASES[size])


def _measure(kind: str, cases: int) -> Figure:
    with fresh_store(kind) as ours_url, fresh_store(kind) as raw_url:
        ends, seconds, first = _through_the_domain(ours_url, cases)
        rows = _rows_per_command(ours_url, ends, after=first)
        raw_seconds = _raw_inserts(raw_url, rows)
    return Figure(
        f"{NAME}.{kind}",
        ours=len(rows) / seconds,
        unit="cmd/s",
        baseline=len(rows) / raw_seconds,
        target=TARGET,
    )


def _through_the_domain(url: str, cases: int) -> tuple[list[int], float, int]:
    """Run the commands: where each timed one's events end, the seconds they took,
    and where the untimed warm-up ended."""
    app = BackofficeApplication(env=StoreLocation(url).eventsourcing_env())
    try:
        profiles = organisation(managers=max(1, cases // 50), reports_each=10)
        app.load_organisation(profiles, meta("hr"))
        requesters = reports(profiles)
        commands = Commands(app, [])
        for number in range(WARM_UP_CASES):
            _case(commands, requesters, number)
        warmed_up = len(commands.ends)
        with Stopwatch() as watch:
            for number in range(WARM_UP_CASES, WARM_UP_CASES + cases):
                _case(commands, requesters, number)
        return commands.ends[warmed_up:], watch.elapsed, commands.ends[warmed_up - 1]
    finally:
        app.close()


def _case(commands: Commands, requesters: Sequence[EmployeeProfile], number: int) -> None:
    """The ``number``-th case: every fifth is rejected, the others approved and taken."""
    requester = requesters[number % len(requesters)]
    commands.leave_case(
        requester.employee_id,
        str(requester.manager_id),
        index=number // len(requesters),
        approve=number % 5 != 4,
    )


def _rows_per_command(url: str, ends: Sequence[int], after: int) -> list[list[Row]]:
    """The stored rows of each command, read back from the log in order."""
    app = BackofficeApplication(env=StoreLocation(url).eventsourcing_env())
    try:
        notifications = app.recorder.select_notifications(
            start=after, limit=ends[-1] - after, inclusive_of_start=False
        )
    finally:
        app.close()
    grouped: list[list[Row]] = []
    position = 0
    for end in ends:
        rows: list[Row] = []
        while position < len(notifications) and notifications[position].id <= end:
            n = notifications[position]
            rows.append((UUID(str(n.originator_id)), n.originator_version, n.topic, n.state))
            position += 1
        grouped.append(rows)
    return grouped


def _raw_inserts(url: str, commands: Sequence[Sequence[Row]]) -> float:
    """Seconds to insert each command's rows in a transaction of its own."""
    location = StoreLocation(url)
    app = BackofficeApplication(env=location.eventsourcing_env())  # creates the library's table
    table: str = getattr(app.recorder, "events_table_name", "stored_events")
    app.close()
    insert = f"INSERT INTO {table} (originator_id, originator_version, topic, state)"
    if location.is_postgres:
        return _raw_postgres(location, insert, commands)
    return _raw_sqlite(location, insert, commands)


def _raw_sqlite(location: StoreLocation, insert: str, commands: Sequence[Sequence[Row]]) -> float:
    # The library's settings: WAL (already set on the file), the default full sync.
    with closing(sqlite3.connect(location.sqlite_path, isolation_level=None)) as connection:
        cursor = connection.cursor()
        with Stopwatch() as watch:
            for rows in commands:
                cursor.execute("BEGIN")
                cursor.executemany(
                    f"{insert} VALUES (?, ?, ?, ?)",
                    [(key.hex, version, topic, state) for key, version, topic, state in rows],
                )
                cursor.execute("COMMIT")
    return watch.elapsed


def _raw_postgres(location: StoreLocation, insert: str, commands: Sequence[Sequence[Row]]) -> float:
    with psycopg.connect(location.psycopg_conninfo()) as connection, Stopwatch() as watch:
        for rows in commands:
            with connection.transaction(), connection.cursor() as cursor:
                cursor.executemany(f"{insert} VALUES (%s, %s, %s, %s)", rows)
    return watch.elapsed
