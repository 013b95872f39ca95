"""The team calendar: who is away on which working day.

Every reserved day is kept, marked approved once the request is approved
(sick leave is approved when recorded); the queries show approved days only
unless asked for the pending ones too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import NamedTuple, cast
from uuid import UUID

from domain.leave import ZERO
from projections import accounts
from projections.base import PreparedProjection
from projections.database import Cursor, Row
from projections.events import (
    AccountOpened,
    DaysReserved,
    ReservationConfirmed,
    ReservationReleased,
    ReservationShortened,
)
from projections.rows import TableRows


@dataclass(frozen=True)
class Absence:
    """One employee away for ``share`` (1 or 0.5) of one working day."""

    employee_id: str
    day: date
    share: Decimal
    case_id: UUID
    leave_type: str
    approved: bool

    @classmethod
    def from_row(cls, row: Row) -> Absence:
        employee_id, day, share, case_id, leave_type, approved = row
        return cls(
            employee_id,
            date.fromisoformat(day),
            Decimal(share),
            UUID(case_id),
            leave_type,
            bool(approved),
        )


class TeamCalendar(PreparedProjection):
    name = "team_calendar"
    tables = {
        "calendar_accounts": accounts.COLUMNS,
        "team_calendar": (
            "case_id TEXT NOT NULL, day TEXT NOT NULL, employee_id TEXT NOT NULL,"
            " share TEXT NOT NULL, leave_type TEXT NOT NULL, approved BOOLEAN NOT NULL,"
            " PRIMARY KEY (case_id, day)"
        ),
    }
    indexes = (
        "CREATE INDEX IF NOT EXISTS team_calendar_by_employee ON team_calendar (employee_id, day)",
    )

    handles = (
        AccountOpened,
        DaysReserved,
        ReservationConfirmed,
        ReservationReleased,
        ReservationShortened,
    )

    def prepare(
        self, cursor: Cursor, events: Sequence[object]
    ) -> tuple[accounts.AccountOwners, TableRows[DayRow]]:
        owners = accounts.AccountOwners("calendar_accounts")
        owners.load(cursor, events)
        days = TableRows(
            "team_calendar", ("case_id", "day"), DayRow, group=1, booleans=("approved",)
        )
        days.load(cursor, "case_id", accounts.cases_in(events))
        for event in events:
            _apply(owners, days, event)
        return owners, days

    def apply_prepared(self, cursor: Cursor, events: Sequence[object], prepared: object) -> None:
        owners, days = cast(tuple[accounts.AccountOwners, TableRows[DayRow]], prepared)
        owners.flush(cursor)
        days.flush(cursor)


class DayRow(NamedTuple):
    """A row of the team calendar without its key (case, day)."""

    employee_id: str
    share: str
    leave_type: str
    approved: bool


def _apply(owners: accounts.AccountOwners, days: TableRows[DayRow], event: object) -> None:
    """One event, as SQL would apply it: a reserved day clashing with a row updates
    its share and approval only."""
    match event:
        case AccountOpened():
            owners.remember(accounts.account_of(event), event.employee_id)
        case DaysReserved():
            employee_id = owners.owner(accounts.account_of(event))
            if employee_id is None:
                return
            rows = days.group((event.case_id,))
            for day, share in sorted(event.days.items()):
                old = rows.get((day,))
                new = DayRow(employee_id, str(share), event.leave_type, event.approved)
                rows[(day,)] = (
                    new if old is None else old._replace(share=new.share, approved=new.approved)
                )
        case ReservationConfirmed():
            rows = days.group((event.case_id,))
            for member, row in rows.items():
                rows[member] = row._replace(approved=True)
        case ReservationReleased():
            days.group((event.case_id,)).clear()
        case ReservationShortened():
            # A day given back whole leaves the calendar; the afternoon of a leave ended
            # at noon leaves its morning.
            rows = days.group((event.case_id,))
            for day, share in event.released.items():
                old = rows.pop((day,), None)
                if old is not None and (left := Decimal(old.share) - share) > ZERO:
                    rows[(day,)] = old._replace(share=str(left))


def team_absences(
    cursor: Cursor,
    manager_id: str,
    first_day: date,
    last_day: date,
    *,
    include_pending: bool = False,
) -> list[Absence]:
    """The absences of ``manager_id``'s direct reports between two days, both included."""
    rows = cursor.execute(
        "SELECT c.employee_id, c.day, c.share, c.case_id, c.leave_type, c.approved"
        " FROM team_calendar c JOIN employee_directory e ON e.employee_id = c.employee_id"
        " WHERE e.manager_id = ? AND c.day BETWEEN ? AND ? AND (c.approved OR ?)"
        " ORDER BY c.day, c.employee_id, c.case_id",
        [manager_id, first_day.isoformat(), last_day.isoformat(), include_pending],
    ).fetchall()
    return [Absence.from_row(row) for row in rows]
