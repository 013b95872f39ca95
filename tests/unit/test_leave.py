"""Counting leave: working-day fractions, half days and the yearly entitlement."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain.calendar import WorkingCalendar
from domain.errors import RuleViolation
from domain.leave import LeavePeriod, LeaveType, days_by_year, entitlement, round_to_half_days
from tests.unit.factories import refused

BAVARIA = WorkingCalendar("DE", "BY")
BERLIN = WorkingCalendar("DE", "BE")
# Monday 16 to Sunday 22 June 2025; Thursday 19 is Corpus Christi in Bavaria only.
CORPUS_CHRISTI_WEEK = (date(2025, 6, 16), date(2025, 6, 22))


def total(fractions: dict[date, Decimal]) -> Decimal:
    return sum(fractions.values(), Decimal(0))


def test_only_annual_leave_draws_on_the_balance_and_only_sick_leave_skips_approval() -> None:
    assert [t.draws_on_balance for t in LeaveType] == [True, False, False]
    assert [t.needs_approval for t in LeaveType] == [True, True, False]


def test_a_week_counts_its_working_days_less_the_regions_holidays() -> None:
    period = LeavePeriod(*CORPUS_CHRISTI_WEEK)

    bavarian_days = period.day_fractions(BAVARIA)

    assert sorted(bavarian_days) == [date(2025, 6, day) for day in (16, 17, 18, 20)]
    assert set(bavarian_days.values()) == {Decimal(1)}
    assert total(period.day_fractions(BERLIN)) == 5


def test_a_half_day_at_the_start_counts_half() -> None:
    fractions = LeavePeriod(*CORPUS_CHRISTI_WEEK, half_day_start=True).day_fractions(BERLIN)

    assert fractions[date(2025, 6, 16)] == Decimal("0.5")
    assert total(fractions) == Decimal("4.5")


def test_half_days_at_both_ends_count_half_each() -> None:
    period = LeavePeriod(date(2025, 6, 16), date(2025, 6, 18), True, True)

    assert period.day_fractions(BERLIN) == {
        date(2025, 6, 16): Decimal("0.5"),
        date(2025, 6, 17): Decimal(1),
        date(2025, 6, 18): Decimal("0.5"),
    }


def test_a_single_half_day_counts_half_a_day() -> None:
    monday = date(2025, 6, 16)

    for start_half, end_half in [(True, False), (False, True)]:
        period = LeavePeriod(monday, monday, start_half, end_half)
        assert period.day_fractions(BERLIN) == {monday: Decimal("0.5")}


def test_a_single_day_cannot_be_both_a_starting_and_an_ending_half_day() -> None:
    monday = date(2025, 6, 16)

    with pytest.raises(RuleViolation) as error:
        LeavePeriod(monday, monday, half_day_start=True, half_day_end=True)

    assert error.value.rule == "half_days_on_one_day"


def test_a_request_longer_than_a_year_is_refused() -> None:
    with pytest.raises(RuleViolation) as error:
        LeavePeriod(date(2030, 1, 1), date(2099, 12, 31))

    assert error.value.rule == "period_too_long"
    assert LeavePeriod(date(2030, 1, 1), date(2030, 12, 31)).end == date(2030, 12, 31)


def test_a_half_day_on_a_weekend_end_date_takes_nothing_off_the_working_days() -> None:
    period = LeavePeriod(*CORPUS_CHRISTI_WEEK, half_day_end=True)

    assert total(period.day_fractions(BERLIN)) == 5


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param(date(2025, 6, 21), date(2025, 6, 22), id="weekend"),
        pytest.param(date(2025, 6, 19), date(2025, 6, 19), id="holiday"),
        pytest.param(date(2025, 1, 4), date(2025, 1, 6), id="weekend-then-epiphany"),
    ],
)
def test_a_period_without_working_days_counts_nothing(start: date, end: date) -> None:
    assert LeavePeriod(start, end).day_fractions(BAVARIA) == {}


def test_a_period_ending_before_it_starts_is_refused() -> None:
    with refused(RuleViolation, "end_before_start"):
        LeavePeriod(date(2025, 6, 20), date(2025, 6, 16))


@pytest.mark.parametrize(
    ("days", "rounded"),
    [
        ("15.08", "15"),
        ("15.24", "15"),
        ("15.25", "15.5"),
        ("15.6", "15.5"),
        ("15.75", "16"),
        ("0.2", "0"),
        ("22", "22"),
    ],
)
def test_days_are_rounded_to_the_nearest_half_day(days: str, rounded: str) -> None:
    assert round_to_half_days(Decimal(days)) == Decimal(rounded)


def test_someone_employed_before_the_year_gets_the_full_entitlement() -> None:
    assert entitlement(Decimal(30), date(2019, 9, 1), 2025) == 30


def test_someone_who_joins_on_the_first_of_january_gets_the_full_entitlement() -> None:
    assert entitlement(Decimal("27.5"), date(2025, 1, 1), 2025) == Decimal("27.5")


def test_someone_not_yet_employed_in_the_year_gets_nothing() -> None:
    assert entitlement(Decimal(30), date(2026, 1, 1), 2025) == 0


@pytest.mark.parametrize(
    ("annual", "joined", "entitled"),
    [
        pytest.param("30", date(2025, 7, 1), "15", id="184-of-365-days-of-30"),
        pytest.param("25", date(2025, 10, 1), "6.5", id="92-of-365-days-of-25-rounds-up"),
        pytest.param("30", date(2025, 12, 31), "0", id="one-day-rounds-to-nothing"),
    ],
)
def test_someone_who_joins_mid_year_gets_a_share_rounded_to_half_days(
    annual: str, joined: date, entitled: str
) -> None:
    assert entitlement(Decimal(annual), joined, joined.year) == Decimal(entitled)


def test_pro_rating_in_a_leap_year_divides_by_366_days() -> None:
    # 306 days employed of 20: 16.77 in 2023 rounds to 17, 16.72 in 2024 to 16.5.
    assert entitlement(Decimal(20), date(2023, 3, 1), 2023) == 17
    assert entitlement(Decimal(20), date(2024, 3, 1), 2024) == Decimal("16.5")


@pytest.mark.parametrize(
    ("annual", "last_day", "entitled"),
    [
        pytest.param("30", date(2025, 6, 30), "15", id="181-of-365-days-of-30"),
        pytest.param("25", date(2025, 3, 31), "6", id="90-of-365-days-of-25"),
        pytest.param("30", date(2025, 1, 1), "0", id="one-day-rounds-to-nothing"),
        pytest.param("27.5", date(2025, 12, 31), "27.5", id="leaving-on-new-years-eve"),
    ],
)
def test_someone_who_leaves_mid_year_gets_a_share_rounded_to_half_days(
    annual: str, last_day: date, entitled: str
) -> None:
    joined = date(2019, 9, 1)

    assert entitlement(Decimal(annual), joined, last_day.year, last_day) == Decimal(entitled)


def test_someone_who_has_left_gets_nothing_in_the_years_after() -> None:
    assert entitlement(Decimal(30), date(2019, 9, 1), 2026, date(2025, 12, 31)) == 0


def test_someone_who_joins_and_leaves_in_one_year_gets_the_share_in_between() -> None:
    # 1 March to 31 August: 184 days of 365, of 25: 12.6 rounds to 12.5.
    assert entitlement(Decimal(25), date(2025, 3, 1), 2025, date(2025, 8, 31)) == Decimal("12.5")


def test_a_later_last_day_leaves_this_years_entitlement_whole() -> None:
    assert entitlement(Decimal(30), date(2019, 9, 1), 2025, date(2026, 3, 31)) == 30


def test_days_are_summed_per_calendar_year() -> None:
    fractions = {
        date(2025, 12, 30): Decimal(1),
        date(2025, 12, 31): Decimal("0.5"),
        date(2026, 1, 2): Decimal(1),
    }

    assert days_by_year(fractions) == {2025: Decimal("1.5"), 2026: Decimal(1)}
