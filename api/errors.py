"""Errors as the API answers them: JSON ``{"detail": ..., "rule": ...}``, one log line each.

Domain refusals keep their rule and map by kind (rule_violation 422, conflict 409,
not_allowed 403, not_found 404), whether raised here or carried back from a
workflow update by Temporal.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import structlog
from eventsourcing.persistence import MapperDeserialisationError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.schemas import ErrorOut
from domain.errors import DomainError
from services.store import unreadable_event
from services.unavailable import DATABASE_UNAVAILABLE, database_unavailable

logger = structlog.get_logger(__name__)

UNREADABLE_BODY = "There was an error parsing the body"
"""FastAPI's detail for a body it could not read."""
NOT_ANSWERING_RULE = "workflow_not_answering"
"""A command's workflow did not answer within its wait: no worker may be running, or
its step keeps failing and is being tried again."""

STATUS_BY_KIND = {"rule_violation": 422, "conflict": 409, "not_allowed": 403, "not_found": 404}
UNAVAILABLE = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
}


def temporal_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says Temporal did not answer (in time): worth trying again
    shortly, and nothing the caller sent was wrong."""
    if isinstance(error, RPCError):
        return error.status in UNAVAILABLE
    return isinstance(error, WorkflowUpdateRPCTimeoutOrCancelledError)


class ApiError(Exception):
    """A request the API refuses, with a message a person can act on."""

    def __init__(
        self,
        status: int,
        detail: str,
        rule: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.rule = rule
        self.headers = headers


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI description of a route's error answers."""
    return {status: {"model": ErrorOut, "description": DESCRIPTIONS[status]} for status in statuses}


DESCRIPTIONS = {
    400: "The request asks for something not offered",
    401: "No valid bearer token (see the WWW-Authenticate header)",
    403: "You may not do this (the rule is named)",
    404: "No such thing, or not one you may see",
    409: "It clashes with the case's current state (the rule is named)",
    422: "Invalid input, or a business rule refused it (the rule is named)",
    503: "The workflow service, or the case's workflow, did not answer in time (rule"
    " temporal_unavailable or workflow_not_answering): try again after Retry-After"
    " seconds, with the same Idempotency-Key, and nothing is done twice (a command sent"
    " without one may still be carried out: look before sending it again)",
}


def not_answering(wait: float, *, keyed: bool) -> ApiError:
    """The 503 for a command whose workflow did not answer within ``wait`` seconds."""
    what = (
        f"the case's workflow did not answer within {wait:g} s: no worker may be running,"
        " or its step keeps failing and is being tried again. The command waits with the"
        " workflow"
    )
    if keyed:
        advice = (
            ": send it again later with the same Idempotency-Key to learn its outcome"
            " (nothing is done twice)"
        )
    else:
        advice = (
            " and may still be carried out: look at the case before sending it again"
            " (sent without an Idempotency-Key, it would be a second command; send one"
            " to try again safely)"
        )
    return ApiError(503, what + advice, NOT_ANSWERING_RULE, {"Retry-After": "5"})


def not_found(what: str) -> ApiError:
    """One answer for what does not exist and what the caller may not see."""
    return ApiError(404, f"no {what} here", "not_found")


def refusal(error: WorkflowUpdateFailedError) -> ApiError | None:
    """The domain's refusal carried by a failed update, or None for any other failure."""
    cause: BaseException | None = error.cause
    while isinstance(cause, ActivityError):  # a refusal carried by the update's activity
        cause = cause.cause
    if not isinstance(cause, ApplicationError) or cause.type not in STATUS_BY_KIND:
        return None
    rule = str(cause.details[0]) if cause.details else None
    return ApiError(STATUS_BY_KIND[cause.type], cause.message, rule)


@asynccontextmanager
async def update_refusals(
    wait: float, when_closed: Callable[[], object] | None = None, *, keyed: bool
) -> AsyncIterator[None]:
    """Turn a workflow update's refusal into the API's answer, and bound its wait.

    A case whose workflow has ended accepts no update; ``when_closed`` runs the
    domain's own check on the recorded case, so the answer names the rule
    (``task_already_decided``, ``not_pending``...) rather than Temporal's error.

    An update waits for a worker to run the workflow: with none running, it would wait
    for ever. After ``wait`` seconds the answer is 503 ``workflow_not_answering``; the
    update stays with the workflow, and the same request sent again (same
    Idempotency-Key: ``keyed``) finds its outcome once a worker runs. A request sent
    without a key is told to look before sending it again.
    """
    deadline = asyncio.timeout(wait)
    try:
        async with deadline:
            yield
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        # Temporal's client turns a cancellation into its own error: the deadline's, or
        # one from outside (the request abandoned, the server stopping), which must go on.
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise asyncio.CancelledError from None
        if not deadline.expired():
            raise
        raise not_answering(wait, keyed=keyed) from None
    except WorkflowUpdateFailedError as error:
        refused = refusal(error)
        if refused is None:
            raise
        raise refused from error
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        if when_closed is not None:
            when_closed()
        raise ApiError(
            409, "this case's process has ended: it accepts no more changes", "case_closed"
        ) from error


def _answer(request: Request, error: ApiError) -> JSONResponse:
    log = logger.warning if error.status >= 500 else logger.info
    log(
        "request_refused",
        method=request.method,
        path=request.url.path,
        status=error.status,
        rule=error.rule,
        detail=error.detail,
    )
    body: dict[str, Any] = {"detail": error.detail}
    if error.rule is not None:
        body["rule"] = error.rule
    return JSONResponse(body, status_code=error.status, headers=error.headers)


