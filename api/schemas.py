"""The API's request and response bodies: the contract other systems code against.

Days are JSON numbers (``5``, ``2.5``); dates are ISO ``YYYY-MM-DD``; times ISO 8601 in UTC.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal, Protocol
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    field_validator,
)

from api.days import Days
from api.text import CONTROL_BUT_LINES
from domain.case import Decision
from domain.leave import LeaveType
from domain.leave_request import LeaveRequest, LeaveStatus
from projections.inbox import InboxTask
from projections.leave_balances import LeaveBalance
from projections.leave_cases import LeaveCase
from services.application import case_id_of_task
from workflows.messages import CaseState


def _printable(text: str) -> str:
    """Text a person wrote: lines and tabs, but no other control characters (a NUL
    would reach the pages, the exports and every system reading the audit log)."""
    if CONTROL_BUT_LINES.search(text):
        raise ValueError("must not contain control characters (other than line breaks and tabs)")
    return text


FreeText = Annotated[str, Field(max_length=2000), AfterValidator(_printable)]
"""A reason or comment."""

ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
NOT_A_DAY = "must be a date such as 2027-07-05"


def _day(value: object) -> object:
    """A day as ``YYYY-MM-DD`` (or a ``date``, from the pages' forms) and nothing else:
    pydantic would take ``2027-09-06T00:00:00`` or a number of seconds for a day."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and ISO_DAY.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(_no_such_day(value)) from None
    raise ValueError(NOT_A_DAY)


def _no_such_day(text: str) -> str:
    """Why ``text``, written as a day, is none: ``2027-02-30``, ``2027-13-01``."""
    year, month, _day_of_month = (int(part) for part in text.split("-"))
    if not 1 <= month <= 12:
        why = "a year has 12 months"
    elif year == 0:
        why = "the calendar starts in year 0001"
    else:
        length = calendar.monthrange(year, month)[1]
        why = f"{calendar.month_name[month]} {year} has {length} days"
    return f"there is no day {text} in the calendar ({why})"


Day = Annotated[date, BeforeValidator(_day)]
"""A date in a request body: ``YYYY-MM-DD``, strictly."""


def _query_flag(value: object) -> object:
    """``true`` or ``false`` in a query, as in a body: not ``yes``, ``1`` or ``on``."""
    if isinstance(value, bool) or value in ("true", "false"):
        return value
    raise ValueError("must be true or false")


QueryFlag = Annotated[bool, BeforeValidator(_query_flag)]
"""A yes-or-no in a query: ``true`` or ``false``."""
Flag = Annotated[bool, Strict()]
"""A yes-or-no in a request body: JSON ``true`` or ``false``, not ``"yes"`` or ``1``."""


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(BaseModel):
    detail: str = Field(description="What went wrong, for a person to read")
    rule: str | None = Field(None, description="The rule that refused the request, if one did")


# -- leave requests ----------------------------------------------------------------------


BOOKABLE_PAST = timedelta(days=366)
"""How far back leave may be recorded (sick leave is often reported afterwards)."""
BOOKABLE_FUTURE = timedelta(days=2 * 366)


class LeaveRequestIn(Body):
    type: LeaveType
    start: Day = Field(description="First day of leave")
    end: Day = Field(description="Last day of leave (inclusive)")
    half_day_start: Flag = Field(False, description="Only the afternoon of the first day")
    half_day_end: Flag = Field(False, description="Only the morning of the last day")
    reason: FreeText | None = None
    employee_id: str | None = Field(
        None,
        max_length=200,
        description="Whose leave it is: yourself (the default); someone else's only for `hr`,"
        " with a `reason`",
    )

    @field_validator("start", "end")
    @classmethod
    def _within_bookable_range(cls, day: date) -> date:
        today = datetime.now(UTC).date()
        earliest, latest = today - BOOKABLE_PAST, today + BOOKABLE_FUTURE
        if not earliest <= day <= latest:
            raise ValueError(
                f"{day} is out of range: leave can be asked for from {earliest} (a year"
                f" back, for sick leave reported late) to {latest} (two years ahead)"
            )
        return day


class TaskView(Protocol):
    """What an approval task looks like, recorded (aggregate) or reported (workflow)."""

    @property
    def task_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def assignees(self) -> list[str]: ...
    @property
    def escalated_to(self) -> list[str]: ...
    @property
    def due_at(self) -> datetime: ...
    @property
    def is_open(self) -> bool: ...
    @property
    def decision(self) -> Decision | None: ...
    @property
    def decided_by(self) -> str | None: ...
    @property
    def decided_on_behalf_of(self) -> str | None: ...
    @property
    def comment(self) -> str | None: ...


class TaskOut(BaseModel):
    id: str
    title: str
    assignees: list[str]
    escalated_to: list[str]
    due_at: datetime
    open: bool
    decision: Decision | None

    @classmethod
    def of(cls, task: TaskView) -> TaskOut:
        return cls(
            id=task.task_id,
            title=task.title,
            assignees=list(task.assignees),
            escalated_to=list(task.escalated_to),
            due_at=task.due_at,
            open=task.is_open,
            decision=task.decision,
        )


class DecisionOut(BaseModel):
    task_id: str
    decision: Decision
    actor: str = Field(description="Who decided")
    on_behalf_of: str | None = Field(description="For whom, when decided for someone else")
    comment: str | None

    @classmethod
    def all_of(cls, tasks: Sequence[TaskView]) -> list[DecisionOut]:
        return [
            cls(
                task_id=task.task_id,
                decision=task.decision,
                actor=task.decided_by or "",
                on_behalf_of=task.decided_on_behalf_of,
                comment=task.comment,
            )
            for task in tasks
            if task.decision is not None
        ]


class LeaveRequestOut(BaseModel):
    id: UUID
    process: Literal["leave"] = "leave"
    status: LeaveStatus
    requester_id: str
    type: LeaveType
    start: date
    end: date
    half_day_start: bool
    half_day_end: bool
    working_days: Days
    reason: str | None
    closing_reason: str | None = Field(
        description="Why it was rejected or cancelled, when a reason was given"
    )
    decisions: list[DecisionOut]
    tasks: list[TaskOut]
    position: int | None = Field(
        None,
        description="After a command: the event log position of its events, which the read"
        " models have reached when this answer is sent (unless they were slow)",
    )

    @classmethod
    def of_case(cls, case: LeaveRequest) -> LeaveRequestOut:
        tasks = list(case.tasks.values())
        return cls(
            id=case.id,
            status=case.status,
            requester_id=case.requester_id,
            type=case.leave_type,
            start=case.start,
            end=case.end,
            half_day_start=case.period.half_day_start,
            half_day_end=case.period.half_day_end,
            working_days=case.working_days,
            reason=case.reason,
            closing_reason=case.closing_reason,
            decisions=DecisionOut.all_of(tasks),
            tasks=[TaskOut.of(task) for task in tasks],
        )

    @classmethod
    def of_state(cls, state: CaseState) -> LeaveRequestOut:
        tasks = state.tasks
        return cls(
            id=state.case_id,
            status=state.status,
            requester_id=state.requester_id,
            type=state.leave_type,
            start=state.start,
            end=state.end,
            half_day_start=state.half_day_start,
            half_day_end=state.half_day_end,
            working_days=state.working_days,
            reason=state.reason,
            closing_reason=state.closing_reason,
            decisions=DecisionOut.all_of(tasks),
            tasks=[TaskOut.of(task) for task in tasks],
            position=state.position,
        )


class LeaveRequestSummary(BaseModel):
    id: UUID
    requester_id: str
    type: LeaveType
    start: date
    end: date
    half_day_start: bool
    half_day_end: bool
    working_days: Days
    status: LeaveStatus
    submitted_at: datetime
    updated_at: datetime
    position: int = Field(
        description="The event log position of the request's latest change: give the last"
        " one you have processed as `after` to `GET /api/leave-requests/changes`"
    )

    @classmethod
    def of(cls, row: LeaveCase) -> LeaveRequestSummary:
        return cls(
            id=row.case_id,
            requester_id=row.requester_id,
            type=LeaveType(row.leave_type),
            start=row.start,
            end=row.end,
            half_day_start=row.half_day_start,
            half_day_end=row.half_day_end,
            working_days=row.working_days,
            status=row.status,
            submitted_at=row.submitted_at,
            updated_at=row.updated_at,
            position=row.position,
        )


class LeaveRequestList(BaseModel):
    items: list[LeaveRequestSummary]
    next_after: str | None = Field(
        description="Pass as `after` for the next page; null on the last page"
    )


class LeaveRequestChanges(BaseModel):
    items: list[LeaveRequestSummary] = Field(
        description="The requests changed after `after`, each once as it stands now, the"
        " earliest latest change first"
    )
    next_after: int = Field(
        description="Pass as `after` for what changed next: the last item's `position`, or"
        " the `after` given when there is none"
    )
    caught_up: bool = Field(
        description="Whether this page holds every change recorded so far; if not, ask"
        " again at once with `next_after`"
    )


class ClosingIn(Body):
    reason: FreeText | None = Field(
        None,
        description="Why: required when `hr` withdraws or cancels someone else's request;"
        " recorded and shown to the requester",
    )


class ShortenIn(Body):
    last_day: Day = Field(
        description="The leave's new last day: one of its days but its last, from yesterday"
        " on (`hr`, for someone else, may give any of them: say, their last day of"
        " employment)"
    )
    half_day_end: Flag = Field(
        False,
        description="Back at noon on `last_day`: the leave keeps only that day's morning"
        " (a half day) and gives its afternoon back. `last_day` must then be a working day"
        " of the leave whose morning it holds, today at the earliest for the requester; it"
        " may be the leave's current last day when that is held in full, and a one-day"
        " leave held in full may end at noon",
    )
    reason: FreeText | None = Field(
        None,
        description="Why: required when `hr` ends someone else's leave; recorded",
    )


# -- tasks ----------------------------------------------------------------------------------


class DecisionIn(Body):
    decision: Decision
    comment: FreeText | None = None


TASK_ID_FORM = (
    "must be a task id such as 6f1c3a52-53a4-4f7e-9d0b-3c6a2f1e8b47.approval"
    " (its case id, a dot and the step)"
)
STEP = re.compile(r"\w+", re.ASCII)


def _task_id(text: str) -> str:
    """A task id as the API gives them, ``{case_id}.{step}``; nothing around it. Its case
    id as the API writes it, however it was written (as a case id in an address)."""
    case_id = case_id_of_task(text)
    _case, dot, step = text.partition(".")
    if case_id is None or not dot or not STEP.fullmatch(step):
        raise ValueError(TASK_ID_FORM)
    return f"{case_id}.{step}"


TaskId = Annotated[str, StringConstraints(max_length=200), AfterValidator(_task_id)]
"""A task's id, in an address or a body: a malformed one is refused (422), saying what a
task id looks like; a well-formed one that names no task is not found (404)."""


class BulkDecisionItem(Body):
    task_id: TaskId
    decision: Decision
    comment: FreeText | None = None


class BulkDecisionIn(Body):
    decisions: list[BulkDecisionItem] = Field(min_length=1, max_length=100)

    @field_validator("decisions")
    @classmethod
    def _each_task_once(cls, decisions: list[BulkDecisionItem]) -> list[BulkDecisionItem]:
        ids = [item.task_id for item in decisions]
        repeated = sorted({task_id for task_id in ids if ids.count(task_id) > 1})
        if repeated:
            raise ValueError(f"each task may be decided once per call: {', '.join(repeated)}")
        return decisions


class BulkResultOut(BaseModel):
    task_id: str
    status: int = Field(description="200, or what a single decision would have answered")
    outcome: Literal["decided", "refused", "failed"] = Field(
        description="failed: it could not be confirmed now (e.g. the workflow service is"
        " unreachable); retrying with the same Idempotency-Key applies it at most once (a"
        " call sent without one may still be applied: look before sending it again)"
    )
    detail: str | None = None
    rule: str | None = None


class BulkDecisionOut(BaseModel):
    results: list[BulkResultOut]


class InboxTaskOut(BaseModel):
    id: str = Field(description="The task id, as in POST /api/tasks/{id}/decision")
    case_id: UUID
    process: str
    title: str
    requester_id: str
    due_at: datetime
    escalated: bool = Field(description="Overdue and passed up to the next manager")
    opened_at: datetime
    acting_for: str | None = Field(
        None, description="Whose task this is, when you see it as their active delegate"
    )

    @classmethod
    def of(cls, task: InboxTask, acting_for: str | None = None) -> InboxTaskOut:
        return cls(
            id=task.task_id,
            case_id=task.case_id,
            process=task.process,
            title=task.title,
            requester_id=task.requester_id,
            due_at=task.due_at,
            escalated=task.escalated,
            opened_at=task.opened_at,
            acting_for=acting_for,
        )


class TaskList(BaseModel):
    items: list[InboxTaskOut]
    next_after: str | None = Field(
        description="Pass as `after` for the next page; null on the last page"
    )


# -- employees and health ------------------------------------------------------------------


class LeaveBalanceOut(BaseModel):
    employee_id: str
    year: int
    entitled: Days
    approved: Days
    pending: Days = Field(description="Days asked for and not decided yet")
    remaining: Days = Field(description="Entitled minus approved minus pending")

    @classmethod
    def of(cls, balance: LeaveBalance) -> LeaveBalanceOut:
        return cls(
            employee_id=balance.employee_id,
            year=balance.year,
            entitled=balance.entitled,
            approved=balance.approved,
            pending=balance.pending,
            remaining=balance.remaining,
        )


class ApiIndexOut(BaseModel):
    """What ``GET /api`` answers: where the documentation and the main routes are."""

    name: str
    docs: str = Field(description="The interactive documentation of every route")
    openapi: str = Field(description="The OpenAPI document")
    health: str = Field(description="Liveness and dependencies; no token needed")
    authentication: str
    collections: dict[str, str] = Field(description="The main lists, by name")


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    temporal: bool = Field(description="The Temporal frontend answered a health check")
    database: bool = Field(description="The event store answered a query")
