"""Turning answers into pages: the shared header, names, and messages beside their fields."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from api.access import policy
from api.context import ApiContext
from api.errors import STATUS_BY_KIND, ApiError, temporal_unavailable
from api.history import HistoryEntryOut
from api.schemas import LeaveRequestOut
from api.tasks import inbox_of
from domain.case import DECIDERS_LEFT, OVERDUE
from domain.errors import DomainError
from domain.leave import Half, LeavePeriod
from domain.policy import AUDITOR
from services.credentials import Session
from web.session import WebState, api_context

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""Pages load nothing from elsewhere, are never framed, and are not kept in caches."""

NOT_ANSWERING = "The workflow service is not answering; try again in a minute."
RETRY_LATER = {"Retry-After": "60"}
"""The headers of a form's page answered 503 because Temporal did not answer."""


@contextmanager
def workflow_answers() -> Iterator[None]:
    """A command sent in the block that Temporal, or the case's workflow, did not answer
    (the API's route raises Temporal's error, or ApiError 503 after its wait): ApiError
    503 in the page's words, so that a form's page says so and keeps the form's key (it
    may have got through: sent again with that key, it acts once). Any other failure of
    Temporal's client goes on up."""
    try:
        yield
    except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError) as error:
        if not temporal_unavailable(error):
            raise
        raise ApiError(503, NOT_ANSWERING, "temporal_unavailable", RETRY_LATER) from error
    except ApiError as error:
        if error.status != 503:
            raise
        raise ApiError(503, NOT_ANSWERING, error.rule, RETRY_LATER) from error


KEY_REUSED = "idempotency_key_reused"
"""The API's rule for a key sent again with something else: on a page, where the key is
the form's, kept when Temporal did not answer, it means the first attempt got through."""

FIELD_OF_RULE = {
    "end_before_start": "end",
    "period_too_long": "end",
    "half_days_on_one_day": "half_day_end",
    "zero_working_days": "start",
    "overlap": "start",
    "already_started": "start",
    "after_employment_ends": "end",
    "before_employment_starts": "start",
    "insufficient_balance": "type",
    "only_for_yourself": "employee_id",
    "unknown_employee": "employee_id",
}
"""Where a refusal's message is shown on the leave form; others go above the form."""
FORM = "form"

FORM_WORDS_OF_RULE = {
    "half_days_on_one_day": (
        "a one-day request is a half day or a whole day: tick “Only the afternoon of the"
        " first day” or “Only the morning of the last day”, not both"
    ),
}
"""The leave form's own words for a refusal whose message names the API's fields."""


CODE_SPAN = re.compile(r"`([^`]+)`")
"""A name written as code in the API's messages: `at`, `Idempotency-Key`."""


def message(text: str) -> Markup:
    """A message as a page shows it: escaped, its backtick spans as ``<code>``."""
    parts = CODE_SPAN.split(text)  # the spans' text at odd indexes
    return Markup("").join(
        Markup("<code>{}</code>").format(part) if index % 2 else escape(part)
        for index, part in enumerate(parts)
    )


def days(count: Decimal) -> str:
    """``5``, ``2.5``: whole days without decimals."""
    return f"{count.normalize():f}"


class Period(Protocol):
    """A request's days as the answers give them."""

    @property
    def start(self) -> date: ...
    @property
    def end(self) -> date: ...
    @property
    def half_day_start(self) -> bool: ...
    @property
    def half_day_end(self) -> bool: ...


def halves(case: Period) -> dict[date, Half]:
    """Which half of each half day a request takes, by the domain's rule (the first
    day's afternoon, the last day's morning)."""
    return LeavePeriod(case.start, case.end, case.half_day_start, case.half_day_end).half_days()


def period(case: Period) -> str:
    """As :meth:`LeavePeriod.text` words it: ``2027-07-05 afternoon to 2027-07-09``."""
    return LeavePeriod(case.start, case.end, case.half_day_start, case.half_day_end).text()


SENT_UP_BECAUSE = {OVERDUE: "it is overdue", DECIDERS_LEFT: "everyone who could decide it had left"}
"""Why a task was escalated, in the pages' words."""


