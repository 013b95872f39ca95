"""My tasks, decided one at a time or several at once, and a task's page."""

from __future__ import annotations

import secrets
from collections.abc import Collection
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.access import policy
from api.cases import visible_case
from api.context import ApiContext
from api.errors import ApiError
from api.history import case_history
from api.leave_requests import get_leave_request
from api.schemas import BulkDecisionIn, DecisionIn, InboxTaskOut, LeaveRequestOut
from api.tasks import decide_task, decide_tasks, inbox_of
from domain.case import Decision
from domain.errors import DomainError
from domain.leave import first_day_after
from domain.leave_request import LeaveRequest
from services.application import case_id_of_task
from services.credentials import Session
from web.rendering import (
    KEY_REUSED,
    NOT_ANSWERING,
    RETRY_LATER,
    as_api_error,
    field_errors,
    names,
    page,
    people_of_case,
    workflow_answers,
)
from web.session import Context, SignedIn, Web, check_csrf

router = APIRouter(include_in_schema=False)

FormText = Annotated[str | None, Form()]
FIRST_ATTEMPT = "Your first attempt was recorded: the decision shown here is the one that counts."
"""The page's words for a decision sent again, changed, after the first got through: the
API's (``this Idempotency-Key was used...``) speak of a key the person never saw."""
BULK_FIRST_ATTEMPT = "your first attempt was recorded: it is the one that counts"
"""The same, for one task of several decided at once."""
SEND_AGAIN = (
    f"{NOT_ANSWERING} The tasks not confirmed are still selected: sending them again"
    " decides none twice."
)
"""The bulk page's words when some decisions got no answer (the API's speak of sending
the request again with its Idempotency-Key)."""


def _inbox(context: ApiContext, employee_id: str) -> tuple[list[InboxTaskOut], dict[str, str]]:
    tasks = sorted(inbox_of(context, employee_id), key=lambda task: task.due_at)
    people = [task.requester_id for task in tasks]
    people += [task.acting_for for task in tasks if task.acting_for]
    return tasks, names(context, people)


async def _tasks_page(
    request: Request,
    web: Web,
    session: Session,
    *,
    results: list[dict[str, Any]] | None = None,
    error: str | None = None,
    status: int = 200,
    form_key: str | None = None,
    selected: Collection[str] = (),
    comment: str = "",
    headers: dict[str, str] | None = None,
) -> Response:
    """My tasks; ``results``: what became of each task of a bulk decision. ``form_key``,
    ``selected``, ``comment``: the key of the form sent, the tasks it chose and its
    comment, to keep, so that sending it again cannot decide twice."""
    context: ApiContext = request.app.state.context
    tasks, people = await run_in_threadpool(_inbox, context, session.employee_id)
    return await page(
        request,
        web,
        session,
        "tasks.html",
        status=status,
        headers=headers,
        section="tasks",
        tasks=tasks,
        people=people,
        now=datetime.now(UTC),
        results=results,
        error=error,
        form_key=form_key or secrets.token_urlsafe(16),
        selected=set(selected),
        comment=comment,
    )


@router.get("/tasks")
async def my_tasks(request: Request, web: Web, session: SignedIn) -> Response:
    """Open tasks, the soonest due first; overdue and escalated ones marked."""
    return await _tasks_page(request, web, session)


@router.get("/tasks/decisions")
async def decisions_address() -> RedirectResponse:
    """The address of a bulk decision's results opened as a page (a reload, or signing
    in again after the session ended on that page): My tasks."""
    return RedirectResponse("/tasks", status_code=303)


