"""For auditors: the audit log, its export, a case's timeline with what its workflow
did, and any aggregate as it was at a version or an instant.

Everything here is for the ``auditor`` role (403 to anyone else) and reads only.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from google.protobuf.json_format import MessageToDict
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from temporalio.api.enums.v1 import EventType
from temporalio.service import RPCError, RPCStatusCode

from api.access import policy
from api.auth import Caller
from api.context import ApiContext
from api.dependencies import Context
from api.errors import ApiError, error_responses, not_found
from api.instants import Instant, known_up_to_now
from domain.errors import NotFound
from domain.policy import AUDITOR
from projections.audit_log import (
    REFUSALS,
    AuditEntry,
    AuditFilter,
    acted_under_authority,
    actor_authority,
    csv_lines,
    empty_actor,
    jsonl_lines,
    refused_submission,
    unknown_actor,
    unknown_event_type,
    unknown_process,
)
from services.time_travel import aggregate_state
from workflows.messages import leave_workflow_id

router = APIRouter(prefix="/audit", tags=["audit"], responses=error_responses(401, 403, 422))


def auditor(caller: Caller, context: Context) -> str:
    """The caller, if they hold the ``auditor`` role; 403 otherwise."""
    if not policy(context).has_role(caller, AUDITOR):
        raise ApiError(403, "the audit views are for auditors (role auditor)", "auditor_only")
    return caller


Auditor = Annotated[str, Depends(auditor)]


def selection(
    case: Annotated[UUID | None, Query(description="A case id")] = None,
    stream: Annotated[UUID | None, Query(description="An aggregate id")] = None,
    actor: Annotated[str | None, Query(description="Who did it")] = None,
    process: Annotated[
        str | None,
        Query(
            description="leave or directory (another is refused, 422 unknown_process)",
            max_length=50,
        ),
    ] = None,
    type: Annotated[
        str | None,
        Query(
            description="Event type, such as TaskDecided or LeaveRequest.Submitted (one that"
            " no aggregate has is refused, 422 unknown_event_type)",
            max_length=100,
        ),
    ] = None,
    since: Annotated[Instant | None, Query(description="At or after this instant")] = None,
    until: Annotated[Instant | None, Query(description="At or before this instant")] = None,
) -> AuditFilter:
    if type is not None and (problem := unknown_event_type(type)) is not None:
        raise ApiError(422, f"type: {problem}", "unknown_event_type")
    if process is not None and (problem := unknown_process(process)) is not None:
        raise ApiError(422, f"process: {problem}", "unknown_process")
    if actor is not None and (problem := empty_actor(actor, "actor")) is not None:
        raise ApiError(422, f"actor: {problem}", "empty_actor")
    since, until = aware("since", since), aware("until", until)
    if since is not None and until is not None and since > until:
        raise ApiError(
            422,
            f"`since` ({since.isoformat()}) is after `until` ({until.isoformat()}):"
            " no instant is in between",
            "since_after_until",
        )
    return AuditFilter(
        case_id=None if case is None else str(case),
        stream=None if stream is None else str(stream),
        actor=actor,
        process=process,
        event=type,
        since=since,
        until=until,
    )


def aware(name: str, instant: datetime | None) -> datetime | None:
    """The instant given as ``name``, if it has its UTC offset; 422 otherwise."""
    if instant is not None and instant.tzinfo is None:
        raise ApiError(
            422, f"give `{name}` with its UTC offset, such as 2027-03-01T12:00:00Z", "naive_instant"
        )
    return instant


Selection = Annotated[AuditFilter, Depends(selection)]


class AuditEntryOut(BaseModel):
    position: int = Field(description="The event's position in the store's log")
    at: str
    stream: str = Field(description="The aggregate's id")
    version: int
    aggregate: str
    event: str
    actor: str
    on_behalf_of: str | None
    command_id: str
    correlation_id: str = Field(description="The workflow (or tool) that issued the command")
    case_id: str | None
    process: str
    data: dict[str, Any]
    subject: str | None = Field(
        description="What the event is about, named on every event of its stream (a later"
        " event, such as an end date changed, does not name it itself): `employee e-100`,"
        " `department d-eng`, `role hr`, `limits procurement`, `delegation ID`,"
        " `leave account e-100`; null for a case's events, which `case_id` names"
    )
    authority: dict[str, Any] | None = Field(
        None,
        description="For what was done under some authority (a decision, HR closing"
        " another's case, a person changing the directory): the actor's roles, approval"
        " limits and the delegation acted under, from the directory as it was at that"
        " instant; null for other events",
    )


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_after: int | None = Field(
        description="Pass as `after` for the next page; null when no more remain"
    )
    hint: str | None = Field(
        None,
        description="Why nothing matched, when it is the filter's doing: an `actor` the"
        " directory does not know (a mistyped id); null otherwise",
    )


@router.get("/events", summary="The audit log")
def audit_events(
    _auditor: Auditor,
    context: Context,
    chosen: Selection,
    order: Literal["newest", "oldest"] = "newest",
    after: Annotated[
        int | None,
        # A position a store can hold (a signed 64-bit integer), not a server error.
        Query(ge=0, le=2**63 - 1, description="From the previous page"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    """Every recorded event of every aggregate, filtered and paged. What was done under
    some authority (a decision, an HR closing, a directory change by a person) shows
    the actor's authority as it was then."""
    entries = context.read_models.audit_page(  # one more, to know whether more remain
        chosen, newest_first=order == "newest", after=after, limit=limit + 1
    )
    more = len(entries) > limit
    entries = entries[:limit]
    items = with_authority(context, entries)
    return AuditPage(
        items=items,
        next_after=entries[-1].position if more else None,
        hint=None if items else actor_hint(context, chosen.actor),
    )


