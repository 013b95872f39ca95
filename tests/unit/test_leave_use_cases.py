"""Leave requests through the application, on an in-memory store.

The organisation (``factories.organisation``): Carl runs the company, Mia
manages everyone else. Ada (30 days) is in Bavaria, Ben in Berlin, Chloe
(25 days) in France, Nina (Bavaria) joined on 1 July 2025.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from domain.base import IdempotentAggregate
from domain.case import Decision, TaskDeciders
from domain.errors import Conflict, NotAllowed, NotFound, RuleViolation
from domain.leave import LeavePeriod, LeaveType
from domain.leave_account import Balance, LeaveAccount
from domain.leave_request import LeaveStatus
from domain.organisation import OrganisationChart
from services.application import Saved
from tests.unit.factories import (
    MONDAY_MORNING,
    LeaveDesk,
    data,
    meta,
    names,
    only_task,
    profile,
    refused,
)

# Monday 16 to Friday 20 June 2025; Thursday 19 is Corpus Christi in Bavaria only.
MONDAY, FRIDAY = date(2025, 6, 16), date(2025, 6, 20)


def instant_of(event: object) -> datetime:
    assert isinstance(event, IdempotentAggregate.Event)
    return event.timestamp


def stamps(desk: LeaveDesk, aggregate_id: UUID) -> list[datetime]:
    return [instant_of(event) for event in desk.app.events.get(aggregate_id)]


def account_events(desk: LeaveDesk, employee_id: str) -> list[str]:
    return desk.event_names(LeaveAccount.create_id(employee_id))


# -- who asks ------------------------------------------------------------------------


def submit_for(desk: LeaveDesk, actor: str, reason: str | None, *, by_hr: bool) -> Saved:
    """``actor`` asks for Ada's sick leave on Monday; Ben holds the hr role."""
    desk.app.set_role_members("hr", ["ben"], meta("admin"))
    return desk.app.submit_leave_request(
        uuid4(),
        "ada",
        LeaveType.SICK,
        LeavePeriod(MONDAY, MONDAY),
        reason,
        meta(actor),
        by_hr=by_hr,
    )


def test_hr_asks_for_someones_leave_saying_why_and_it_is_theirs(desk: LeaveDesk) -> None:
    saved = submit_for(desk, "ben", "phoned in sick", by_hr=True)

    request = saved.case
    assert (request.requester_id, request.status, request.reason) == (
        "ada",
        LeaveStatus.RECORDED,
        "phoned in sick",
    )
    submitted = next(iter(desk.app.events.get(request.id)))
    assert isinstance(submitted, IdempotentAggregate.Event)
    assert (submitted.meta.actor, data(submitted)["requester_id"]) == ("ben", "ada")
    account = desk.app.leave_account("ada")
    assert account is not None and str(request.id) in account.bookings


def test_only_hr_may_ask_for_someone_elses_leave(desk: LeaveDesk) -> None:
    with refused(NotAllowed, "only_for_yourself"):
        submit_for(desk, "mia", "she is ill", by_hr=False)
    assert desk.app.leave_account("ada") is None


def test_a_claim_to_ask_as_hr_is_checked_against_the_directory(desk: LeaveDesk) -> None:
    with refused(NotAllowed, "not_hr"):
        submit_for(desk, "mia", "she is ill", by_hr=True)
    assert desk.app.leave_account("ada") is None


def test_hr_must_say_why_they_ask_for_someones_leave(desk: LeaveDesk) -> None:
    with refused(RuleViolation, "reason_required"):
        submit_for(desk, "ben", " ", by_hr=True)


def test_leave_hr_asked_for_is_put_to_the_manager_above_the_one_who_asked(
    desk: LeaveDesk,
) -> None:
    """Mia holds hr and manages Ada: what she asks for Ada is decided by Carl, above her,
    as nobody decides what they asked for themselves."""
    desk.app.set_role_members("hr", ["mia"], meta("admin"))
    asked = desk.app.submit_leave_request(
        uuid4(), "ada", LeaveType.ANNUAL, LeavePeriod(MONDAY, MONDAY), "agreed", meta("mia"),
        by_hr=True,
    )  # fmt: skip

    opened = desk.open_task(asked.case.id)

    assert only_task(opened.case).assignees == ["carl"]
    assert opened.case.asked_by == "mia"


def test_a_task_hr_asked_for_is_never_sent_up_to_the_one_who_asked(desk: LeaveDesk) -> None:
    """Carl holds hr and asks for Ada's leave: Mia, Ada's manager, decides it; overdue,
    it would go up to Carl, who asked, so it stays with her."""
    desk.app.set_role_members("hr", ["carl"], meta("admin"))
    asked = desk.app.submit_leave_request(
        uuid4(), "ada", LeaveType.ANNUAL, LeavePeriod(MONDAY, MONDAY), "agreed", meta("carl"),
        by_hr=True,
    )  # fmt: skip
    desk.open_task(asked.case.id)
    task = only_task(desk.app.leave_request(asked.case.id))

    escalated = desk.app.escalate_approval_task(
        asked.case.id, task.task_id, MONDAY_MORNING + timedelta(days=3), meta("system")
    )

    assert (task.assignees, only_task(escalated.case).escalated_to) == (["mia"], [])


