"""The Backoffice event-sourced application: every use case that records events.

Each use case loads aggregates, calls one command on them and saves them in
one ``save()`` so they commit together. Commands carry :class:`Meta`, whose
``command_id`` makes a retried use case record nothing new.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import JSONTranscoder

from domain.case import Decision
from domain.employee import Employee, EmployeeProfile
from domain.errors import NotFound, RuleViolation
from domain.leave import ZERO, LeavePeriod, LeaveType, entitlement
from domain.leave_account import Balance, LeaveAccount
from domain.leave_request import LeaveRequest
from domain.meta import Meta
from domain.organisation import check_organisation
from services.transcodings import DateAsISO, MetaAsDict

A = TypeVar("A", bound=Aggregate)


def approval_task_id(case_id: UUID) -> str:
    """Task ids are unique across cases and name their case: ``{case_id}.approval``."""
    return f"{case_id}.approval"


def case_id_of_task(task_id: str) -> UUID | None:
    """The case a task id belongs to, or None for an id that is not a task's."""
    case_part, _, _step = task_id.partition(".")
    try:
        return UUID(case_part)
    except ValueError:
        return None


ESCALATION_BUSINESS_DAYS = 2


@dataclass(frozen=True)
class Saved:
    """What a use case returns: the case after the command, and the log position
    a reader must reach to see it (for read-your-writes)."""

    case: LeaveRequest
    position: int