def actor_hint(context: ApiContext, actor: str | None) -> str | None:
    """Why a selection by ``actor`` that matched nothing did (:func:`unknown_actor`)."""
    return unknown_actor(actor, context.application.directory.current().employees)


def with_authority(context: ApiContext, entries: list[AuditEntry]) -> list[AuditEntryOut]:
    """The entries, each made under some authority (a decision, an HR closing, a
    directory change) with its actor's authority as of then (the directory folded
    once, through those entries in time order)."""
    authority = actor_authority(context.application.directory.authorities())
    found = {
        entry.position: authority(entry)
        for entry in sorted(entries, key=lambda entry: (entry.at, entry.position))
        if acted_under_authority(entry)
    }
    return [
        AuditEntryOut(**entry.as_dict(), authority=found.get(entry.position)) for entry in entries
    ]


@router.get(
    "/export",
    summary="Export the audit log",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}}}},
)
def audit_export(
    _auditor: Auditor,
    context: Context,
    chosen: Selection,
    format: Literal["jsonl", "csv"] = "jsonl",
    bom: Annotated[
        bool,
        Query(
            description="CSV only: start with the UTF-8 byte order mark, by which a"
            " spreadsheet (Excel) reads the file's text as written (Zoë, not ZoÃ«)"
        ),
    ] = False,
) -> StreamingResponse:
    """The filtered selection, oldest first, as JSON Lines or CSV, streamed: it is read
    a page at a time, so an export of any size holds one page in memory. What was done
    under some authority carries its actor's authority as it was then."""
    if bom and format != "csv":
        raise ApiError(422, "bom: a byte order mark is for CSV; ask for format=csv", "bom_for_csv")
    pages = context.read_models.audit_entries(chosen)
    authority = actor_authority(context.application.directory.authorities())
    if format == "csv":
        body: Iterator[str] = csv_lines(pages, authority, bom=bom)
        media, suffix = "text/csv", "csv"
    else:
        body, media, suffix = jsonl_lines(pages, authority), "application/x-ndjson", "jsonl"
    disposition = f'attachment; filename="audit.{suffix}"'
    return StreamingResponse(body, media_type=media, headers={"Content-Disposition": disposition})


# -- time travel -----------------------------------------------------------------------


class AggregateOut(BaseModel):
    id: UUID
    type: str
    version: int
    at: datetime = Field(description="When this version was recorded")
    state: dict[str, Any]


@router.get(
    "/aggregates/{aggregate_id}",
    responses=error_responses(404),
    summary="An aggregate at a version or an instant",
)
def aggregate_at(
    aggregate_id: UUID,
    _auditor: Auditor,
    context: Context,
    at: Annotated[Instant | None, Query(description="As it was at this instant, up to now")] = None,
    version: Annotated[int | None, Query(ge=1, description="As it was at this version")] = None,
) -> AggregateOut:
    """Any aggregate as its events up to a version (or up to an instant) made it; the
    latest without either. A case whose submission was refused has no aggregate, only
    the refusal: 404 `submission_refused` says so."""
    if at is not None and version is not None:
        raise ApiError(422, "give `at` or `version`, not both", "at_or_version")
    if (at := aware("at", at)) is not None:
        known_up_to_now(at, "the aggregate", "leave `at` out for it now")
    try:
        found = aggregate_state(context.application, aggregate_id, at=at, version=version)
    except NotFound as error:  # an ApiError: the audit pages call this route too
        if error.rule == "aggregate_not_found":
            refused = _refused_submission(context, aggregate_id)
            if refused is not None:
                raise refused from None
        raise ApiError(404, error.message, error.rule) from None
    return AggregateOut(**found.__dict__)


