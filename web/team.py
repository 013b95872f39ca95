"""The team calendar for managers: who is away on which day of a month."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.access import policy
from api.context import ApiContext
from domain.leave import Half
from projections.team_calendar import Absence
from web.rendering import halves, names, page
from web.session import Context, SignedIn, Web

router = APIRouter(include_in_schema=False)


def month_of(text: str | None) -> tuple[date, str | None]:
    """The first day of ``YYYY-MM`` (of this month when none is given); when the text is
    not a month, this month's, with a notice saying so."""
    this_month = datetime.now(UTC).date().replace(day=1)
    if not text:
        return this_month, None
    try:
        year, month = (int(part) for part in text.split("-"))
        return date(year, month, 1), None
    except ValueError:
        return this_month, f"{text!r} is not a month such as 2027-07: this month is shown"


def _grid(context: ApiContext, manager_id: str, first: date) -> dict[str, Any] | None:
    """Rows of the manager's direct reports, one cell per day; None for someone who
    manages nobody."""
    if not policy(context).may_see_team(manager_id):
        return None
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    reports = [  # who had left before the month is not shown
        report
        for report in context.read_models.direct_reports(manager_id)
        if report.end_date is None or report.end_date >= first
    ]
    absences = context.read_models.team_absences(manager_id, first, last, include_pending=True)
    people = names(context, [report.employee_id for report in reports])
    people.update(names(context, [a.employee_id for a in absences if a.employee_id not in people]))
    last_days = {report.employee_id: report.end_date for report in reports if report.end_date}
    away = {(absence.employee_id, absence.day): absence for absence in absences}
    half_of = _halves(context, [absence for absence in absences if absence.share < 1])
    days = [first + timedelta(days=offset) for offset in range(last.day)]
    rows = [
        {
            "name": name,
            "last_day": last_days.get(employee_id),
            "cells": [away.get((employee_id, day)) for day in days],
            "halves": [
                half_of.get((away[employee_id, day].case_id, day))
                if (employee_id, day) in away
                else None
                for day in days
            ],
        }
        for employee_id, name in sorted(people.items(), key=lambda item: item[1])
    ]
    return {
        "days": days,
        "rows": rows,
        "previous": None if first == date.min else _month(first - timedelta(days=1)),
        "next": None if last == date.max else _month(last + timedelta(days=1)),
        "month": first,
    }


def _halves(context: ApiContext, half_days: list[Absence]) -> dict[tuple[UUID, date], Half]:
    """Which half of the day each half day off is, by case and day, from its request's
    period (the calendar keeps only the share)."""
    found: dict[tuple[UUID, date], Half] = {}
    for case_id in {absence.case_id for absence in half_days}:
        case = context.read_models.leave_case(case_id)
        if case is None:  # the cases' read model behind the calendar's: "½" alone
            continue
        for day, half in halves(case).items():
            found[(case_id, day)] = half
    return found


def _month(day: date) -> str:
    """``YYYY-MM`` with four digits in every year (``strftime`` gives ``1`` for 0001)."""
    return f"{day.year:04d}-{day.month:02d}"


@router.get("/team")
async def team_calendar(
    request: Request, web: Web, session: SignedIn, context: Context, month: str | None = None
) -> Response:
    first, notice = month_of(month)
    grid = await run_in_threadpool(_grid, context, session.employee_id, first)
    if grid is None:
        return await page(request, web, session, "refused.html", status=404, reason="no_team")
    return await page(request, web, session, "team.html", section="team", notice=notice, **grid)
