"""My requests: their status, my balance, and the form to ask for leave."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.context import ApiContext
from api.days import days_as_number
from api.employees import get_leave_balance
from api.errors import ApiError
from api.leave_requests import list_leave_requests, submit_leave_request
from api.schemas import LeaveBalanceOut, LeaveRequestIn, LeaveRequestSummary
from domain.errors import DomainError
from domain.leave import LeavePeriod, LeaveType
from services.credentials import Session
from web.rendering import field_errors, form_words, page, refusal_errors
from web.session import Context, MaybeSignedIn, SignedIn, Web, check_csrf

router = APIRouter(include_in_schema=False)

FormText = Annotated[str | None, Form()]
FIELDS = ("type", "start", "end", "half_day_start", "half_day_end", "reason")


def _mine(
    context: ApiContext, employee_id: str
) -> tuple[list[LeaveRequestSummary], list[LeaveBalanceOut]]:
    """My requests, and my annual leave balance this year and in each year I asked for."""
    requests = list_leave_requests(employee_id, context, mine=True).items
    this_year = datetime.now(UTC).year
    years = sorted({this_year, *(r.start.year for r in requests if r.start.year >= this_year)})
    balances = [get_leave_balance(employee_id, employee_id, context, year) for year in years]
    return requests, balances


async def _requests_page(
    request: Request,
    web: Web,
    session: Session,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    context: ApiContext = request.app.state.context
    requests, balances = await run_in_threadpool(_mine, context, session.employee_id)
    return await page(
        request,
        web,
        session,
        "requests.html",
        status=status,
        section="requests",
        requests=requests,
        balances=balances,
        leave_types=list(LeaveType),
        values=values or {"type": LeaveType.ANNUAL.value},
        errors=errors or {},
        form_key=secrets.token_urlsafe(16),
    )


@router.get("/requests")
async def my_requests(request: Request, web: Web, session: SignedIn) -> Response:
    return await _requests_page(request, web, session)


@router.post("/requests")
async def ask_for_leave(
    request: Request,
    web: Web,
    session: SignedIn,
    context: Context,
    type: FormText = None,
    start: FormText = None,
    end: FormText = None,
    half_day_start: FormText = None,
    half_day_end: FormText = None,
    reason: FormText = None,
    csrf_token: FormText = None,
    form_key: FormText = None,
) -> Response:
    """Submit through the API's own route; a refusal comes back beside its field."""
    check_csrf(session, csrf_token)
    values: dict[str, Any] = {
        "type": type,
        "start": start or None,
        "end": end or None,
        "half_day_start": half_day_start is not None,
        "half_day_end": half_day_end is not None,
        "reason": (reason or "").strip() or None,
    }
    try:
        body = LeaveRequestIn.model_validate(values)
    except ValidationError as error:
        return await _requests_page(
            request, web, session, values=values, errors=field_errors(error, FIELDS), status=422
        )
    try:
        await submit_leave_request(body, session.employee_id, context, Response(), form_key)
    except ApiError as refused:
        return await _requests_page(
            request,
            web,
            session,
            values=values,
            errors=refusal_errors(refused),
            status=refused.status,
        )
    return RedirectResponse("/requests", status_code=303)


@router.get("/requests/working-days")
def working_days(
    context: Context,
    session: MaybeSignedIn,
    start: date,
    end: date,
    half_day_start: bool = False,
    half_day_end: bool = False,
) -> JSONResponse:
    """The working days a period would take on the signed-in employee's calendar, as the
    domain counts them, for the form to show before it is sent."""
    if session is None:
        return JSONResponse({"detail": "sign in first"}, status_code=401)
    profile = context.application.profile(session.employee_id)
    try:
        period = LeavePeriod(start, end, half_day_start, half_day_end)
    except DomainError as refused:
        detail = form_words(refused.rule, refused.message)
        return JSONResponse({"detail": detail, "rule": refused.rule}, status_code=422)
    days = sum(period.day_fractions(profile.calendar).values(), Decimal(0))
    return JSONResponse({"working_days": days_as_number(days)})
