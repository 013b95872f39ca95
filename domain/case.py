"""The base of every case: idempotent commands and the shared approval step.

Every process (leave, procurement, invoices, hiring) is a case aggregate that
inherits from :class:`Case`. Its approval tasks are events in the case's own
stream, so one inbox projection and one decision update serve every process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from eventsourcing.domain import event

from domain.base import IdempotentAggregate
from domain.errors import Conflict, NotAllowed, NotFound
from domain.meta import Meta


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class TaskDeciders(NamedTuple):
    """An open task as the sweep of leavers' tasks sees it: whose case, and who may
    decide it (its assignees and whoever it was escalated to)."""

    requester_id: str
    deciders: list[str]


OVERDUE = "overdue"
"""Why a task is escalated: nobody decided it in time."""
DECIDERS_LEFT = "deciders_left"
"""Why a task is escalated: everyone who could decide it has left."""


@dataclass
class ApprovalTask:
    """One human decision a case waits for."""

    task_id: str
    title: str
    assignees: list[str]
    due_at: datetime
    escalated_to: list[str] = field(default_factory=list)
    decision: Decision | None = None
    decided_by: str | None = None
    decided_on_behalf_of: str | None = None
    comment: str | None = None
    cancelled: bool = False

    @property
    def is_open(self) -> bool:
        return self.decision is None and not self.cancelled

    @property
    def eligible(self) -> list[str]:
        """Who may decide: the assignees, then whoever it was escalated to."""
        return [*self.assignees, *self.escalated_to]


def check_decision(
    is_open: bool,
    eligible: list[str],
    requester_id: str,
    actor: str,
    on_behalf_of: str | None,
    *,
    cancelled: bool,
    asked_by: str | None = None,
) -> None:
    """The rule for every human decision, shared by the aggregate and the workflows'
    update validators: the task is open (not decided, nor ``cancelled`` with its case),
    the decider is not the requester (nor acting for them), nor whoever asked for the
    case for them (``asked_by``: HR), and decides as, or for, someone the task is
    assigned or escalated to."""
    if cancelled:
        raise Conflict("task_cancelled", "this task was cancelled when its request was withdrawn")
    if not is_open:
        raise Conflict("task_already_decided", "this task has already been decided")
    if requester_id in (actor, on_behalf_of):
        raise NotAllowed("no_self_approval", "nobody may decide a task on their own case")
    if asked_by is not None and asked_by in (actor, on_behalf_of):
        raise NotAllowed(
            "no_self_approval", "nobody may decide a task on a case they asked for themselves"
        )
    if (on_behalf_of or actor) not in eligible:
        raise NotAllowed("not_an_approver", f"{actor} may not decide this task")


class Case(IdempotentAggregate):
    """A business case of some process, with the approval tasks it waits for."""

    def __init__(self, requester_id: str, meta: Meta) -> None:
        super().__init__(meta)
        self.requester_id = requester_id
        self.asked_by = meta.actor
        """The requester, or whoever asked for the case for them (HR)."""
        self.tasks: dict[str, ApprovalTask] = {}

    def task(self, task_id: str) -> ApprovalTask:
        try:
            return self.tasks[task_id]
        except KeyError:
            raise NotFound("task_not_found", f"no task {task_id} on this case") from None

    @property
    def open_tasks(self) -> list[ApprovalTask]:
        return [task for task in self.tasks.values() if task.is_open]

    def open_task(
        self, task_id: str, title: str, assignees: list[str], due_at: datetime, meta: Meta
    ) -> None:
        if self.has_applied(meta):
            return
        if task_id in self.tasks:
            raise Conflict("task_exists", f"task {task_id} is already open")
        self._task_opened(
            task_id=task_id, title=title, assignees=assignees, due_at=due_at, meta=meta
        )

    @event("TaskOpened")
    def _task_opened(
        self, task_id: str, title: str, assignees: list[str], due_at: datetime, meta: Meta
    ) -> None:
        self.tasks[task_id] = ApprovalTask(task_id, title, list(assignees), due_at)

    def escalate_task(
        self, task_id: str, to: list[str], meta: Meta, *, because: str = OVERDUE
    ) -> None:
        """Let ``to`` decide the task too, ``because`` it is overdue or everyone who could
        decide it has left."""
        if self.has_applied(meta):
            return
        task = self.task(task_id)
        if not task.is_open:
            raise Conflict("task_closed", f"task {task_id} is no longer open")
        self._task_escalated(task_id=task_id, to=to, because=because, meta=meta)

    @event("TaskEscalated")
    def _task_escalated(
        self, task_id: str, to: list[str], meta: Meta, because: str | None = None
    ) -> None:
        # None: recorded before the reason was, when every escalation was for lateness.
        self.tasks[task_id].escalated_to.extend(to)

    def check_decision(self, task_id: str, actor: str, on_behalf_of: str | None) -> ApprovalTask:
        """Refuse a decision that may never happen; return the task otherwise."""
        task = self.task(task_id)
        check_decision(
            task.is_open,
            task.eligible,
            self.requester_id,
            actor,
            on_behalf_of,
            cancelled=task.cancelled,
            asked_by=self.asked_by,
        )
        return task

    def decide_task(
        self, task_id: str, decision: Decision, comment: str | None, meta: Meta
    ) -> None:
        if self.has_applied(meta):
            return
        self.check_decision(task_id, meta.actor, meta.on_behalf_of)
        self._task_decided(task_id=task_id, decision=decision.value, comment=comment, meta=meta)

    @event("TaskDecided")
    def _task_decided(self, task_id: str, decision: str, comment: str | None, meta: Meta) -> None:
        task = self.tasks[task_id]
        task.decision = Decision(decision)
        task.decided_by = meta.actor
        task.decided_on_behalf_of = meta.on_behalf_of
        task.comment = comment

    def _cancel_open_tasks(self, reason: str, meta: Meta) -> None:
        for task in self.open_tasks:
            self._task_cancelled(task_id=task.task_id, reason=reason, meta=meta)

    @event("TaskCancelled")
    def _task_cancelled(self, task_id: str, reason: str, meta: Meta) -> None:
        self.tasks[task_id].cancelled = True
