"""The employee directory: who everyone is and who their manager is.

Other read models join it (a manager's team, a balance's entitlement).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import date
from decimal import Decimal
from typing import Any

from domain.employee import EmployeeProfile
from projections.base import Projection
from projections.database import Cursor, Row
from projections.events import EmployeeDetailsChanged, EmployeeRegistered

PROFILE_COLUMNS = tuple(field.name for field in fields(EmployeeProfile))
"""The directory row holds exactly an employee's profile, in the profile's field order."""


def _profile(row: Row) -> EmployeeProfile:
    employee_id, name, email, manager_id, country, subdivision, days, start, department, end = row
    return EmployeeProfile(
        employee_id,
        name,
        email,
        manager_id,
        country,
        subdivision,
        Decimal(days),
        date.fromisoformat(start),
        department,
        None if end is None else date.fromisoformat(end),
    )


class EmployeeDirectory(Projection):
    # Named for its version: a store made before departments and end dates has an
    # ``employees`` table without them, and a new name is rebuilt from the events.
    name = "employee_directory"
    tables = {
        "employee_directory": (
            "employee_id TEXT PRIMARY KEY, aggregate_id TEXT NOT NULL UNIQUE,"
            " name TEXT NOT NULL, email TEXT NOT NULL, manager_id TEXT,"
            " country TEXT NOT NULL, subdivision TEXT,"
            " annual_leave_days TEXT NOT NULL, start_date TEXT NOT NULL,"
            " department_id TEXT, end_date TEXT"
        ),
    }
    indexes = (
        "CREATE INDEX IF NOT EXISTS employee_directory_by_manager"
        " ON employee_directory (manager_id)",
    )

    handles = (EmployeeRegistered, EmployeeDetailsChanged)

    def apply(self, cursor: Cursor, events: Sequence[object]) -> None:
        # Few events: people join and change far less often than they ask for leave.
        for event in events:
            self._apply(cursor, event)

    @staticmethod
    def _apply(cursor: Cursor, event: object) -> None:
        match event:
            case EmployeeRegistered():
                columns = ", ".join(PROFILE_COLUMNS)
                cursor.execute(
                    f"INSERT INTO employee_directory (aggregate_id, {columns})"  # noqa: S608
                    f" VALUES (?, {', '.join('?' for _ in PROFILE_COLUMNS)})"
                    " ON CONFLICT (employee_id) DO NOTHING",
                    [str(event.originator_id), *_values(event.profile, PROFILE_COLUMNS)],
                )
            case EmployeeDetailsChanged():
                changed = [column for column in PROFILE_COLUMNS if column in event.changes]
                if changed:
                    assignments = ", ".join(f"{column} = ?" for column in changed)
                    cursor.execute(
                        f"UPDATE employee_directory SET {assignments} WHERE aggregate_id = ?",  # noqa: S608
                        [*_values(event.changes, changed), str(event.originator_id)],
                    )


def _values(profile: dict[str, Any], columns: tuple[str, ...] | list[str]) -> list[object]:
    # Decimals as text; dates are already ISO text in the events (absent in old ones).
    return [
        str(profile[column]) if column == "annual_leave_days" else profile.get(column)
        for column in columns
    ]


SELECT_EMPLOYEE = f"SELECT {', '.join(PROFILE_COLUMNS)} FROM employee_directory"  # noqa: S608


def employee(cursor: Cursor, employee_id: str) -> EmployeeProfile | None:
    row = cursor.execute(f"{SELECT_EMPLOYEE} WHERE employee_id = ?", [employee_id]).fetchone()
    return None if row is None else _profile(row)


def direct_reports(cursor: Cursor, manager_id: str) -> list[EmployeeProfile]:
    rows = cursor.execute(
        f"{SELECT_EMPLOYEE} WHERE manager_id = ? ORDER BY employee_id", [manager_id]
    ).fetchall()
    return [_profile(row) for row in rows]
