"""The auditor's pages: the audit log with filters, paging and exports, and a case's
timeline with a control to see the case as it was at a version or an instant."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api import audit
from api.errors import ApiError
from projections.audit_log import AuditFilter
from web.rendering import names, page
from web.session import Context, SignedIn, Web

router = APIRouter(include_in_schema=False)

FILTERS = ("case", "actor", "process", "type", "since", "until")


def _instant(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} needs its UTC offset, such as 2027-03-01T12:00:00Z")
    return moment


def _selection(values: dict[str, str]) -> AuditFilter:
    case = values.get("case") or None
    return AuditFilter(
        case_id=None if case is None else str(UUID(case)),
        actor=values.get("actor") or None,
        process=values.get("process") or None,
        event=values.get("type") or None,
        since=_instant(values.get("since")),
        until=_instant(values.get("until")),
    )


async def _refused(request: Request, web: Web, session: SignedIn) -> Response:
    return await page(request, web, session, "refused.html", status=403, reason="auditor_only")


@router.get("/audit")
async def audit_log(
    request: Request,
    web: Web,
    session: SignedIn,
    context: Context,
    order: Literal["newest", "oldest"] = "newest",
    after: int | None = None,
) -> Response:
    try:
        audit.auditor(session.employee_id, context)
    except ApiError:
        return await _refused(request, web, session)
    values = {name: request.query_params.get(name, "").strip() for name in FILTERS}
    try:
        chosen = _selection(values)
    except ValueError as error:
        return await page(
            request, web, session, "audit.html", section="audit", values=values, order=order,
            entries=[], error=str(error), people={}, next_url=None, export_query="",
        )  # fmt: skip

    def read() -> tuple[list[audit.AuditEntryOut], dict[str, str]]:
        entries = context.read_models.audit_page(
            chosen, newest_first=order == "newest", after=after, limit=50
        )
        items = audit.with_authority(context, entries)
        people = names(context, [i.actor for i in items] + [i.on_behalf_of or "" for i in items])
        return items, people

    items, people = await run_in_threadpool(read)
    query = {key: value for key, value in values.items() if value}
    next_url = None
    if len(items) == 50:
        next_url = "/audit?" + urlencode({**query, "order": order, "after": items[-1].position})
    return await page(
        request, web, session, "audit.html", section="audit", values=values, order=order,
        entries=items, error=None, people=people, next_url=next_url,
        export_query=urlencode(query),
    )  # fmt: skip


@router.get("/audit/export")
async def audit_export(
    request: Request,
    web: Web,
    session: SignedIn,
    context: Context,
    format: Literal["jsonl", "csv"] = "jsonl",
) -> Response:
    try:
        audit.auditor(session.employee_id, context)
        chosen = _selection({name: request.query_params.get(name, "") for name in FILTERS})
    except ApiError:
        return await _refused(request, web, session)
    except ValueError:
        return await page(request, web, session, "refused.html", status=404, reason="")
    return audit.audit_export(session.employee_id, context, chosen, format)


@router.get("/audit/cases/{case_id}")
async def case_timeline(
    request: Request,
    web: Web,
    session: SignedIn,
    context: Context,
    case_id: str,
    at: str | None = None,
    version: str | None = None,
) -> Response:
    try:
        audit.auditor(session.employee_id, context)
    except ApiError:
        return await _refused(request, web, session)
    try:
        timeline = await audit.case_timeline(UUID(case_id), session.employee_id, context)
    except (ValueError, ApiError):
        return await page(request, web, session, "refused.html", status=404, reason="")
    state: Any = None
    problem = None
    try:
        moment = _instant(at)
        number = int(version) if version else None
        if moment is not None or number is not None:
            state = await run_in_threadpool(
                audit.aggregate_at, UUID(case_id), session.employee_id, context, moment, number
            )
    except ValueError as error:
        problem = str(error) if "offset" in str(error) else "give a version number or an instant"
    except ApiError as error:
        problem = error.detail
    people = names(context, [item.actor for item in timeline.items if item.actor])
    return await page(
        request, web, session, "audit_case.html", section="audit", timeline=timeline,
        people=people, state=state, at=at or "", version=version or "", problem=problem,
    )  # fmt: skip
