"""Tasks: a person's inbox, and their decisions."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.auth import Caller
from api.cases import caught_up, leave_workflow, load_case, update_id
from api.context import ApiContext
from api.dependencies import Context, IdempotencyKey
from api.errors import ApiError, error_responses, not_found, update_refusals
from api.schemas import DecisionIn, InboxTaskOut, LeaveRequestOut, TaskList
from domain.errors import NotFound
from domain.leave_request import LeaveRequest
from services.application import case_id_of_task
from workflows.leave import LeaveRequestWorkflow
from workflows.messages import CaseState, DecisionRequest

router = APIRouter(prefix="/tasks", tags=["tasks"], responses=error_responses(401, 422))


@router.get("", summary="Your open tasks")
def list_tasks(caller: Caller, context: Context) -> TaskList:
    """The tasks you may decide, the most urgent first, from the inbox read model."""
    tasks = context.read_models.open_tasks(caller)
    return TaskList(items=[InboxTaskOut.of(task) for task in tasks])


@router.post(
    "/{task_id}/decision",
    responses=error_responses(403, 404, 409),
    summary="Approve or reject a task",
)
async def decide_task(
    task_id: str,
    body: DecisionIn,
    caller: Caller,
    context: Context,
    idempotency_key: IdempotencyKey = None,
) -> LeaveRequestOut:
    """Decide a task given (or escalated) to you; answers with the case after the decision.

    The answer waits for the projections to reach the decision's position, so your inbox
    and the requester's balance show it at once. A retried decision with the same
    `Idempotency-Key` answers the same; a task already decided answers 409.
    """
    case = await run_in_threadpool(_case_of_task, context, caller, task_id)
    request = DecisionRequest(
        task_id=task_id, decision=body.decision, actor=caller, comment=body.comment
    )
    with update_refusals(when_closed=lambda: case.check_decision(task_id, caller, None)):
        state = await leave_workflow(context, case.id).execute_update(
            LeaveRequestWorkflow.decide, request, id=update_id("decide", caller, idempotency_key)
        )
    if idempotency_key is not None:
        _check_same_decision(state, request)
    await caught_up(context, state.position)
    return LeaveRequestOut.of_state(state)


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


def _case_of_task(context: ApiContext, employee_id: str, task_id: str) -> LeaveRequest:
    """The task's case, for one of its approvers; 403 for its requester, 404 for others."""
    case_id: UUID | None = case_id_of_task(task_id)
    if case_id is None:
        raise not_found("task")
    try:
        case = load_case(context, case_id)
        task = case.task(task_id)
    except (ApiError, NotFound):
        raise not_found("task") from None
    if employee_id == case.requester_id:
        raise ApiError(403, "nobody may decide a task on their own case", "no_self_approval")
    if employee_id not in task.eligible:
        raise not_found("task")
    return case