class BackofficeApplication(Application[UUID]):
    """All aggregates of the engine, in one event store with one notification log."""

    name = "Backoffice"

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        transcoder.register(MetaAsDict())

    # -- saving ------------------------------------------------------------------

    def _save(self, *aggregates: Aggregate) -> int:
        recordings = self.save(*aggregates)
        if recordings:
            return max(recording.notification.id for recording in recordings)
        return self.recorder.max_notification_id() or 0

    def _get(self, aggregate_id: UUID, kind: type[A], what: str) -> A:
        try:
            aggregate: Aggregate | None = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(
                f"{what}_not_found", f"no {what.replace('_', ' ')} {aggregate_id}"
            ) from None
        if not isinstance(aggregate, kind):
            raise NotFound(f"{what}_not_found", f"no {what.replace('_', ' ')} {aggregate_id}")
        return aggregate

    # -- the organisation ----------------------------------------------------------

    def find_employee(self, employee_id: str) -> Employee | None:
        try:
            employee: Aggregate = self.repository.get(Employee.create_id(employee_id))
        except AggregateNotFoundError:
            return None
        return employee if isinstance(employee, Employee) else None

    def profile(self, employee_id: str) -> EmployeeProfile:
        employee = self.find_employee(employee_id)
        if employee is None:
            raise NotFound("employee_not_found", f"no employee {employee_id}")
        return employee.profile

    def managers_of(self, employee_id: str) -> list[str]:
        """The employee's manager, their manager, and so on to the top."""
        chain: list[str] = []
        manager = self.profile(employee_id).manager_id
        while manager is not None and manager not in chain:
            chain.append(manager)
            manager = self.profile(manager).manager_id
        return chain

    def load_organisation(self, profiles: Sequence[EmployeeProfile], meta: Meta) -> list[str]:
        """Record new employees and changed fields; all or nothing. Returns changed ids."""

        def recorded_manager_of(employee_id: str) -> str | bool | None:
            employee = self.find_employee(employee_id)
            return False if employee is None else employee.profile.manager_id

        check_organisation(profiles, recorded_manager_of)
        touched: list[Employee] = []
        for profile in profiles:
            employee = self.find_employee(profile.employee_id)
            if employee is None:
                employee = Employee(profile.employee_id, profile.to_event_data(), meta)
            else:
                employee.update(profile, meta)
            if employee.pending_events:
                touched.append(employee)
        self._save(*touched)
        return [employee.profile.employee_id for employee in touched]

    # -- leave -------------------------------------------------------------------------

    def leave_request(self, case_id: UUID) -> LeaveRequest:
        return self._get(case_id, LeaveRequest, "leave_request")

    def leave_account(self, employee_id: str) -> LeaveAccount | None:
        try:
            account: Aggregate = self.repository.get(LeaveAccount.create_id(employee_id))
        except AggregateNotFoundError:
            return None
        return account if isinstance(account, LeaveAccount) else None

    def leave_balance(self, employee_id: str, year: int) -> Balance:
        profile = self.profile(employee_id)
        account = self.leave_account(employee_id)
        if account is None:  # nothing asked for yet
            return Balance(
                entitlement(profile.annual_leave_days, profile.start_date, year), ZERO, ZERO
            )
        return account.balance(profile, year)

    def submit_leave_request(
        self,
        case_id: UUID,
        employee_id: str,
        leave_type: LeaveType,
        period: LeavePeriod,
        reason: str | None,
        meta: Meta,
    ) -> Saved:
        """Record a new leave request and hold its days, or refuse it naming the rule."""
        try:
            existing: Aggregate | None = self.repository.get(case_id)
        except AggregateNotFoundError:
            existing = None
        if isinstance(existing, LeaveRequest):
            return Saved(existing, self.recorder.max_notification_id() or 0)
        profile = self.profile(employee_id)
        if leave_type.needs_approval and profile.manager_id is None:
            raise RuleViolation(
                "no_approver", f"{employee_id} has no manager to approve {leave_type} leave"
            )
        fractions = period.day_fractions(profile.calendar)
        account = self.leave_account(employee_id) or LeaveAccount(employee_id, meta)
        account.reserve(str(case_id), leave_type, fractions, profile, meta)
        request = LeaveRequest(
            id=case_id,
            requester_id=employee_id,
            leave_type=leave_type,
            start=period.start,
            end=period.end,
            half_day_start=period.half_day_start,
            half_day_end=period.half_day_end,
            days={day.isoformat(): share for day, share in sorted(fractions.items())},
            reason=reason,
            meta=meta,
        )
        if not leave_type.needs_approval and profile.manager_id is not None:
            request.inform_manager(profile.manager_id, meta)
        return Saved(request, self._save(request, account))

    def open_approval_task(self, case_id: UUID, now: datetime, meta: Meta) -> Saved:
        """Ask the requester's manager to decide, due two business days from ``now``."""
        request = self.leave_request(case_id)
        profile = self.profile(request.requester_id)
        if profile.manager_id is None:
            raise RuleViolation("no_approver", f"{request.requester_id} has no manager")
        due_at = profile.calendar.add_business_days(now, ESCALATION_BUSINESS_DAYS)
        title = (
            f"{profile.name}: {request.leave_type} leave {request.start.isoformat()}"
            f" to {request.end.isoformat()} ({_days(request.working_days)})"
        )
        request.open_task(approval_task_id(case_id), title, [profile.manager_id], due_at, meta)
        return Saved(request, self._save(request))

    def escalate_approval_task(self, case_id: UUID, task_id: str, meta: Meta) -> Saved:
        """Add the assignees' managers to an overdue task; nothing if there is nobody above."""
        request = self.leave_request(case_id)
        task = request.task(task_id)
        if not task.is_open:  # decided (or withdrawn) while the escalation was due
            return Saved(request, self._save(request))
        above = [
            manager
            for assignee in task.assignees
            if (manager := self.profile(assignee).manager_id) is not None
            and manager not in task.eligible
            and manager != request.requester_id
        ]
        if above:
            request.escalate_task(task_id, above, meta)
        return Saved(request, self._save(request))

    def decide_leave_request(
        self, case_id: UUID, task_id: str, decision: Decision, comment: str | None, meta: Meta
    ) -> Saved:
        """Record a decision: approval debits the balance, rejection gives the days back."""
        request = self.leave_request(case_id)
        account = self._account_of(request)
        if not request.has_applied(meta):
            request.decide(task_id, decision, comment, meta)
            if decision is Decision.APPROVE:
                account.confirm(str(case_id), meta)
            else:
                account.release(str(case_id), "rejected", meta)
        return Saved(request, self._save(request, account))

    def withdraw_leave_request(self, case_id: UUID, meta: Meta) -> Saved:
        request = self.leave_request(case_id)
        account = self._account_of(request)
        if not request.has_applied(meta):
            request.withdraw(meta)
            account.release(str(case_id), "withdrawn", meta)
        return Saved(request, self._save(request, account))

    def cancel_leave_request(self, case_id: UUID, today: date, meta: Meta) -> Saved:
        request = self.leave_request(case_id)
        account = self._account_of(request)
        if not request.has_applied(meta):
            request.cancel(today, meta)
            account.release(str(case_id), "cancelled", meta)
        return Saved(request, self._save(request, account))

    def mark_leave_taken(self, case_id: UUID, meta: Meta) -> Saved:
        request = self.leave_request(case_id)
        request.mark_taken(meta)
        return Saved(request, self._save(request))

    def _account_of(self, request: LeaveRequest) -> LeaveAccount:
        account = self.leave_account(request.requester_id)
        if account is None:
            raise NotFound("leave_account_not_found", f"no leave account of {request.requester_id}")
        return account


def _days(count: Decimal) -> str:
    return f"{count.normalize():f} day" + ("" if count == 1 else "s")
