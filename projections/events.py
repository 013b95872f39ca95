"""The domain events the projections read, under names mypy can check.

The domain declares its events with ``@event("Name")``, which creates the
classes when the aggregate class is built, so a type checker cannot see them
or their attributes. At run time the names below are the domain's own classes
(so ``match`` tests ``isinstance``); for the type checker they are stubs that
list the attributes the projections use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import date, datetime
    from decimal import Decimal
    from typing import Any
    from uuid import UUID

    from domain.meta import Meta

    class _Event:
        originator_id: UUID
        originator_version: int
        timestamp: datetime
        meta: Meta

    class EmployeeRegistered(_Event):
        employee_id: str
        profile: dict[str, Any]

    class EmployeeDetailsChanged(_Event):
        changes: dict[str, Any]

    class CaseEvent(_Event): ...

    class TaskOpened(CaseEvent):
        task_id: str
        title: str
        assignees: list[str]
        due_at: datetime

    class TaskEscalated(CaseEvent):
        task_id: str
        to: list[str]

    class TaskDecided(CaseEvent):
        task_id: str
        decision: str
        comment: str | None

    class TaskCancelled(CaseEvent):
        task_id: str
        reason: str

    class LeaveRequestEvent(CaseEvent): ...

    class LeaveSubmitted(LeaveRequestEvent):
        requester_id: str
        leave_type: str
        start: date
        end: date
        half_day_start: bool
        half_day_end: bool
        days: dict[str, Decimal]
        reason: str | None

    class LeaveApproved(LeaveRequestEvent): ...

    class LeaveRejected(LeaveRequestEvent):
        reason: str | None

    class LeaveWithdrawn(LeaveRequestEvent): ...

    class LeaveCancelled(LeaveRequestEvent): ...

    class LeaveTaken(LeaveRequestEvent): ...

    class LeaveShortened(LeaveRequestEvent):
        last_day: date
        days: dict[str, Decimal]
        half_day_end: bool  # absent from those recorded before leave could end at noon

    class AccountOpened(_Event):
        employee_id: str

    class DaysReserved(_Event):
        case_id: str
        leave_type: str
        days: dict[str, Decimal]
        approved: bool

    class ReservationConfirmed(_Event):
        case_id: str

    class ReservationReleased(_Event):
        case_id: str
        reason: str

    class ReservationShortened(_Event):
        case_id: str
        last_day: date
        released: dict[str, Decimal]
        """Each day's share given back: 0.5 for the afternoon of a leave ended at noon."""

else:
    from domain.case import Case
    from domain.employee import Employee
    from domain.leave_account import LeaveAccount
    from domain.leave_request import LeaveRequest

    EmployeeRegistered = Employee.Registered
    EmployeeDetailsChanged = Employee.DetailsChanged

    # Declared on Case, so every kind of case (leave, procurement, ...) has
    # subclasses of these; isinstance matches them all.
    CaseEvent = Case.Event
    TaskOpened = Case.TaskOpened
    TaskEscalated = Case.TaskEscalated
    TaskDecided = Case.TaskDecided
    TaskCancelled = Case.TaskCancelled

    LeaveRequestEvent = LeaveRequest.Event
    LeaveSubmitted = LeaveRequest.Submitted
    LeaveApproved = LeaveRequest.Approved
    LeaveRejected = LeaveRequest.Rejected
    LeaveWithdrawn = LeaveRequest.Withdrawn
    LeaveCancelled = LeaveRequest.Cancelled
    LeaveTaken = LeaveRequest.Taken
    LeaveShortened = LeaveRequest.Shortened

    AccountOpened = LeaveAccount.Opened
    DaysReserved = LeaveAccount.Reserved
    ReservationConfirmed = LeaveAccount.Confirmed
    ReservationReleased = LeaveAccount.Released
    ReservationShortened = LeaveAccount.Shortened