def describe_validation_errors(errors: Sequence[Any]) -> str:
    """``start: Field required; type: Input should be 'annual', 'unpaid' or 'sick'``."""
    parts = []
    for error in errors:
        if error.get("type") == "json_invalid":
            reason = error.get("ctx", {}).get("error", "")
            parts.append(
                f"request body: not valid JSON ({reason})"
                if reason
                else "request body: not valid JSON"
            )
            continue
        location = [str(part) for part in error.get("loc", ())]
        where = ".".join(location[1:]) or (
            "request body" if location == ["body"] else ".".join(location)
        )
        parts.append(f"{where}: {_plainly(error, location)}")
    return "; ".join(parts) or "invalid request"


NOT_A_DATE = {
    "date_type",
    "date_parsing",
    "date_from_datetime_parsing",
    "date_from_datetime_inexact",
}
NOT_A_BOOLEAN = {"bool_type", "bool_parsing"}
NOT_AN_OBJECT = {"model_type", "model_attributes_type", "dict_type"}
NOT_A_UUID = {"uuid_type", "uuid_parsing", "uuid_version"}
NOT_AN_INSTANT = {
    "datetime_type",
    "datetime_parsing",
    "datetime_from_date_parsing",
    "datetime_object_invalid",
}


def _plainly(error: Any, location: list[str]) -> str:
    """Pydantic's message, but where a person would not know what to send instead."""
    kind = error.get("type")
    if kind in NOT_A_DATE:
        return "must be a date such as 2027-07-05"
    if kind in NOT_A_BOOLEAN:
        return "must be true or false"
    if kind in NOT_A_UUID:
        return "must be a UUID such as 6f1c3a52-53a4-4f7e-9d0b-3c6a2f1e8b47"
    if kind in NOT_AN_INSTANT:
        return "must be an instant with its UTC offset, such as 2027-03-01T12:00:00Z"
    if kind in NOT_AN_OBJECT and location == ["body"]:
        return "must be a JSON object, sent as Content-Type: application/json"
    if kind == "value_error":  # one of our own checks: its words, without "Value error, "
        return str(error.get("ctx", {}).get("error", error.get("msg", "invalid")))
    return str(error.get("msg", "invalid"))


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ApiError)
        return _answer(request, error)

    async def domain_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, DomainError)
        status = STATUS_BY_KIND.get(error.kind, 422)
        return _answer(request, ApiError(status, error.message, error.rule))

    async def invalid_request(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        detail = describe_validation_errors(error.errors())
        return _answer(request, ApiError(422, detail, "invalid_request"))

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        if error.status_code == 400 and error.detail == UNREADABLE_BODY:
            # FastAPI's answer when reading the JSON failed other than as a syntax error
            # (nested too deeply, say); a syntax error is a 422 ``invalid_request``.
            unreadable = ApiError(
                422, "the request body could not be read as JSON", "invalid_request"
            )
            return _answer(request, unreadable)
        method, path = request.method, request.url.path
        if error.status_code == 404 and error.detail == "Not Found":  # no route matched
            detail = f"no route {method} {path}; the API's routes are listed at /docs"
            return _answer(request, ApiError(404, detail, "no_such_route"))
        if error.status_code == 405:
            allowed = (error.headers or {}).get("Allow", "")
            detail = f"{method} is not offered on {path}; it takes {allowed}"
            return _answer(request, ApiError(405, detail, "method_not_allowed", error.headers))
        return _answer(request, ApiError(error.status_code, str(error.detail), None, error.headers))

    async def temporal_error(request: Request, error: Exception) -> JSONResponse:
        if not temporal_unavailable(error):
            return await unexpected(request, error)
        return _answer(
            request,
            ApiError(
                503,
                "the workflow service did not answer in time; try again shortly",
                "temporal_unavailable",
                {"Retry-After": "5"},
            ),
        )

    async def database_error(request: Request, error: Exception) -> JSONResponse:
        if not database_unavailable(error):
            return await unexpected(request, error)
        logger.warning("database_unavailable", path=request.url.path, error=repr(error))
        return _answer(
            request,
            ApiError(
                503,
                "the database did not answer; try again shortly",
                "database_unavailable",
                {"Retry-After": "5"},
            ),
        )

    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.error(
            "request_failed",
            method=request.method,
            path=request.url.path,
            error=type(error).__name__,
            exc_info=error,
        )
        return JSONResponse({"detail": "internal error"}, status_code=500)

    async def unreadable(request: Request, error: Exception) -> JSONResponse:
        """A stored event the store can no longer decode: the store was changed outside
        Backoffice. Still the server's failure (500), but named, for whoever runs it."""
        detail = unreadable_event(error)
        logger.error(
            "event_unreadable", method=request.method, path=request.url.path, detail=detail
        )
        return JSONResponse({"detail": detail, "rule": "unreadable_event"}, status_code=500)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(MapperDeserialisationError, unreadable)
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RPCError, temporal_error)
    app.add_exception_handler(WorkflowUpdateRPCTimeoutOrCancelledError, temporal_error)
    for unavailable in DATABASE_UNAVAILABLE:
        app.add_exception_handler(unavailable, database_error)
    app.add_exception_handler(Exception, unexpected)