def test_leave_only_the_hr_who_asks_could_approve_is_refused_naming_why(desk: LeaveDesk) -> None:
    desk.app.set_role_members("hr", ["carl"], meta("admin"))

    with refused(RuleViolation, "no_approver"):
        desk.app.submit_leave_request(
            uuid4(), "mia", LeaveType.ANNUAL, LeavePeriod(MONDAY, MONDAY), "agreed",
            meta("carl"), by_hr=True,
        )  # fmt: skip
    assert desk.app.leave_account("mia") is None


def test_hr_asking_for_their_own_leave_asks_as_anyone(desk: LeaveDesk) -> None:
    saved = desk.app.submit_leave_request(
        uuid4(), "ada", LeaveType.SICK, LeavePeriod(MONDAY, MONDAY), None, meta("ada"), by_hr=True
    )

    assert saved.case.requester_id == "ada"


# -- counting the days ----------------------------------------------------------------


def test_the_same_week_counts_the_holidays_of_each_employees_region(desk: LeaveDesk) -> None:
    ada = desk.submit("ada", MONDAY, FRIDAY).case
    ben = desk.submit("ben", MONDAY, FRIDAY).case
    chloe = desk.submit("chloe", date(2025, 7, 14), date(2025, 7, 18)).case  # Bastille Day

    assert [ada.working_days, ben.working_days, chloe.working_days] == [4, 5, 4]
    assert "2025-06-19" not in ada.days
    assert desk.app.leave_balance("ada", 2025) == Balance(Decimal(30), Decimal(0), Decimal(4))
    assert desk.remaining("chloe") == 21


def test_submitting_records_the_request_and_holds_its_days_together(desk: LeaveDesk) -> None:
    saved = desk.submit("ada", MONDAY, FRIDAY)

    assert saved.case.status is LeaveStatus.PENDING
    assert desk.event_names(saved.case.id) == ["Submitted"]
    assert account_events(desk, "ada") == ["Opened", "Reserved"]
    assert saved.position == desk.position


def test_the_events_one_command_saves_carry_one_instant(desk: LeaveDesk) -> None:
    """So that an instant (the auditors' "as of") never shows half of what was saved
    together: the request without the days it holds, or the other way round."""
    case = desk.submit("ada", MONDAY, FRIDAY).case
    desk.submit("ben", MONDAY, FRIDAY)

    [submitted] = stamps(desk, case.id)
    opened, reserved = stamps(desk, LeaveAccount.create_id("ada"))
    [next_opened, _] = stamps(desk, LeaveAccount.create_id("ben"))
    assert submitted == opened == reserved
    assert next_opened > submitted


def test_every_event_of_one_load_of_the_organisation_carries_one_instant(
    desk: LeaveDesk,
) -> None:
    notifications = desk.app.recorder.select_notifications(start=1, limit=1000)
    instants = {instant_of(desk.app.mapper.to_domain_event(each)) for each in notifications}

    assert len(instants) == 1  # the desk's organisation, loaded at once


def test_half_days_at_the_start_and_end_count_half(desk: LeaveDesk) -> None:
    case = desk.submit("ada", MONDAY, date(2025, 6, 18), half_day_start=True, half_day_end=True)

    assert case.case.working_days == 2
    assert desk.remaining("ada") == 28


def test_a_request_on_a_regional_holiday_only_is_refused_and_nothing_recorded(
    desk: LeaveDesk,
) -> None:
    epiphany = date(2025, 1, 6)
    before = desk.position

    with refused(RuleViolation, "zero_working_days"):
        desk.submit("ada", epiphany)

    assert desk.position == before
    assert desk.submit("ben", epiphany).case.working_days == 1


# -- overlaps -------------------------------------------------------------------------


def test_a_request_overlapping_a_pending_one_is_refused_and_nothing_recorded(
    desk: LeaveDesk,
) -> None:
    desk.submit("ada", MONDAY, FRIDAY)
    before = desk.position

    with refused(Conflict, "overlap"):
        desk.submit("ada", FRIDAY, date(2025, 6, 24))

    assert desk.position == before
    assert desk.remaining("ada") == 26


def test_a_request_overlapping_approved_leave_is_refused(desk: LeaveDesk) -> None:
    desk.approved("ada", MONDAY, FRIDAY)

    with refused(Conflict, "overlap"):
        desk.submit("ada", MONDAY, leave_type=LeaveType.UNPAID)


def test_another_employees_leave_on_the_same_days_does_not_overlap(desk: LeaveDesk) -> None:
    desk.submit("ada", MONDAY, FRIDAY)

    assert desk.submit("ben", MONDAY, FRIDAY).case.status is LeaveStatus.PENDING


def test_the_approvers_task_title_says_which_half_of_a_half_day(desk: LeaveDesk) -> None:
    case_id = desk.submit("ada", MONDAY, date(2025, 6, 18), half_day_start=True).case.id

    opened = desk.open_task(case_id)

    assert only_task(opened.case).title == (
        "Ada: annual leave 2025-06-16 afternoon to 2025-06-18 (2.5 days)"
    )


def test_two_half_days_on_the_same_date_are_accepted(desk: LeaveDesk) -> None:
    desk.submit("ada", MONDAY, half_day_start=True)
    desk.submit("ada", MONDAY, half_day_end=True, leave_type=LeaveType.UNPAID)

    with refused(Conflict, "overlap"):
        desk.submit("ada", MONDAY, half_day_start=True)
    assert desk.app.leave_balance("ada", 2025).pending == Decimal("0.5")


