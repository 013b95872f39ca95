"""Leave requests: submit, read, list, withdraw, cancel and end early."""

from __future__ import annotations

from dataclasses import astuple
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, cast
from uuid import UUID, uuid4, uuid5

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool
from temporalio.client import WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.access import policy
from api.auth import Caller
from api.cases import (
    caught_up,
    keep_refusal,
    leave_workflow,
    load_case,
    recorded_refusals,
    update_id,
    visible_case,
)
from api.context import ApiContext
from api.cursors import cursor_after, read_cursor
from api.dependencies import Context, IdempotencyKey
from api.errors import STATUS_BY_KIND, ApiError, error_responses, update_refusals
from api.schemas import (
    ClosingIn,
    LeaveRequestChanges,
    LeaveRequestIn,
    LeaveRequestList,
    LeaveRequestOut,
    LeaveRequestSummary,
    QueryFlag,
    ShortenIn,
)
from domain.errors import NotFound
from domain.leave_request import LeaveRequest, check_submission
from domain.policy import HR
from workflows.leave import LeaveRequestWorkflow
from workflows.messages import (
    CaseState,
    ClosingRequest,
    LeaveRequestStart,
    Refusal,
    ShorteningRequest,
    leave_workflow_id,
)

router = APIRouter(
    prefix="/leave-requests", tags=["leave requests"], responses=error_responses(401, 422, 503)
)

SUBMISSIONS = UUID("6f1c3a52-53a4-4f7e-9d0b-3c6a2f1e8b47")
"""The namespace of case ids made from an Idempotency-Key: never change it."""


def submission_case_id(employee_id: str, idempotency_key: str) -> UUID:
    """The case a keyed submission creates: the same caller and key, the same case."""
    return uuid5(SUBMISSIONS, f"{employee_id}:{idempotency_key}")


