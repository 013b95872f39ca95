"""Tasks: a person's inbox, and their decisions."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated
from uuid import UUID

import structlog
from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from api.access import policy
from api.auth import Caller
from api.cases import caught_up, leave_workflow, load_case, recorded_refusals, update_id
from api.context import ApiContext
from api.cursors import cursor_after, read_cursor
from api.dependencies import Context, IdempotencyKey
from api.errors import (
    NOT_ANSWERING_RULE,
    STATUS_BY_KIND,
    ApiError,
    error_responses,
    not_found,
    update_refusals,
)
from api.schemas import (
    BulkDecisionIn,
    BulkDecisionItem,
    BulkDecisionOut,
    BulkResultOut,
    DecisionIn,
    InboxTaskOut,
    LeaveRequestOut,
    TaskId,
    TaskList,
)
from domain.errors import DomainError, NotFound
from domain.leave_request import LeaveRequest
from services.application import case_id_of_task
from workflows.leave import LeaveRequestWorkflow
from workflows.messages import CaseState, DecisionRequest

logger = structlog.get_logger(__name__)

router = APIRouter(prefix="/tasks", tags=["tasks"], responses=error_responses(401, 422, 503))


@router.get("", summary="Your open tasks")
def list_tasks(
    caller: Caller,
    context: Context,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many")] = 200,
    after: Annotated[
        str | None,
        Query(max_length=200, description="The previous page's `next_after`, for the next page"),
    ] = None,
) -> TaskList:
    """The tasks you may decide, the most urgent first (those due at one instant by id),
    from the inbox read model: your own, and those of anyone whose active delegate you
    are (`acting_for` names them).

    A page at a time: `next_after` is null when no more remain; else pass it as `after`
    for the next page. Pages follow on from their last task, not from a count, so tasks
    decided meanwhile shift nothing."""
    position = None if after is None else read_cursor(after, _is_task_id)
    items = inbox_of(context, caller, after=position, limit=limit + 1)
    last = items[limit - 1] if len(items) > limit else None
    return TaskList(
        items=items[:limit],
        next_after=None if last is None else cursor_after(last.due_at, last.id),
    )


def inbox_of(
    context: ApiContext,
    caller: str,
    *,
    after: tuple[datetime, str] | None = None,
    limit: int | None = None,
) -> list[InboxTaskOut]:
    """The tasks ``caller`` may decide, by due time then id: their own, and their
    delegators' but for the caller's own requests, each task once (as the caller's own
    when it is). ``after`` and ``limit`` page it (None: every task)."""
    read_models = context.read_models
    own = read_models.open_tasks(caller, after=after, limit=limit)
    found = {task.task_id: InboxTaskOut.of(task) for task in own}
    for delegator in policy(context).acting_for(caller):
        # The merged list's first `limit` are among the first `limit` of the lists they
        # come from: what comes before a task in its list comes before it when merged.
        delegated = read_models.open_tasks(delegator, after=after, limit=limit, not_asked_by=caller)
        for task in delegated:
            found.setdefault(task.task_id, InboxTaskOut.of(task, acting_for=delegator))
    return sorted(found.values(), key=lambda item: (item.due_at, item.id))[:limit]


def _is_task_id(key: str) -> bool:
    return case_id_of_task(key) is not None


@router.post(
    "/{task_id}/decision",
    responses=error_responses(403, 404, 409),
    summary="Approve or reject a task",
)
async def decide_task(
    task_id: TaskId,
    body: DecisionIn,
    caller: Caller,
    context: Context,
    idempotency_key: IdempotencyKey = None,
) -> LeaveRequestOut:
    """Decide a task given (or escalated) to you, or to someone whose active delegate you
    are (recorded as you acting for them); answers with the case after the decision.

    The answer waits for the projections to reach the decision's position, so your inbox
    and the requester's balance show it at once. A retried decision with the same
    `Idempotency-Key` answers the same; a task already decided answers 409.
    """
    state = await _decide(
        task_id, body, caller, context, idempotency_key, context.settings.command_timeout
    )
    await caught_up(context, state.position)
    return LeaveRequestOut.of_state(state)


async def _decide(
    task_id: str,
    body: DecisionIn,
    caller: str,
    context: ApiContext,
    idempotency_key: str | None,
    wait: float,
) -> CaseState:
    """Decide the task, waiting at most ``wait`` seconds for its workflow; the case after
    it (the read models not yet waited for)."""
    case_id = case_id_of_task(task_id)
    if case_id is None:
        raise not_found("task")
    async with recorded_refusals(context, case_id, caller, "decide", idempotency_key) as attempt:
        case, on_behalf_of = await run_in_threadpool(_case_of_task, context, caller, task_id)
        attempt.on_behalf_of = on_behalf_of
        request = DecisionRequest(
            task_id=task_id,
            decision=body.decision,
            actor=caller,
            on_behalf_of=on_behalf_of,
            comment=body.comment,
        )
        async with update_refusals(
            wait,
            when_closed=lambda: case.check_decision(task_id, caller, on_behalf_of),
            keyed=idempotency_key is not None,
        ):
            state = await leave_workflow(context, case.id).execute_update(
                LeaveRequestWorkflow.decide,
                request,
                id=update_id("decide", caller, idempotency_key),
            )
        if idempotency_key is not None:
            _check_same_decision(state, request)
    return state


def _check_same_decision(state: CaseState, request: DecisionRequest) -> None:
    """Temporal answers a repeated update id with the first outcome: a key reused for a
    different decision must not look as if the new one had been taken."""
    task = state.task(request.task_id)
    if task is None or (task.decision, task.comment) != (request.decision, request.comment):
        raise ApiError(
            422,
            "this Idempotency-Key was used for a different decision; use a new key",
            "idempotency_key_reused",
        )


def _case_of_task(
    context: ApiContext, employee_id: str, task_id: str
) -> tuple[LeaveRequest, str | None]:
    """The task's case and whom the caller decides for (None: themselves), as the policy
    says; 403 for its requester, 404 for whoever may not decide it."""
    case_id: UUID | None = case_id_of_task(task_id)
    if case_id is None:
        raise not_found("task")
    try:
        case = load_case(context, case_id)
        task = case.task(task_id)
    except (ApiError, NotFound):
        raise not_found("task") from None
    try:
        on_behalf_of = policy(context).decision_authority(
            employee_id, case.requester_id, task.eligible
        )
    except NotFound:
        raise not_found("task") from None
    return case, on_behalf_of


def unconfirmed(*, keyed: bool) -> str:
    """A task's result when its decision failed other than by a refusal: a timeout may
    come after the workflow took it."""
    said = "the decision could not be confirmed now, and may or may not have been recorded;"
    if keyed:
        return (
            f"{said} send the same request again, with the same Idempotency-Key, to find out"
            " (nothing is decided twice)"
        )
    return f"{said} look at the task before sending it again (sent without an Idempotency-Key)"


BULK_CONCURRENCY = 8
"""How many of a bulk's decisions wait for their workflows at once."""
LEAST_SHARE = 0.1
"""The share of the command wait a bulk's decision is given at least: one whose turn
comes with less of the call's wait left is not sent (it would be reported failed, and
might still be taken)."""


