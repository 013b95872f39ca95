"""Working days: weekends and the public holidays of the employee's region."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.calendar import WorkingCalendar, check_region, days_between
from domain.errors import RuleViolation
from tests.unit.factories import refused

BAVARIA = WorkingCalendar("DE", "BY")
BERLIN = WorkingCalendar("DE", "BE")
FRANCE = WorkingCalendar("FR")


def test_weekdays_are_working_days_and_weekends_are_not() -> None:
    week = list(days_between(date(2025, 6, 2), date(2025, 6, 8)))

    assert [BERLIN.is_working_day(day) for day in week] == [True] * 5 + [False] * 2


@pytest.mark.parametrize(
    ("holiday", "bavaria", "berlin"),
    [
        pytest.param(date(2025, 1, 6), False, True, id="epiphany"),
        pytest.param(date(2025, 6, 19), False, True, id="corpus-christi"),
        pytest.param(date(2024, 3, 8), True, False, id="international-womens-day"),
        pytest.param(date(2025, 10, 3), False, False, id="german-unity-day"),
    ],
)
def test_german_holidays_depend_on_the_state(holiday: date, bavaria: bool, berlin: bool) -> None:
    assert BAVARIA.is_working_day(holiday) is bavaria
    assert BERLIN.is_working_day(holiday) is berlin


@pytest.mark.parametrize(
    ("day", "in_france", "in_germany"),
    [
        pytest.param(date(2025, 7, 14), False, True, id="bastille-day"),
        pytest.param(date(2025, 11, 11), False, True, id="armistice-day"),
        pytest.param(date(2025, 4, 18), True, False, id="good-friday"),
    ],
)
def test_holidays_depend_on_the_country(day: date, in_france: bool, in_germany: bool) -> None:
    assert FRANCE.is_working_day(day) is in_france
    assert BERLIN.is_working_day(day) is in_germany


def test_two_business_days_after_a_friday_is_the_tuesday_at_the_same_time() -> None:
    friday = datetime(2025, 6, 13, 16, 30, tzinfo=UTC)

    assert BERLIN.add_business_days(friday, 2) == datetime(2025, 6, 17, 16, 30, tzinfo=UTC)


def test_business_days_skip_the_regions_public_holidays() -> None:
    wednesday_before_corpus_christi = datetime(2025, 6, 18, 9, tzinfo=UTC)

    assert BAVARIA.add_business_days(wednesday_before_corpus_christi, 2).date() == date(2025, 6, 23)
    assert BERLIN.add_business_days(wednesday_before_corpus_christi, 2).date() == date(2025, 6, 20)


def test_business_days_over_easter_follow_each_countrys_holidays() -> None:
    maundy_thursday = datetime(2025, 4, 17, 9, tzinfo=UTC)

    assert BERLIN.add_business_days(maundy_thursday, 2).date() == date(2025, 4, 23)
    assert FRANCE.add_business_days(maundy_thursday, 2).date() == date(2025, 4, 22)


def test_business_days_counted_from_a_weekend_start_on_monday() -> None:
    saturday = datetime(2025, 6, 14, 9, tzinfo=UTC)

    assert BERLIN.add_business_days(saturday, 2).date() == date(2025, 6, 17)


def test_days_between_includes_both_ends() -> None:
    assert list(days_between(date(2025, 12, 30), date(2026, 1, 1))) == [
        date(2025, 12, 30),
        date(2025, 12, 31),
        date(2026, 1, 1),
    ]
    assert list(days_between(date(2025, 6, 2), date(2025, 6, 2))) == [date(2025, 6, 2)]


@pytest.mark.parametrize(
    ("country", "subdivision"), [("DE", "BY"), ("DE", None), ("FR", None), ("US", "CA")]
)
def test_known_regions_are_accepted(country: str, subdivision: str | None) -> None:
    check_region(country, subdivision)


@pytest.mark.parametrize(("country", "subdivision"), [("XX", None), ("XX", "BY"), ("de", None)])
def test_an_unknown_country_is_refused(country: str, subdivision: str | None) -> None:
    with refused(RuleViolation, "unknown_country"):
        check_region(country, subdivision)


def test_an_unknown_subdivision_of_a_known_country_is_refused_as_such() -> None:
    with refused(RuleViolation, "unknown_subdivision"):
        check_region("DE", "XX")
