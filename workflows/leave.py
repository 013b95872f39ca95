"""The leave request process.

Submit (refused when a rule says no) -> approval task for the manager, due in two
business days -> escalation to the manager's manager when overdue -> approved
(days debited, then wait until the leave has ended, accepting a cancellation
until it starts and an ending early until it ends) or rejected / withdrawn. Sick
leave is recorded without approval.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.leave import LeaveActivities
    from domain.errors import DomainError
    from domain.leave import LeavePeriod
    from domain.leave_request import LeaveStatus, check_cancel, check_shorten, check_withdraw
    from services.application import approval_task_id
    from workflows.approval import ApprovalWorkflow, Wake, as_application_error
    from workflows.messages import (
        CancelLeave,
        CaseCommand,
        CaseState,
        ClosingRequest,
        DecisionRequest,
        EscalateTask,
        LeaveRequestStart,
        OpenTask,
        RecordDecision,
        Refusal,
        ShorteningRequest,
        ShortenLeave,
        WithdrawLeave,
    )

SYSTEM = "system"
SUBMISSION_WAITS_FOR_TASK = "submission-waits-for-task"
"""Patch id: histories recorded before it answered ``submission`` right after submitting."""
TAKEN_AFTER_COMMANDS = "taken-after-commands"
"""Patch id: histories recorded before it marked the leave taken as its end passed, even
while a command on the case (a cancellation) was still on its way to the store."""
UNASSIGNED_TASK_WAITS = "unassigned-task-waits"
"""Patch id: histories recorded before it failed when the task found nobody to ask."""
UNASSIGNED_RETRY = timedelta(days=1)
"""How long a request with nobody to ask waits before its task is asked for again."""
A = TypeVar("A")
RETRY_POLICY = RetryPolicy(maximum_interval=timedelta(seconds=30))
CLOSED = {LeaveStatus.REJECTED, LeaveStatus.WITHDRAWN, LeaveStatus.CANCELLED}


@workflow.defn
class LeaveRequestWorkflow(ApprovalWorkflow):
    """One leave request, from submission until it is taken or closed."""

    def __init__(self) -> None:
        self.state: CaseState | None = None
        self.refusal: Refusal | None = None
        self.unassigned = False
        """Pending without a task: nobody to ask (see ``_approval``)."""

    @workflow.run
    async def run(self, start: LeaveRequestStart) -> CaseState | Refusal:
        self.asked_by = start.submitted_by
        try:
            self.adopt(await _execute(LeaveActivities.submit, start))
        except ActivityError as error:
            self.refusal = _refusal(error)
            await workflow.wait_condition(workflow.all_handlers_finished)
            return self.refusal
        if self.current.status is LeaveStatus.PENDING:
            await self._approval()
        if self.current.status in (LeaveStatus.APPROVED, LeaveStatus.RECORDED):
            await self._until_taken()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.current

    async def _approval(self) -> None:
        task_id = approval_task_id(self.current.case_id)
        while True:
            try:
                await self.open_task(
                    task_id,
                    _execute(
                        LeaveActivities.open_task,
                        OpenTask(case_id=self.current.case_id, actor=SYSTEM, now=workflow.now()),
                    ),
                )
                break
            except ActivityError as error:
                rule = _refusal(error).rule
                if rule == "not_pending":
                    return  # withdrawn while the task was being opened
                if rule != "no_approver" or not workflow.patched(UNASSIGNED_TASK_WAITS):
                    raise
            # The requester's manager was removed since the submission: failing here would
            # strand the request, pending with its days held and nobody able to withdraw
            # it. It stays pending, for its requester (or HR) to withdraw, and the task is
            # asked for again each day, until the directory names a manager.
            workflow.logger.warning(
                "task_nobody_can_take: %s has no manager to ask", self.current.requester_id
            )
            self.unassigned = True
            if await self._closed_within(UNASSIGNED_RETRY):
                return
        task = self.current.task(task_id)
        assert task is not None
        due_at: datetime | None = task.due_at  # escalated once, when it falls due
        while (woke := await self.wait_for_task(task_id, due_at)) is not Wake.CLOSED:
            if woke is Wake.DUE:
                due_at = None
            activity = LeaveActivities.escalate if woke is Wake.DUE else LeaveActivities.reroute
            async with self.case_lock():  # a decision may be on its way to the store
                if not self._task_closed(task_id):
                    command = EscalateTask(
                        case_id=self.current.case_id,
                        actor=SYSTEM,
                        task_id=task_id,
                        now=workflow.now(),
                    )
                    await self.send_up(task_id, _execute(activity, command))

    async def _closed_within(self, wait: timedelta) -> bool:
        """Whether the request is closed (withdrawn) within ``wait``."""
        try:
            await workflow.wait_condition(
                lambda: self.current.status is not LeaveStatus.PENDING, timeout=wait
            )
        except TimeoutError:
            return False
        return True

    async def _until_taken(self) -> None:
        """Durable timer until the day after the leave ends, set again when the leave is
        ended early; a cancellation ends the wait."""
        while True:
            end = self.current.end
            ends_at = datetime.combine(end + timedelta(days=1), time(), UTC)
            try:
                await workflow.wait_condition(
                    lambda: self.current.status in CLOSED or self.current.end != end,  # noqa: B023
                    timeout=max(ends_at - workflow.now(), timedelta(seconds=1)),
                )
            except TimeoutError:
                if not workflow.patched(TAKEN_AFTER_COMMANDS):
                    self.adopt(await self._mark_taken())
                    return
                # A command accepted before the leave ended (a cancellation, an ending
                # early) may have been saved while its activity has not reported (a
                # retry pending): it goes first. A cancelled case is not taken (the
                # domain would refuse, failing the workflow); one ended early waits for
                # its new last day.
                async with self.case_lock():
                    if self.current.status in CLOSED:
                        return
                    if self.current.end == end:
                        self.adopt(await self._mark_taken())
                        return
                continue
            if self.current.status in CLOSED:
                return

    async def _mark_taken(self) -> CaseState:
        return await _execute(
            LeaveActivities.mark_taken, CaseCommand(case_id=self.current.case_id, actor=SYSTEM)
        )

    @workflow.query
    def case(self) -> CaseState | None:
        return self.state

    @workflow.update
    async def submission(self) -> CaseState:
        """Wait until the submission is recorded: the case, or the rule that refused it."""
        await workflow.wait_condition(lambda: self.state is not None or self.refusal is not None)
        if self.refusal is not None:
            raise ApplicationError(
                self.refusal.message, self.refusal.rule, type=self.refusal.kind, non_retryable=True
            )
        if workflow.patched(SUBMISSION_WAITS_FOR_TASK):
            # Answer once the approver's task is recorded, so the caller's position
            # covers it and the manager's inbox shows the request.
            await workflow.wait_condition(
                lambda: (
                    self.current.status is not LeaveStatus.PENDING
                    or bool(self.current.tasks)
                    or self.unassigned
                )
            )
        return self.current

    async def record_decision(self, request: DecisionRequest) -> CaseState:
        return await _execute(
            LeaveActivities.record_decision,
            RecordDecision(
                case_id=self.current.case_id,
                actor=request.actor,
                on_behalf_of=request.on_behalf_of,
                task_id=request.task_id,
                decision=request.decision,
                comment=request.comment,
            ),
        )

    @workflow.update
    async def withdraw(self, request: ClosingRequest) -> CaseState:
        return await self.run_command(
            lambda: self._check_withdraw(request),
            lambda: _execute(
                LeaveActivities.withdraw,
                WithdrawLeave(
                    case_id=self.current.case_id,
                    actor=request.actor,
                    reason=request.reason,
                    by_hr=request.by_hr,
                ),
            ),
        )

    @withdraw.validator
    def validate_withdraw(self, request: ClosingRequest) -> None:
        self._check_withdraw(request)

    def _check_withdraw(self, request: ClosingRequest) -> None:
        try:
            check_withdraw(
                self.current.status,
                self.current.requester_id,
                request.actor,
                reason=request.reason,
                by_hr=request.by_hr,
            )
        except DomainError as error:
            raise as_application_error(error) from None

    @workflow.update
    async def cancel(self, request: ClosingRequest) -> CaseState:
        return await self.run_command(
            lambda: self._check_cancel(request),
            lambda: _execute(
                LeaveActivities.cancel,
                CancelLeave(
                    case_id=self.current.case_id,
                    actor=request.actor,
                    today=workflow.now().date(),
                    reason=request.reason,
                    by_hr=request.by_hr,
                ),
            ),
        )

    @cancel.validator
    def validate_cancel(self, request: ClosingRequest) -> None:
        self._check_cancel(request)

    def _check_cancel(self, request: ClosingRequest) -> None:
        state = self.current
        try:
            check_cancel(
                state.status,
                state.requester_id,
                state.start,
                request.actor,
                workflow.now().date(),
                reason=request.reason,
                by_hr=request.by_hr,
            )
        except DomainError as error:
            raise as_application_error(error) from None

    @workflow.update
    async def shorten(self, request: ShorteningRequest) -> CaseState:
        return await self.run_command(
            lambda: self._check_shorten(request),
            lambda: _execute(
                LeaveActivities.shorten,
                ShortenLeave(
                    case_id=self.current.case_id,
                    actor=request.actor,
                    last_day=request.last_day,
                    today=workflow.now().date(),
                    reason=request.reason,
                    by_hr=request.by_hr,
                    half_day_end=request.half_day_end,
                ),
            ),
        )

    @shorten.validator
    def validate_shorten(self, request: ShorteningRequest) -> None:
        self._check_shorten(request)

    def _check_shorten(self, request: ShorteningRequest) -> None:
        state = self.current
        period = LeavePeriod(state.start, state.end, state.half_day_start, state.half_day_end)
        try:
            check_shorten(
                state.status,
                state.requester_id,
                period,
                request.last_day,
                request.actor,
                workflow.now().date(),
                reason=request.reason,
                by_hr=request.by_hr,
                half_day_end=request.half_day_end,
                # Not known here: a day that is no working day of the leave is refused by
                # the aggregate, failing the update with the same rule.
                working_days=None,
            )
        except DomainError as error:
            raise as_application_error(error) from None


async def _execute(activity: Callable[[LeaveActivities, A], CaseState], arg: A) -> CaseState:
    return await workflow.execute_activity_method(
        activity, arg, start_to_close_timeout=timedelta(seconds=30), retry_policy=RETRY_POLICY
    )


def _refusal(error: ActivityError) -> Refusal:
    """The domain's refusal carried by a failed activity; anything else is re-raised."""
    cause = error.cause
    if not isinstance(cause, ApplicationError) or not cause.non_retryable:
        raise error
    rule = str(cause.details[0]) if cause.details else "refused"
    return Refusal(kind=cause.type or "rule_violation", rule=rule, message=cause.message)