def test_the_same_half_day_asked_twice_is_refused_and_nothing_recorded(desk: LeaveDesk) -> None:
    desk.submit("ada", MONDAY, half_day_end=True)  # the morning
    before = desk.position

    with refused(Conflict, "overlap"):
        desk.submit("ada", MONDAY, half_day_end=True)

    assert desk.position == before
    assert desk.app.leave_balance("ada", 2025).pending == Decimal("0.5")


def test_the_days_of_a_rejected_request_can_be_requested_again(desk: LeaveDesk) -> None:
    case_id = desk.submit("ada", MONDAY, FRIDAY).case.id
    desk.open_task(case_id)
    desk.decide(case_id, "mia", Decision.REJECT)

    assert desk.submit("ada", MONDAY, FRIDAY).case.status is LeaveStatus.PENDING


# -- the balance ----------------------------------------------------------------------


def test_annual_leave_beyond_the_remaining_balance_is_refused(desk: LeaveDesk) -> None:
    desk.submit("chloe", date(2025, 9, 1), date(2025, 10, 3))  # all of her 25 days
    before = desk.position

    with refused(RuleViolation, "insufficient_balance"):
        desk.submit("chloe", date(2025, 10, 6))

    assert desk.position == before
    assert desk.submit("chloe", date(2025, 10, 6), leave_type=LeaveType.UNPAID).case.id


def test_someone_who_joined_mid_year_is_entitled_to_a_pro_rated_share(desk: LeaveDesk) -> None:
    assert desk.app.leave_balance("nina", 2025).entitled == 15  # 184 days of 365, of 30
    assert desk.app.leave_balance("nina", 2026).entitled == 30
    assert desk.app.leave_balance("nina", 2024).entitled == 0


def test_someone_leaving_is_entitled_to_a_pro_rated_share_and_nothing_after(
    desk: LeaveDesk,
) -> None:
    desk.app.put_employee(profile("ada", end_date=date(2025, 6, 30)), meta("admin"))

    assert desk.app.leave_balance("ada", 2025).entitled == 15  # 181 days of 365, of 30
    assert desk.app.leave_balance("ada", 2026).entitled == 0


def test_a_request_spanning_new_year_draws_each_part_from_its_own_year(desk: LeaveDesk) -> None:
    desk.submit("ada", date(2025, 12, 29), date(2026, 1, 2))  # 1 January is a holiday

    assert desk.app.leave_balance("ada", 2025).pending == 3
    assert desk.app.leave_balance("ada", 2026).pending == 1


def test_a_request_spanning_new_year_is_refused_when_the_old_year_is_used_up(
    desk: LeaveDesk,
) -> None:
    desk.approved("nina", date(2025, 12, 1), date(2025, 12, 19))  # her 15 days of 2025

    with refused(RuleViolation, "insufficient_balance"):
        desk.submit("nina", date(2025, 12, 29), date(2026, 1, 2))
    desk.submit("nina", date(2026, 1, 2))

    assert desk.remaining("nina", 2025) == 0
    assert desk.app.leave_balance("nina", 2026).pending == 1


def test_unpaid_leave_needs_approval_but_leaves_the_balance_alone(desk: LeaveDesk) -> None:
    saved = desk.submit("ada", MONDAY, FRIDAY, LeaveType.UNPAID)
    desk.open_task(saved.case.id)

    decided = desk.decide(saved.case.id, "mia")

    assert decided.case.status is LeaveStatus.APPROVED
    assert desk.remaining("ada") == 30


# -- the end of employment --------------------------------------------------------------


def test_leave_after_the_last_day_of_employment_is_refused_and_nothing_recorded(
    desk: LeaveDesk,
) -> None:
    desk.app.put_employee(profile("ada", end_date=date(2025, 6, 17)), meta("admin"))
    before = desk.position

    with refused(RuleViolation, "after_employment_ends"):
        desk.submit("ada", MONDAY, FRIDAY)

    assert desk.position == before
    assert desk.submit("ada", MONDAY, date(2025, 6, 17)).case.status is LeaveStatus.PENDING


def test_a_pending_request_past_a_last_day_set_later_can_only_be_rejected(
    desk: LeaveDesk,
) -> None:
    case_id = desk.submit("ada", MONDAY, FRIDAY).case.id
    desk.open_task(case_id)
    desk.app.put_employee(profile("ada", end_date=date(2025, 6, 17)), meta("admin"))
    before = desk.position

    with refused(RuleViolation, "after_employment_ends"):
        desk.decide(case_id, "mia")

    assert desk.position == before
    assert desk.app.leave_request(case_id).status is LeaveStatus.PENDING
    assert desk.decide(case_id, "mia", Decision.REJECT).case.status is LeaveStatus.REJECTED
    assert account_events(desk, "ada")[-1] == "Released"


# -- sick leave -----------------------------------------------------------------------


def test_sick_leave_is_recorded_without_approval_and_the_manager_informed(
    desk: LeaveDesk,
) -> None:
    saved = desk.submit("ada", MONDAY, FRIDAY, LeaveType.SICK)

    assert saved.case.status is LeaveStatus.RECORDED
    assert saved.case.tasks == {}
    assert desk.event_names(saved.case.id) == ["Submitted", "ManagerInformed"]
    (_, informed) = desk.app.events.get(saved.case.id)
    assert data(informed)["manager_id"] == "mia"
    assert desk.remaining("ada") == 30
    with refused(Conflict, "overlap"):
        desk.submit("ada", FRIDAY)


