"""The auditor's pages: the audit log with filters, paging and exports, and a case's
timeline with a control to see the case as it was at a version or an instant."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC
from functools import cache
from typing import Any, get_type_hints
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from api import audit
from api.errors import ApiError, describe_validation_errors
from api.instants import NOT_AN_INSTANT
from domain.errors import RuleViolation
from projections.audit_log import AuditFilter
from services import time_travel
from web.rendering import FORM, names, page
from web.session import Context, SignedIn, Web

router = APIRouter(include_in_schema=False)

FILTERS = ("case", "actor", "process", "type", "since", "until")
FIELDS = (*FILTERS, "order")
"""The filter form's fields: a problem with anything else in the address goes above it."""
FIELD_OF_RULE = {
    "since_after_until": "until",
    "unknown_event_type": "type",
    "unknown_process": "process",
}
"""Where the API's refusal of a filter is shown: a window that ends before it starts
beside its end, an event type that is not one beside the type."""
TRAVEL = ("version", "at")
"""The fields of a case's page that show the case as it was."""
FIELD_OF_TRAVEL_RULE = {
    "no_such_version": "version",
    "not_yet_recorded": "at",
    "instant_in_the_future": "at",
}
"""Where the API's refusal to show a case as it was goes on its page; others (both
fields given) go above the fields."""


NOT_AN_INSTANT_HERE = (
    "must be an instant, such as 2027-03-01T12:00 (UTC, as labelled) or 2027-03-01T13:00+01:00"
)
"""The API's :data:`~api.instants.NOT_AN_INSTANT` in the pages' words: their instant
fields are labelled UTC, and an instant without an offset is taken as one."""


@cache
def _declared(route: Callable[..., Any], name: str) -> TypeAdapter[Any]:
    return TypeAdapter(get_type_hints(route, include_extras=True)[name])


def _checked(
    route: Callable[..., Any], values: Mapping[str, str], fields: tuple[str, ...] = FIELDS
) -> tuple[dict[str, Any], dict[str, str]]:
    """The values given (empty ones left out) as the API's ``route`` declares its
    parameters of those names, and each that is not one in the API's words, beside its
    field if it is one of ``fields`` (above them otherwise)."""
    parsed: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name, text in values.items():
        if not text:
            continue
        try:
            parsed[name] = _declared(route, name).validate_python(text)
        except ValidationError as error:
            located = [{**problem, "loc": ("query", name)} for problem in error.errors()]
            said = describe_validation_errors(located).replace(NOT_AN_INSTANT, NOT_AN_INSTANT_HERE)
            problems[name if name in fields else FORM] = said
    return parsed, problems


def _selection(values: Mapping[str, str]) -> tuple[AuditFilter | None, dict[str, str]]:
    """The filter the API's audit routes would take from these values, or the problems
    they would answer 422 for, by field."""
    parsed, problems = _checked(audit.selection, values)
    for name in ("since", "until"):
        given = parsed.get(name)
        if given is not None and given.tzinfo is None:
            parsed[name] = given.replace(tzinfo=UTC)  # the fields are labelled UTC
        try:
            audit.aware(name, parsed.get(name))
        except ApiError as error:
            problems[name] = error.detail
    for name in ("type", "process"):
        # The API names the first of these it meets; the page names each beside its
        # field, so that one correction is not followed by another refusal.
        if name in parsed:
            try:
                audit.selection(**{name: parsed[name]})
            except ApiError as error:
                problems[name] = error.detail
    if problems:
        return None, problems
    try:
        return audit.selection(**parsed), {}
    except ApiError as error:  # beside the field it concerns
        return None, {FIELD_OF_RULE.get(error.rule or "", FORM): error.detail}


async def _refused(request: Request, web: Web, session: SignedIn) -> Response:
    return await page(request, web, session, "refused.html", status=403, reason="auditor_only")


def _filters(request: Request) -> dict[str, str]:
    return {name: request.query_params.get(name, "").strip() for name in FILTERS}


async def _in_error(
    request: Request,
    web: Web,
    session: SignedIn,
    values: dict[str, str],
    errors: dict[str, str],
) -> Response:
    """The log's page with each problem beside its field, no events and no export (it
    would not carry the filter shown), answering 422 as the API does."""
    order = request.query_params.get("order", "")
    return await page(
        request, web, session, "audit.html", status=422, section="audit", values=values,
        order=order, entries=[], errors=errors, people={}, subjects={}, next_url=None,
    )  # fmt: skip


