"""Leave balances: the annual leave days each employee holds per year.

Approved and pending days are recomputed from the bookings (each request's
days per year) whenever a booking changes, never added to, so replaying an
event cannot count its days twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.leave import LeaveType, days_by_year, entitlement
from projections import accounts
from projections.base import Projection
from projections.database import Cursor
from projections.employees import employee
from projections.events import (
    AccountOpened,
    DaysReserved,
    ReservationConfirmed,
    ReservationReleased,
)

ZERO = Decimal(0)
OWNERS = accounts.AccountOwners("balance_accounts")


@dataclass(frozen=True)
class LeaveBalance:
    employee_id: str
    year: int
    entitled: Decimal
    approved: Decimal
    pending: Decimal
    remaining: Decimal


class LeaveBalances(Projection):
    name = "leave_balances"
    tables = {
        "balance_accounts": accounts.COLUMNS,
        "balance_bookings": (
            "case_id TEXT NOT NULL, year INTEGER NOT NULL, employee_id TEXT NOT NULL,"
            " days TEXT NOT NULL, approved BOOLEAN NOT NULL, PRIMARY KEY (case_id, year)"
        ),
        "leave_balances": (
            "employee_id TEXT NOT NULL, year INTEGER NOT NULL,"
            " approved TEXT NOT NULL, pending TEXT NOT NULL, PRIMARY KEY (employee_id, year)"
        ),
    }
    indexes = (
        "CREATE INDEX IF NOT EXISTS balance_bookings_by_employee"
        " ON balance_bookings (employee_id, year)",
    )

    def apply(self, cursor: Cursor, event: object) -> None:
        match event:
            case AccountOpened():
                OWNERS.remember(cursor, event.originator_id, event.employee_id)
            case DaysReserved() if LeaveType(event.leave_type).draws_on_balance:
                employee_id = OWNERS.owner(cursor, event.originator_id)
                if employee_id is None:
                    return
                days = {date.fromisoformat(day): share for day, share in event.days.items()}
                for year, total in sorted(days_by_year(days).items()):
                    cursor.execute(
                        "INSERT INTO balance_bookings (case_id, year, employee_id, days, approved)"
                        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (case_id, year)"
                        " DO UPDATE SET days = excluded.days, approved = excluded.approved",
                        [event.case_id, year, employee_id, str(total), event.approved],
                    )
                    _recompute(cursor, employee_id, year)
            case ReservationConfirmed():
                cursor.execute(
                    "UPDATE balance_bookings SET approved = ? WHERE case_id = ?",
                    [True, event.case_id],
                )
                for employee_id, year in _years_of(cursor, event.case_id):
                    _recompute(cursor, employee_id, year)
            case ReservationReleased():
                years = _years_of(cursor, event.case_id)
                cursor.execute("DELETE FROM balance_bookings WHERE case_id = ?", [event.case_id])
                for employee_id, year in years:
                    _recompute(cursor, employee_id, year)


def _years_of(cursor: Cursor, case_id: str) -> list[tuple[str, int]]:
    rows = cursor.execute(
        "SELECT employee_id, year FROM balance_bookings WHERE case_id = ? ORDER BY year",
        [case_id],
    ).fetchall()
    return [(str(employee_id), int(year)) for employee_id, year in rows]


def _recompute(cursor: Cursor, employee_id: str, year: int) -> None:
    bookings = cursor.execute(
        "SELECT days, approved FROM balance_bookings WHERE employee_id = ? AND year = ?"
        " ORDER BY case_id",
        [employee_id, year],
    ).fetchall()
    approved = sum((Decimal(days) for days, done in bookings if done), ZERO)
    pending = sum((Decimal(days) for days, done in bookings if not done), ZERO)
    cursor.execute(
        "INSERT INTO leave_balances (employee_id, year, approved, pending) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (employee_id, year)"
        " DO UPDATE SET approved = excluded.approved, pending = excluded.pending",
        [employee_id, year, str(approved), str(pending)],
    )


def balance(cursor: Cursor, employee_id: str, year: int) -> LeaveBalance | None:
    """The employee's annual leave in ``year``; None for someone not in the directory."""
    profile = employee(cursor, employee_id)
    if profile is None:
        return None
    row = cursor.execute(
        "SELECT approved, pending FROM leave_balances WHERE employee_id = ? AND year = ?",
        [employee_id, year],
    ).fetchone()
    approved, pending = (ZERO, ZERO) if row is None else (Decimal(row[0]), Decimal(row[1]))
    entitled = entitlement(profile.annual_leave_days, profile.start_date, year)
    remaining = entitled - approved - pending
    return LeaveBalance(employee_id, year, entitled, approved, pending, remaining)
