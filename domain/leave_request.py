"""The leave request: a case that is submitted, approved or rejected, and taken."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import event

from domain.case import Case, Decision
from domain.errors import Conflict, NotAllowed, RuleViolation
from domain.leave import (
    AFTER_EMPLOYMENT_ENDS,
    HALF,
    LeavePeriod,
    LeaveType,
    first_day_after,
)
from domain.meta import Meta


class LeaveStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"
    RECORDED = "recorded"
    """Sick leave: recorded without an approval step."""
    TAKEN = "taken"


def check_submission(
    requester_id: str, actor: str, reason: str | None, *, by_hr: bool = False
) -> None:
    """An employee asks for their own leave; so may HR (``by_hr``) for anyone's, saying
    why (sick leave phoned in, say, or leave agreed with someone who cannot sign in)."""
    if actor != requester_id and not by_hr:
        raise NotAllowed(
            "only_for_yourself",
            "you may only ask for leave for yourself (HR may ask for someone else's, saying why)",
        )
    _check_reason(requester_id, actor, reason, "ask for leave on behalf")


def check_withdraw(
    status: LeaveStatus,
    requester_id: str,
    actor: str,
    *,
    reason: str | None = None,
    by_hr: bool = False,
) -> None:
    """The requester withdraws a request while it is pending; so may HR (``by_hr``), for
    anyone, saying why (a request nobody is left to decide, say)."""
    if actor != requester_id and not by_hr:
        raise NotAllowed("only_requester", "only the requester, or HR, may withdraw a request")
    if status is not LeaveStatus.PENDING:
        raise Conflict("not_pending", f"only a pending request can be withdrawn; it is {status}")
    _check_reason(requester_id, actor, reason, "withdraw the request")


def check_cancel(
    status: LeaveStatus,
    requester_id: str,
    start: date,
    actor: str,
    today: date,
    *,
    reason: str | None = None,
    by_hr: bool = False,
) -> None:
    """The requester cancels approved (or recorded sick) leave before it starts; so may
    HR (``by_hr``: the caller holds the role), for anyone, saying why (someone who has
    left cannot sign in to cancel leave after their last day)."""
    if actor != requester_id and not by_hr:
        raise NotAllowed("only_requester", "only the requester, or HR, may cancel a request")
    if status not in (LeaveStatus.APPROVED, LeaveStatus.RECORDED):
        raise Conflict("not_approved", f"only approved leave can be cancelled; it is {status}")
    if today >= start:
        raise RuleViolation("already_started", "leave can only be cancelled before it starts")
    _check_reason(requester_id, actor, reason, "cancel the leave")


def check_shorten(
    status: LeaveStatus,
    requester_id: str,
    period: LeavePeriod,
    last_day: date,
    actor: str,
    today: date,
    *,
    reason: str | None = None,
    by_hr: bool = False,
    half_day_end: bool = False,
    working_days: Collection[date] | None = None,
) -> None:
    """The requester ends approved (or recorded sick) leave early, back at work from
    today at the earliest: its last day is yesterday or later. HR (``by_hr``) may end
    anyone's on any of its days, saying why: someone who leaves the company during
    their leave cannot sign in to end it on their last day of employment. The leave
    must not have ended, and the last day given must be one of its days but its last.

    ``half_day_end``: back at noon on the last day, which keeps only its morning. That
    day is then one of the leave's ``working_days`` whose morning it holds (not the
    first day of leave taken from midday), and today at the earliest for the requester;
    it may be the leave's last day, when that is held in full. ``working_days`` None:
    not known here (a workflow's validator), the aggregate checks it."""
    if actor != requester_id and not by_hr:
        raise NotAllowed("only_requester", "only the requester, or HR, may shorten leave")
    if status not in (LeaveStatus.APPROVED, LeaveStatus.RECORDED):
        raise Conflict("not_approved", f"only approved leave can be shortened; it is {status}")
    if today > period.end:
        raise RuleViolation(
            "already_ended", f"the leave ended on {period.end.isoformat()}: it is taken as it was"
        )
    if half_day_end:
        _check_half_day_end(period, last_day, working_days)
    elif period.start == period.end:
        raise RuleViolation(
            "not_shorter",
            f"the leave is one day, {period.start.isoformat()}: it cannot end earlier"
            " (it can be cancelled before it starts"
            + ("" if period.half_days() else ", or end at noon that day: `half_day_end`")
            + ")",
        )
    if last_day < period.start:
        raise RuleViolation(
            "before_start",
            f"the leave starts on {period.start.isoformat()}: give a last day from then on,"
            " or cancel it before it starts",
        )
    if last_day > period.end or (last_day == period.end and not half_day_end):
        # Noon on its last day is offered only where it would be allowed.
        at_noon = not period.half_day_end and (working_days is None or period.end in working_days)
        raise RuleViolation(
            "not_shorter",
            f"the leave ends on {period.end.isoformat()} already: give a last day before it"
            + (", or end it at noon that day: `half_day_end`" if at_noon else ""),
        )
    yesterday = today - timedelta(days=1)
    earliest = today if half_day_end else yesterday
    if not (by_hr and actor != requester_id) and last_day < earliest:
        raise RuleViolation(
            "last_day_in_the_past",
            f"leave is ended early from today on: its last day is {yesterday.isoformat()}"
            f" at the earliest, or {today.isoformat()} when back at noon"
            " (HR may end it on an earlier day)",
        )
    _check_reason(requester_id, actor, reason, "shorten the leave")


def _check_half_day_end(
    period: LeavePeriod, last_day: date, working_days: Collection[date] | None
) -> None:
    """Back at noon on ``last_day``: its morning must be leave, and be all that is left."""
    if period.start <= last_day <= period.end:
        if last_day == period.start and period.half_day_start:
            raise RuleViolation(
                "half_day_not_held",
                f"the leave holds only the afternoon of {last_day.isoformat()}: it cannot"
                " end at noon that day"
                + (
                    " (it can be cancelled before it starts)"
                    if period.start == period.end
                    else ": give a later last day"
                ),
            )
        if working_days is not None and last_day not in working_days:
            raise RuleViolation(
                "not_a_working_day",
                f"{last_day.isoformat()} is not a working day of the leave: it can end at"
                " noon only on one of its working days (without `half_day_end` it may end"
                " on this day)",
            )
    if last_day == period.end and period.half_day_end:
        raise RuleViolation(
            "not_shorter",
            f"the leave ends at noon on {period.end.isoformat()} already: give a last day"
            " before it",
        )


def _check_reason(requester_id: str, actor: str, reason: str | None, what: str) -> None:
    """Someone closing another's request (HR) says why."""
    if actor != requester_id and (reason is None or not reason.strip()):
        raise RuleViolation(
            "reason_required",
            f"say why you {what} of {requester_id}: the reason is recorded and shown to them",
        )


class LeaveRequest(Case):
    """One employee's request for leave, from submission until it is taken or closed."""

    @event("Submitted")
    def __init__(
        self,
        id: UUID,
        requester_id: str,
        leave_type: LeaveType,
        start: date,
        end: date,
        half_day_start: bool,
        half_day_end: bool,
        days: dict[str, Decimal],
        reason: str | None,
        meta: Meta,
    ) -> None:
        super().__init__(requester_id, meta)
        self.leave_type = LeaveType(leave_type)
        self.period = LeavePeriod(start, end, half_day_start, half_day_end)
        self.asked_period = self.period
        """The period as asked for: ending the leave early changes ``period``, not this."""
        self.days = dict(days)
        self.reason = reason
        self.status = (
            LeaveStatus.PENDING if self.leave_type.needs_approval else LeaveStatus.RECORDED
        )
        self.closing_reason: str | None = None

    @property
    def working_days(self) -> Decimal:
        return sum(self.days.values(), Decimal(0))

    @property
    def start(self) -> date:
        return self.period.start

    @property
    def end(self) -> date:
        return self.period.end

    def inform_manager(self, manager_id: str, meta: Meta) -> None:
        if not self.has_applied(meta):
            self._manager_informed(manager_id=manager_id, meta=meta)

    @event("ManagerInformed")
    def _manager_informed(self, manager_id: str, meta: Meta) -> None:
        pass

    def open_task(
        self, task_id: str, title: str, assignees: list[str], due_at: datetime, meta: Meta
    ) -> None:
        # Only a pending request awaits a decision: a task opened on withdrawn or
        # recorded sick leave could later "approve" it or confirm released days.
        if not self.has_applied(meta) and self.status is not LeaveStatus.PENDING:
            raise Conflict("not_pending", f"a {self.status} request awaits no decision")
        super().open_task(task_id, title, assignees, due_at, meta)

    def decide(
        self,
        task_id: str,
        decision: Decision,
        comment: str | None,
        meta: Meta,
        *,
        last_day: date | None = None,
    ) -> None:
        """Record a decision on the approval task and its effect on the request.

        ``last_day``: the requester's last day of employment as recorded now. It may have
        been set after the request was submitted; a request with a day after it can then
        only be rejected (or withdrawn)."""
        if self.has_applied(meta):
            return
        if decision is Decision.APPROVE and last_day is not None:
            self.check_decision(task_id, meta.actor, meta.on_behalf_of)
            self._check_within_employment(last_day)
        self.decide_task(task_id, decision, comment, meta)
        if decision is Decision.APPROVE:
            self._approved(meta=meta)
        else:
            self._rejected(reason=comment, meta=meta)

    def _check_within_employment(self, last_day: date) -> None:
        after = first_day_after((date.fromisoformat(day) for day in self.days), last_day)
        if after is not None:
            raise RuleViolation(
                AFTER_EMPLOYMENT_ENDS,
                f"{self.requester_id}'s last day of employment is {last_day.isoformat()},"
                f" before {after.isoformat()} of this request: it can no longer be approved,"
                " only rejected",
            )

    @event("Approved")
    def _approved(self, meta: Meta) -> None:
        self.status = LeaveStatus.APPROVED

    @event("Rejected")
    def _rejected(self, reason: str | None, meta: Meta) -> None:
        self.status = LeaveStatus.REJECTED
        self.closing_reason = reason

    def check_withdraw(self, actor: str, *, reason: str | None = None, by_hr: bool = False) -> None:
        check_withdraw(self.status, self.requester_id, actor, reason=reason, by_hr=by_hr)

    def withdraw(self, meta: Meta, *, reason: str | None = None, by_hr: bool = False) -> None:
        """``by_hr``: the actor holds the HR role; it counts only for someone else's."""
        if self.has_applied(meta):
            return
        self.check_withdraw(meta.actor, reason=reason, by_hr=by_hr)
        self._cancel_open_tasks(reason="withdrawn", meta=meta)
        by_hr = by_hr and meta.actor != self.requester_id
        self._withdrawn(reason=reason, by_hr=by_hr, meta=meta)

    @event("Withdrawn")
    def _withdrawn(self, meta: Meta, reason: str | None = None, by_hr: bool = False) -> None:
        # Withdrawals recorded before HR could withdraw carry neither: the requester's.
        self.status = LeaveStatus.WITHDRAWN
        self.closing_reason = reason

    def check_cancel(
        self, actor: str, today: date, *, reason: str | None = None, by_hr: bool = False
    ) -> None:
        check_cancel(
            self.status, self.requester_id, self.start, actor, today, reason=reason, by_hr=by_hr
        )

    def cancel(
        self, today: date, meta: Meta, *, reason: str | None = None, by_hr: bool = False
    ) -> None:
        """``by_hr``: the actor holds the HR role; it counts only for someone else's leave."""
        if self.has_applied(meta):
            return
        self.check_cancel(meta.actor, today, reason=reason, by_hr=by_hr)
        by_hr = by_hr and meta.actor != self.requester_id
        self._cancelled(reason=reason, by_hr=by_hr, meta=meta)

    def check_shorten(
        self,
        last_day: date,
        actor: str,
        today: date,
        *,
        reason: str | None = None,
        by_hr: bool = False,
        half_day_end: bool = False,
    ) -> None:
        check_shorten(
            self.status,
            self.requester_id,
            self.period,
            last_day,
            actor,
            today,
            reason=reason,
            by_hr=by_hr,
            half_day_end=half_day_end,
            working_days={date.fromisoformat(day) for day in self.days},
        )

    def shorten(
        self,
        last_day: date,
        today: date,
        meta: Meta,
        *,
        reason: str | None = None,
        by_hr: bool = False,
        half_day_end: bool = False,
    ) -> None:
        """End the leave on ``last_day``: the days after it are no longer leave, nor,
        with ``half_day_end`` (back at noon), the afternoon of ``last_day``."""
        if self.has_applied(meta):
            return
        self.check_shorten(
            last_day, meta.actor, today, reason=reason, by_hr=by_hr, half_day_end=half_day_end
        )
        by_hr = by_hr and meta.actor != self.requester_id
        kept = {day: share for day, share in self.days.items() if day <= last_day.isoformat()}
        if half_day_end:
            kept[last_day.isoformat()] = HALF
        self._shortened(
            last_day=last_day,
            days=kept,
            reason=reason,
            by_hr=by_hr,
            meta=meta,
            half_day_end=half_day_end,
        )

    @event("Shortened")
    def _shortened(
        self,
        last_day: date,
        days: dict[str, Decimal],
        reason: str | None,
        by_hr: bool,
        meta: Meta,
        half_day_end: bool = False,  # recorded before leave could end at noon: False
    ) -> None:
        """``days``: each working day's share the leave keeps (half of ``last_day``'s,
        the morning, with ``half_day_end``)."""
        self.period = LeavePeriod(self.start, last_day, self.period.half_day_start, half_day_end)
        self.days = dict(days)

    @event("Cancelled")
    def _cancelled(self, meta: Meta, reason: str | None = None, by_hr: bool = False) -> None:
        # Cancellations recorded before HR could cancel carry neither: the requester's.
        self.status = LeaveStatus.CANCELLED
        self.closing_reason = reason

    def mark_taken(self, meta: Meta) -> None:
        if self.has_applied(meta):
            return
        if self.status not in (LeaveStatus.APPROVED, LeaveStatus.RECORDED):
            raise Conflict("not_approved", f"a {self.status} request cannot be taken")
        self._taken(meta=meta)

    @event("Taken")
    def _taken(self, meta: Meta) -> None:
        self.status = LeaveStatus.TAKEN
