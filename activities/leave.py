"""Leave activities: each builds one command and calls one use case.

The command id is the workflow id plus the activity id (not the run id), so a
retried activity, or the same activity after a worker crash, records nothing new
and returns the same case.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import ParamSpec, TypeVar

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from domain.errors import DomainError
from domain.leave import LeavePeriod
from domain.leave_request import LeaveRequest
from domain.meta import Meta
from services.application import BackofficeApplication, Saved
from services.unavailable import DATABASE_UNAVAILABLE, database_unavailable
from workflows.messages import (
    CancelLeave,
    CaseCommand,
    CaseState,
    EscalateTask,
    LeaveRequestStart,
    OpenTask,
    RecordDecision,
    ShortenLeave,
    TaskState,
    WithdrawLeave,
)

logger = structlog.get_logger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def refusals_are_final(method: Callable[P, R]) -> Callable[P, R]:
    """A domain error is a business answer, not a failure: never retry it. A store that
    did not answer (PostgreSQL restarting, SQLite's lock held past its timeout) is a
    failure worth trying again: the retry policy does, and the log gets one line for
    each attempt, not a traceback."""

    @wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except DomainError as error:
            raise ApplicationError(
                error.message,
                error.rule,
                type=error.kind,
                non_retryable=True,
                category=ApplicationErrorCategory.BENIGN,  # an answer: no traceback in logs
            ) from error
        except DATABASE_UNAVAILABLE as error:
            if not database_unavailable(error):
                raise  # a defect: Temporal logs its traceback (and tries again)
            info = activity.info()
            logger.warning(
                "database_unavailable",
                activity=info.activity_type,
                workflow_id=info.workflow_id,
                attempt=info.attempt,
                error=str(error).strip(),
                then="tried again",
            )
            raise ApplicationError(
                "the event store's database did not answer; the activity is tried again",
                type="database_unavailable",
                category=ApplicationErrorCategory.BENIGN,  # logged above, in one line
            ) from error

    return wrapper


def command_meta(actor: str, on_behalf_of: str | None = None) -> Meta:
    info = activity.info()
    return Meta(
        actor=actor,
        on_behalf_of=on_behalf_of,
        command_id=f"{info.workflow_id}/{info.activity_id}",
        correlation_id=info.workflow_id or "",
    )


def case_state(saved: Saved) -> CaseState:
    request: LeaveRequest = saved.case
    return CaseState(
        case_id=request.id,
        status=request.status,
        requester_id=request.requester_id,
        leave_type=request.leave_type,
        start=request.period.start,
        end=request.period.end,
        half_day_start=request.period.half_day_start,
        half_day_end=request.period.half_day_end,
        working_days=request.working_days,
        reason=request.reason,
        closing_reason=request.closing_reason,
        tasks=[
            TaskState(
                task_id=task.task_id,
                title=task.title,
                assignees=task.assignees,
                escalated_to=task.escalated_to,
                due_at=task.due_at,
                is_open=task.is_open,
                decision=task.decision,
                decided_by=task.decided_by,
                decided_on_behalf_of=task.decided_on_behalf_of,
                comment=task.comment,
            )
            for task in request.tasks.values()
        ],
        position=saved.position,
    )


class LeaveActivities:
    """The leave process's activities, over one application (and so one store)."""

    def __init__(self, app: BackofficeApplication) -> None:
        self.app = app

    @activity.defn(name="submit_leave_request")
    @refusals_are_final
    def submit(self, start: LeaveRequestStart) -> CaseState:
        period = LeavePeriod(start.start, start.end, start.half_day_start, start.half_day_end)
        saved = self.app.submit_leave_request(
            start.case_id,
            start.employee_id,
            start.leave_type,
            period,
            start.reason,
            command_meta(start.submitted_by),
            by_hr=start.by_hr,
        )
        return case_state(saved)

    @activity.defn(name="open_approval_task")
    @refusals_are_final
    def open_task(self, command: OpenTask) -> CaseState:
        meta = command_meta(command.actor)
        return case_state(self.app.open_approval_task(command.case_id, command.now, meta))

    @activity.defn(name="escalate_approval_task")
    @refusals_are_final
    def escalate(self, command: EscalateTask) -> CaseState:
        meta = command_meta(command.actor)
        now = command.now or datetime.now(UTC)
        saved = self.app.escalate_approval_task(command.case_id, command.task_id, now, meta)
        return case_state(saved)

    @activity.defn(name="reroute_approval_task")
    @refusals_are_final
    def reroute(self, command: EscalateTask) -> CaseState:
        """Send the task up if everyone who may decide it has left; else record nothing."""
        meta = command_meta(command.actor)
        now = command.now or datetime.now(UTC)
        saved = self.app.reroute_approval_task(command.case_id, command.task_id, now, meta)
        return case_state(saved)

    @activity.defn(name="record_leave_decision")
    @refusals_are_final
    def record_decision(self, command: RecordDecision) -> CaseState:
        meta = command_meta(command.actor, command.on_behalf_of)
        saved = self.app.decide_leave_request(
            command.case_id, command.task_id, command.decision, command.comment, meta
        )
        return case_state(saved)

    @activity.defn(name="withdraw_leave_request")
    @refusals_are_final
    def withdraw(self, command: WithdrawLeave) -> CaseState:
        meta = command_meta(command.actor)
        saved = self.app.withdraw_leave_request(
            command.case_id, meta, reason=command.reason, by_hr=command.by_hr
        )
        return case_state(saved)

    @activity.defn(name="cancel_leave_request")
    @refusals_are_final
    def cancel(self, command: CancelLeave) -> CaseState:
        meta = command_meta(command.actor)
        saved = self.app.cancel_leave_request(
            command.case_id, command.today, meta, reason=command.reason, by_hr=command.by_hr
        )
        return case_state(saved)

    @activity.defn(name="shorten_leave_request")
    @refusals_are_final
    def shorten(self, command: ShortenLeave) -> CaseState:
        meta = command_meta(command.actor)
        saved = self.app.shorten_leave_request(
            command.case_id,
            command.last_day,
            command.today,
            meta,
            reason=command.reason,
            by_hr=command.by_hr,
            half_day_end=command.half_day_end,
        )
        return case_state(saved)

    @activity.defn(name="mark_leave_taken")
    @refusals_are_final
    def mark_taken(self, command: CaseCommand) -> CaseState:
        meta = command_meta(command.actor)
        return case_state(self.app.mark_leave_taken(command.case_id, meta))