def sent_up_because(history: Iterable[HistoryEntryOut], task_id: str) -> str:
    """Why the task was escalated, from its ``TaskEscalated`` events: ``it is overdue``,
    ``everyone who could decide it had left``, or both (events recorded before the
    reason was are for lateness)."""
    reasons = [
        SENT_UP_BECAUSE[entry.data.get("because") or OVERDUE]
        for entry in history
        if entry.type == "TaskEscalated" and entry.data.get("task_id") == task_id
    ]
    return " and ".join(dict.fromkeys(reasons)) or SENT_UP_BECAUSE[OVERDUE]


def days_of(count: Decimal) -> str:
    """``1 day``, ``2.5 days``."""
    return f"{days(count)} day" + ("" if count == 1 else "s")


def names(context: ApiContext, employee_ids: Iterable[str]) -> dict[str, str]:
    """Each employee id's name from the directory (the id itself when unknown)."""
    found = {}
    for employee_id in set(employee_ids):
        profile = context.read_models.employee(employee_id)
        found[employee_id] = profile.name if profile is not None else employee_id
    return found


def people_of_case(case: LeaveRequestOut, history: Iterable[HistoryEntryOut]) -> list[str]:
    """Everyone a case's page names: who asked, who did what, who decides or decided."""
    return [
        case.requester_id,
        *(entry.actor for entry in history),
        *(entry.on_behalf_of for entry in history if entry.on_behalf_of),
        *(decision.actor for decision in case.decisions),
        *(decision.on_behalf_of for decision in case.decisions if decision.on_behalf_of),
        *(person for task in case.tasks for person in (*task.assignees, *task.escalated_to)),
    ]


def case_id_in(text: str) -> UUID | None:
    """The case an address names, or None: a page answers "not found" for an address
    that names no case, as for one the caller may not see (the API says 422)."""
    try:
        return UUID(text)
    except ValueError:
        return None


def _header(context: ApiContext, employee_id: str) -> dict[str, Any]:
    return {
        "me": employee_id,
        "my_name": names(context, [employee_id])[employee_id],
        "open_count": len(inbox_of(context, employee_id)),
        "is_manager": bool(context.read_models.direct_reports(employee_id)),
        "is_auditor": policy(context).has_role(employee_id, AUDITOR),
    }


async def page(
    request: Request,
    web: WebState,
    session: Session | None,
    template: str,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    """A page with the header every signed-in page shows (who, open tasks, sign-out)."""
    header: dict[str, Any] = {"me": None}
    if session is not None:
        header = await run_in_threadpool(_header, api_context(request), session.employee_id)
        header["csrf_token"] = session.csrf_token
    return web.templates.TemplateResponse(
        request,
        template,
        {**header, **values},
        status_code=status,
        headers={**SECURITY_HEADERS, **(headers or {})},
    )


def field_errors(error: ValidationError, fields: Iterable[str]) -> dict[str, str]:
    """Pydantic's complaints about a form, keyed by the field they concern (``form`` when
    they concern the whole)."""
    known = set(fields)
    messages: dict[str, str] = {}
    for problem in error.errors():
        location = [str(part) for part in problem.get("loc", ())]
        message = str(problem.get("msg", "invalid")).removeprefix("Value error, ")
        field = location[0] if location and location[0] in known else None
        if field is None:  # a check of the whole model names its field first
            first_word = message.split(" ", 1)[0]
            field = first_word if first_word in known else FORM
        messages.setdefault(field, message)
    return messages


def form_words(rule: str | None, message: str) -> str:
    """A refusal's message as the leave form says it."""
    return FORM_WORDS_OF_RULE.get(rule or "", message)


def refusal_errors(error: ApiError) -> dict[str, str]:
    """An API refusal as a message beside the field its rule concerns."""
    return {FIELD_OF_RULE.get(error.rule or "", FORM): form_words(error.rule, error.detail)}


def as_api_error(error: ApiError | DomainError) -> ApiError:
    """A refusal as the API answers it: the domain's own (the policy's, or the rule
    checked on a case whose workflow has ended) with the status its kind maps to."""
    if isinstance(error, ApiError):
        return error
    return ApiError(STATUS_BY_KIND.get(error.kind, 422), error.message, error.rule)
