"""Working days: weekends and the public holidays of a country and region."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

import holidays

from domain.errors import RuleViolation


@lru_cache(maxsize=512)
def _public_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


def check_region(country: str, subdivision: str | None) -> None:
    """Refuse a country or region the holiday tables do not know."""
    # The holiday tables raise the same NotImplementedError for an unknown
    # country and an unknown subdivision, so ask about the country alone first.
    try:
        holidays.country_holidays(country, years=2000)
    except NotImplementedError as error:
        raise RuleViolation("unknown_country", f"unknown country {country!r}") from error
    if subdivision is None:
        return
    try:
        holidays.country_holidays(country, subdiv=subdivision, years=2000)
    except NotImplementedError as error:
        raise RuleViolation(
            "unknown_subdivision", f"unknown subdivision {subdivision!r} of {country}"
        ) from error


def days_between(first: date, last: date) -> Iterator[date]:
    """Every calendar day from ``first`` to ``last``, both included."""
    for offset in range((last - first).days + 1):
        yield first + timedelta(days=offset)


@dataclass(frozen=True)
class WorkingCalendar:
    """Monday to Friday, less the public holidays of ``country`` / ``subdivision``."""

    country: str
    subdivision: str | None = None

    def is_working_day(self, day: date) -> bool:
        if day.weekday() >= 5:
            return False
        return day not in _public_holidays(self.country, self.subdivision, day.year)

    def add_business_days(self, moment: datetime, count: int) -> datetime:
        """The same time of day ``count`` working days after ``moment``."""
        result = moment
        remaining = count
        while remaining > 0:
            result += timedelta(days=1)
            if self.is_working_day(result.date()):
                remaining -= 1
        return result
