"""What the API and the pages ask of the read models."""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, datetime
from uuid import UUID

import psycopg

from domain.case import TaskDeciders
from domain.employee import EmployeeProfile
from projections import (
    audit_log,
    employees,
    inbox,
    leave_balances,
    leave_cases,
    team_calendar,
    tracking,
)
from projections.audit_log import AuditEntry, AuditFilter
from projections.database import Cursor, Database
from projections.inbox import InboxTask
from projections.leave_balances import LeaveBalance
from projections.leave_cases import LeaveCase
from projections.registry import all_projections
from projections.team_calendar import Absence
from services.store import StoreLocation

IDLE_CONNECTIONS = 4
"""Connections a :class:`ReadModels` keeps open between calls."""


class ReadModels:
    """Queries over the read models of one store, safe to call from many threads.

    Each call has a connection to itself for one transaction, so every call sees
    the latest committed rows; connections are kept between calls (up to
    :data:`IDLE_CONNECTIONS`), since opening one costs more than most queries.
    A connection that saw an error is closed, not kept. Call :meth:`wait_for`
    with the position a command returned to read your own writes.
    """

    def __init__(self, store_url: str, *, progress: tracking.Progress | None = None) -> None:
        """``progress``: that of a runner in this process applying every projection
        (``ProjectionRunner.progress``), so :meth:`wait_for` ends as its batch commits."""
        self.location = StoreLocation(store_url)
        projections = all_projections()
        self.names = [projection.name for projection in projections]
        if progress is not None and not progress.names >= set(self.names):
            raise ValueError("that runner does not apply every read model the queries read")
        self.progress = progress
        self._idle: list[Database] = []
        self._idle_lock = threading.Lock()
        self._closed = False
        # Create the tables if no runner has yet, so queries answer "nothing yet".
        with self._read(write=True) as cursor:
            tracking.create_schema(cursor, projections)

    def _take(self) -> tuple[Database, bool]:
        """A connection, and whether it was kept from an earlier call."""
        with self._idle_lock:
            if self._idle:
                return self._idle.pop(), True
        return Database(self.location), False

    def _give_back(self, database: Database) -> None:
        with self._idle_lock:
            if not self._closed and len(self._idle) < IDLE_CONNECTIONS:
                self._idle.append(database)
                return
        database.close()

    def _begin(self, write: bool) -> tuple[Database, ExitStack, Cursor]:
        """A connection with a transaction begun on it. A kept connection that cannot
        begin one (PostgreSQL closed it meanwhile: a restart, an idle timeout) is
        replaced by a new connection."""
        database, kept = self._take()
        while True:
            stack = ExitStack()
            try:
                cursor = stack.enter_context(database.transaction(write=write))
            except psycopg.OperationalError:
                database.close()
                if not kept:
                    raise
                database, kept = Database(self.location), False
                continue
            except BaseException:  # SQLite busy past its timeout, say
                database.close()
                raise
            return database, stack, cursor

    @contextmanager
    def _read(self, *, write: bool = False) -> Iterator[Cursor]:
        database, transaction, cursor = self._begin(write)
        try:
            with transaction:
                yield cursor
        except BaseException:
            database.close()  # it may be broken: a new one next time
            raise
        self._give_back(database)

    def close(self) -> None:
        """Close the connections kept between calls; from now on none is kept (a call
        under way closes its own when it ends)."""
        with self._idle_lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for database in idle:
            database.close()

    def open_tasks(
        self,
        assignee_id: str,
        *,
        after: tuple[datetime, str] | None = None,
        limit: int | None = None,
        not_asked_by: str | None = None,
    ) -> list[InboxTask]:
        with self._read() as cursor:
            return inbox.open_tasks(
                cursor, assignee_id, after=after, limit=limit, not_asked_by=not_asked_by
            )

    def deciders_of_open_tasks(self) -> dict[tuple[UUID, str, str], TaskDeciders]:
        with self._read() as cursor:
            return inbox.deciders_of_open_tasks(cursor)

    def balance(self, employee_id: str, year: int) -> LeaveBalance | None:
        with self._read() as cursor:
            return leave_balances.balance(cursor, employee_id, year)

    def team_absences(
        self, manager_id: str, first_day: date, last_day: date, *, include_pending: bool = False
    ) -> list[Absence]:
        with self._read() as cursor:
            return team_calendar.team_absences(
                cursor, manager_id, first_day, last_day, include_pending=include_pending
            )

    def cases_of(
        self,
        requester_id: str,
        *,
        after: tuple[datetime, UUID] | None = None,
        limit: int | None = None,
    ) -> list[LeaveCase]:
        with self._read() as cursor:
            return leave_cases.cases_of(cursor, requester_id, after=after, limit=limit)

    def audit_page(
        self, selection: AuditFilter, *, newest_first: bool, after: int | None, limit: int
    ) -> list[AuditEntry]:
        with self._read() as cursor:
            return audit_log.page(
                cursor, selection, newest_first=newest_first, after=after, limit=limit
            )

    def audit_entries(self, selection: AuditFilter) -> Iterator[list[AuditEntry]]:
        """Every matching entry, oldest first, read a page at a time."""

        def read_page(chosen: AuditFilter, after: int | None, limit: int) -> list[AuditEntry]:
            return self.audit_page(chosen, newest_first=False, after=after, limit=limit)

        return audit_log.pages(read_page, selection)

    def cases_of_many(
        self,
        requester_ids: Collection[str] | None,
        limit: int | None,
        *,
        after: tuple[datetime, UUID] | None = None,
        not_requested_by: str | None = None,
    ) -> list[LeaveCase]:
        with self._read() as cursor:
            return leave_cases.cases_of_many(
                cursor, requester_ids, limit, after=after, not_requested_by=not_requested_by
            )

    def leave_case_changes(
        self, requester_ids: Collection[str] | None, *, after: int, limit: int
    ) -> list[LeaveCase]:
        """The requests changed after log position ``after`` (:func:`leave_cases.changes`)."""
        with self._read() as cursor:
            return leave_cases.changes(cursor, requester_ids, after=after, limit=limit)

    def leave_case(self, case_id: UUID) -> LeaveCase | None:
        with self._read() as cursor:
            return leave_cases.leave_case(cursor, case_id)

    def employee(self, employee_id: str) -> EmployeeProfile | None:
        with self._read() as cursor:
            return employees.employee(cursor, employee_id)

    def direct_reports(self, manager_id: str) -> list[EmployeeProfile]:
        with self._read() as cursor:
            return employees.direct_reports(cursor, manager_id)

    def position(self) -> int:
        """The position every read model has reached."""
        with self._read() as cursor:
            tracked = tracking.positions(cursor)
        return min(tracked.get(name, 0) for name in self.names)

    def wait_for(self, position: int, timeout: float = 5.0) -> bool:
        """Whether every read model reaches ``position`` within ``timeout`` seconds."""
        database, transaction, _cursor = self._begin(write=False)  # one that answers
        try:
            transaction.close()
            reached = tracking.wait_for(
                database, self.names, position, timeout, progress=self.progress
            )
        except BaseException:
            database.close()
            raise
        self._give_back(database)
        return reached