@router.post(
    "/decisions",
    summary="Approve or reject several tasks at once",
)
async def decide_tasks(
    body: BulkDecisionIn,
    caller: Caller,
    context: Context,
    idempotency_key: IdempotencyKey = None,
) -> BulkDecisionOut:
    """Decide each task as `POST /api/tasks/{id}/decision` would, with the same checks,
    several at once; answers 200 with one result per task, in the order given: its
    status (200, or the error status the single decision would have answered), and the
    refusal's detail and rule. One refused task does not stop the others, nor does one
    whose workflow does not answer (503 `workflow_not_answering`). The decisions wait
    at most the command wait (`BACKOFFICE_COMMAND_TIMEOUT`) in all: a task whose turn
    comes after it (the workers down or behind) is reported failed with that rule, not
    sent. Then the call waits once for the read models to show the decisions.

    With an `Idempotency-Key`, each task's decision is keyed by it and the task id, so a
    repeated call decides nothing twice."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + context.settings.command_timeout
    least = LEAST_SHARE * context.settings.command_timeout
    turns = asyncio.Semaphore(BULK_CONCURRENCY)

    positions: list[int] = []

    async def decided(item: BulkDecisionItem) -> BulkResultOut:
        async with turns:
            wait = deadline - loop.time()
            if wait < least:
                return _not_sent(item.task_id, keyed=idempotency_key is not None)
            key = None if idempotency_key is None else f"{idempotency_key}:{item.task_id}"
            return await _result_of(item, caller, context, key, wait, positions)

    results = await asyncio.gather(*(decided(item) for item in body.decisions))
    if positions:
        await caught_up(context, max(positions))
    return BulkDecisionOut(results=list(results))


async def _result_of(
    item: BulkDecisionItem,
    caller: str,
    context: ApiContext,
    key: str | None,
    wait: float,
    positions: list[int],
) -> BulkResultOut:
    """The task's result; the position of its decision added to ``positions``."""
    decision = DecisionIn(decision=item.decision, comment=item.comment)
    try:
        state = await _decide(item.task_id, decision, caller, context, key, wait)
    except ApiError as error:
        return BulkResultOut(
            task_id=item.task_id,
            status=error.status,
            outcome="failed" if error.status == 503 else "refused",
            detail=error.detail,
            rule=error.rule,
        )
    except DomainError as error:
        return BulkResultOut(
            task_id=item.task_id,
            status=STATUS_BY_KIND[error.kind],
            outcome="refused",
            detail=error.message,
            rule=error.rule,
        )
    except Exception:  # e.g. Temporal unreachable: say so for this task, go on
        logger.exception("bulk_decision_failed", task_id=item.task_id)
        detail = unconfirmed(keyed=key is not None)
        return BulkResultOut(task_id=item.task_id, status=503, outcome="failed", detail=detail)
    positions.append(state.position)
    return BulkResultOut(task_id=item.task_id, status=200, outcome="decided")


def _not_sent(task_id: str, *, keyed: bool) -> BulkResultOut:
    again = (
        "send it again later, with the same Idempotency-Key"
        if keyed
        else "send it again later (with an Idempotency-Key, a repeat decides nothing twice)"
    )
    return BulkResultOut(
        task_id=task_id,
        status=503,
        outcome="failed",
        detail="not sent: the call's wait ran out before its turn, the workflows of the"
        f" tasks before it not answering in time (no worker may be running); {again}",
        rule=NOT_ANSWERING_RULE,
    )
