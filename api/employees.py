"""Employees: leave balances."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.access import policy
from api.auth import Caller
from api.dependencies import Context
from api.errors import error_responses, not_found
from api.schemas import LeaveBalanceOut
from projections.leave_balances import LeaveBalance

router = APIRouter(prefix="/employees", tags=["employees"], responses=error_responses(401, 422))


@router.get(
    "/{employee_id}/leave-balance",
    responses=error_responses(404),
    summary="An employee's annual leave balance",
)
def get_leave_balance(
    employee_id: str,
    caller: Caller,
    context: Context,
    year: Annotated[
        int | None, Query(ge=1900, le=2999, description="The leave year; default: this year")
    ] = None,
) -> LeaveBalanceOut:
    """Annual leave days entitled, approved, pending and remaining in a year, from the
    read models. Visible to the employee, their managers up the chain, `hr` and `auditor`
    (404 to others)."""
    application = context.application
    access = policy(context)
    if not access.directory.knows(employee_id) or not access.may_see_balance(caller, employee_id):
        raise not_found("employee")
    year = year or datetime.now(UTC).year
    balance = context.read_models.balance(employee_id, year)
    if balance is None:  # not projected yet: the recorded account answers
        recorded = application.leave_balance(employee_id, year)
        balance = LeaveBalance(
            employee_id,
            year,
            recorded.entitled,
            recorded.approved,
            recorded.pending,
            recorded.remaining,
        )
    return LeaveBalanceOut.of(balance)