def test_sick_leave_informs_the_nearest_manager_who_has_not_left(desk: LeaveDesk) -> None:
    desk.app.put_employee(profile("mia", "carl", end_date=date(2025, 5, 30)), meta("admin"))

    saved = desk.submit("ada", MONDAY, FRIDAY, LeaveType.SICK)

    (_, informed) = desk.app.events.get(saved.case.id)
    assert data(informed)["manager_id"] == "carl"


def test_sick_leave_informs_nobody_when_every_manager_above_has_left(desk: LeaveDesk) -> None:
    for manager, above in (("mia", "carl"), ("carl", None)):
        desk.app.put_employee(profile(manager, above, end_date=date(2025, 5, 30)), meta("admin"))

    saved = desk.submit("ada", MONDAY, FRIDAY, LeaveType.SICK)

    assert saved.case.status is LeaveStatus.RECORDED
    assert desk.event_names(saved.case.id) == ["Submitted"]


def test_the_top_of_the_tree_records_sick_leave_with_nobody_to_inform(desk: LeaveDesk) -> None:
    saved = desk.submit("carl", MONDAY, leave_type=LeaveType.SICK)

    assert desk.event_names(saved.case.id) == ["Submitted"]


def test_the_top_of_the_tree_cannot_request_leave_that_needs_approval(desk: LeaveDesk) -> None:
    with pytest.raises(RuleViolation) as caught:
        desk.submit("carl", MONDAY)

    assert caught.value.rule == "no_approver"
    assert caught.value.message == (
        "carl has no manager to approve annual leave; only leave that needs no approval"
        " (sick) can be recorded for them"
    )


# -- approval -------------------------------------------------------------------------


def test_the_approval_task_goes_to_the_manager_due_two_business_days_later(
    desk: LeaveDesk,
) -> None:
    case_id = desk.submit("ada", MONDAY, FRIDAY).case.id
    friday = datetime(2025, 6, 13, 15, tzinfo=UTC)

    task = only_task(desk.open_task(case_id, friday).case)

    assert task.assignees == ["mia"]
    assert task.due_at == datetime(2025, 6, 17, 15, tzinfo=UTC)
    assert "Ada" in task.title
    assert "4 days" in task.title


def test_the_approval_task_skips_a_manager_who_has_left_for_the_next_one_up(
    desk: LeaveDesk,
) -> None:
    case_id = desk.submit("ada", MONDAY, FRIDAY).case.id
    desk.app.put_employee(profile("mia", "carl", end_date=date(2025, 6, 1)), meta("admin"))

    task = only_task(desk.open_task(case_id, MONDAY_MORNING).case)

    assert task.assignees == ["carl"]


def test_a_manager_on_their_last_day_still_gets_the_task(desk: LeaveDesk) -> None:
    case_id = desk.submit("ada", MONDAY, FRIDAY).case.id
    desk.app.put_employee(profile("mia", "carl", end_date=MONDAY_MORNING.date()), meta("admin"))

    task = only_task(desk.open_task(case_id, MONDAY_MORNING).case)

    assert task.assignees == ["mia"]


def test_leave_is_refused_when_every_manager_up_the_chain_has_left(desk: LeaveDesk) -> None:
    for manager, above in (("mia", "carl"), ("carl", None)):
        desk.app.put_employee(profile(manager, above, end_date=date(2025, 5, 30)), meta("admin"))
    before = desk.position

    with pytest.raises(RuleViolation) as caught:
        desk.submit("ada", MONDAY, FRIDAY)

    assert caught.value.rule == "no_approver"
    assert caught.value.message == (
        "every manager above ada has left: nobody can approve annual leave until the"
        " directory names a manager for them"
    )
    assert desk.position == before
    assert desk.submit("ada", MONDAY, leave_type=LeaveType.SICK).case.id


def test_a_task_opened_after_every_manager_has_left_goes_to_the_requesters_manager(
    desk: LeaveDesk,
) -> None:
    """Refusing it would fail the case's workflow and strand the request with its days
    held; as it is, the request stays open, and its requester may withdraw it."""
    case_id = desk.submit("ada", MONDAY, FRIDAY).case.id
    for manager, above in (("mia", "carl"), ("carl", None)):
        desk.app.put_employee(profile(manager, above, end_date=date(2025, 5, 30)), meta("admin"))

    opened = desk.open_task(case_id, MONDAY_MORNING)

    assert only_task(opened.case).assignees == ["mia"]


def test_opening_the_task_again_answers_the_same_task_whoever_has_left_since(
    desk: LeaveDesk,
) -> None:
    case_id = desk.submit("ada", MONDAY, FRIDAY).case.id
    command = meta(command_id="open-task")
    desk.open_task(case_id, MONDAY_MORNING, command)
    for manager, above in (("mia", "carl"), ("carl", None)):
        desk.app.put_employee(profile(manager, above, end_date=date(2025, 5, 30)), meta("admin"))

    again = desk.open_task(case_id, MONDAY_MORNING, command)

    assert only_task(again.case).assignees == ["mia"]