@router.post("/tasks/decisions")
async def decide_several(
    request: Request,
    web: Web,
    session: SignedIn,
    context: Context,
    task_id: Annotated[list[str] | None, Form()] = None,
    decision: FormText = None,
    comment: FormText = None,
    csrf_token: FormText = None,
    form_key: FormText = None,
) -> Response:
    """Approve or reject the selected tasks; each is checked and reported on its own."""
    check_csrf(session, csrf_token)
    if not task_id:
        return await _tasks_page(
            request, web, session, error="Select at least one task.", status=422
        )
    chosen = [{"task_id": one, "decision": decision, "comment": comment or None} for one in task_id]
    try:
        body = BulkDecisionIn.model_validate({"decisions": chosen})
    except ValidationError as error:
        message = "; ".join(field_errors(error, ["decisions"]).values())
        return await _tasks_page(request, web, session, error=message, status=422)
    key = f"{form_key}:{decision}" if form_key else None
    titles = await run_in_threadpool(_titles, context, session.employee_id, task_id)
    answer = await decide_tasks(body, session.employee_id, context, key)
    done = "approved" if body.decisions[0].decision == Decision.APPROVE else "rejected"
    results = [
        {
            "task_id": result.task_id,
            "title": titles[result.task_id],
            "decided": result.outcome == "decided",
            "outcome": done if result.outcome == "decided" else result.outcome,
            "detail": BULK_FIRST_ATTEMPT if result.rule == KEY_REUSED else result.detail,
        }
        for result in answer.results
    ]
    unconfirmed = [result.task_id for result in answer.results if result.outcome == "failed"]
    if unconfirmed:
        # Those decisions may or may not have reached their workflows: the same form's
        # key, tasks and comment again let a retry find out rather than decide twice.
        return await _tasks_page(
            request,
            web,
            session,
            results=results,
            error=SEND_AGAIN,
            status=503,
            form_key=form_key,
            selected=unconfirmed,
            comment=comment or "",
            headers=RETRY_LATER,
        )
    return await _tasks_page(request, web, session, results=results)


def _titles(context: ApiContext, employee_id: str, task_ids: list[str]) -> dict[str, str]:
    """Each task's title (whose request, which dates): from the inbox, else from its case
    (a task decided meanwhile), else, for one the caller may not see, its id."""
    titles = {task.id: task.title for task in inbox_of(context, employee_id)}
    for task_id in task_ids:
        if task_id not in titles:
            titles[task_id] = _recorded_title(context, employee_id, task_id)
    return titles


def _recorded_title(context: ApiContext, employee_id: str, task_id: str) -> str:
    case_id = case_id_of_task(task_id)
    if case_id is None:
        return task_id
    try:
        case = get_leave_request(case_id, employee_id, context)
    except (ApiError, DomainError):
        return task_id
    return next((task.title for task in case.tasks if task.id == task_id), task_id)


def _task_view(context: ApiContext, employee_id: str, task_id: str) -> dict[str, Any]:
    """The task's case, its history and whether the caller may decide it now; ApiError 404
    for a task the caller may not see."""
    case_id = case_id_of_task(task_id)
    if case_id is None:
        raise ApiError(404, "no task here", "not_found")
    request = visible_case(context, employee_id, case_id)
    case = LeaveRequestOut.of_case(request)
    task = next((task for task in case.tasks if task.id == task_id), None)
    if task is None:
        raise ApiError(404, "no task here", "not_found")
    # Offered when the inbox (the API's answer to "what may I decide") lists it.
    listed = [item for item in inbox_of(context, employee_id) if item.id == task_id]
    return {
        "case": case,
        "task": task,
        "can_decide": task.open and bool(listed),
        "acting_for": listed[0].acting_for if listed else None,
        "last_day": _last_day_within(context, request) if task.open else None,
    }


def _last_day_within(context: ApiContext, request: LeaveRequest) -> date | None:
    """The requester's last day of employment if the leave has a day after it: approval
    is then refused (the domain's ``after_employment_ends``), so only Reject is offered."""
    last_day = context.application.profile(request.requester_id).end_date
    days = (date.fromisoformat(day) for day in request.days)
    if last_day is None or first_day_after(days, last_day) is None:
        return None
    return last_day