def _refused_submission(context: ApiContext, case_id: UUID) -> ApiError | None:
    """404 ``submission_refused`` for a case id only a refused submission names."""
    selection = AuditFilter(case_id=str(case_id))
    why = refused_submission(str(case_id), context.read_models.audit_entries(selection))
    return None if why is None else ApiError(404, why, "submission_refused")


# -- a case's timeline ---------------------------------------------------------------------

SHOWN = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: "workflow started",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: "workflow completed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "workflow failed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "workflow terminated",
    EventType.EVENT_TYPE_TIMER_STARTED: "timer set",
    EventType.EVENT_TYPE_TIMER_FIRED: "timer fired",
    EventType.EVENT_TYPE_TIMER_CANCELED: "timer cancelled",
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "activity scheduled",
    EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: "activity started",
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "activity completed",
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: "activity failed",
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: "activity timed out",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: "update accepted",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED: "update completed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ADMITTED: "update admitted",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: "signal received",
}


class TimelineItem(BaseModel):
    at: datetime
    source: Literal["business", "workflow", "refused"] = Field(
        description="business: an event of the case; workflow: what its Temporal workflow"
        " did; refused: a command a rule (or the workflow's validator) refused"
    )
    what: str = Field(description="The event type, or what the workflow did")
    actor: str | None = None
    on_behalf_of: str | None = None
    details: dict[str, Any]


class Timeline(BaseModel):
    case_id: UUID
    workflow_id: str
    items: list[TimelineItem]
    note: str = Field(description="Where the refusals come from")


@router.get(
    "/cases/{case_id}/timeline",
    responses=error_responses(404),
    summary="A case's business events merged with what its workflow did",
)
async def case_timeline(case_id: UUID, _auditor: Auditor, context: Context) -> Timeline:
    """The case's events (and its leave account's bookings for it), merged in time order
    with its workflow's history in Temporal: timers set and fired, activities scheduled,
    started (with their attempt: a retry shows attempt 2 and more), failed and completed,
    updates accepted and completed."""
    business = await run_in_threadpool(
        lambda: [
            entry
            for page in context.read_models.audit_entries(AuditFilter(case_id=str(case_id)))
            for entry in page
        ]
    )
    if not business:
        raise not_found("case")
    workflow_id = leave_workflow_id(case_id)
    items = [
        TimelineItem(
            at=datetime.fromisoformat(entry.at),
            source="refused" if entry.aggregate in REFUSALS else "business",
            what=(
                f"{entry.data.get('operation')} refused ({entry.data.get('rule')})"
                if entry.event == "Refused"
                else f"{entry.aggregate}.{entry.event}"
            ),
            actor=entry.actor,
            on_behalf_of=entry.on_behalf_of,
            details=entry.data,
        )
        for entry in business
        if entry.event != "Opened" or entry.aggregate != "RefusalLog"
    ]
    try:
        history = await context.client.get_workflow_handle(workflow_id).fetch_history()
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
    else:
        for event in history.events:
            if event.event_type not in SHOWN:
                continue
            attributes = MessageToDict(getattr(event, _attributes_field(event)))
            items.append(
                TimelineItem(
                    at=event.event_time.ToDatetime(tzinfo=UTC),
                    source="workflow",
                    what=SHOWN[event.event_type],
                    details={"event_id": event.event_id, **_summary(attributes)},
                )
            )
    items.sort(key=lambda item: (item.at, item.source != "workflow"))
    return Timeline(
        case_id=case_id,
        workflow_id=workflow_id,
        items=items,
        note="Refused commands (marked refused) come from the API's record of each refusal:"
        " Temporal itself keeps no trace of an update its validator turned down.",
    )


def _attributes_field(event: Any) -> str:
    return str(event.WhichOneof("attributes"))


KEPT = {
    "activityType",
    "activityId",
    "attempt",
    "timerId",
    "startToFireTimeout",
    "failure",
    "lastFailure",
    "acceptedRequest",
    "protocolInstanceId",
    "workflowType",
    "identity",
    "signalName",
}


def _summary(attributes: dict[str, Any]) -> dict[str, Any]:
    """The parts of a workflow event an auditor reads: no payloads (they hold the
    case's data, already in the business events) but names, attempts and failures."""
    summary = {key: value for key, value in attributes.items() if key in KEPT}
    request = summary.pop("acceptedRequest", None)
    if isinstance(request, dict):
        summary["update"] = request.get("input", {}).get("name")
        summary["update_id"] = request.get("meta", {}).get("updateId")
        summary["identity"] = request.get("meta", {}).get("identity")
    for key in ("failure", "lastFailure"):
        if isinstance(summary.get(key), dict):
            summary[key] = summary[key].get("message")
    if isinstance(summary.get("activityType"), dict):
        summary["activityType"] = summary["activityType"].get("name")
    if isinstance(summary.get("workflowType"), dict):
        summary["workflowType"] = summary["workflowType"].get("name")
    return summary