@pytest.mark.parametrize(("employee", "due"), [("ada", date(2025, 6, 23)), ("ben", FRIDAY)])
def test_the_approval_due_date_skips_the_employees_public_holidays(
    desk: LeaveDesk, employee: str, due: date
) -> None:
    case_id = desk.submit(employee, date(2025, 7, 1)).case.id
    wednesday_before_corpus_christi = datetime(2025, 6, 18, 9, tzinfo=UTC)

    saved = desk.open_task(case_id, wednesday_before_corpus_christi)

    assert only_task(saved.case).due_at.date() == due


def test_approval_debits_the_balance_and_is_recorded_with_who_decided(desk: LeaveDesk) -> None:
    case_id = desk.submit("ada", MONDAY, FRIDAY).case.id
    desk.open_task(case_id)

    saved = desk.decide(case_id, "mia")

    assert saved.case.status is LeaveStatus.APPROVED
    assert desk.event_names(case_id) == ["Submitted", "TaskOpened", "TaskDecided", "Approved"]
    assert account_events(desk, "ada") == ["Opened", "Reserved", "Confirmed"]
    approved = list(desk.app.events.get(case_id))[-1]
    assert data(approved)["meta"].actor == "mia"
    assert desk.app.leave_balance("ada", 2025) == Balance(Decimal(30), Decimal(4), Decimal(0))


def test_rejection_gives_the_days_back(desk: LeaveDesk) -> None:
    case_id = desk.submit("ada", MONDAY, FRIDAY).case.id
    desk.open_task(case_id)

    saved = desk.decide(case_id, "mia", Decision.REJECT)

    assert saved.case.status is LeaveStatus.REJECTED
    assert saved.case.closing_reason == "reject by mia"
    assert account_events(desk, "ada")[-1] == "Released"
    assert desk.remaining("ada") == 30


def test_manager_cannot_approve_own_leave_request(desk: LeaveDesk) -> None:
    case_id = desk.submit("mia", MONDAY, FRIDAY).case.id
    assert only_task(desk.open_task(case_id).case).assignees == ["carl"]
    before = desk.position

    with refused(NotAllowed, "no_self_approval"):
        desk.decide(case_id, "mia")

    assert desk.position == before
    assert desk.decide(case_id, "carl").case.status is LeaveStatus.APPROVED


def test_a_colleague_who_is_not_the_approver_cannot_decide(desk: LeaveDesk) -> None:
    case_id = desk.submit("ada", MONDAY).case.id
    desk.open_task(case_id)

    with refused(NotAllowed, "not_an_approver"):
        desk.decide(case_id, "ben")


def test_an_already_decided_task_cannot_be_decided_again(desk: LeaveDesk) -> None:
    case_id = desk.approved("ada", MONDAY, FRIDAY)
    before = desk.position

    with refused(Conflict, "task_already_decided"):
        desk.decide(case_id, "mia", Decision.REJECT)

    assert desk.position == before
    assert desk.remaining("ada") == 26


def test_escalation_goes_to_the_managers_manager_who_may_then_decide(desk: LeaveDesk) -> None:
    case_id = desk.submit("ada", MONDAY).case.id
    desk.open_task(case_id)

    escalated = desk.escalate(case_id)

    assert only_task(escalated.case).eligible == ["mia", "carl"]
    assert only_task(desk.decide(case_id, "carl").case).decided_by == "carl"


def test_escalation_skips_a_manager_who_has_left(desk: LeaveDesk) -> None:
    desk.app.put_employee(profile("tom", manager_id="ada"), meta("admin"))
    case_id = desk.submit("tom", MONDAY).case.id
    desk.open_task(case_id)
    desk.app.put_employee(profile("mia", "carl", end_date=date(2025, 6, 1)), meta("admin"))

    escalated = desk.escalate(case_id)

    assert only_task(escalated.case).eligible == ["ada", "carl"]


def test_escalation_records_nothing_when_everyone_above_has_left(desk: LeaveDesk) -> None:
    case_id = desk.submit("ada", MONDAY).case.id
    desk.open_task(case_id)
    desk.app.put_employee(profile("carl", None, end_date=date(2025, 6, 1)), meta("admin"))
    before = desk.position

    saved = desk.escalate(case_id)

    assert only_task(saved.case).eligible == ["mia"]
    assert desk.position == before


def test_a_task_whose_deciders_have_all_left_goes_to_the_nearest_manager_above_still_here(
    desk: LeaveDesk,
) -> None:
    desk.app.put_employee(profile("tom", manager_id="ada"), meta("admin"))
    case_id = desk.submit("tom", MONDAY).case.id
    desk.open_task(case_id)
    for leaver, above in (("ada", "mia"), ("mia", "carl")):
        desk.app.put_employee(profile(leaver, above, end_date=date(2025, 6, 2)), meta("admin"))

    saved = desk.reroute(case_id, now=MONDAY_MORNING + timedelta(days=1))

    assert only_task(saved.case).eligible == ["ada", "carl"]
    (escalated,) = desk.app.events.get(case_id, gt=saved.case.version - 1)
    assert (names([escalated]), data(escalated)["because"]) == (["TaskEscalated"], "deciders_left")


def test_a_task_one_of_whose_deciders_is_still_here_is_not_rerouted(desk: LeaveDesk) -> None:
    case_id = desk.submit("ada", MONDAY).case.id
    desk.open_task(case_id)
    desk.escalate(case_id)  # to carl
    desk.app.put_employee(profile("mia", "carl", end_date=date(2025, 6, 2)), meta("admin"))
    before = desk.position

    saved = desk.reroute(case_id, now=MONDAY_MORNING + timedelta(days=3))

    assert only_task(saved.case).eligible == ["mia", "carl"]
    assert desk.position == before


