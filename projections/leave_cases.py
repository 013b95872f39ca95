"""Leave cases: one row per leave request with its current status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from domain.leave import LeaveType
from domain.leave_request import LeaveStatus
from projections.base import Projection, utc_text
from projections.database import Cursor, Row
from projections.events import (
    LeaveApproved,
    LeaveCancelled,
    LeaveRejected,
    LeaveRequestEvent,
    LeaveSubmitted,
    LeaveTaken,
    LeaveWithdrawn,
)

COLUMNS = (
    "case_id, requester_id, leave_type, first_day, last_day, half_day_start, half_day_end,"
    " working_days, status, submitted_at, updated_at"
)


@dataclass(frozen=True)
class LeaveCase:
    case_id: UUID
    requester_id: str
    leave_type: str
    start: date
    end: date
    half_day_start: bool
    half_day_end: bool
    working_days: Decimal
    status: LeaveStatus
    submitted_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> LeaveCase:
        case_id, requester, kind, start, end, half_start, half_end, days, status, at, now = row
        return cls(
            UUID(case_id),
            requester,
            kind,
            date.fromisoformat(start),
            date.fromisoformat(end),
            bool(half_start),
            bool(half_end),
            Decimal(days),
            LeaveStatus(status),
            datetime.fromisoformat(at),
            datetime.fromisoformat(now),
        )


class LeaveCases(Projection):
    name = "leave_cases"
    tables = {
        # "start" and "end" are SQL keywords, hence first_day / last_day.
        "leave_cases": (
            "case_id TEXT PRIMARY KEY, requester_id TEXT NOT NULL, leave_type TEXT NOT NULL,"
            " first_day TEXT NOT NULL, last_day TEXT NOT NULL, half_day_start BOOLEAN NOT NULL,"
            " half_day_end BOOLEAN NOT NULL, working_days TEXT NOT NULL, status TEXT NOT NULL,"
            " submitted_at TEXT NOT NULL, updated_at TEXT NOT NULL"
        ),
    }
    indexes = (
        "CREATE INDEX IF NOT EXISTS leave_cases_by_requester"
        " ON leave_cases (requester_id, submitted_at)",
    )

    def apply(self, cursor: Cursor, event: object) -> None:
        match event:
            case LeaveSubmitted():
                needs_approval = LeaveType(event.leave_type).needs_approval
                status = LeaveStatus.PENDING if needs_approval else LeaveStatus.RECORDED
                submitted_at = utc_text(event.timestamp)
                cursor.execute(
                    f"INSERT INTO leave_cases ({COLUMNS})"  # noqa: S608
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (case_id) DO UPDATE"
                    " SET status = excluded.status, updated_at = excluded.updated_at",
                    [
                        str(event.originator_id),
                        event.requester_id,
                        event.leave_type,
                        event.start.isoformat(),
                        event.end.isoformat(),
                        event.half_day_start,
                        event.half_day_end,
                        str(sum(event.days.values(), Decimal(0))),
                        status.value,
                        submitted_at,
                        submitted_at,
                    ],
                )
            case LeaveApproved():
                _update(cursor, event, LeaveStatus.APPROVED)
            case LeaveRejected():
                _update(cursor, event, LeaveStatus.REJECTED)
            case LeaveWithdrawn():
                _update(cursor, event, LeaveStatus.WITHDRAWN)
            case LeaveCancelled():
                _update(cursor, event, LeaveStatus.CANCELLED)
            case LeaveTaken():
                _update(cursor, event, LeaveStatus.TAKEN)
            case LeaveRequestEvent():  # tasks opened, manager informed, ...
                _update(cursor, event, None)


def _update(cursor: Cursor, event: LeaveRequestEvent, status: LeaveStatus | None) -> None:
    cursor.execute(
        "UPDATE leave_cases SET status = COALESCE(?, status), updated_at = ? WHERE case_id = ?",
        [
            None if status is None else status.value,
            utc_text(event.timestamp),
            str(event.originator_id),
        ],
    )


def cases_of(cursor: Cursor, requester_id: str) -> list[LeaveCase]:
    """The requester's leave requests, the latest submitted first."""
    rows = cursor.execute(
        f"SELECT {COLUMNS} FROM leave_cases WHERE requester_id = ?"  # noqa: S608
        " ORDER BY submitted_at DESC, case_id",
        [requester_id],
    ).fetchall()
    return [LeaveCase.from_row(row) for row in rows]


def leave_case(cursor: Cursor, case_id: UUID) -> LeaveCase | None:
    row = cursor.execute(
        f"SELECT {COLUMNS} FROM leave_cases WHERE case_id = ?",  # noqa: S608
        [str(case_id)],
    ).fetchone()
    return None if row is None else LeaveCase.from_row(row)
