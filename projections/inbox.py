"""The inbox: every open approval task, once for each person who may decide it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from projections.base import Projection, utc_text
from projections.database import Cursor, Row
from projections.events import (
    LeaveSubmitted,
    TaskCancelled,
    TaskDecided,
    TaskEscalated,
    TaskOpened,
)


@dataclass(frozen=True)
class InboxTask:
    """One open task in one person's inbox. ``task_id`` is unique within its case only."""

    case_id: UUID
    task_id: str
    process: str
    title: str
    requester_id: str
    assignee_id: str
    due_at: datetime
    escalated: bool
    opened_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> InboxTask:
        case_id, task_id, process, title, requester, assignee, due_at, escalated, opened = row
        return cls(
            UUID(case_id),
            task_id,
            process,
            title,
            requester,
            assignee,
            datetime.fromisoformat(due_at),
            bool(escalated),
            datetime.fromisoformat(opened),
        )


class Inbox(Projection):
    name = "inbox"
    tables = {
        # Who asked, for each case: a task event names only its case.
        "inbox_cases": (
            "case_id TEXT PRIMARY KEY, process TEXT NOT NULL, requester_id TEXT NOT NULL"
        ),
        "inbox": (
            "case_id TEXT NOT NULL, task_id TEXT NOT NULL, assignee_id TEXT NOT NULL,"
            " process TEXT NOT NULL, title TEXT NOT NULL, requester_id TEXT NOT NULL,"
            " due_at TEXT NOT NULL, escalated BOOLEAN NOT NULL, opened_at TEXT NOT NULL,"
            " PRIMARY KEY (case_id, task_id, assignee_id)"
        ),
    }
    indexes = ("CREATE INDEX IF NOT EXISTS inbox_by_assignee ON inbox (assignee_id, due_at)",)

    def apply(self, cursor: Cursor, event: object) -> None:
        match event:
            case LeaveSubmitted():
                cursor.execute(
                    "INSERT INTO inbox_cases (case_id, process, requester_id) VALUES (?, ?, ?)"
                    " ON CONFLICT (case_id) DO NOTHING",
                    [str(event.originator_id), "leave", event.requester_id],
                )
            case TaskOpened():
                case = cursor.execute(
                    "SELECT process, requester_id FROM inbox_cases WHERE case_id = ?",
                    [str(event.originator_id)],
                ).fetchone()
                if case is None:  # a kind of case this inbox does not know (yet)
                    return
                process, requester_id = case
                for assignee in event.assignees:
                    cursor.execute(
                        INSERT_TASK,
                        [
                            str(event.originator_id),
                            event.task_id,
                            assignee,
                            process,
                            requester_id,
                            event.title,
                            utc_text(event.due_at),
                            False,
                            utc_text(event.timestamp),
                        ],
                    )
            case TaskEscalated():
                key = [str(event.originator_id), event.task_id]
                task = cursor.execute(
                    "SELECT process, requester_id, title, due_at, opened_at FROM inbox"
                    " WHERE case_id = ? AND task_id = ? ORDER BY assignee_id LIMIT 1",
                    key,
                ).fetchone()
                if task is None:  # no longer open
                    return
                process, requester_id, title, due_at, opened_at = task
                for assignee in event.to:
                    cursor.execute(
                        INSERT_TASK,
                        [*key, assignee, process, requester_id, title, due_at, True, opened_at],
                    )
                cursor.execute(
                    "UPDATE inbox SET escalated = ? WHERE case_id = ? AND task_id = ?",
                    [True, *key],
                )
            case TaskDecided() | TaskCancelled():
                cursor.execute(
                    "DELETE FROM inbox WHERE case_id = ? AND task_id = ?",
                    [str(event.originator_id), event.task_id],
                )


INSERT_TASK = (
    "INSERT INTO inbox (case_id, task_id, assignee_id, process, requester_id, title,"
    " due_at, escalated, opened_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (case_id, task_id, assignee_id) DO NOTHING"
)


def open_tasks(cursor: Cursor, assignee_id: str) -> list[InboxTask]:
    """The tasks ``assignee_id`` may decide, the most urgent first."""
    rows = cursor.execute(
        "SELECT case_id, task_id, process, title, requester_id, assignee_id, due_at,"
        " escalated, opened_at FROM inbox WHERE assignee_id = ?"
        " ORDER BY due_at, opened_at, case_id, task_id",
        [assignee_id],
    ).fetchall()
    return [InboxTask.from_row(row) for row in rows]