def test_a_task_is_not_rerouted_before_its_deciders_last_day_has_passed(desk: LeaveDesk) -> None:
    case_id = desk.submit("ada", MONDAY).case.id
    desk.open_task(case_id)
    desk.app.put_employee(profile("mia", "carl", end_date=MONDAY), meta("admin"))
    before = desk.position

    saved = desk.reroute(case_id, now=MONDAY_MORNING + timedelta(hours=8))

    assert only_task(saved.case).eligible == ["mia"]
    assert desk.position == before


def test_the_tasks_to_send_up_are_those_whose_deciders_have_all_left_with_someone_above(
    desk: LeaveDesk,
) -> None:
    desk.app.put_employee(profile("tom", manager_id="ada"), meta("admin"))
    desk.app.put_employee(profile("mia", "carl", end_date=date(2025, 6, 1)), meta("admin"))
    open_tasks = {
        "mia's": TaskDeciders("ada", ["mia"]),
        "ada's": TaskDeciders("tom", ["ada"]),
        "mia's, escalated to carl": TaskDeciders("ada", ["mia", "carl"]),
        "someone unknown's": TaskDeciders("ada", ["zoe"]),
    }

    chosen = desk.app.tasks_to_send_up(open_tasks, today=date(2025, 6, 2))
    before_she_left = desk.app.tasks_to_send_up(open_tasks, today=date(2025, 6, 1))
    desk.app.put_employee(profile("carl", None, end_date=date(2025, 6, 1)), meta("admin"))
    nobody_above = desk.app.tasks_to_send_up(open_tasks, today=date(2025, 6, 2))

    assert (chosen, before_she_left, nobody_above) == (["mia's"], [], [])


def test_after_a_reorganisation_a_leavers_task_goes_to_the_requesters_manager_never_to_them(
    desk: LeaveDesk,
) -> None:
    # Tom's task goes to Ada; then Tom moves under Carl, Ada under Tom, and Ada leaves:
    # above Ada there is only Tom himself, who may not decide his own request.
    desk.app.put_employee(profile("tom", manager_id="ada"), meta("admin"))
    case_id = desk.submit("tom", MONDAY).case.id
    desk.open_task(case_id)
    desk.app.put_employee(profile("tom", manager_id="carl"), meta("admin"))
    desk.app.put_employee(profile("ada", "tom", end_date=date(2025, 6, 2)), meta("admin"))

    chosen = desk.app.tasks_to_send_up({"tom's": TaskDeciders("tom", ["ada"])}, date(2025, 6, 3))
    saved = desk.reroute(case_id, now=MONDAY_MORNING + timedelta(days=1))

    assert chosen == ["tom's"]
    assert only_task(saved.case).eligible == ["ada", "carl"]


def test_a_task_whose_deciders_left_with_nobody_above_but_the_requester_is_not_chosen(
    desk: LeaveDesk,
) -> None:
    desk.app.put_employee(profile("tom", manager_id=None), meta("admin"))
    desk.app.put_employee(profile("ada", "tom", end_date=date(2025, 6, 2)), meta("admin"))

    tasks = {"tom's": TaskDeciders("tom", ["ada"])}

    chosen = desk.app.tasks_to_send_up(tasks, date(2025, 6, 3))
    stuck = desk.app.tasks_nobody_can_take(tasks, date(2025, 6, 3))

    assert (chosen, stuck) == ([], ["tom's"])


def test_a_cancellation_claimed_as_hr_by_someone_without_the_role_is_refused(
    desk: LeaveDesk,
) -> None:
    case_id = desk.approved("ada", MONDAY, FRIDAY)
    desk.app.set_role_members("hr", ["ben"], meta("admin"))
    before = desk.position

    with refused(NotAllowed, "not_hr"):
        desk.app.cancel_leave_request(
            case_id, MONDAY_MORNING.date(), meta("mia"), by_hr=True, reason="x"
        )
    cancelled = desk.app.cancel_leave_request(
        case_id, MONDAY_MORNING.date(), meta("ben"), by_hr=True, reason="leaves"
    )

    assert cancelled.case.status is LeaveStatus.CANCELLED
    assert desk.position > before


def test_an_overdue_escalation_says_so(desk: LeaveDesk) -> None:
    case_id = desk.submit("ada", MONDAY).case.id
    desk.open_task(case_id)

    saved = desk.escalate(case_id)

    (escalated,) = desk.app.events.get(case_id, gt=saved.case.version - 1)
    assert data(escalated)["because"] == "overdue"


def test_escalation_at_the_top_of_the_tree_records_nothing(desk: LeaveDesk) -> None:
    case_id = desk.submit("mia", MONDAY).case.id
    desk.open_task(case_id)
    before = desk.position

    saved = desk.escalate(case_id)

    assert only_task(saved.case).eligible == ["carl"]
    assert desk.position == before


# -- withdrawing and cancelling -------------------------------------------------------


def test_withdrawing_a_pending_request_gives_the_days_back(desk: LeaveDesk) -> None:
    case_id = desk.submit("ada", MONDAY, FRIDAY).case.id
    desk.open_task(case_id)

    saved = desk.withdraw(case_id, "ada")

    assert saved.case.status is LeaveStatus.WITHDRAWN
    assert desk.event_names(case_id)[-2:] == ["TaskCancelled", "Withdrawn"]
    assert account_events(desk, "ada")[-1] == "Released"
    assert desk.remaining("ada") == 30