@router.post(
    "",
    status_code=201,
    responses=error_responses(403, 409),
    summary="Ask for leave",
)
async def submit_leave_request(
    body: LeaveRequestIn,
    caller: Caller,
    context: Context,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> LeaveRequestOut:
    """Submit a leave request for yourself; `hr` may submit one for anyone
    (`employee_id`), giving a `reason` (shown to them). Sick leave is recorded at once;
    other leave waits for the requester's manager's decision.

    With an `Idempotency-Key`, repeating the request returns the same case (201 again),
    never a second one; the same key with different details is refused (422). A refused
    request (422 or 409, naming the rule) records no request: only the refusal, for the
    auditors (in the audit log, and on the timeline of the case id it would have had);
    sent again with its key, it gets the same refusal, kept once. Answers once the read
    models (your list, the manager's inbox, your balance) show the new request.
    """
    requester = body.employee_id or caller
    body = body.model_copy(update={"employee_id": requester})  # as the key compares it
    case_id = uuid4() if idempotency_key is None else submission_case_id(caller, idempotency_key)
    if idempotency_key is not None:
        # Recorded: the key answers its case, whatever the caller's authority is now.
        existing = await run_in_threadpool(_recorded, context, case_id)
        if existing is not None:
            _check_same_request(_asked_in(existing), body)
            # The first attempt may have answered before the read models caught up.
            await caught_up(context, await run_in_threadpool(_last_position, context))
            response.headers["Location"] = f"/api/leave-requests/{case_id}"
            return LeaveRequestOut.of_case(existing)
    # Refused here, before any workflow, it is kept as the workflow's refusals are.
    async with recorded_refusals(context, case_id, caller, "submit", idempotency_key):
        by_hr = await _as_hr(context, caller, requester)
        check_submission(requester, caller, body.reason, by_hr=by_hr)
        if by_hr and await run_in_threadpool(context.application.find_employee, requester) is None:
            raise ApiError(
                422, f"employee_id: the directory has no employee {requester}", "unknown_employee"
            )
    start = LeaveRequestStart(
        case_id=case_id,
        employee_id=requester,
        leave_type=body.type,
        start=body.start,
        end=body.end,
        half_day_start=body.half_day_start,
        half_day_end=body.half_day_end,
        reason=body.reason,
        submitted_by=caller,
        by_hr=by_hr,
    )
    # Update-with-start: the update reaches the workflow in its first task, so a refusal
    # that ends the workflow at once is still answered to this request. A keyed
    # submission's workflow, once ended, is not started again unless it failed: a
    # refused request sent again gets that refusal, without the rules run again.
    operation = WithStartWorkflowOperation(
        LeaveRequestWorkflow.run,
        start,
        id=leave_workflow_id(case_id),
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=(
            WorkflowIDReusePolicy.ALLOW_DUPLICATE
            if idempotency_key is None
            else WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY
        ),
        task_queue=context.settings.task_queue,
    )
    try:
        async with update_refusals(
            context.settings.command_timeout, keyed=idempotency_key is not None
        ):
            try:
                state = await context.client.execute_update_with_start_workflow(
                    LeaveRequestWorkflow.submission, start_workflow_operation=operation
                )
            finally:
                _hear_start(operation)
    except WorkflowAlreadyStartedError:
        return await _answered_before(context, case_id, caller, idempotency_key, body, response)
    except ApiError as refused:
        if idempotency_key is not None:
            # The refusal may be of another request with this key, whose workflow this
            # one joined: then this request is answered as a reused key, not refused.
            await _check_started_with(context, case_id, body)
        # Kept for the auditors under the case id it would have had, with the workflow
        # that refused it: the audit log lists it, and the id has a timeline.
        await keep_refusal(context, case_id, caller, "submit", refused, idempotency_key)
        raise
    if idempotency_key is not None:
        # A request with the same key may have started the case a moment before this
        # one, which then joined its workflow: the answer is that request's case.
        _check_same_request(_asked_in(state), body)
    await caught_up(context, state.position)
    response.headers["Location"] = f"/api/leave-requests/{case_id}"
    return LeaveRequestOut.of_state(state)


async def _answered_before(
    context: ApiContext,
    case_id: UUID,
    caller: str,
    key: str | None,
    body: LeaveRequestIn,
    response: Response,
) -> LeaveRequestOut:
    """The answer of the keyed submission whose workflow has ended: its refusal (kept,
    once: an earlier attempt may have been answered 503 before it was refused), or
    (ended since this request looked) its case."""
    await _check_started_with(context, case_id, body)
    async with update_refusals(context.settings.command_timeout, keyed=True):
        outcome = await leave_workflow(context, case_id).result()
    if isinstance(outcome, Refusal):
        refused = ApiError(STATUS_BY_KIND[outcome.kind], outcome.message, outcome.rule)
        await keep_refusal(context, case_id, caller, "submit", refused, key)
        raise refused
    await caught_up(context, await run_in_threadpool(_last_position, context))
    response.headers["Location"] = f"/api/leave-requests/{case_id}"
    return LeaveRequestOut.of_case(load_case(context, case_id))


async def _check_started_with(context: ApiContext, case_id: UUID, body: LeaveRequestIn) -> None:
    started = await _started_with(context, case_id)
    if started is not None:
        _check_same_request(_asked_in(started), body)


def _last_position(context: ApiContext) -> int:
    return context.application.recorder.max_notification_id() or 0


def _recorded(context: ApiContext, case_id: UUID) -> LeaveRequest | None:
    try:
        return context.application.leave_request(case_id)
    except NotFound:
        return None


async def _started_with(context: ApiContext, case_id: UUID) -> LeaveRequestStart | None:
    """What the case's latest workflow was started with (None if there is none, or
    Temporal cannot say now)."""
    handle = context.client.get_workflow_handle(leave_workflow_id(case_id))
    try:
        async for event in handle.fetch_history_events():
            payloads = event.workflow_execution_started_event_attributes.input.payloads
            [started] = await context.client.data_converter.decode(payloads, [LeaveRequestStart])
            return cast(LeaveRequestStart, started)
    except RPCError:
        return None
    return None


def _asked_in(case: LeaveRequest | CaseState | LeaveRequestStart) -> tuple[object, ...]:
    """What was asked for, as :func:`_check_same_request` compares it."""
    if isinstance(case, CaseState | LeaveRequestStart):
        period = (case.start, case.end, case.half_day_start, case.half_day_end)
    else:
        period = astuple(case.asked_period)  # as asked: an ending early changed its end
    requester = case.employee_id if isinstance(case, LeaveRequestStart) else case.requester_id
    return (requester, case.leave_type, *period, case.reason)


def _hear_start(operation: WithStartWorkflowOperation[Any, Any]) -> None:
    """Retrieve the start's outcome. Temporal's client keeps it in a future for whoever
    asks the operation for its handle; when the start failed, nobody here does, and
    asyncio would log "Future exception was never retrieved" (the update's own error
    already says what failed)."""
    started = operation._workflow_handle  # private: the SDK offers only an awaitable
    if started.done() and not started.cancelled():
        started.exception()


def _check_same_request(recorded: tuple[object, ...], body: LeaveRequestIn) -> None:
    period = (body.start, body.end, body.half_day_start, body.half_day_end)
    asked = (body.employee_id, body.type, *period, body.reason)
    if recorded != asked:
        raise ApiError(
            422,
            "this Idempotency-Key was used for a different request; use a new key",
            "idempotency_key_reused",
        )


Mine = Annotated[
    QueryFlag,
    Query(
        description="Only your own requests (the default). `mine=false`: every request you may"
        " see: your reports' down the chain; everyone's for `hr` and `auditor`."
    ),
]
Limit = Annotated[int, Query(ge=1, le=1000, description="At most this many")]


@router.get("", summary="List leave requests")
def list_leave_requests(
    caller: Caller,
    context: Context,
    mine: Mine = True,
    limit: Limit = 200,
    after: Annotated[
        str | None,
        Query(max_length=200, description="The previous page's `next_after`, for the next page"),
    ] = None,
) -> LeaveRequestList:
    """Leave requests, newest first (those submitted at one instant by id), from the read
    models (they follow the event log within moments; the commands here wait for them
    before answering).

    A page at a time: `next_after` is null when no more remain; else pass it as `after`
    for the next page. Pages follow on from their last request, not from a count, so
    requests submitted meanwhile (newest, so before the first page) shift nothing."""
    return leave_requests_page(caller, context, "mine" if mine else "visible", limit, after)


@router.get("/changes", summary="Follow leave requests: those changed after a position")
def leave_request_changes(
    caller: Caller,
    context: Context,
    after: Annotated[
        int,
        # A position a store can hold (a signed 64-bit integer), not a server error.
        Query(
            ge=0,
            le=2**63 - 1,
            description="The `position` of the last change you have processed (0, the default:"
            " from the start); pass the previous page's `next_after`",
        ),
    ] = 0,
    mine: Mine = True,
    limit: Limit = 200,
) -> LeaveRequestChanges:
    """The leave requests whose latest change (submitted, decided, withdrawn, cancelled,
    ended early, taken, a task opened or escalated) is after log position `after`, the
    earliest first, each once as it stands now, with the `position` of that change.

    For another system that follows requests without asking for each one: keep the last
    `position` you have processed; ask with it as `after` until `caught_up`, then again
    later. A request changed twice since shows once, at its latest position; one that
    changes again comes again. Read from the read models, which follow the event log
    within moments (the commands here wait for them before answering); a rebuild of the
    read models may show a request again, unchanged. With `mine=false`, whose requests
    you may see is worked out as you ask: the earlier requests of someone who joins your
    team later come at their next change only (ask from `after=0` again to have them)."""
    requesters = {caller} if mine else policy(context).requesters_visible_to(caller, "leave")
    # One more than asked, to know whether more remain.
    cases = context.read_models.leave_case_changes(requesters, after=after, limit=limit + 1)
    page = cases[:limit]
    return LeaveRequestChanges(
        items=[LeaveRequestSummary.of(case) for case in page],
        next_after=page[-1].position if page else after,
        caught_up=len(cases) <= limit,
    )


def leave_requests_page(
    caller: str,
    context: ApiContext,
    whose: Literal["mine", "visible", "others"],
    limit: int,
    after: str | None,
) -> LeaveRequestList:
    """A page of leave requests as :func:`list_leave_requests` answers it: the caller's
    own (``mine``), every one they may see (``visible``), or those they may see of
    others (``others``: the second list of the My requests page)."""
    position = None if after is None else _case_position(after)
    if whose == "mine":
        cases = context.read_models.cases_of(caller, after=position, limit=limit + 1)
    else:
        requesters = policy(context).requesters_visible_to(caller, "leave")
        cases = context.read_models.cases_of_many(
            requesters,
            limit + 1,
            after=position,
            not_requested_by=caller if whose == "others" else None,
        )
    page = cases[:limit]
    last = page[-1] if len(cases) > limit else None
    return LeaveRequestList(
        items=[LeaveRequestSummary.of(case) for case in page],
        next_after=None if last is None else cursor_after(last.submitted_at, str(last.case_id)),
    )


def _case_position(after: str) -> tuple[datetime, UUID]:
    """The (``submitted_at``, case id) a leave requests' cursor holds; 422 if none."""
    submitted_at, case_id = read_cursor(after, _is_case_id)
    return submitted_at, UUID(case_id)


def _is_case_id(key: str) -> bool:
    try:
        UUID(key)
    except ValueError:
        return False
    return True


@router.get("/{case_id}", responses=error_responses(404), summary="Read a leave request")
def get_leave_request(case_id: UUID, caller: Caller, context: Context) -> LeaveRequestOut:
    """The case as recorded in the event store, with its tasks and decisions. Visible to
    the requester, the approvers of its tasks and the requester's managers; to anybody
    else it does not exist (404)."""
    return LeaveRequestOut.of_case(visible_case(context, caller, case_id))


@router.post(
    "/{case_id}/withdraw",
    responses=error_responses(403, 404, 409, 422),
    summary="Withdraw a pending request",
)
async def withdraw_leave_request(
    case_id: UUID,
    caller: Caller,
    context: Context,
    idempotency_key: IdempotencyKey = None,
    body: ClosingIn | None = None,
) -> LeaveRequestOut:
    """The requester withdraws a request still waiting for a decision; so may `hr`, for
    anyone, giving a `reason` (say, a request nobody is left to decide). Its task is
    closed and its days given back. Answers once the read models show the change."""
    case = await run_in_threadpool(visible_case, context, caller, case_id)
    reason = None if body is None else body.reason
    by_hr = await _as_hr(context, caller, case.requester_id)

    def check_when_closed() -> None:
        case.check_withdraw(caller, reason=reason, by_hr=by_hr)

    async with (
        recorded_refusals(context, case.id, caller, "withdraw", idempotency_key),
        update_refusals(
            context.settings.command_timeout,
            when_closed=check_when_closed,
            keyed=idempotency_key is not None,
        ),
    ):
        state = await leave_workflow(context, case.id).execute_update(
            LeaveRequestWorkflow.withdraw,
            ClosingRequest(actor=caller, reason=reason, by_hr=by_hr),
            id=update_id("withdraw", caller, idempotency_key),
        )
    _check_same_reason(state, reason, idempotency_key)
    await caught_up(context, state.position)
    return LeaveRequestOut.of_state(state)


@router.post(
    "/{case_id}/cancel",
    responses=error_responses(403, 404, 409, 422),
    summary="Cancel approved leave",
)
async def cancel_leave_request(
    case_id: UUID,
    caller: Caller,
    context: Context,
    idempotency_key: IdempotencyKey = None,
    body: ClosingIn | None = None,
) -> LeaveRequestOut:
    """The requester cancels approved (or recorded sick) leave before it starts; so may
    `hr`, for anyone, giving a `reason` (say, someone leaving the company before their
    leave, who can no longer sign in to cancel it). The days are given back. Answers
    once the read models show the change."""
    case = await run_in_threadpool(visible_case, context, caller, case_id)
    reason = None if body is None else body.reason
    by_hr = await _as_hr(context, caller, case.requester_id)
    today = datetime.now(UTC).date()

    def check_when_closed() -> None:
        case.check_cancel(caller, today, reason=reason, by_hr=by_hr)

    async with (
        recorded_refusals(context, case.id, caller, "cancel", idempotency_key),
        update_refusals(
            context.settings.command_timeout,
            when_closed=check_when_closed,
            keyed=idempotency_key is not None,
        ),
    ):
        state = await leave_workflow(context, case.id).execute_update(
            LeaveRequestWorkflow.cancel,
            ClosingRequest(actor=caller, reason=reason, by_hr=by_hr),
            id=update_id("cancel", caller, idempotency_key),
        )
    _check_same_reason(state, reason, idempotency_key)
    await caught_up(context, state.position)
    return LeaveRequestOut.of_state(state)


@router.post(
    "/{case_id}/shorten",
    responses=error_responses(403, 404, 409, 422),
    summary="End approved leave early",
)
async def shorten_leave_request(
    case_id: UUID,
    body: ShortenIn,
    caller: Caller,
    context: Context,
    idempotency_key: IdempotencyKey = None,
) -> LeaveRequestOut:
    """The requester ends approved (or recorded sick) leave early, before or while they
    are on it: its `last_day` becomes one of its days, yesterday at the earliest (back at
    work today). So may `hr`, for anyone, on any of its days, giving a `reason` (say,
    someone who leaves the company during their leave: their last day of employment).
    The days after the new last day are given back. With `half_day_end` the leave ends
    at noon on `last_day` (back at work that afternoon): its afternoon is given back too,
    and its last day may be the leave's own, when held in full. Answers once the read
    models show the change."""
    case = await run_in_threadpool(visible_case, context, caller, case_id)
    by_hr = await _as_hr(context, caller, case.requester_id)
    today = datetime.now(UTC).date()

    def check_when_closed() -> None:
        case.check_shorten(
            body.last_day,
            caller,
            today,
            reason=body.reason,
            by_hr=by_hr,
            half_day_end=body.half_day_end,
        )

    async with (
        recorded_refusals(context, case.id, caller, "shorten", idempotency_key),
        update_refusals(
            context.settings.command_timeout,
            when_closed=check_when_closed,
            keyed=idempotency_key is not None,
        ),
    ):
        state = await leave_workflow(context, case.id).execute_update(
            LeaveRequestWorkflow.shorten,
            ShorteningRequest(
                actor=caller,
                last_day=body.last_day,
                reason=body.reason,
                by_hr=by_hr,
                half_day_end=body.half_day_end,
            ),
            id=update_id("shorten", caller, idempotency_key),
        )
    if idempotency_key is not None:
        await run_in_threadpool(_check_same_shortening, context, state, body)
    await caught_up(context, state.position)
    return LeaveRequestOut.of_state(state)


def _check_same_shortening(context: ApiContext, state: CaseState, body: ShortenIn) -> None:
    """An ending early sent again under its Idempotency-Key answers as the first did:
    with another last day, at noon or not, or another reason, the caller would believe
    theirs recorded. (The answer names the day and whether it ends at noon; the reason
    is read from the case's ``Shortened`` events.)"""
    what = "another last day" if state.end != body.last_day else None
    if what is None and state.half_day_end != body.half_day_end:
        what = (
            "`half_day_end` true (back at noon)"
            if state.half_day_end
            else "`half_day_end` false (a whole last day)"
        )
    if what is None:
        reasons = [
            getattr(event, "reason", None)
            for event in context.application.events.get(state.case_id)
            if type(event).__name__ == "Shortened"
            and getattr(event, "last_day", None) == body.last_day
        ]
        if reasons and body.reason not in reasons:
            what = "another reason"
    if what is not None:
        raise ApiError(
            422,
            f"this Idempotency-Key was used with {what}, which was recorded; use a new key"
            " for another request",
            "idempotency_key_reused",
        )


async def _as_hr(context: ApiContext, caller: str, requester_id: str) -> bool:
    """Whether ``caller`` closes someone else's request under the HR role."""
    return caller != requester_id and await run_in_threadpool(
        lambda: policy(context).has_role(caller, HR)
    )


def _check_same_reason(state: CaseState, reason: str | None, key: str | None) -> None:
    """A withdrawal or cancellation sent again under its Idempotency-Key answers as the
    first did; with another reason, the caller would believe theirs recorded."""
    if key is not None and state.closing_reason != reason:
        raise ApiError(
            422,
            "this Idempotency-Key was used with another reason, which was recorded; use a new"
            " key for another request",
            "idempotency_key_reused",
        )
