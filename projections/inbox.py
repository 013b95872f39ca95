"""The inbox: every open approval task, once for each person who may decide it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple, cast
from uuid import UUID

from domain.case import TaskDeciders
from projections.base import PreparedProjection, utc_text
from projections.database import Cursor, Row
from projections.events import (
    CaseEvent,
    LeaveSubmitted,
    TaskCancelled,
    TaskDecided,
    TaskEscalated,
    TaskOpened,
)
from projections.rows import Lookup, TableRows


class InboxTask(NamedTuple):
    """One open task in one person's inbox. ``task_id`` names its case
    (``{case_id}.approval``), so it is unique across cases. (A tuple: an inbox of 500
    tasks makes 500, faster than frozen dataclasses.)"""

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


class Inbox(PreparedProjection):
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
    handles = (LeaveSubmitted, TaskOpened, TaskEscalated, TaskDecided, TaskCancelled)

    def prepare(
        self, cursor: Cursor, events: Sequence[object]
    ) -> tuple[Lookup, TableRows[InboxRow]]:
        cases = Lookup("inbox_cases", "case_id", ("process", "requester_id"))
        cases.load(cursor, {_case(e) for e in events if isinstance(e, LeaveSubmitted | TaskOpened)})
        tasks = TableRows("inbox", TASK_KEY, InboxRow, group=2, booleans=("escalated",))
        tasks.load(cursor, "case_id", {_case(e) for e in events if isinstance(e, TASK_EVENTS)})
        for event in events:
            _apply(cases, tasks, event)
        return cases, tasks

    def apply_prepared(self, cursor: Cursor, events: Sequence[object], prepared: object) -> None:
        cases, tasks = cast(tuple[Lookup, TableRows[InboxRow]], prepared)
        cases.flush(cursor)
        tasks.flush(cursor)


class InboxRow(NamedTuple):
    """An inbox row without its key (case, task, assignee)."""

    process: str
    requester_id: str
    title: str
    due_at: str
    escalated: bool
    opened_at: str


TASK_KEY = ("case_id", "task_id", "assignee_id")
TASK_EVENTS = (TaskOpened, TaskEscalated, TaskDecided, TaskCancelled)


def _case(event: CaseEvent) -> str:
    return str(event.originator_id)


def _apply(cases: Lookup, tasks: TableRows[InboxRow], event: object) -> None:
    """One event, as SQL would apply it: new rows are inserted ``ON CONFLICT DO NOTHING``."""
    match event:
        case LeaveSubmitted():
            cases.add(_case(event), ("leave", event.requester_id))
        case TaskOpened():
            case = cases.get(_case(event))
            if case is None:  # a kind of case this inbox does not know (yet)
                return
            process, requester_id = case
            due_at, opened_at = utc_text(event.due_at), utc_text(event.timestamp)
            rows = tasks.group((_case(event), event.task_id))
            for assignee in event.assignees:
                rows.setdefault(
                    (assignee,),
                    InboxRow(process, requester_id, event.title, due_at, False, opened_at),
                )
        case TaskEscalated():
            rows = tasks.group((_case(event), event.task_id))
            if not rows:  # no longer open
                return
            # Every row of a task holds the same values but its assignee and the flag.
            first = rows[min(rows)]
            for assignee in event.to:
                rows.setdefault((assignee,), first)
            for member, row in rows.items():
                rows[member] = row._replace(escalated=True)
        case TaskDecided() | TaskCancelled():
            tasks.group((_case(event), event.task_id)).clear()


def deciders_of_open_tasks(cursor: Cursor) -> dict[tuple[UUID, str, str], TaskDeciders]:
    """Every open task, as (case, task, process), with its requester and everyone who
    may decide it."""
    tasks: dict[tuple[UUID, str, str], TaskDeciders] = {}
    rows = cursor.execute(
        "SELECT case_id, task_id, process, requester_id, assignee_id FROM inbox"
        " ORDER BY case_id, task_id, assignee_id"
    ).fetchall()
    for case_id, task_id, process, requester_id, assignee_id in rows:
        key = (UUID(case_id), task_id, process)
        tasks.setdefault(key, TaskDeciders(requester_id, [])).deciders.append(assignee_id)
    return tasks


def open_tasks(
    cursor: Cursor,
    assignee_id: str,
    *,
    after: tuple[datetime, str] | None = None,
    limit: int | None = None,
    not_asked_by: str | None = None,
) -> list[InboxTask]:
    """The tasks ``assignee_id`` may decide, the most urgent first: by ``due_at``, then
    task id (which names its case). ``after``: only those after the task of this
    (``due_at``, task id), for the next page; ``limit``: at most this many (None: all);
    ``not_asked_by``: without the tasks of this requester's cases."""
    # Ids in byte order on PostgreSQL too, whatever the database's collation: the API
    # merges these with a delegator's tasks in Python, which compares them so.
    task_id = 'task_id COLLATE "C"' if cursor.is_postgres else "task_id"
    conditions: list[str] = ["assignee_id = ?"]
    params: list[object] = [assignee_id]
    if after is not None:
        due_at = utc_text(after[0])
        conditions.append(f"(due_at > ? OR (due_at = ? AND {task_id} > ?))")
        params.extend([due_at, due_at, after[1]])
    if not_asked_by is not None:
        conditions.append("requester_id <> ?")
        params.append(not_asked_by)
    limited = ""
    if limit is not None:
        limited = " LIMIT ?"
        params.append(limit)
    rows = cursor.execute(
        "SELECT case_id, task_id, process, title, requester_id, assignee_id, due_at,"  # noqa: S608
        f" escalated, opened_at FROM inbox WHERE {' AND '.join(conditions)}"
        f" ORDER BY due_at, {task_id}{limited}",
        params,
    ).fetchall()
    return [InboxTask.from_row(row) for row in rows]