def test_cancelling_approved_leave_before_it_starts_gives_the_days_back(desk: LeaveDesk) -> None:
    case_id = desk.approved("ada", MONDAY, FRIDAY)

    saved = desk.cancel(case_id, "ada", today=date(2025, 6, 15))

    assert saved.case.status is LeaveStatus.CANCELLED
    assert desk.app.leave_balance("ada", 2025) == Balance(Decimal(30), Decimal(0), Decimal(0))
    assert desk.submit("ada", MONDAY, FRIDAY).case.status is LeaveStatus.PENDING


def test_leave_that_has_started_cannot_be_cancelled_and_nothing_is_recorded(
    desk: LeaveDesk,
) -> None:
    case_id = desk.approved("ada", MONDAY, FRIDAY)
    before = desk.position

    with refused(RuleViolation, "already_started"):
        desk.cancel(case_id, "ada", today=MONDAY)

    assert desk.position == before
    assert desk.remaining("ada") == 26


def test_leave_ended_early_gives_back_the_days_after_its_new_last_day(desk: LeaveDesk) -> None:
    case_id = desk.approved("ada", MONDAY, FRIDAY)

    saved = desk.app.shorten_leave_request(case_id, MONDAY + timedelta(days=1), MONDAY, meta("ada"))

    assert (saved.case.status, saved.case.end) == (LeaveStatus.APPROVED, MONDAY + timedelta(days=1))
    assert desk.event_names(case_id)[-1] == "Shortened"
    assert account_events(desk, "ada")[-1] == "Shortened"
    assert desk.remaining("ada") == 28
    assert desk.submit("ada", FRIDAY).case.status is LeaveStatus.PENDING  # free again


def test_leave_ended_at_noon_gives_back_the_afternoon_of_its_new_last_day(desk: LeaveDesk) -> None:
    case_id = desk.approved("ada", MONDAY, FRIDAY)
    tuesday = MONDAY + timedelta(days=1)

    saved = desk.app.shorten_leave_request(case_id, tuesday, MONDAY, meta("ada"), half_day_end=True)

    case = saved.case
    assert (case.end, case.period.half_day_end, case.working_days) == (
        tuesday,
        True,
        Decimal("1.5"),
    )
    account = desk.app.leave_account("ada")
    assert account is not None and account.held_on(tuesday) == Decimal("0.5")
    assert desk.remaining("ada") == Decimal("28.5")
    with refused(Conflict, "overlap"):  # Tuesday morning is still leave
        desk.submit("ada", tuesday, half_day_end=True)
    assert desk.submit("ada", tuesday, half_day_start=True).case.status is LeaveStatus.PENDING


def test_leave_is_not_ended_at_noon_on_a_public_holiday_and_nothing_is_recorded(
    desk: LeaveDesk,
) -> None:
    case_id = desk.approved("ada", MONDAY, FRIDAY)  # Thursday 19 June is a holiday
    before = desk.position

    with refused(RuleViolation, "not_a_working_day"):
        desk.app.shorten_leave_request(
            case_id, date(2025, 6, 19), MONDAY, meta("ada"), half_day_end=True
        )

    assert desk.position == before
    assert desk.remaining("ada") == 26


def test_leave_ended_early_on_a_weekend_before_any_of_its_working_days_holds_nothing(
    desk: LeaveDesk,
) -> None:
    saturday, sunday = MONDAY - timedelta(days=2), MONDAY - timedelta(days=1)
    case_id = desk.approved("ada", saturday, FRIDAY)
    later = desk.approved("ada", date(2025, 7, 7), date(2025, 7, 8))

    saved = desk.app.shorten_leave_request(case_id, sunday, MONDAY, meta("ada"))  # back Monday
    remaining = desk.remaining("ada")
    chart = OrganisationChart(employees=[profile("ada", end_date=date(2025, 7, 4))])
    change = desk.app.change_directory(
        chart, MONDAY, lambda given: desk.app.load_directory(given, meta("admin"))
    )

    assert (saved.case.end, saved.case.working_days) == (sunday, Decimal(0))
    account = desk.app.leave_account("ada")
    assert account is not None and str(case_id) not in account.bookings
    assert remaining == 28  # only the later leave's 2 days
    assert [w for w in change.warnings if "last day" in w] == [
        f"ada's approved leave {later} holds 2 days after their last day (2025-07-04),"
        " from 2025-07-07; hr may cancel it before it starts on 2025-07-07",
    ]


def test_hr_ends_a_leavers_started_leave_and_nothing_is_recorded_for_someone_without_the_role(
    desk: LeaveDesk,
) -> None:
    case_id = desk.approved("ada", MONDAY, FRIDAY)
    desk.app.set_role_members("hr", ["ben"], meta("admin"))
    before = desk.position

    with refused(NotAllowed, "not_hr"):
        desk.app.shorten_leave_request(
            case_id, MONDAY, FRIDAY, meta("mia"), reason="left", by_hr=True
        )
    assert desk.position == before
    saved = desk.app.shorten_leave_request(
        case_id, MONDAY, FRIDAY, meta("ben"), reason="left on Monday", by_hr=True
    )

    assert saved.case.end == MONDAY
    assert desk.remaining("ada") == 29