@router.get("/audit")
async def audit_log(request: Request, web: Web, session: SignedIn, context: Context) -> Response:
    try:
        audit.auditor(session.employee_id, context)
    except ApiError:
        return await _refused(request, web, session)
    values = _filters(request)
    chosen, errors = _selection(values)
    paging = {name: request.query_params.get(name, "") for name in ("order", "after")}
    paged, paging_errors = _checked(audit.audit_events, paging)
    if chosen is None or paging_errors:
        return await _in_error(request, web, session, values, {**errors, **paging_errors})
    order = paged.get("order", "newest")

    def read() -> tuple[list[audit.AuditEntryOut], dict[str, str], dict[str, str]]:
        entries = context.read_models.audit_page(
            chosen, newest_first=order == "newest", after=paged.get("after"), limit=50
        )
        items = audit.with_authority(context, entries)
        people = names(context, [i.actor for i in items] + [i.on_behalf_of or "" for i in items])
        return items, people, _employees_named(context, items)

    items, people, subjects = await run_in_threadpool(read)
    hint = None if items else await run_in_threadpool(audit.actor_hint, context, chosen.actor)
    query = {key: value for key, value in values.items() if value}
    next_url = None
    if len(items) == 50:
        next_url = "/audit?" + urlencode({**query, "order": order, "after": items[-1].position})
    return await page(
        request, web, session, "audit.html", section="audit", values=values, order=order,
        entries=items, errors={}, people=people, subjects=subjects, next_url=next_url,
        export_query=urlencode(query), hint=hint,
    )  # fmt: skip


def _employees_named(context: Context, items: list[audit.AuditEntryOut]) -> dict[str, str]:
    """Each entry's subject that is an employee (``employee e-100``), with their name."""
    subjects = {i.subject for i in items if i.subject and i.subject.startswith("employee ")}
    found = names(context, [subject.partition(" ")[2] for subject in subjects])
    return {
        subject: found[employee_id]
        for subject in subjects
        if found[employee_id := subject.partition(" ")[2]] != employee_id
    }


@router.get("/audit/export")
async def audit_export(request: Request, web: Web, session: SignedIn, context: Context) -> Response:
    """The export of the filter given; a filter (or format) that is not one is shown on
    the log's page, as the API refuses it (422), not as a page that is not there."""
    try:
        audit.auditor(session.employee_id, context)
    except ApiError:
        return await _refused(request, web, session)
    values = _filters(request)
    chosen, errors = _selection(values)
    wanted, format_errors = _checked(
        audit.audit_export, {"format": request.query_params.get("format", "")}
    )
    if chosen is None or format_errors:
        return await _in_error(request, web, session, values, {**errors, **format_errors})
    format = wanted.get("format", "jsonl")
    bom = format == "csv" and request.query_params.get("bom") == "true"
    return audit.audit_export(session.employee_id, context, chosen, format, bom)


@router.get("/audit/cases/{case_id}")
async def case_timeline(
    request: Request, web: Web, session: SignedIn, context: Context, case_id: str
) -> Response:
    """A case's timeline, and the case as it was at the version or instant given. One
    the API would refuse is named beside its field, answered as the API answers it (422,
    or 404 for a version or an instant the case had not reached), with the timeline
    still shown and no state (never the case as it is now instead)."""
    try:
        audit.auditor(session.employee_id, context)
    except ApiError:
        return await _refused(request, web, session)
    try:
        timeline = await audit.case_timeline(UUID(case_id), session.employee_id, context)
    except (ValueError, ApiError):
        return await page(request, web, session, "refused.html", status=404, reason="")
    values = {name: request.query_params.get(name, "").strip() for name in TRAVEL}
    state, errors, status = await run_in_threadpool(
        _as_it_was, context, session.employee_id, timeline.case_id, values
    )
    people = names(context, [item.actor for item in timeline.items if item.actor])
    return await page(
        request, web, session, "audit_case.html", status=status, section="audit",
        timeline=timeline, people=people, state=state, values=values, errors=errors,
    )  # fmt: skip


def _as_it_was(
    context: Context, caller: str, case_id: UUID, values: Mapping[str, str]
) -> tuple[audit.AggregateOut | None, dict[str, str], int]:
    """The case at the version or instant given (None when neither is), or why not, by
    field, with the status the API would answer. An instant without an offset is UTC,
    as the field's label says."""
    parsed, problems = _checked(audit.aggregate_at, values, TRAVEL)
    if problems:
        return None, problems, 422
    if not parsed:
        return None, {}, 200
    at, version = parsed.get("at"), parsed.get("version")
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)  # the field is labelled UTC (the API wants the offset)
    try:
        if at is not None and version is None:
            time_travel.known_up_to_now(  # in the page's words: it has no `at` to leave out
                at, "the case", "give an instant up to now, or leave it empty for the case now"
            )
        return audit.aggregate_at(case_id, caller, context, at, version), {}, 200
    except RuleViolation as refusal:
        return None, {"at": refusal.message}, 422
    except ApiError as error:
        return None, {FIELD_OF_TRAVEL_RULE.get(error.rule or "", FORM): error.detail}, error.status
