"""My requests: their status, my balance, the form to ask for leave, and each request's
page, from which its requester withdraws, cancels or ends it early (and HR does, saying
why)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, urlencode
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.access import policy
from api.context import ApiContext
from api.days import days_as_number
from api.employees import get_leave_balance
from api.errors import ApiError, not_found
from api.history import HistoryEntryOut, case_history
from api.leave_requests import (
    cancel_leave_request,
    get_leave_request,
    leave_requests_page,
    shorten_leave_request,
    submit_leave_request,
    withdraw_leave_request,
)
from api.schemas import (
    ClosingIn,
    LeaveBalanceOut,
    LeaveRequestIn,
    LeaveRequestList,
    LeaveRequestOut,
    ShortenIn,
)
from domain.employee import EmployeeProfile
from domain.errors import DomainError
from domain.leave import LeavePeriod, LeaveType
from domain.leave_request import LeaveStatus, check_cancel, check_shorten, check_withdraw
from domain.policy import HR
from services.credentials import Session
from web.rendering import (
    KEY_REUSED,
    RETRY_LATER,
    as_api_error,
    case_id_in,
    field_errors,
    form_words,
    names,
    page,
    people_of_case,
    refusal_errors,
    workflow_answers,
)
from web.session import Context, MaybeSignedIn, SignedIn, Web, check_csrf

router = APIRouter(include_in_schema=False)

FormText = Annotated[str | None, Form()]
FIELDS = ("employee_id", "type", "start", "end", "half_day_start", "half_day_end", "reason")
FIRST_ATTEMPT = (
    "Your first attempt may have been recorded: see your requests above before sending"
    " this one again."
)
"""The page's words for a request sent again, changed, with the key of a first attempt
that got through (the API's speak of a key the person never saw)."""


PAGE_SIZE = 100
"""Requests each list of My requests shows at a time; "Older requests" shows the next."""
OLD_LINK = "That link to older requests is not one this page gave: here are the newest."


def _mine(
    context: ApiContext, employee_id: str, after: str | None
) -> tuple[LeaveRequestList, list[LeaveBalanceOut]]:
    """A page of my requests (from ``after``, the API's cursor), and my annual leave
    balance this year and in each later year I asked for on it."""
    listed = leave_requests_page(employee_id, context, "mine", PAGE_SIZE, after)
    this_year = datetime.now(UTC).year
    years = sorted({this_year, *(r.start.year for r in listed.items if r.start.year >= this_year)})
    balances = [get_leave_balance(employee_id, employee_id, context, year) for year in years]
    return listed, balances


def _others(
    context: ApiContext, employee_id: str, after: str | None
) -> tuple[LeaveRequestList, dict[str, str]]:
    """A page of the requests of others I may see (my reports' down the chain;
    everyone's for ``hr`` and ``auditor``), as the API lists them (from ``after``), and
    their requesters' names."""
    others = leave_requests_page(employee_id, context, "others", PAGE_SIZE, after)
    people = context.application.directory.current().employees
    names = {
        item.requester_id: people[item.requester_id].name
        if item.requester_id in people
        else item.requester_id
        for item in others.items
    }
    return others, names


Listed = TypeVar("Listed")


def _page_from(list_page: Callable[[str | None], Listed], after: str | None) -> tuple[Listed, bool]:
    """``list_page`` from ``after``, and whether ``after`` was refused as a cursor the
    page did not give (the API's ``invalid_cursor``), in which case its newest page."""
    try:
        return list_page(after), False
    except ApiError as refused:
        if refused.rule != "invalid_cursor":
            raise
        return list_page(None), True


def _address(after: str | None, others_after: str | None, anchor: str = "") -> str:
    """My requests with each list from its cursor (its newest page when None), so that
    following one list's links keeps the page the other shows."""
    cursors = {"after": after, "others_after": others_after}
    query = urlencode({name: value for name, value in cursors.items() if value is not None})
    return f"/requests{'?' if query else ''}{query}{anchor}"


async def _requests_page(
    request: Request,
    web: Web,
    session: Session,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    form_key: str | None = None,
    headers: dict[str, str] | None = None,
    after: str | None = None,
    others_after: str | None = None,
) -> Response:
    """My requests; ``values``, ``errors``: the form as sent and what was wrong with it.
    ``form_key``: the key of the form sent, to keep, so that sending it again cannot ask
    twice. ``after``, ``others_after``: where each list's page starts (the API's
    cursors; the newest when None); one the page did not give shows that list's newest,
    saying so beside it (422)."""
    context: ApiContext = request.app.state.context
    employee_id = session.employee_id
    errors = dict(errors or {})
    (mine, balances), mine_refused = await run_in_threadpool(
        _page_from, partial(_mine, context, employee_id), after
    )
    (others, names), others_refused = await run_in_threadpool(
        _page_from, partial(_others, context, employee_id), others_after
    )
    for refused, name in ((mine_refused, "list"), (others_refused, "others")):
        if refused:
            errors[name] = OLD_LINK
            status = 422
    after = None if mine_refused else after
    others_after = None if others_refused else others_after
    return await page(
        request,
        web,
        session,
        "requests.html",
        status=status,
        headers=headers,
        section="requests",
        requests=mine.items,
        balances=balances,
        others=others.items,
        others_shown=bool(others.items or others_after or others.next_after or others_refused),
        names=names,
        links={
            "newest-requests": after and _address(None, others_after),
            "older-requests": mine.next_after and _address(mine.next_after, others_after),
            "newest-others": others_after and _address(after, None, "#others"),
            "older-others": others.next_after and _address(after, others.next_after, "#others"),
        },
        employees=await run_in_threadpool(_others_hr_may_ask_for, context, employee_id),
        leave_types=list(LeaveType),
        values=values or {"type": LeaveType.ANNUAL.value},
        errors=errors,
        form_key=form_key or secrets.token_urlsafe(16),
    )


def _others_hr_may_ask_for(context: ApiContext, employee_id: str) -> list[EmployeeProfile]:
    """The employees someone with the ``hr`` role may ask for leave for, by name (none
    for anyone else): everyone else who has not left."""
    if not policy(context).has_role(employee_id, HR):
        return []
    today = datetime.now(UTC).date()
    people = context.application.directory.current().employees.values()
    return sorted(
        (
            person
            for person in people
            if person.employee_id != employee_id
            and (person.end_date is None or person.end_date >= today)
        ),
        key=lambda person: (person.name.casefold(), person.employee_id),
    )


@router.get("/requests")
async def my_requests(
    request: Request,
    web: Web,
    session: SignedIn,
    after: str | None = None,
    others_after: str | None = None,
) -> Response:
    """My requests, and those of others I may see, each list a page at a time."""
    return await _requests_page(request, web, session, after=after, others_after=others_after)


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
    employee_id: FormText = None,
    csrf_token: FormText = None,
    form_key: FormText = None,
) -> Response:
    """Submit through the API's own route; a refusal comes back beside its field.
    ``employee_id``: whose leave it is, for ``hr`` (empty: their own)."""
    check_csrf(session, csrf_token)
    values: dict[str, Any] = {
        "employee_id": employee_id or None,
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
        with workflow_answers():
            await submit_leave_request(body, session.employee_id, context, Response(), form_key)
    except (ApiError, DomainError) as error:
        refused = as_api_error(error)
        if refused.status == 503:
            # The request may or may not have reached the workflow: the same form's key
            # again lets a retry find the case it made rather than make a second.
            return await _requests_page(
                request,
                web,
                session,
                values=values,
                errors={"form": refused.detail},
                status=503,
                form_key=form_key,
                headers=RETRY_LATER,
            )
        errors = {"form": FIRST_ATTEMPT} if refused.rule == KEY_REUSED else refusal_errors(refused)
        if refused.rule == "reason_required" and body.employee_id is not None:
            named = await run_in_threadpool(names, context, [body.employee_id])
            errors = {"reason": REASON_REQUIRED["submit"].format(name=named[body.employee_id])}
        return await _requests_page(
            request, web, session, values=values, errors=errors, status=refused.status
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
    employee_id: str | None = None,
) -> JSONResponse:
    """The working days a period would take on the signed-in employee's calendar (or on
    ``employee_id``'s, for ``hr`` asking for them), as the domain counts them, for the
    form to show before it is sent."""
    if session is None:
        return JSONResponse({"detail": "sign in first"}, status_code=401)
    whose = employee_id or session.employee_id
    if whose != session.employee_id and not policy(context).has_role(session.employee_id, HR):
        return JSONResponse({"detail": "only HR asks for someone else's leave"}, status_code=403)
    person = context.application.find_employee(whose)
    if person is None:
        return JSONResponse({"detail": f"no employee {whose}"}, status_code=422)
    profile = person.profile
    try:
        period = LeavePeriod(start, end, half_day_start, half_day_end)
    except DomainError as refused:
        detail = form_words(refused.rule, refused.message)
        return JSONResponse({"detail": detail, "rule": refused.rule}, status_code=422)
    days = sum(period.day_fractions(profile.calendar).values(), Decimal(0))
    return JSONResponse({"working_days": days_as_number(days)})


REASON_ON_THE_FORM = "given on the form"
"""What stands for HR's reason when the page asks whether HR may withdraw or cancel: the
form asks for it, and the route refuses the form sent without one."""
REASON_REQUIRED = {
    "withdraw": "Say why you withdraw this request: the reason is recorded and shown to {name}.",
    "cancel": "Say why you cancel this leave: the reason is recorded and shown to {name}.",
    "shorten": "Say why you end this leave early: the reason is recorded and shown to {name}.",
    "submit": "Say why you ask for leave for {name}: the reason is recorded and shown to them.",
}
"""The page's words for ``reason_required`` (the API's name the requester by id)."""
CLOSED_BY = {"Withdrawn": "Withdrawn", "Cancelled": "Cancelled"}
"""The events that close a request someone may have closed for its requester."""


def _request_view(context: ApiContext, employee_id: str, case_id: UUID) -> dict[str, Any]:
    """The case, and whether its rules let the caller withdraw or cancel it now (as the
    workflow's validator will check them); ApiError 404 for a case they may not see.
    ``by_hr``: the caller would withdraw or cancel as HR, so the form asks why (the
    API's own test: someone else's request, and the caller holds the role)."""
    case = get_leave_request(case_id, employee_id, context)
    today = datetime.now(UTC).date()
    by_hr = employee_id != case.requester_id and policy(context).has_role(employee_id, HR)
    reason = REASON_ON_THE_FORM if by_hr else None
    return {
        "case": case,
        "may_withdraw": _allowed(
            check_withdraw,
            case.status,
            case.requester_id,
            employee_id,
            reason=reason,
            by_hr=by_hr,
        ),
        "may_cancel": _allowed(
            check_cancel,
            case.status,
            case.requester_id,
            case.start,
            employee_id,
            today,
            reason=reason,
            by_hr=by_hr,
        ),
        **_shortening(case, employee_id, today, reason, by_hr),
        "by_hr": by_hr,
        # Who could cancel it before it began is told why they no longer can.
        "began": case.status in {LeaveStatus.APPROVED, LeaveStatus.RECORDED}
        and case.start <= today
        and (by_hr or employee_id == case.requester_id),
    }


def _shortening(
    case: LeaveRequestOut, employee_id: str, today: date, reason: str | None, by_hr: bool
) -> dict[str, Any]:
    """Whether the caller may end the leave early now, and the days its last day may be:
    from its start (from yesterday, for the requester) to the day before its end, or to
    its end when they may end it at noon that day (a last day it holds in full)."""
    earliest = case.start if by_hr else max(case.start, today - timedelta(days=1))
    latest = case.end - timedelta(days=1)
    period = LeavePeriod(case.start, case.end, case.half_day_start, case.half_day_end)
    shorten = partial(
        _allowed,
        check_shorten,
        case.status,
        case.requester_id,
        period,
        actor=employee_id,
        today=today,
        reason=reason,
        by_hr=by_hr,
    )
    whole_day = earliest <= latest and shorten(last_day=earliest)
    at_noon_on_its_end = shorten(last_day=case.end, half_day_end=True)
    return {
        "may_shorten": whole_day or at_noon_on_its_end,
        "shorten_from": earliest,
        "shorten_until": case.end if at_noon_on_its_end else latest,
    }


def _allowed(rule: Callable[..., None], *facts: Any, **options: Any) -> bool:
    try:
        rule(*facts, **options)
    except DomainError:
        return False
    return True


def _closing(history: list[HistoryEntryOut]) -> HistoryEntryOut | None:
    """The case's withdrawal or cancellation, if it was closed so: who, whether as HR."""
    return next((entry for entry in reversed(history) if entry.type in CLOSED_BY), None)


def _ended_early(history: list[HistoryEntryOut]) -> HistoryEntryOut | None:
    """The case's last ending early, if it was: who, whether as HR, on which day, why."""
    return next((entry for entry in reversed(history) if entry.type == "Shortened"), None)


async def _request_page(
    request: Request,
    web: Web,
    session: Session,
    case_id: str,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
    reason: str = "",
    last_day: str = "",
    half_day_end: bool = False,
    form_key: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The request's page; the "not found" page for a request the caller may not see (or
    an address that names none). ``reason``, ``last_day`` and ``half_day_end``: what was
    written on the form sent, and ``form_key``: its key, to keep."""
    context: ApiContext = request.app.state.context
    found = case_id_in(case_id)
    if found is None:
        return await page(request, web, session, "refused.html", status=404, reason="not_found")
    try:
        view = await run_in_threadpool(_request_view, context, session.employee_id, found)
        history = await case_history(found, session.employee_id, context)
    except ApiError as error:
        if error.status != 404:
            raise
        return await page(request, web, session, "refused.html", status=404, reason="not_found")
    case: LeaveRequestOut = view["case"]
    people = await run_in_threadpool(names, context, people_of_case(case, history.items))
    return await page(
        request,
        web,
        session,
        "request.html",
        status=status,
        headers=headers,
        section="requests",
        **view,
        history=history.items,
        closing=_closing(history.items),
        ended_early=_ended_early(history.items),
        closed_by=CLOSED_BY,
        people=people,
        errors=errors or {},
        reason=reason,
        last_day=last_day,
        half_day_end=half_day_end,
        form_key=form_key or secrets.token_urlsafe(16),
    )


@router.get("/requests/{case_id}")
async def request_page(request: Request, web: Web, session: SignedIn, case_id: str) -> Response:
    return await _request_page(request, web, session, case_id)


@router.get("/requests/{case_id}/withdraw")
@router.get("/requests/{case_id}/cancel")
@router.get("/requests/{case_id}/shorten")
async def action_address(case_id: str) -> RedirectResponse:
    """A withdrawal's, cancellation's or ending's address opened as a page: the request's
    page."""
    return RedirectResponse(f"/requests/{quote(case_id, safe='')}", status_code=303)


@router.post("/requests/{case_id}/withdraw")
@router.post("/requests/{case_id}/cancel")
async def act(
    request: Request,
    web: Web,
    session: SignedIn,
    case_id: str,
    csrf_token: FormText = None,
    form_key: FormText = None,
    reason: FormText = None,
) -> Response:
    """Withdraw or cancel through the API's own route: its checks are the only ones, and
    a refusal is kept for the auditors as the API keeps it, and shown beside the button
    (beside the reason, when it is the reason HR must give that is refused)."""
    check_csrf(session, csrf_token)
    name = request.url.path.rsplit("/", 1)[1]
    context: ApiContext = request.app.state.context
    key = f"{form_key}:{name}" if form_key else None  # a double click acts once
    found = case_id_in(case_id)
    typed = reason or ""
    try:
        body = ClosingIn.model_validate({"reason": typed.strip() or None})
    except ValidationError as error:
        errors = field_errors(error, ["reason"])
        return await _request_page(
            request, web, session, case_id, errors=errors, status=422, reason=typed
        )
    try:
        if found is None:
            raise not_found("leave request")
        with workflow_answers():
            if name == "withdraw":
                await withdraw_leave_request(found, session.employee_id, context, key, body)
            else:
                await cancel_leave_request(found, session.employee_id, context, key, body)
    except (ApiError, DomainError) as error:
        refused = as_api_error(error)
        if refused.status == 503:
            # It may or may not have reached the workflow. Sent again with the same
            # form's key it acts once: the first attempt's answer, or the rule naming
            # what the request has become once its workflow has ended.
            return await _request_page(
                request,
                web,
                session,
                case_id,
                errors={name: refused.detail},
                status=503,
                reason=typed,
                form_key=form_key,
                headers=RETRY_LATER,
            )
        if refused.status == 404:
            return await page(request, web, session, "refused.html", status=404, reason="not_found")
        errors = {name: refused.detail}
        if refused.rule == "reason_required" and found is not None:
            errors = {"reason": await _reason_required(context, found, name)}
        return await _request_page(
            request, web, session, case_id, errors=errors, status=refused.status, reason=typed
        )
    return RedirectResponse(f"/requests/{quote(case_id, safe='')}", status_code=303)


SHORTEN_FIELD_RULES = {
    "before_start",
    "not_shorter",
    "last_day_in_the_past",
    "not_a_working_day",
    "half_day_not_held",
}
"""The refusals of an ending early that concern the last day given."""
ENDED_BY_FIRST_ATTEMPT = (
    "Your first attempt was recorded: the leave now ends on the day shown above."
    " To end it on another day, send the form again."
)
"""The page's words for the form sent again with another day under the key of a first
attempt that got through (kept after a 503): the API's speak of a key nobody saw; the
page shown with it carries a new one."""


@router.post("/requests/{case_id}/shorten")
async def end_early(
    request: Request,
    web: Web,
    session: SignedIn,
    case_id: str,
    csrf_token: FormText = None,
    form_key: FormText = None,
    last_day: FormText = None,
    reason: FormText = None,
    half_day_end: FormText = None,
) -> Response:
    """End the leave early through the API's own route, as :func:`act` closes it: a
    refusal beside the field it concerns (the last day, HR's reason) or the button."""
    check_csrf(session, csrf_token)
    context: ApiContext = request.app.state.context
    key = f"{form_key}:shorten" if form_key else None  # a double click acts once
    found = case_id_in(case_id)
    typed_day, typed, at_noon = last_day or "", reason or "", half_day_end is not None
    again = partial(
        _request_page,
        request,
        web,
        session,
        case_id,
        reason=typed,
        last_day=typed_day,
        half_day_end=at_noon,
    )
    try:
        body = ShortenIn.model_validate(
            {"last_day": typed_day, "reason": typed.strip() or None, "half_day_end": at_noon}
        )
    except ValidationError as error:
        problems = field_errors(error, ["last_day", "reason"])
        errors = {f"shorten_{field}": message for field, message in problems.items()}
        return await again(errors=errors, status=422)
    try:
        if found is None:
            raise not_found("leave request")
        with workflow_answers():
            await shorten_leave_request(found, body, session.employee_id, context, key)
    except (ApiError, DomainError) as error:
        refused = as_api_error(error)
        if refused.status == 404:
            return await page(request, web, session, "refused.html", status=404, reason="not_found")
        if refused.status == 503:
            return await again(
                errors={"shorten": refused.detail},
                status=503,
                form_key=form_key,
                headers=RETRY_LATER,
            )
        errors = {"shorten": refused.detail}
        if refused.rule == KEY_REUSED:
            errors = {"shorten": ENDED_BY_FIRST_ATTEMPT}
        if refused.rule in SHORTEN_FIELD_RULES:
            errors = {"shorten_last_day": refused.detail}
        if refused.rule == "reason_required" and found is not None:
            errors = {"shorten_reason": await _reason_required(context, found, "shorten")}
        return await again(errors=errors, status=refused.status)
    return RedirectResponse(f"/requests/{quote(case_id, safe='')}", status_code=303)


async def _reason_required(context: ApiContext, case_id: UUID, action: str) -> str:
    """``reason_required`` in the page's words, naming the requester by name."""

    def requester_name() -> str:
        requester = context.application.leave_request(case_id).requester_id
        return names(context, [requester])[requester]

    return REASON_REQUIRED[action].format(name=await run_in_threadpool(requester_name))
