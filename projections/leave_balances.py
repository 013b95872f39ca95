"""Leave balances: the annual leave days each employee holds per year.

Approved and pending days are recomputed from the bookings (each request's
days per year) whenever a booking changes, never added to, so replaying an
event cannot count its days twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import NamedTuple, cast

from domain.leave import LeaveType, days_by_year
from projections import accounts
from projections.base import PreparedProjection
from projections.database import Cursor
from projections.employees import employee
from projections.events import (
    AccountOpened,
    DaysReserved,
    ReservationConfirmed,
    ReservationReleased,
    ReservationShortened,
)
from projections.rows import TableRows, insert, select_where_in

ZERO = Decimal(0)


@dataclass(frozen=True)
class LeaveBalance:
    employee_id: str
    year: int
    entitled: Decimal
    approved: Decimal
    pending: Decimal
    remaining: Decimal


class LeaveBalances(PreparedProjection):
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

    handles = (
        AccountOpened,
        DaysReserved,
        ReservationConfirmed,
        ReservationReleased,
        ReservationShortened,
    )

    def prepare(self, cursor: Cursor, events: Sequence[object]) -> _Prepared:
        owners = accounts.AccountOwners("balance_accounts")
        owners.load(cursor, events)
        bookings = TableRows(
            "balance_bookings", ("case_id", "year"), BookingRow, group=1, booleans=("approved",)
        )
        bookings.load(cursor, "case_id", accounts.cases_in(events))
        changed: set[tuple[str, int]] = set()
        for event in events:
            changed.update(_apply(owners, bookings, event))
        return owners, bookings, changed

    def apply_prepared(self, cursor: Cursor, events: Sequence[object], prepared: object) -> None:
        owners, bookings, changed = cast(_Prepared, prepared)
        owners.flush(cursor)
        bookings.flush(cursor)
        _write_totals(cursor, changed)


_Prepared = tuple["accounts.AccountOwners", "TableRows[BookingRow]", set[tuple[str, int]]]
"""What ``LeaveBalances.prepare`` hands on: owners, bookings, and the totals to write."""


class BookingRow(NamedTuple):
    """A booking without its key (case, year): one request's days in one year."""

    employee_id: str
    days: str
    approved: bool


def _counts(event: DaysReserved) -> bool:
    return LeaveType(event.leave_type).draws_on_balance


def _apply(
    owners: accounts.AccountOwners, bookings: TableRows[BookingRow], event: object
) -> set[tuple[str, int]]:
    """One event, as SQL would apply it; the employees and years whose totals it changes."""
    match event:
        case AccountOpened():
            owners.remember(accounts.account_of(event), event.employee_id)
        case DaysReserved() if _counts(event):
            employee_id = owners.owner(accounts.account_of(event))
            if employee_id is None:
                return set()
            rows = bookings.group((event.case_id,))
            days = {date.fromisoformat(day): share for day, share in event.days.items()}
            totals = days_by_year(days)
            for year, total in totals.items():
                old = rows.get((year,))
                # On a clash the row keeps its employee, which is the owner anyway:
                # a case's days are only ever reserved on its requester's account.
                owner = employee_id if old is None else old.employee_id
                rows[(year,)] = BookingRow(owner, str(total), event.approved)
            return {(employee_id, year) for year in totals}
        case ReservationConfirmed():
            rows = bookings.group((event.case_id,))
            for member, row in rows.items():
                rows[member] = row._replace(approved=True)
            return {(row.employee_id, year) for (year,), row in rows.items()}
        case ReservationReleased():
            rows = bookings.group((event.case_id,))
            years = {(row.employee_id, year) for (year,), row in rows.items()}
            rows.clear()
            return years
        case ReservationShortened():
            rows = bookings.group((event.case_id,))
            released = {date.fromisoformat(day): share for day, share in event.released.items()}
            changed = set()
            for year, total in days_by_year(released).items():
                old = rows.get((year,))
                if old is not None:  # a booking that counts
                    rows[(year,)] = old._replace(days=str(Decimal(old.days) - total))
                    changed.add((old.employee_id, year))
            return changed
    return set()


def _write_totals(cursor: Cursor, changed: set[tuple[str, int]]) -> None:
    """Recompute the approved and pending days of each changed employee and year from
    their bookings as the batch leaves them."""
    if not changed:
        return
    approved = dict.fromkeys(changed, ZERO)
    pending = dict.fromkeys(changed, ZERO)
    bookings = select_where_in(
        cursor,
        "employee_id, year, days, approved",
        "balance_bookings",
        "employee_id",
        {employee_id for employee_id, _year in changed},
    )
    for employee_id, year, days, done in bookings:
        key = (employee_id, year)
        if key in changed:
            totals = approved if done else pending
            totals[key] += Decimal(days)
    insert(
        cursor,
        "leave_balances",
        ("employee_id", "year"),
        ("approved", "pending"),
        [(*key, str(approved[key]), str(pending[key])) for key in sorted(changed)],
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
    entitled = profile.entitlement_in(year)
    remaining = entitled - approved - pending
    return LeaveBalance(employee_id, year, entitled, approved, pending, remaining)
