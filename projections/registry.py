"""The read models of Backoffice, in one place for the runner and the queries."""

from __future__ import annotations

from projections.audit_log import AuditLog
from projections.base import Projection
from projections.employees import EmployeeDirectory
from projections.inbox import Inbox
from projections.leave_balances import LeaveBalances
from projections.leave_cases import LeaveCases
from projections.team_calendar import TeamCalendar


def all_projections() -> list[Projection]:
    return [
        EmployeeDirectory(),
        Inbox(),
        LeaveBalances(),
        TeamCalendar(),
        LeaveCases(),
        AuditLog(),
    ]
