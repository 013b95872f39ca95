"""The leave account: overlaps, the yearly balance, and giving days back."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

import pytest

from domain.employee import EmployeeProfile
from domain.errors import Conflict, RuleViolation
from domain.leave import Half, LeavePeriod, LeaveType
from domain.leave_account import Balance, LeaveAccount
from domain.meta import Meta
from tests.unit.factories import data, meta, names, profile, refused

ADA = profile("ada")


def days(
    start: date,
    end: date | None = None,
    *,
    half_day_start: bool = False,
    half_day_end: bool = False,
) -> LeavePeriod:
    return LeavePeriod(start, end or start, half_day_start, half_day_end)


def account_of(who: EmployeeProfile = ADA) -> LeaveAccount:
    account = LeaveAccount(who.employee_id, meta(who.employee_id))
    account.collect_events()
    return account


def reserve(
    account: LeaveAccount,
    case_id: str,
    period: LeavePeriod,
    leave_type: LeaveType = LeaveType.ANNUAL,
    who: EmployeeProfile = ADA,
    command: Meta | None = None,
) -> None:
    fractions = period.day_fractions(who.calendar)
    command = command or meta(who.employee_id)
    account.reserve(case_id, leave_type, fractions, who, command, halves=period.half_days())


def test_reserving_annual_leave_holds_its_working_days_as_pending() -> None:
    account = LeaveAccount("ada", meta("ada", "submit-1"))

    reserve(account, "case-1", days(date(2025, 6, 16), date(2025, 6, 20)))

    events = account.collect_events()
    assert names(events) == ["Opened", "Reserved"]
    reserved = data(events[1])
    assert reserved["case_id"] == "case-1"
    assert reserved["leave_type"] == "annual"
    assert reserved["approved"] is False
    assert reserved["days"] == {f"2025-06-{day}": Decimal(1) for day in (16, 17, 18, 20)}
    assert account.balance(ADA, 2025) == Balance(Decimal(30), Decimal(0), Decimal(4))


def test_confirming_a_reservation_turns_pending_days_into_approved_days() -> None:
    account = account_of()
    reserve(account, "case-1", days(date(2025, 6, 16), date(2025, 6, 20)))

    account.confirm("case-1", meta("mia"))

    assert names(account.collect_events()) == ["Reserved", "Confirmed"]
    assert account.balance(ADA, 2025) == Balance(Decimal(30), Decimal(4), Decimal(0))


@pytest.mark.parametrize("approved", [False, True])
def test_releasing_a_reservation_gives_its_days_back(approved: bool) -> None:
    account = account_of()
    reserve(account, "case-1", days(date(2025, 6, 16), date(2025, 6, 20)))
    if approved:
        account.confirm("case-1", meta("mia"))
    account.collect_events()

    account.release("case-1", "cancelled", meta("ada"))

    events = account.collect_events()
    assert names(events) == ["Released"]
    assert data(events[0])["reason"] == "cancelled"
    assert account.balance(ADA, 2025).remaining == 30
    assert account.held_on(date(2025, 6, 16)) == 0


def test_releasing_a_request_the_account_does_not_hold_records_nothing() -> None:
    account = account_of()

    account.release("no-such-case", "withdrawn", meta("ada"))

    assert account.collect_events() == []


@pytest.mark.parametrize("approved", [False, True])
def test_a_request_overlapping_a_pending_or_approved_one_is_refused(approved: bool) -> None:
    account = account_of()
    reserve(account, "case-1", days(date(2025, 6, 16), date(2025, 6, 20)))
    if approved:
        account.confirm("case-1", meta("mia"))
    account.collect_events()

    with refused(Conflict, "overlap"):
        reserve(account, "case-2", days(date(2025, 6, 20), date(2025, 6, 24)))

    assert account.collect_events() == []
    assert list(account.bookings) == ["case-1"]


def test_days_given_back_can_be_requested_again() -> None:
    account = account_of()
    reserve(account, "case-1", days(date(2025, 6, 16)))
    account.release("case-1", "rejected", meta("mia"))

    reserve(account, "case-2", days(date(2025, 6, 16)))

    assert list(account.bookings) == ["case-2"]


def test_the_morning_and_the_afternoon_of_a_date_may_be_taken_but_nothing_more() -> None:
    account = account_of()
    monday = date(2025, 6, 16)
    reserve(account, "afternoon", days(monday, half_day_start=True))
    reserve(account, "morning", days(monday, half_day_end=True), LeaveType.UNPAID)

    with refused(Conflict, "overlap"):
        reserve(account, "evening", days(monday, half_day_start=True))

    assert account.held_on(monday) == 1


@pytest.mark.parametrize("afternoon", [False, True], ids=["morning", "afternoon"])
def test_the_same_half_of_a_date_cannot_be_taken_twice(afternoon: bool) -> None:
    account = account_of()
    monday = date(2025, 6, 16)
    half = days(monday, half_day_start=afternoon, half_day_end=not afternoon)
    reserve(account, "first", half)

    with refused(Conflict, "overlap"):
        reserve(account, "second", half)

    assert list(account.bookings) == ["first"]


def test_the_half_days_of_a_longer_request_clash_only_with_their_own_halves() -> None:
    account = account_of()
    monday, tuesday = date(2025, 6, 16), date(2025, 6, 17)
    reserve(
        account,
        "monday-pm-to-tuesday-am",
        days(monday, tuesday, half_day_start=True, half_day_end=True),
    )

    reserve(account, "monday-am", days(monday, half_day_end=True))
    reserve(account, "tuesday-pm", days(tuesday, half_day_start=True))
    with refused(Conflict, "overlap"):
        reserve(account, "tuesday-am", days(tuesday, half_day_end=True))


def test_a_half_day_reserved_before_halves_were_recorded_clashes_only_by_its_share() -> None:
    account = account_of()
    monday = date(2025, 6, 16)
    # As stored before the half was recorded: the event has no ``halves``.
    recorded = object.__new__(cast(Any, LeaveAccount).Reserved)  # made by @event
    recorded.__dict__.update(
        originator_id=account.id,
        originator_version=account.version + 1,
        timestamp=datetime.now(UTC),
        case_id="older",
        leave_type="annual",
        days={monday.isoformat(): Decimal("0.5")},
        approved=False,
        meta=meta("ada"),
    )
    recorded.mutate(account)

    reserve(account, "other-half", days(monday, half_day_end=True))
    with refused(Conflict, "overlap"):
        reserve(account, "third", days(monday, half_day_start=True))
    assert account.bookings["older"].halves == {}


def test_a_half_day_on_a_date_already_taken_in_full_is_refused() -> None:
    account = account_of()
    reserve(account, "case-1", days(date(2025, 6, 16), date(2025, 6, 18)))

    with refused(Conflict, "overlap"):
        reserve(account, "case-2", days(date(2025, 6, 18), half_day_start=True))


def test_sick_leave_is_held_as_approved_without_drawing_on_the_balance() -> None:
    account = account_of()

    reserve(account, "sick", days(date(2025, 6, 16), date(2025, 6, 17)), LeaveType.SICK)

    assert account.bookings["sick"].approved is True
    assert account.balance(ADA, 2025).remaining == 30
    with refused(Conflict, "overlap"):
        reserve(account, "annual", days(date(2025, 6, 17)))


def test_unpaid_leave_waits_for_approval_without_drawing_on_the_balance() -> None:
    account = account_of()

    reserve(account, "unpaid", days(date(2025, 6, 2), date(2025, 6, 27)), LeaveType.UNPAID)

    assert account.bookings["unpaid"].approved is False
    assert account.balance(ADA, 2025) == Balance(Decimal(30), Decimal(0), Decimal(0))


def test_a_request_of_no_working_day_is_refused() -> None:
    account = account_of()

    with refused(RuleViolation, "zero_working_days"):
        reserve(account, "weekend", days(date(2025, 6, 21), date(2025, 6, 22)))

    assert account.collect_events() == []


def test_annual_leave_beyond_the_remaining_balance_is_refused_counting_pending_days() -> None:
    ten = profile(annual_leave_days="10")
    account = account_of(ten)
    reserve(account, "first", days(date(2025, 6, 2), date(2025, 6, 6)), who=ten)

    with refused(RuleViolation, "insufficient_balance"):
        reserve(account, "second", days(date(2025, 6, 23), date(2025, 6, 30)), who=ten)
    reserve(account, "third", days(date(2025, 6, 23), date(2025, 6, 27)), who=ten)

    assert account.balance(ten, 2025) == Balance(Decimal(10), Decimal(0), Decimal(10))


def test_a_request_spanning_new_year_draws_each_part_from_its_own_year() -> None:
    three_days = profile(annual_leave_days="3")
    account = account_of(three_days)
    # Mon 29, Tue 30, Wed 31 December 2025 and Fri 2 January 2026 (1 January is a holiday).
    reserve(account, "new-year", days(date(2025, 12, 29), date(2026, 1, 2)), who=three_days)

    assert account.balance(three_days, 2025) == Balance(Decimal(3), Decimal(0), Decimal(3))
    assert account.balance(three_days, 2026) == Balance(Decimal(3), Decimal(0), Decimal(1))


def test_the_refusal_counts_days_as_people_write_them() -> None:
    ten = profile(annual_leave_days="10")
    account = account_of(ten)
    reserve(account, "morning", days(date(2025, 6, 2), half_day_end=True), who=ten)
    reserve(account, "afternoon", days(date(2025, 6, 2), half_day_start=True), who=ten)

    with pytest.raises(RuleViolation) as caught:
        reserve(account, "ten", days(date(2025, 7, 7), date(2025, 7, 18)), who=ten)
    with pytest.raises(RuleViolation) as rounded:
        reserve(
            account, "nine", days(date(2025, 7, 7), date(2025, 7, 18), half_day_end=True), who=ten
        )

    assert str(caught.value) == "10 days asked in 2025, only 9 remaining"
    assert str(rounded.value) == "9.5 days asked in 2025, only 9 remaining"


def test_a_request_spanning_new_year_is_refused_when_one_year_runs_short() -> None:
    three_days = profile(annual_leave_days="3")
    account = account_of(three_days)
    reserve(account, "earlier", days(date(2025, 6, 16)), who=three_days)

    with refused(RuleViolation, "insufficient_balance"):
        reserve(account, "new-year", days(date(2025, 12, 29), date(2026, 1, 2)), who=three_days)

    assert list(account.bookings) == ["earlier"]


def test_someone_who_joined_mid_year_can_take_only_the_pro_rated_entitlement() -> None:
    nina = profile("nina", start_date=date(2025, 7, 1))  # 15 of 30 days in 2025
    account = account_of(nina)
    three_weeks = days(date(2025, 9, 1), date(2025, 9, 19))  # 15 days

    with refused(RuleViolation, "insufficient_balance"):
        reserve(account, "too-many", days(date(2025, 9, 1), date(2025, 9, 22)), who=nina)
    reserve(account, "fits", three_weeks, who=nina)

    assert account.balance(nina, 2025) == Balance(Decimal(15), Decimal(0), Decimal(15))
    assert account.balance(nina, 2026).remaining == 30


def test_someone_leaving_mid_year_can_take_only_the_pro_rated_entitlement() -> None:
    leaving = profile("ada", end_date=date(2025, 6, 30))  # 15 of 30 days in 2025

    account = account_of(leaving)

    assert account.balance(leaving, 2025) == Balance(Decimal(15), Decimal(0), Decimal(0))
    assert account.balance(leaving, 2026).entitled == 0
    with refused(RuleViolation, "insufficient_balance"):
        reserve(account, "too-many", days(date(2025, 3, 3), date(2025, 3, 24)), who=leaving)


def test_a_refusal_after_a_last_day_cut_the_entitlement_below_what_is_held_says_so() -> None:
    staying = profile("ada")
    account = account_of(staying)
    reserve(account, "spring", days(date(2025, 3, 3), date(2025, 3, 21)), who=staying)  # 15
    reserve(account, "may", days(date(2025, 5, 5), date(2025, 5, 9)), who=staying)  # 5
    leaving = profile("ada", end_date=date(2025, 6, 30))  # 15 of 30 days in 2025

    with pytest.raises(RuleViolation) as caught:
        reserve(account, "june", days(date(2025, 6, 2)), who=leaving)

    assert caught.value.rule == "insufficient_balance"
    assert str(caught.value) == (
        "1 day asked in 2025, none remaining: 20 days are held (pending or approved),"
        " 5 more than the 15 entitled in 2025"
    )


def test_leave_after_the_last_day_of_employment_is_refused_naming_that_day() -> None:
    leaving = profile("ada", end_date=date(2025, 6, 18))  # a Wednesday
    account = account_of(leaving)

    with pytest.raises(RuleViolation) as caught:
        reserve(account, "too-late", days(date(2025, 6, 16), date(2025, 6, 20)), who=leaving)

    assert caught.value.rule == "after_employment_ends"
    assert str(caught.value) == (
        "ada's last day of employment is 2025-06-18: leave can only be asked for up to"
        " that day, and this asks for 2025-06-20"
    )
    assert account.bookings == {}


def test_leave_before_the_first_day_of_employment_is_refused_naming_that_day() -> None:
    joining = profile("ada", start_date=date(2025, 6, 18))  # a Wednesday
    account = account_of(joining)

    with pytest.raises(RuleViolation) as caught:
        reserve(account, "too-early", days(date(2025, 6, 16), date(2025, 6, 20)), who=joining)

    assert caught.value.rule == "before_employment_starts"
    assert str(caught.value) == (
        "ada's first day of employment is 2025-06-18: leave can only be asked for from"
        " that day, and this asks for 2025-06-16"
    )
    assert account.bookings == {}
    reserve(account, "from-day-one", days(date(2025, 6, 18), date(2025, 6, 20)), who=joining)


def test_leave_up_to_the_last_day_of_employment_is_accepted() -> None:
    leaving = profile("ada", end_date=date(2025, 6, 20))  # a Friday: the weekend takes nothing
    account = account_of(leaving)

    reserve(account, "last-week", days(date(2025, 6, 16), date(2025, 6, 22)), who=leaving)

    assert list(account.bookings) == ["last-week"]


def test_sick_leave_after_the_last_day_of_employment_is_refused_too() -> None:
    leaving = profile("ada", end_date=date(2025, 6, 18))

    reserve(account_of(leaving), "sick", days(date(2025, 6, 16)), LeaveType.SICK, who=leaving)
    with refused(RuleViolation, "after_employment_ends"):
        reserve(account_of(leaving), "sick", days(date(2025, 6, 20)), LeaveType.SICK, who=leaving)


def test_repeating_a_reservation_command_records_it_once() -> None:
    account = account_of()
    command = meta("ada", "submit-1")

    for _ in range(2):
        reserve(account, "case-1", days(date(2025, 6, 16)), command=command)

    assert names(account.collect_events()) == ["Reserved"]


def test_shortening_a_booking_to_noon_gives_back_the_afternoon_of_its_new_last_day() -> None:
    account = account_of()
    reserve(account, "case-1", days(date(2025, 6, 16), date(2025, 6, 18)))
    account.confirm("case-1", meta("mia"))
    account.collect_events()

    account.shorten("case-1", date(2025, 6, 17), meta("ada"), half_day_end=True)
    account.shorten("case-1", date(2025, 6, 17), meta("ada", "again"), half_day_end=True)

    events = account.collect_events()
    assert names(events) == ["Shortened"]
    assert (data(events[0])["last_day"], data(events[0])["half_day_end"]) == (
        date(2025, 6, 17),
        True,
    )
    assert data(events[0])["released"] == {"2025-06-17": Decimal("0.5"), "2025-06-18": Decimal(1)}
    assert account.balance(ADA, 2025) == Balance(Decimal(30), Decimal("1.5"), Decimal(0))
    assert account.held_on(date(2025, 6, 17)) == Decimal("0.5")
    assert account.bookings["case-1"].halves == {date(2025, 6, 17): Half.MORNING}
    with refused(Conflict, "overlap"):  # the morning is still held
        reserve(account, "case-2", days(date(2025, 6, 17), half_day_end=True))
    reserve(account, "case-3", days(date(2025, 6, 17), half_day_start=True))  # the afternoon


def test_a_booking_ended_at_noon_on_a_day_it_holds_only_half_of_gives_back_only_what_follows() -> (
    None
):
    account = account_of()
    reserve(account, "case-1", days(date(2025, 6, 16), date(2025, 6, 18), half_day_end=True))
    account.collect_events()

    account.shorten("case-1", date(2025, 6, 18), meta("ada"), half_day_end=True)

    assert account.collect_events() == []
    assert account.held_on(date(2025, 6, 18)) == Decimal("0.5")


def test_shortening_a_booking_gives_back_the_days_after_its_new_last_day() -> None:
    account = account_of()
    reserve(account, "case-1", days(date(2025, 6, 16), date(2025, 6, 20), half_day_end=True))
    account.confirm("case-1", meta("mia"))
    account.collect_events()

    account.shorten("case-1", date(2025, 6, 17), meta("ada"))
    account.shorten("case-1", date(2025, 6, 17), meta("ada", "again"))  # nothing left after

    events = account.collect_events()
    assert names(events) == ["Shortened"]
    assert data(events[0])["last_day"] == date(2025, 6, 17)
    assert data(events[0])["released"] == {"2025-06-18": Decimal(1), "2025-06-20": Decimal("0.5")}
    assert account.balance(ADA, 2025) == Balance(Decimal(30), Decimal(2), Decimal(0))
    assert account.held_on(date(2025, 6, 18)) == 0
    assert account.bookings["case-1"].halves == {}  # the half day was after it
    reserve(account, "case-2", days(date(2025, 6, 18), date(2025, 6, 20)))  # free again