def test_a_request_withdrawn_before_its_task_opens_gets_no_task(desk: LeaveDesk) -> None:
    case_id = desk.submit("ada", MONDAY).case.id
    desk.withdraw(case_id, "ada")
    before = desk.position

    with refused(Conflict, "not_pending"):
        desk.open_task(case_id)

    assert desk.position == before
    assert desk.remaining("ada") == 30


def test_only_the_requester_may_withdraw(desk: LeaveDesk) -> None:
    case_id = desk.submit("ada", MONDAY).case.id

    with refused(NotAllowed, "only_requester"):
        desk.withdraw(case_id, "mia")


# -- idempotency ----------------------------------------------------------------------


def _submit(desk: LeaveDesk) -> Callable[[], Saved]:
    case_id, command = uuid4(), meta("ada")
    return lambda: desk.submit("ada", MONDAY, FRIDAY, case_id=case_id, command=command)


def _open_task(desk: LeaveDesk) -> Callable[[], Saved]:
    case_id, command = desk.submit("ada", MONDAY).case.id, meta()
    return lambda: desk.open_task(case_id, command=command)


def _pending_task(desk: LeaveDesk) -> UUID:
    case_id = desk.submit("ada", MONDAY).case.id
    desk.open_task(case_id)
    return case_id


def _decide(desk: LeaveDesk) -> Callable[[], Saved]:
    case_id, command = _pending_task(desk), meta("mia")
    return lambda: desk.decide(case_id, "mia", command=command)


def _escalate(desk: LeaveDesk) -> Callable[[], Saved]:
    case_id, command = _pending_task(desk), meta()
    return lambda: desk.escalate(case_id, command)


def _withdraw(desk: LeaveDesk) -> Callable[[], Saved]:
    case_id, command = _pending_task(desk), meta("ada")
    return lambda: desk.withdraw(case_id, "ada", command=command)


def _cancel(desk: LeaveDesk) -> Callable[[], Saved]:
    case_id, command = desk.approved("ada", MONDAY), meta("ada")
    return lambda: desk.cancel(case_id, "ada", date(2025, 6, 1), command=command)


@pytest.mark.parametrize("prepare", [_submit, _open_task, _decide, _escalate, _withdraw, _cancel])
def test_repeating_a_command_records_nothing_new_and_returns_the_same_state(
    desk: LeaveDesk, prepare: Callable[[LeaveDesk], Callable[[], Saved]]
) -> None:
    command = prepare(desk)
    first = command()
    position = desk.position

    again = command()

    assert desk.position == position
    assert again.position == first.position
    assert (again.case.id, again.case.version) == (first.case.id, first.case.version)
    assert again.case.status is first.case.status
    assert again.case.tasks == first.case.tasks


def test_a_repeated_submission_does_not_hold_the_days_twice(desk: LeaveDesk) -> None:
    repeat = _submit(desk)
    repeat()
    repeat()

    assert desk.remaining("ada") == 26


# -- things that do not exist ---------------------------------------------------------


def test_leave_for_an_unknown_employee_is_refused(desk: LeaveDesk) -> None:
    with refused(NotFound, "employee_not_found"):
        desk.submit("nobody", MONDAY)


def test_a_last_day_recorded_during_started_leave_warns_that_hr_may_end_it_then(
    desk: LeaveDesk,
) -> None:
    approved = desk.approved("ada", MONDAY, FRIDAY)
    chart = OrganisationChart(employees=[profile("ada", end_date=date(2025, 6, 17))])

    change = desk.app.change_directory(
        chart, date(2025, 6, 17), lambda given: desk.app.load_directory(given, meta("admin"))
    )

    assert [w for w in change.warnings if "last day" in w] == [
        f"ada's approved leave {approved} holds 2 days after their last day (2025-06-17),"
        " from 2025-06-18, and has started: hr may end it early on 2025-06-17, giving the"
        " days after back",
    ]


def test_deciding_an_unknown_case_is_refused(desk: LeaveDesk) -> None:
    with refused(NotFound, "leave_request_not_found"):
        desk.app.decide_leave_request(uuid4(), "approval", Decision.APPROVE, None, meta("mia"))


def test_recording_a_last_day_warns_of_the_leavers_own_leave_after_it(desk: LeaveDesk) -> None:
    approved = desk.approved("ada", MONDAY, FRIDAY)
    pending = desk.submit("ada", date(2025, 7, 7), date(2025, 7, 8)).case.id
    chart = OrganisationChart(employees=[profile("ada", end_date=date(2025, 6, 17))])

    change = desk.app.change_directory(
        chart, date(2025, 6, 2), lambda given: desk.app.load_directory(given, meta("admin"))
    )
    again = desk.app.change_directory(
        chart, date(2025, 6, 2), lambda given: desk.app.load_directory(given, meta("admin"))
    )

    assert [w for w in change.warnings if "last day" in w] == [
        # the 18th and the 20th: the 19th is a public holiday in Bavaria
        f"ada's approved leave {approved} holds 2 days after their last day (2025-06-17),"
        " from 2025-06-18; hr may end it early on 2025-06-17, or cancel it before it starts"
        " on 2025-06-16",
        f"ada's pending request {pending} asks for 2 days after their last day (2025-06-17),"
        " from 2025-07-07; it can now only be rejected, or withdrawn (hr may, saying why)",
    ]
    assert again.warnings == []  # nothing changed: nothing new to look at
