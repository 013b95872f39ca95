"""Leave value objects and the pure rules that count days and entitlements."""

from __future__ import annotations

import calendar as stdlib_calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from domain.calendar import WorkingCalendar, days_between
from domain.errors import RuleViolation

HALF = Decimal("0.5")
ONE = Decimal(1)
ZERO = Decimal(0)
MAX_PERIOD_DAYS = 366
"""A longer absence is not a leave request (and would be refused by any balance)."""
AFTER_EMPLOYMENT_ENDS = "after_employment_ends"
"""The rule that refuses leave on a day after the last day of employment."""
BEFORE_EMPLOYMENT_STARTS = "before_employment_starts"
"""The rule that refuses leave on a day before the first day of employment."""


class LeaveType(StrEnum):
    ANNUAL = "annual"
    """Draws on the yearly entitlement; needs approval."""
    UNPAID = "unpaid"
    """Needs approval; no balance."""
    SICK = "sick"
    """No approval step: recorded, and the manager informed."""

    @property
    def needs_approval(self) -> bool:
        return self is not LeaveType.SICK

    @property
    def draws_on_balance(self) -> bool:
        return self is LeaveType.ANNUAL


class Half(StrEnum):
    """The half of a day taken on a half day."""

    MORNING = "morning"
    AFTERNOON = "afternoon"


@dataclass(frozen=True)
class LeavePeriod:
    """The days asked for: ``start`` to ``end`` inclusive, optionally half days at the ends."""

    start: date
    end: date
    half_day_start: bool = False
    half_day_end: bool = False

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise RuleViolation("end_before_start", "the end date is before the start date")
        if (self.end - self.start).days >= MAX_PERIOD_DAYS:
            raise RuleViolation(
                "period_too_long", f"one request covers at most {MAX_PERIOD_DAYS} calendar days"
            )
        if self.start == self.end and self.half_day_start and self.half_day_end:
            raise RuleViolation(
                "half_days_on_one_day",
                "a one-day request is a half day or a whole day: set half_day_start"
                " or half_day_end, not both",
            )

    def half_days(self) -> dict[date, Half]:
        """Which half of each half day is taken: the afternoon of a first day taken from
        midday, the morning of a last day taken until midday."""
        halves: dict[date, Half] = {}
        if self.half_day_start:
            halves[self.start] = Half.AFTERNOON
        if self.half_day_end:
            halves[self.end] = Half.MORNING
        return halves

    def text(self) -> str:
        """``2027-07-05 to 2027-07-09``; with half days ``2027-07-05 afternoon to
        2027-07-09 morning``; one day: ``2027-07-05``, or ``2027-07-05 morning``."""
        taken = self.half_days()

        def day(one: date) -> str:
            return one.isoformat() + (f" {taken[one].value}" if one in taken else "")

        if self.start == self.end:
            return day(self.start)
        return f"{day(self.start)} to {day(self.end)}"

    def day_fractions(self, calendar: WorkingCalendar) -> dict[date, Decimal]:
        """Each working day in the period with the share of it taken (1 or 0.5)."""
        fractions: dict[date, Decimal] = {}
        for day in days_between(self.start, self.end):
            if not calendar.is_working_day(day):
                continue
            half = (day == self.start and self.half_day_start) or (
                day == self.end and self.half_day_end
            )
            fractions[day] = HALF if half else ONE
        return fractions


def days_text(days: Decimal) -> str:
    """Days as people write them: ``9``, ``9.5`` (never ``9.0``)."""
    return f"{days.normalize():f}"


def round_to_half_days(days: Decimal) -> Decimal:
    return (days * 2).quantize(ONE, rounding=ROUND_HALF_UP) / 2


def entitlement(
    annual_days: Decimal, start_date: date, year: int, end_date: date | None = None
) -> Decimal:
    """The annual leave entitlement for ``year`` of someone employed from ``start_date``
    until ``end_date`` (their last day, when known).

    Someone who joins or leaves during the year gets the share of the year they are
    employed, rounded to half days; someone not employed in the year gets nothing.
    """
    first_day, last_day = date(year, 1, 1), date(year, 12, 31)
    employed_from = max(start_date, first_day)
    employed_until = last_day if end_date is None else min(end_date, last_day)
    if employed_until < employed_from:
        return ZERO
    if start_date < first_day and (end_date is None or end_date > last_day):
        return annual_days
    days_in_year = 366 if stdlib_calendar.isleap(year) else 365
    employed_days = (employed_until - employed_from).days + 1
    return round_to_half_days(annual_days * employed_days / days_in_year)


def first_day_after(days: Iterable[date], last_day: date) -> date | None:
    """The first of ``days`` after ``last_day`` (of employment), or None."""
    return min((day for day in days if day > last_day), default=None)


def days_by_year(fractions: dict[date, Decimal]) -> dict[int, Decimal]:
    """Sum day fractions per leave year (the calendar year)."""
    totals: dict[int, Decimal] = {}
    for day, share in fractions.items():
        totals[day.year] = totals.get(day.year, ZERO) + share
    return totals
