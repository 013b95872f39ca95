"""Cases as a caller may see them, and the Temporal side of commands on them."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from uuid import UUID

import psycopg
import structlog
from starlette.concurrency import run_in_threadpool
from temporalio.client import WorkflowHandle

from api.access import policy
from api.context import ApiContext
from api.errors import STATUS_BY_KIND, ApiError, not_found
from domain.errors import DomainError, NotFound
from domain.leave_request import LeaveRequest
from domain.policy import CaseView
from workflows.leave import LeaveRequestWorkflow
from workflows.messages import leave_workflow_id

logger = structlog.get_logger(__name__)


def load_case(context: ApiContext, case_id: UUID) -> LeaveRequest:
    """The case as recorded in the event store; 404 when there is none."""
    try:
        return context.application.leave_request(case_id)
    except NotFound:
        raise not_found("leave request") from None


def case_view(case: LeaveRequest) -> CaseView:
    people = [person for task in case.tasks.values() for person in task.eligible]
    return CaseView("leave", case.requester_id, people)


def visible_case(context: ApiContext, employee_id: str, case_id: UUID) -> LeaveRequest:
    """The case, if the policy lets ``employee_id`` see it; 404 otherwise, so ids reveal
    nothing."""
    case = load_case(context, case_id)
    if not policy(context).may_see_case(employee_id, case_view(case)):
        raise not_found("leave request")
    return case


RECORDED_REFUSALS = {403, 409, 422}
"""Refusals kept for the auditors: a command on a case the caller may see, that a rule
refused. (A 404 is somebody who may not see the case; nothing of it is kept.)"""


@dataclass
class Attempt:
    """A command being tried: ``on_behalf_of`` whom the caller acts, once the block
    knows (a delegate's decision), so that a refusal is kept as the decision would be."""

    on_behalf_of: str | None = None


@asynccontextmanager
async def recorded_refusals(
    context: ApiContext, case_id: UUID, actor: str, operation: str, key: str | None
) -> AsyncIterator[Attempt]:
    """Keep a refusal of the command in the block (by the policy, the workflow's
    validator or the domain) in the case's refusal log, then answer it as before;
    ``key``: the command's Idempotency-Key, under which it is kept once."""
    attempt = Attempt()
    try:
        yield attempt
    except (ApiError, DomainError) as error:
        await keep_refusal(context, case_id, actor, operation, error, key, attempt.on_behalf_of)
        raise


async def keep_refusal(
    context: ApiContext,
    case_id: UUID,
    actor: str,
    operation: str,
    error: ApiError | DomainError,
    key: str | None,
    on_behalf_of: str | None = None,
) -> None:
    """Keep ``error`` in the case's refusal log if it is a rule's refusal: once for a
    command sent with an Idempotency-Key (``key``) and refused by that rule, however
    often it is sent again or at once, and once for each sent without one."""
    if isinstance(error, ApiError):
        status, rule, detail = error.status, error.rule, error.detail
    else:
        status, rule, detail = STATUS_BY_KIND[error.kind], error.rule, error.message
    if status in RECORDED_REFUSALS:
        await run_in_threadpool(
            context.application.record_refusal,
            case_id,
            "leave",
            operation,
            status,
            rule,
            detail,
            actor,
            leave_workflow_id(case_id),
            on_behalf_of,
            # With its rule: a key refused before its workflow (the API's own checks) is
            # not used up, and the same key sent again changed may be refused by another.
            None if key is None else f"refusal/{operation}/{actor}/{key}/{rule}",
        )


def leave_workflow(
    context: ApiContext, case_id: UUID
) -> WorkflowHandle[LeaveRequestWorkflow, object]:
    return context.client.get_workflow_handle_for(
        LeaveRequestWorkflow.run, leave_workflow_id(case_id)
    )


def update_id(operation: str, employee_id: str, key: str | None) -> str | None:
    """The Temporal update id for an Idempotency-Key: scoped to the operation and the
    caller, as Temporal answers a repeated update id with the first update's result."""
    return None if key is None else f"{operation}:{employee_id}:{key}"


async def caught_up(context: ApiContext, position: int) -> None:
    """Wait until the read models have processed ``position`` (read-your-writes), up to the
    configured timeout; a slow projection delays the answer but never fails the command,
    nor does a wait that fails (the database's connection closed while it waited: the
    command is recorded, and a 500 would have it sent again)."""
    timeout = context.settings.read_your_writes_timeout
    try:
        reached = await run_in_threadpool(context.read_models.wait_for, position, timeout)
    except (psycopg.Error, sqlite3.Error) as error:
        logger.warning("read_models_behind", position=position, error=repr(error))
        return
    if not reached:
        logger.warning("read_models_behind", position=position, timeout=timeout)
