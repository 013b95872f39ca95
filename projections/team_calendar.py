"""The team calendar: who is away on which working day.

Every reserved day is kept, marked approved once the request is approved
(sick leave is approved when recorded); the queries show approved days only
unless asked for the pending ones too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

from projections import accounts
from projections.base import Projection
from projections.database import Cursor, Row
from projections.events import (
    AccountOpened,
    DaysReserved,
    ReservationConfirmed,
    ReservationReleased,
)

OWNERS = accounts.AccountOwners("calendar_accounts")


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


class TeamCalendar(Projection):
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

    def apply(self, cursor: Cursor, event: object) -> None:
        match event:
            case AccountOpened():
                OWNERS.remember(cursor, event.originator_id, event.employee_id)
            case DaysReserved():
                employee_id = OWNERS.owner(cursor, event.originator_id)
                if employee_id is None:
                    return
                for day, share in sorted(event.days.items()):
                    cursor.execute(
                        "INSERT INTO team_calendar"
                        " (case_id, day, employee_id, share, leave_type, approved)"
                        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (case_id, day)"
                        " DO UPDATE SET share = excluded.share, approved = excluded.approved",
                        [
                            event.case_id,
                            day,
                            employee_id,
                            str(share),
                            event.leave_type,
                            event.approved,
                        ],
                    )
            case ReservationConfirmed():
                cursor.execute(
                    "UPDATE team_calendar SET approved = ? WHERE case_id = ?",
                    [True, event.case_id],
                )
            case ReservationReleased():
                cursor.execute("DELETE FROM team_calendar WHERE case_id = ?", [event.case_id])


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
        " FROM team_calendar c JOIN employees e ON e.employee_id = c.employee_id"
        " WHERE e.manager_id = ? AND c.day BETWEEN ? AND ? AND (c.approved OR ?)"
        " ORDER BY c.day, c.employee_id, c.case_id",
        [manager_id, first_day.isoformat(), last_day.isoformat(), include_pending],
    ).fetchall()
    return [Absence.from_row(row) for row in rows]
