"""The typed messages of the workflows: arguments and results of workflows,
activities, updates and queries. Shared by the worker, the API and the tests,
all of which use the one pydantic data converter below."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from temporalio.contrib.pydantic import pydantic_data_converter

from domain.case import Decision
from domain.leave import LeaveType
from domain.leave_request import LeaveStatus

DATA_CONVERTER = pydantic_data_converter

LEAVE_PROCESS = "leave"


def leave_workflow_id(case_id: UUID) -> str:
    return f"leave-request-{case_id}"


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LeaveRequestStart(Message):
    """Everything a leave request workflow starts from."""

    case_id: UUID
    employee_id: str
    leave_type: LeaveType
    start: date
    end: date
    half_day_start: bool = False
    half_day_end: bool = False
    reason: str | None = None
    submitted_by: str
    by_hr: bool = False
    """Whether ``submitted_by`` asks for someone else's leave under the HR role."""


class TaskState(Message):
    task_id: str
    title: str
    assignees: list[str]
    escalated_to: list[str]
    due_at: datetime
    is_open: bool
    decision: Decision | None
    decided_by: str | None
    decided_on_behalf_of: str | None
    comment: str | None


class CaseState(Message):
    """A leave request as its last command left it, with the position of that command's
    events in the notification log (a reader waits for it to read its own writes)."""

    case_id: UUID
    process: Literal["leave"] = "leave"
    status: LeaveStatus
    requester_id: str
    leave_type: LeaveType
    start: date
    end: date
    half_day_start: bool
    half_day_end: bool
    working_days: Decimal
    reason: str | None
    closing_reason: str | None
    tasks: list[TaskState]
    position: int

    def task(self, task_id: str) -> TaskState | None:
        return next((task for task in self.tasks if task.task_id == task_id), None)


class Refusal(Message):
    """Why a command was refused: the domain error's kind, rule and message."""

    kind: str
    rule: str
    message: str


class CaseCommand(Message):
    """An activity's argument: which case, and who asked (``system`` for the workflow)."""

    case_id: UUID
    actor: str
    on_behalf_of: str | None = None


class OpenTask(CaseCommand):
    now: datetime


class EscalateTask(CaseCommand):
    task_id: str
    now: datetime | None = None
    """The workflow's time when the task fell due; None in escalations scheduled before
    it was carried, which take the worker's clock."""


class RecordDecision(CaseCommand):
    task_id: str
    decision: Decision
    comment: str | None = None


class CancelLeave(CaseCommand):
    today: date
    reason: str | None = None
    by_hr: bool = False


class ShortenLeave(CaseCommand):
    last_day: date
    today: date
    reason: str | None = None
    by_hr: bool = False
    half_day_end: bool = False
    """Back at noon on ``last_day`` (absent from commands sent before it could be)."""


class WithdrawLeave(CaseCommand):
    reason: str | None = None
    by_hr: bool = False


class SweepDay(Message):
    """The day the sweep of leavers' tasks looks at (the workflow's, not the worker's)."""

    today: date


class SweepResult(Message):
    """How many cases the sweep told that their task's deciders have left, how many of
    those had ended meanwhile, and how many have a task nobody can take (logged, each
    with its case)."""

    told: int
    ended: int
    stuck: int = 0


class DecisionRequest(Message):
    """The ``decide`` update: a person decides an approval task."""

    task_id: str
    decision: Decision
    actor: str
    on_behalf_of: str | None = None
    comment: str | None = None


class ActorRequest(Message):
    """Who asks (the ``withdraw`` and ``cancel`` updates took only this before they took
    :class:`ClosingRequest`)."""

    actor: str


class ClosingRequest(ActorRequest):
    """The ``withdraw`` and ``cancel`` updates: who asks, and why."""

    reason: str | None = None
    by_hr: bool = False
    """The caller holds the HR role (the API checked it), and may close anyone's request."""


class ShorteningRequest(ActorRequest):
    """The ``shorten`` update: who ends the leave early, on which last day, and why."""

    last_day: date
    reason: str | None = None
    by_hr: bool = False
    """The caller holds the HR role (the API checked it), and may end anyone's leave."""
    half_day_end: bool = False
    """Back at noon on ``last_day``, which keeps only its morning (absent from updates
    sent before leave could end at noon)."""
