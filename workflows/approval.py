"""The approval step every process shares: a task, a deadline, an escalation, and
one ``decide`` update whose validator refuses what may never happen.

A process workflow inherits from :class:`ApprovalWorkflow`, keeps its latest
:class:`CaseState` in ``self.state`` and who asked for the case in ``self.asked_by``,
and implements :meth:`record_decision`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from enum import Enum

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.case import check_decision
    from domain.errors import DomainError
    from workflows.messages import CaseState, DecisionRequest


class Wake(Enum):
    """Why a workflow waiting on a task woke."""

    CLOSED = "closed"
    DUE = "due"
    DECIDERS_LEFT = "deciders_left"


def as_application_error(error: DomainError) -> ApplicationError:
    """A domain refusal, as Temporal carries it to the caller of an update."""
    return ApplicationError(error.message, error.rule, type=error.kind, non_retryable=True)


class ApprovalWorkflow:
    """Base of process workflows with human approval tasks."""

    state: CaseState | None = None
    asked_by: str | None = None
    """Whoever asked for the case: its requester, or HR for them (set by ``run``)."""
    _lock: asyncio.Lock | None = None
    _deciders_may_have_left = False
    _opening: frozenset[str] = frozenset()
    """Tasks whose opening activity has been scheduled but not yet reported: the store
    (and so the inbox) may already show them, so a decision on one must wait, not fail."""
    _sending_up: frozenset[str] = frozenset()
    """Tasks being escalated or rerouted, likewise: the inbox may already show them to
    someone the workflow does not yet know may decide them."""

    @property
    def current(self) -> CaseState:
        if self.state is None:
            raise ApplicationError("the case has not been recorded yet", type="conflict")
        return self.state

    def adopt(self, state: CaseState) -> None:
        """Keep the newest state: concurrent handlers' activities may finish out of order,
        and a later position in the notification log is always the later state."""
        if self.state is None or state.position >= self.state.position:
            self.state = state

    async def send_up(self, task_id: str, sending: Awaitable[CaseState]) -> None:
        """Run the activity that escalates or reroutes ``task_id``, letting decisions by
        anyone through the validator meanwhile (the handler checks them under the case
        lock, which the caller holds, so against the state the activity leaves)."""
        self._sending_up = self._sending_up | {task_id}
        try:
            self.adopt(await sending)
        finally:
            self._sending_up = self._sending_up - {task_id}

    async def open_task(self, task_id: str, opening: Awaitable[CaseState]) -> None:
        """Run the activity that opens ``task_id``, holding decisions on it until it reports."""
        self._opening = self._opening | {task_id}
        try:
            self.adopt(await opening)
        finally:
            self._opening = self._opening - {task_id}

    def _check_decision(self, request: DecisionRequest) -> None:
        # A claim to act for someone (``on_behalf_of``) is checked here against the
        # task, and against the recorded delegations when the decision is recorded.
        task = self.current.task(request.task_id)
        if task is None and request.task_id in self._opening:
            return  # checked by the handler once the task is known
        if request.task_id in self._sending_up:
            # Only a validator sees this: the handler checks under the case lock, which
            # the sending up holds until it has reported.
            return
        if task is None:
            raise ApplicationError(f"no task {request.task_id}", "task_not_found", type="not_found")
        try:
            check_decision(
                task.is_open,
                [*task.assignees, *task.escalated_to],
                self.current.requester_id,
                request.actor,
                request.on_behalf_of,
                cancelled=not task.is_open and task.decision is None,
                asked_by=self.asked_by,
            )
        except DomainError as error:
            raise as_application_error(error) from None

    def case_lock(self) -> asyncio.Lock:
        """One command on the case at a time: decisions, withdrawals, cancellations and
        escalations each check their rule against the state the previous one left."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def run_command(
        self, check: Callable[[], None], command: Callable[[], Awaitable[CaseState]]
    ) -> CaseState:
        """Under the case lock: check the rule on the latest state, run the command's
        activity and adopt its result. The domain's refusal, carried by the failed
        activity, fails the update with the domain's own error."""
        async with self.case_lock():
            check()
            try:
                state = await command()
            except ActivityError as error:
                if isinstance(error.cause, ApplicationError):
                    raise error.cause from None
                raise
            self.adopt(state)
            return state

    @workflow.update
    async def decide(self, request: DecisionRequest) -> CaseState:
        """Record a person's decision on a task; answers with the case after it."""
        await workflow.wait_condition(lambda: request.task_id not in self._opening)
        return await self.run_command(
            lambda: self._check_decision(request), lambda: self.record_decision(request)
        )

    @decide.validator
    def validate_decide(self, request: DecisionRequest) -> None:
        self._check_decision(request)

    async def record_decision(self, request: DecisionRequest) -> CaseState:
        raise NotImplementedError

    @workflow.signal
    def deciders_left(self) -> None:
        """Everyone who may decide an open task may have left (the daily sweep of leavers'
        tasks says so): look again, and send the task up if so."""
        self._deciders_may_have_left = True

    async def wait_for_task(self, task_id: str, due_at: datetime | None) -> Wake:
        """Wait until the task is closed, it falls due (never, without ``due_at``), or
        its deciders may have left; say which."""

        def woken() -> bool:
            return self._task_closed(task_id) or self._deciders_may_have_left

        try:
            if due_at is None:
                await workflow.wait_condition(woken)
            else:
                timeout = max(due_at - workflow.now(), timedelta(seconds=1))
                await workflow.wait_condition(woken, timeout=timeout)
        except TimeoutError:
            return Wake.DUE
        if self._task_closed(task_id):
            return Wake.CLOSED
        self._deciders_may_have_left = False
        return Wake.DECIDERS_LEFT

    def _task_closed(self, task_id: str) -> bool:
        task = self.current.task(task_id)
        return task is None or not task.is_open
