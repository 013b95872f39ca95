"""Leave cases: one row per leave request with its current status."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import cast
from uuid import UUID

from domain.leave import LeaveType
from domain.leave_request import LeaveStatus
from projections.base import PreparedProjection, utc_text
from projections.database import Cursor, Row
from projections.events import (
    CaseEvent,
    LeaveApproved,
    LeaveCancelled,
    LeaveRejected,
    LeaveShortened,
    LeaveSubmitted,
    LeaveTaken,
    LeaveWithdrawn,
)

COLUMNS = (
    "case_id, requester_id, leave_type, first_day, last_day, half_day_start, half_day_end,"
    " working_days, status, submitted_at, updated_at, position"
)
COLUMN_NAMES = tuple(column.strip() for column in COLUMNS.split(","))


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
    position: int
    """The log position of the request's latest change: a follower reads the requests
    changed after the last one it saw (:func:`changes`)."""

    @classmethod
    def from_row(cls, row: Row) -> LeaveCase:
        (case_id, requester, kind, start, end, half_start, half_end, days, status, at, now,
         position) = row  # fmt: skip
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
            int(position),
        )


class LeaveCases(PreparedProjection):
    name = "leave_cases"
    tables = {
        # "start" and "end" are SQL keywords, hence first_day / last_day.
        "leave_cases": (
            "case_id TEXT PRIMARY KEY, requester_id TEXT NOT NULL, leave_type TEXT NOT NULL,"
            " first_day TEXT NOT NULL, last_day TEXT NOT NULL, half_day_start BOOLEAN NOT NULL,"
            " half_day_end BOOLEAN NOT NULL, working_days TEXT NOT NULL, status TEXT NOT NULL,"
            " submitted_at TEXT NOT NULL, updated_at TEXT NOT NULL, position BIGINT NOT NULL"
        ),
    }
    indexes = (
        "CREATE INDEX IF NOT EXISTS leave_cases_by_requester"
        " ON leave_cases (requester_id, submitted_at)",
    )
    read_indexes = ("CREATE INDEX IF NOT EXISTS leave_cases_by_position ON leave_cases (position)",)
    with_positions = True

    handles = (CaseEvent,)
    """A request's own events, and its tasks': those are stored under the topics of
    ``Case``, so they read back as ``Case``'s classes, not as ``LeaveRequest.Event``s
    (a task of a case that is no leave request changes no row here)."""

    def prepare(self, cursor: Cursor, events: Sequence[object]) -> _Changes:
        changes = _Changes()
        for position, event in cast(Sequence[tuple[int, object]], events):  # with_positions
            match event:
                case LeaveSubmitted():
                    changes.submitted(position, event)
                case LeaveApproved():
                    changes.update(position, event, LeaveStatus.APPROVED)
                case LeaveRejected():
                    changes.update(position, event, LeaveStatus.REJECTED)
                case LeaveWithdrawn():
                    changes.update(position, event, LeaveStatus.WITHDRAWN)
                case LeaveCancelled():
                    changes.update(position, event, LeaveStatus.CANCELLED)
                case LeaveTaken():
                    changes.update(position, event, LeaveStatus.TAKEN)
                case LeaveShortened():
                    changes.shortened(position, event)
                case CaseEvent():  # tasks opened, escalated, manager informed, ...
                    changes.update(position, event, None)
        return changes

    def apply_prepared(self, cursor: Cursor, events: Sequence[object], prepared: object) -> None:
        cast(_Changes, prepared).write(cursor)


@dataclass
class _Submission:
    """A case submitted in the batch: its row, with the status, time and position of its
    last event."""

    columns: tuple[object, ...]
    """Every column up to the working days."""
    status: str
    submitted_at: datetime
    updated_at: datetime
    position: int

    def row(self) -> tuple[object, ...]:
        times = utc_text(self.submitted_at), utc_text(self.updated_at)
        return (*self.columns, self.status, *times, self.position)


class _Changes:
    """A batch's changes to the cases, one statement per case however many events.

    A submission is an upsert that sets the status, the time and the position of the
    last change (the other columns never change); each later event sets the time and
    position and maybe the status of an existing row. So a case submitted in the batch
    is upserted once with its final status, time and position, and any other case is
    updated once with its last status (if any event set one), time and position.
    Times become text when written: most are overtaken within the batch.
    """

    def __init__(self) -> None:
        self.new: dict[str, _Submission] = {}
        self.updated: dict[str, tuple[str | None, datetime, int]] = {}
        self.ends: dict[str, tuple[str, bool, str]] = {}
        """Cases ended early: their last day, whether at noon, and working days."""

    def submitted(self, position: int, event: LeaveSubmitted) -> None:
        needs_approval = LeaveType(event.leave_type).needs_approval
        status = LeaveStatus.PENDING if needs_approval else LeaveStatus.RECORDED
        case_id = str(event.originator_id)
        self.updated.pop(case_id, None)  # the upsert sets what they set
        columns = (
            case_id,
            event.requester_id,
            event.leave_type,
            event.start.isoformat(),
            event.end.isoformat(),
            event.half_day_start,
            event.half_day_end,
            str(sum(event.days.values(), Decimal(0))),
        )
        at = event.timestamp
        self.new[case_id] = _Submission(columns, status.value, at, at, position)

    def update(self, position: int, event: CaseEvent, status: LeaveStatus | None) -> None:
        case_id, at = str(event.originator_id), event.timestamp
        submission = self.new.get(case_id)
        if submission is not None:
            submission.status = submission.status if status is None else status.value
            submission.updated_at = at
            submission.position = position
            return
        previous = self.updated.get(case_id, (None, at, position))[0]
        self.updated[case_id] = (previous if status is None else status.value, at, position)

    def shortened(self, position: int, event: LeaveShortened) -> None:
        case_id = str(event.originator_id)
        last_day = event.last_day.isoformat()
        # Recorded before leave could end at noon: a whole last day.
        at_noon = bool(getattr(event, "half_day_end", False))
        working_days = str(sum(event.days.values(), Decimal(0)))
        submission = self.new.get(case_id)
        if submission is not None:
            submission.columns = (*submission.columns[:4], last_day, submission.columns[5],
                                  at_noon, working_days)  # fmt: skip
        else:
            self.ends[case_id] = (last_day, at_noon, working_days)
        self.update(position, event, None)

    def write(self, cursor: Cursor) -> None:
        if self.new:
            cursor.insert_many(
                "leave_cases",
                COLUMN_NAMES,
                [submission.row() for submission in self.new.values()],
                "ON CONFLICT (case_id) DO UPDATE SET status = excluded.status,"
                " updated_at = excluded.updated_at, position = excluded.position",
            )
        if self.updated:
            cursor.executemany(
                "UPDATE leave_cases SET status = COALESCE(?, status), updated_at = ?, position = ?"
                " WHERE case_id = ?",
                [
                    (status, utc_text(at), position, case_id)
                    for case_id, (status, at, position) in self.updated.items()
                ],
            )
        if self.ends:
            cursor.executemany(
                "UPDATE leave_cases SET last_day = ?, half_day_end = ?, working_days = ?"
                " WHERE case_id = ?",
                [(end, noon, days, case_id) for case_id, (end, noon, days) in self.ends.items()],
            )


def cases_of(
    cursor: Cursor,
    requester_id: str,
    *,
    after: tuple[datetime, UUID] | None = None,
    limit: int | None = None,
) -> list[LeaveCase]:
    """The requester's leave requests, the latest submitted first (see
    :func:`cases_of_many` for ``after`` and ``limit``)."""
    return cases_of_many(cursor, [requester_id], limit, after=after)


def cases_of_many(
    cursor: Cursor,
    requester_ids: Collection[str] | None,
    limit: int | None,
    *,
    after: tuple[datetime, UUID] | None = None,
    not_requested_by: str | None = None,
) -> list[LeaveCase]:
    """The leave requests of ``requester_ids`` (None: everyone's), latest first: by
    ``submitted_at`` descending, then ``case_id``, which tells apart the cases submitted
    at one instant. ``after``: only those after the case of this (``submitted_at``,
    ``case_id``), for the next page; ``limit``: at most this many (None: all);
    ``not_requested_by``: leaving out this requester's, in the query, so that a page
    of others' requests is as full as one of anybody's."""
    conditions: list[str] = []
    params: list[object] = []
    if requester_ids is not None:
        if not requester_ids:
            return []
        conditions.append(f"requester_id IN ({', '.join('?' for _ in requester_ids)})")
        params.extend(sorted(requester_ids))
    if not_requested_by is not None:
        conditions.append("requester_id <> ?")
        params.append(not_requested_by)
    if after is not None:
        submitted_at, case_id = utc_text(after[0]), str(after[1])
        conditions.append("(submitted_at < ? OR (submitted_at = ? AND case_id > ?))")
        params.extend([submitted_at, submitted_at, case_id])
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    limited = ""
    if limit is not None:
        limited = " LIMIT ?"
        params.append(limit)
    rows = cursor.execute(
        f"SELECT {COLUMNS} FROM leave_cases {where}"  # noqa: S608
        f" ORDER BY submitted_at DESC, case_id{limited}",
        params,
    ).fetchall()
    return [LeaveCase.from_row(row) for row in rows]


def leave_case(cursor: Cursor, case_id: UUID) -> LeaveCase | None:
    row = cursor.execute(
        f"SELECT {COLUMNS} FROM leave_cases WHERE case_id = ?",  # noqa: S608
        [str(case_id)],
    ).fetchone()
    return None if row is None else LeaveCase.from_row(row)


def changes(
    cursor: Cursor, requester_ids: Collection[str] | None, *, after: int, limit: int
) -> list[LeaveCase]:
    """The leave requests of ``requester_ids`` (None: everyone's) whose latest change is
    after log position ``after``, the earliest change first, at most ``limit``: each
    request once, as it stands, however often it changed since."""
    conditions = ["position > ?"]
    params: list[object] = [after]
    if requester_ids is not None:
        if not requester_ids:
            return []
        conditions.append(f"requester_id IN ({', '.join('?' for _ in requester_ids)})")
        params.extend(sorted(requester_ids))
    rows = cursor.execute(
        f"SELECT {COLUMNS} FROM leave_cases WHERE {' AND '.join(conditions)}"  # noqa: S608
        " ORDER BY position LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [LeaveCase.from_row(row) for row in rows]