async def _task_page(
    request: Request,
    web: Web,
    session: Session,
    task_id: str,
    *,
    errors: dict[str, str] | None = None,
    comment: str = "",
    status: int = 200,
    hidden: dict[str, Any] | None = None,
    form_key: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The task's page; for a task the caller may not see, the "not found" page (with
    ``hidden``'s values, to say why). ``form_key``: the key of the form sent, to keep, so
    that sending it again cannot decide twice."""
    context: ApiContext = request.app.state.context
    try:
        view = await run_in_threadpool(_task_view, context, session.employee_id, task_id)
        history = await case_history(view["case"].id, session.employee_id, context)
    except ApiError as error:
        if error.status != 404:
            raise
        values = hidden or {"reason": "not_found"}
        return await page(request, web, session, "refused.html", status=404, **values)
    case = view["case"]
    acting_for = [view["acting_for"]] if view["acting_for"] else []
    people = await run_in_threadpool(
        names, context, [*people_of_case(case, history.items), *acting_for]
    )
    return await page(
        request,
        web,
        session,
        "task.html",
        status=status,
        headers=headers,
        section="tasks",
        **view,
        decision=next((d for d in case.decisions if d.task_id == task_id), None),
        history=history.items,
        people=people,
        errors=errors or {},
        comment=comment,
        now=datetime.now(UTC),
        form_key=form_key or secrets.token_urlsafe(16),
    )


@router.get("/tasks/{task_id}")
async def task_page(request: Request, web: Web, session: SignedIn, task_id: str) -> Response:
    return await _task_page(request, web, session, task_id)


@router.get("/tasks/{task_id}/decision")
async def decision_address(task_id: str) -> RedirectResponse:
    """A decision's address opened as a page (a bookmark, a reload): the task's page."""
    return RedirectResponse(f"/tasks/{quote(task_id, safe='')}", status_code=303)


@router.post("/tasks/{task_id}/decision")
async def decide(
    request: Request,
    web: Web,
    session: SignedIn,
    context: Context,
    task_id: str,
    decision: FormText = None,
    comment: FormText = None,
    csrf_token: FormText = None,
    form_key: FormText = None,
    acting_for: FormText = None,
) -> Response:
    """Approve or reject through the API's own route: its checks are the only ones.
    ``acting_for`` names whom the form was offered to decide for, to explain a refusal."""
    check_csrf(session, csrf_token)
    try:
        body = DecisionIn.model_validate({"decision": decision, "comment": comment or None})
    except ValidationError as error:
        errors = field_errors(error, ["decision", "comment"])
        return await _task_page(
            request, web, session, task_id, errors=errors, comment=comment or "", status=422
        )
    # One key per rendered form and choice: a double click decides once, and the
    # other button still gets the API's own answer (already decided).
    key = f"{form_key}:{body.decision}" if form_key else None
    try:
        with workflow_answers():
            await decide_task(task_id, body, session.employee_id, context, key)
    except (ApiError, DomainError) as error:
        refused = as_api_error(error)
        if refused.status == 503:
            # The decision may or may not have reached the workflow: the same form's key
            # again lets a retry find out rather than decide twice.
            return await _task_page(
                request,
                web,
                session,
                task_id,
                errors={"form": refused.detail},
                comment=comment or "",
                status=503,
                form_key=form_key,
                headers=RETRY_LATER,
            )
        if refused.status == 404:
            return await _not_decidable(request, web, session, task_id, acting_for)
        # The key is the form's: reused for another decision only when the page kept it
        # (the workflow service had not answered) and the first attempt got through.
        message = FIRST_ATTEMPT if refused.rule == KEY_REUSED else refused.detail
        return await _task_page(
            request,
            web,
            session,
            task_id,
            errors={"form": message},
            comment=comment or "",
            status=refused.status,
        )
    return RedirectResponse(f"/tasks/{task_id}", status_code=303)


async def _not_decidable(
    request: Request, web: Web, session: Session, task_id: str, acting_for: str | None
) -> Response:
    """A decision the API answered "no such task" (404). When the form was offered as
    acting for someone whose delegate the caller no longer is, say the delegation ended:
    on the task page if they still see the case, else on the "not found" page."""
    context: ApiContext = request.app.state.context
    if acting_for is None or acting_for in await run_in_threadpool(
        lambda: policy(context).acting_for(session.employee_id)
    ):
        return await page(request, web, session, "refused.html", status=404, reason="not_found")
    delegator = (await run_in_threadpool(names, context, [acting_for]))[acting_for]
    message = f"Your delegation from {delegator} has ended: you can no longer decide this task"
    return await _task_page(
        request,
        web,
        session,
        task_id,
        errors={"form": f"{message}."},
        status=403,
        hidden={"reason": "delegation_ended", "message": f"{message}, nor see its request."},
    )
