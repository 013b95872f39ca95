"""The leave request case and its approval task: who may decide, withdraw, cancel."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast
from uuid import uuid4

import pytest

from domain.case import Decision
from domain.errors import Conflict, NotAllowed, NotFound, RuleViolation
from domain.leave import HALF, LeavePeriod, LeaveType
from domain.leave_request import LeaveRequest, LeaveStatus, check_shorten
from tests.unit.factories import data, meta, names, refused

START, END = date(2025, 6, 16), date(2025, 6, 18)
DUE = datetime(2025, 6, 4, 9, tzinfo=UTC)
TASK = "approval"


def submitted(
    leave_type: LeaveType = LeaveType.ANNUAL, requester: str = "ada", asked_by: str | None = None
) -> LeaveRequest:
    """Ada's request for two and a half days, asked for by her or (``asked_by``) for her."""
    request = LeaveRequest(
        id=uuid4(),
        requester_id=requester,
        leave_type=leave_type,
        start=START,
        end=END,
        half_day_start=False,
        half_day_end=True,
        days={"2025-06-16": Decimal(1), "2025-06-17": Decimal(1), "2025-06-18": Decimal("0.5")},
        reason="summer",
        meta=meta(asked_by or requester),
    )
    request.collect_events()
    return request


def awaiting(*assignees: str) -> LeaveRequest:
    """A pending request whose approval task is assigned to ``assignees`` (Mia by default)."""
    request = submitted()
    request.open_task(TASK, "Ada: 2.5 days", list(assignees or ["mia"]), DUE, meta())
    request.collect_events()
    return request


def approved() -> LeaveRequest:
    request = awaiting()
    request.decide(TASK, Decision.APPROVE, None, meta("mia"))
    request.collect_events()
    return request


def test_annual_leave_is_submitted_pending_with_its_working_days() -> None:
    command = meta("ada", "submit-1")
    request = LeaveRequest(
        id=uuid4(),
        requester_id="ada",
        leave_type=LeaveType.ANNUAL,
        start=START,
        end=START,
        half_day_start=True,
        half_day_end=False,
        days={"2025-06-16": Decimal("0.5")},
        reason=None,
        meta=command,
    )

    events = request.collect_events()
    assert names(events) == ["Submitted"]
    assert data(events[0])["meta"] == command
    assert request.status is LeaveStatus.PENDING
    assert request.working_days == Decimal("0.5")
    assert request.period.half_day_start is True


def test_sick_leave_is_recorded_and_the_manager_informed_in_its_history() -> None:
    request = submitted(LeaveType.SICK)

    request.inform_manager("mia", meta("ada"))

    events = request.collect_events()
    assert names(events) == ["ManagerInformed"]
    assert data(events[0])["manager_id"] == "mia"
    assert request.status is LeaveStatus.RECORDED
    assert request.tasks == {}


def test_opening_an_approval_task_assigns_it_with_a_due_date() -> None:
    request = submitted()

    request.open_task(TASK, "Ada: 2.5 days", ["mia"], DUE, meta())

    events = request.collect_events()
    assert names(events) == ["TaskOpened"]
    assert data(events[0])["assignees"] == ["mia"]
    task = request.task(TASK)
    assert (task.is_open, task.eligible, task.due_at) == (True, ["mia"], DUE)


def test_the_same_task_cannot_be_opened_twice_but_a_repeated_command_is_ignored() -> None:
    request = submitted()
    command = meta()
    request.open_task(TASK, "t", ["mia"], DUE, command)

    request.open_task(TASK, "t", ["mia"], DUE, command)
    with refused(Conflict, "task_exists"):
        request.open_task(TASK, "t", ["mia"], DUE, meta())

    assert names(request.collect_events()) == ["TaskOpened"]


@pytest.mark.parametrize("closed", ["withdrawn", "sick"])
def test_no_approval_task_is_opened_on_a_request_that_is_not_pending(closed: str) -> None:
    request = submitted(LeaveType.SICK) if closed == "sick" else submitted()
    if closed == "withdrawn":
        request.withdraw(meta("ada"))
    request.collect_events()

    with refused(Conflict, "not_pending"):
        request.open_task(TASK, "t", ["mia"], DUE, meta())

    assert request.collect_events() == []
    assert request.tasks == {}


def test_a_repeated_task_opening_is_ignored_even_after_the_request_was_withdrawn() -> None:
    request = submitted()
    command = meta()
    request.open_task(TASK, "t", ["mia"], DUE, command)
    request.withdraw(meta("ada"))

    request.open_task(TASK, "t", ["mia"], DUE, command)

    assert names(request.collect_events()) == ["TaskOpened", "TaskCancelled", "Withdrawn"]


def test_the_assignee_approves_a_pending_request() -> None:
    request = awaiting()

    request.decide(TASK, Decision.APPROVE, "enjoy", meta("mia"))

    events = request.collect_events()
    assert names(events) == ["TaskDecided", "Approved"]
    assert data(events[0])["decision"] == "approve"
    assert data(events[1])["meta"].actor == "mia"
    assert request.status is LeaveStatus.APPROVED
    task = request.task(TASK)
    assert (task.decision, task.decided_by, task.comment) == (Decision.APPROVE, "mia", "enjoy")
    assert request.open_tasks == []


def test_the_assignee_rejects_a_pending_request_with_a_reason() -> None:
    request = awaiting()

    request.decide(TASK, Decision.REJECT, "busy week", meta("mia"))

    assert names(request.collect_events()) == ["TaskDecided", "Rejected"]
    assert request.status is LeaveStatus.REJECTED
    assert request.closing_reason == "busy week"


def test_a_request_with_a_day_after_the_requesters_last_day_cannot_be_approved() -> None:
    request = awaiting()

    with pytest.raises(RuleViolation) as caught:
        request.decide(TASK, Decision.APPROVE, None, meta("mia"), last_day=date(2025, 6, 17))

    assert caught.value.rule == "after_employment_ends"
    assert str(caught.value) == (
        "ada's last day of employment is 2025-06-17, before 2025-06-18 of this request:"
        " it can no longer be approved, only rejected"
    )
    assert request.collect_events() == []
    assert request.status is LeaveStatus.PENDING


def test_a_request_with_a_day_after_the_requesters_last_day_can_still_be_rejected() -> None:
    request = awaiting()

    request.decide(TASK, Decision.REJECT, "leaving", meta("mia"), last_day=date(2025, 6, 17))

    assert request.status is LeaveStatus.REJECTED


def test_a_request_ending_on_the_requesters_last_day_can_be_approved() -> None:
    request = awaiting()

    request.decide(TASK, Decision.APPROVE, None, meta("mia"), last_day=END)

    assert request.status is LeaveStatus.APPROVED


def test_the_approver_rule_comes_before_the_last_day_rule() -> None:
    request = awaiting()

    with refused(NotAllowed, "not_an_approver"):
        request.decide(TASK, Decision.APPROVE, None, meta("ben"), last_day=date(2025, 6, 17))


def test_nobody_may_approve_their_own_request_even_when_assigned_to_it() -> None:
    request = awaiting("ada", "mia")

    with refused(NotAllowed, "no_self_approval"):
        request.decide(TASK, Decision.APPROVE, None, meta("ada"))

    assert request.collect_events() == []
    assert request.status is LeaveStatus.PENDING


def test_nobody_may_decide_a_request_they_asked_for_on_the_requesters_behalf() -> None:
    request = submitted(asked_by="hanna")
    request.open_task(TASK, "Ada: 2.5 days", ["hanna", "mia"], DUE, meta())
    request.collect_events()

    with refused(NotAllowed, "no_self_approval"):
        request.decide(TASK, Decision.APPROVE, None, meta("hanna"))
    request.decide(TASK, Decision.APPROVE, None, meta("mia"))

    assert request.asked_by == "hanna"
    assert names(request.collect_events()) == ["TaskDecided", "Approved"]


def test_nobody_may_decide_on_behalf_of_the_requester() -> None:
    request = awaiting()

    with refused(NotAllowed, "no_self_approval"):
        request.decide(TASK, Decision.APPROVE, None, meta("mia", on_behalf_of="ada"))


def test_someone_the_task_is_not_assigned_to_cannot_decide_it() -> None:
    request = awaiting()

    with refused(NotAllowed, "not_an_approver"):
        request.decide(TASK, Decision.APPROVE, None, meta("ben"))

    assert request.task(TASK).is_open


def test_a_delegate_decides_on_behalf_of_the_assignee_and_both_are_recorded() -> None:
    request = awaiting()

    request.decide(TASK, Decision.APPROVE, None, meta("ben", on_behalf_of="mia"))

    task = request.task(TASK)
    assert (task.decided_by, task.decided_on_behalf_of) == ("ben", "mia")


def test_someone_the_task_was_escalated_to_may_decide_it() -> None:
    request = awaiting()

    request.escalate_task(TASK, ["carl"], meta())
    request.decide(TASK, Decision.REJECT, None, meta("carl"))

    assert names(request.collect_events()) == ["TaskEscalated", "TaskDecided", "Rejected"]
    assert request.task(TASK).eligible == ["mia", "carl"]
    assert request.task(TASK).decided_by == "carl"


def test_a_decided_task_cannot_be_escalated() -> None:
    request = approved()

    with refused(Conflict, "task_closed"):
        request.escalate_task(TASK, ["carl"], meta())


def test_an_already_decided_task_cannot_be_decided_again() -> None:
    request = approved()

    with refused(Conflict, "task_already_decided"):
        request.decide(TASK, Decision.REJECT, "changed my mind", meta("mia"))

    assert request.collect_events() == []
    assert request.status is LeaveStatus.APPROVED


def test_repeating_a_decision_command_records_nothing_new() -> None:
    request = awaiting()
    command = meta("mia")
    request.decide(TASK, Decision.APPROVE, None, command)
    version = request.version

    request.decide(TASK, Decision.APPROVE, None, command)

    assert names(request.collect_events()) == ["TaskDecided", "Approved"]
    assert request.version == version


def test_deciding_a_task_the_case_does_not_have_is_refused() -> None:
    with refused(NotFound, "task_not_found"):
        awaiting().decide("no-such-task", Decision.APPROVE, None, meta("mia"))


def test_the_requester_withdraws_a_pending_request_closing_its_open_task() -> None:
    request = awaiting()

    request.withdraw(meta("ada"))

    assert names(request.collect_events()) == ["TaskCancelled", "Withdrawn"]
    assert request.status is LeaveStatus.WITHDRAWN
    assert request.open_tasks == []
    with pytest.raises(Conflict, match="this task was cancelled") as caught:
        request.decide(TASK, Decision.APPROVE, None, meta("mia"))
    assert caught.value.rule == "task_cancelled"


def test_only_the_requester_may_withdraw_a_request() -> None:
    with refused(NotAllowed, "only_requester"):
        awaiting().withdraw(meta("mia"))


def test_hr_withdraws_someones_pending_request_saying_why() -> None:
    request = awaiting()

    request.withdraw(meta("hanna"), reason="nobody is left to decide it", by_hr=True)

    events = request.collect_events()
    assert names(events) == ["TaskCancelled", "Withdrawn"]
    assert (data(events[-1])["reason"], data(events[-1])["by_hr"]) == (
        "nobody is left to decide it",
        True,
    )
    assert (request.status, request.closing_reason) == (
        LeaveStatus.WITHDRAWN,
        "nobody is left to decide it",
    )


def test_hr_must_say_why_they_withdraw_someones_request() -> None:
    with refused(RuleViolation, "reason_required"):
        awaiting().withdraw(meta("hanna"), by_hr=True)


def test_an_approved_request_cannot_be_withdrawn() -> None:
    with refused(Conflict, "not_pending"):
        approved().withdraw(meta("ada"))


def test_the_requester_cancels_approved_leave_before_it_starts() -> None:
    request = approved()

    request.cancel(date(2025, 6, 15), meta("ada"))

    assert names(request.collect_events()) == ["Cancelled"]
    assert request.status is LeaveStatus.CANCELLED


@pytest.mark.parametrize("today", [START, END, date(2025, 7, 1)])
def test_leave_cannot_be_cancelled_once_it_has_started(today: date) -> None:
    request = approved()

    with refused(RuleViolation, "already_started"):
        request.cancel(today, meta("ada"))

    assert request.status is LeaveStatus.APPROVED


def test_a_pending_request_is_withdrawn_not_cancelled() -> None:
    with refused(Conflict, "not_approved"):
        awaiting().cancel(date(2025, 6, 1), meta("ada"))


def test_only_the_requester_or_hr_may_cancel_approved_leave() -> None:
    with refused(NotAllowed, "only_requester"):
        approved().cancel(date(2025, 6, 1), meta("mia"), reason="not needed")


def test_hr_cancels_someones_approved_leave_before_it_starts_and_says_why() -> None:
    request = approved()

    request.cancel(date(2025, 6, 15), meta("hanna"), reason="left on 13 June", by_hr=True)

    (cancelled,) = request.collect_events()
    assert names([cancelled]) == ["Cancelled"]
    assert (data(cancelled)["reason"], data(cancelled)["by_hr"]) == ("left on 13 June", True)
    assert (request.status, request.closing_reason) == (LeaveStatus.CANCELLED, "left on 13 June")


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_hr_must_say_why_they_cancel_someones_leave(reason: str | None) -> None:
    request = approved()

    with refused(RuleViolation, "reason_required"):
        request.cancel(date(2025, 6, 15), meta("hanna"), reason=reason, by_hr=True)

    assert request.status is LeaveStatus.APPROVED


def test_hr_without_a_reason_is_told_first_that_the_request_cannot_be_cancelled() -> None:
    with refused(Conflict, "not_approved"):
        awaiting().cancel(date(2025, 6, 1), meta("hanna"), by_hr=True)


def test_a_cancellation_recorded_before_hr_could_cancel_is_the_requesters() -> None:
    request = approved()
    # As stored before HR could cancel: the event has neither ``reason`` nor ``by_hr``.
    recorded = object.__new__(cast(Any, LeaveRequest).Cancelled)  # made by @event
    recorded.__dict__.update(
        originator_id=request.id,
        originator_version=request.version + 1,
        timestamp=datetime.now(UTC),
        meta=meta("ada"),
    )

    recorded.mutate(request)

    assert (request.status, request.closing_reason) == (LeaveStatus.CANCELLED, None)


def test_hr_cannot_cancel_leave_that_has_started() -> None:
    with refused(RuleViolation, "already_started"):
        approved().cancel(START, meta("hanna"), reason="left", by_hr=True)


def test_hr_cancelling_their_own_leave_is_the_requester_cancelling() -> None:
    request = approved()

    request.cancel(date(2025, 6, 15), meta("ada"), by_hr=True)

    (cancelled,) = request.collect_events()
    assert (data(cancelled)["reason"], data(cancelled)["by_hr"]) == (None, False)


def test_recorded_sick_leave_can_be_cancelled_before_it_starts() -> None:
    request = submitted(LeaveType.SICK)

    request.cancel(date(2025, 6, 15), meta("ada"))

    assert request.status is LeaveStatus.CANCELLED


def test_approved_leave_is_marked_taken_but_pending_leave_is_not() -> None:
    request = approved()
    request.mark_taken(meta())

    assert request.status is LeaveStatus.TAKEN
    with refused(Conflict, "not_approved"):
        awaiting().mark_taken(meta())


def test_the_requester_ends_started_leave_early() -> None:
    request = approved()

    request.shorten(START, date(2025, 6, 17), meta("ada"))

    (shortened,) = request.collect_events()
    assert names([shortened]) == ["Shortened"]
    assert (data(shortened)["last_day"], data(shortened)["by_hr"]) == (START, False)
    assert (request.start, request.end, request.period.half_day_end) == (START, START, False)
    assert request.days == {"2025-06-16": Decimal(1)}
    assert request.status is LeaveStatus.APPROVED


def test_a_shortening_sent_again_records_nothing_new() -> None:
    request = approved()
    command = meta("ada")
    request.shorten(START, date(2025, 6, 17), command)
    request.collect_events()

    request.shorten(START, date(2025, 6, 17), command)

    assert request.collect_events() == []


def test_hr_ends_someones_leave_on_their_last_day_of_employment_saying_why() -> None:
    """Someone leaving the company whose leave has started cannot sign in to end it,
    and the days after their last day would stay counted: HR ends it for them, on a
    day already past if need be."""
    request = approved()

    request.shorten(START, END, meta("hanna"), reason="left on the 16th", by_hr=True)

    (shortened,) = request.collect_events()
    assert (data(shortened)["reason"], data(shortened)["by_hr"]) == ("left on the 16th", True)
    assert request.end == START


@pytest.mark.parametrize(
    ("last_day", "today", "rule"),
    [
        (END, date(2025, 6, 17), "not_shorter"),
        (date(2025, 6, 19), date(2025, 6, 17), "not_shorter"),
        (date(2025, 6, 15), date(2025, 6, 15), "before_start"),
        (date(2025, 6, 17), date(2025, 6, 19), "already_ended"),
        (START, date(2025, 6, 18), "last_day_in_the_past"),  # for the requester
    ],
)
def test_leave_is_shortened_only_to_a_day_within_it_while_it_lasts(
    last_day: date, today: date, rule: str
) -> None:
    request = approved()

    with refused(RuleViolation, rule):
        request.shorten(last_day, today, meta("ada"))

    assert request.end == END


def test_one_day_leave_is_not_shortened_and_the_refusal_does_not_ask_for_a_day_before_it() -> None:
    """A day before it is before its start, which asks for a day from its start on."""
    period = LeavePeriod(START, START, half_day_start=True)

    with pytest.raises(RuleViolation) as caught:
        check_shorten(LeaveStatus.APPROVED, "ada", period, START, "ada", START)

    assert (caught.value.rule, caught.value.message) == (
        "not_shorter",
        "the leave is one day, 2025-06-16: it cannot end earlier (it can be cancelled"
        " before it starts)",
    )


def approved_from(period: LeavePeriod, days: dict[str, Decimal]) -> LeaveRequest:
    """Approved leave of ``period`` holding ``days`` (each working day's share)."""
    request = LeaveRequest(
        id=uuid4(),
        requester_id="ada",
        leave_type=LeaveType.ANNUAL,
        start=period.start,
        end=period.end,
        half_day_start=period.half_day_start,
        half_day_end=period.half_day_end,
        days=days,
        reason=None,
        meta=meta("ada"),
    )
    request.open_task(TASK, "Ada", ["mia"], DUE, meta())
    request.decide(TASK, Decision.APPROVE, None, meta("mia"))
    request.collect_events()
    return request


WHOLE_DAYS = {"2025-06-16": Decimal(1), "2025-06-17": Decimal(1), "2025-06-18": Decimal(1)}


def test_the_requester_ends_leave_at_noon_keeping_the_morning_of_the_new_last_day() -> None:
    request = approved()

    request.shorten(date(2025, 6, 17), date(2025, 6, 17), meta("ada"), half_day_end=True)

    (shortened,) = request.collect_events()
    assert (data(shortened)["last_day"], data(shortened)["half_day_end"]) == (
        date(2025, 6, 17),
        True,
    )
    assert data(shortened)["days"] == {"2025-06-16": Decimal(1), "2025-06-17": Decimal("0.5")}
    assert request.period == LeavePeriod(START, date(2025, 6, 17), half_day_end=True)
    assert request.working_days == Decimal("1.5")


def test_leave_held_in_full_on_its_last_day_is_ended_at_noon_on_that_day() -> None:
    request = approved_from(LeavePeriod(START, END), WHOLE_DAYS)

    request.shorten(END, START, meta("ada"), half_day_end=True)

    assert request.period == LeavePeriod(START, END, half_day_end=True)
    assert request.days == {**WHOLE_DAYS, "2025-06-18": Decimal("0.5")}


def test_one_whole_day_of_leave_is_ended_at_noon() -> None:
    request = approved_from(LeavePeriod(START, START), {"2025-06-16": Decimal(1)})

    request.shorten(START, START, meta("ada"), half_day_end=True)

    assert request.period == LeavePeriod(START, START, half_day_end=True)
    assert request.days == {"2025-06-16": Decimal("0.5")}


def test_a_shortening_to_noon_sent_again_records_nothing_new() -> None:
    request = approved()
    command = meta("ada")
    request.shorten(START, START, command, half_day_end=True)
    request.collect_events()

    request.shorten(START, START, command, half_day_end=True)

    assert request.collect_events() == []
    assert request.days == {"2025-06-16": Decimal("0.5")}


@pytest.mark.parametrize(
    ("period", "days", "last_day", "today", "rule"),
    [
        # Already ends at noon on that day (the fixture's leave, and one half day).
        (LeavePeriod(START, END, half_day_end=True), None, END, START, "not_shorter"),
        (LeavePeriod(START, START, half_day_end=True), {"2025-06-16": Decimal("0.5")},
         START, START, "not_shorter"),
        # Only its afternoon is leave: there is no morning to keep.
        (LeavePeriod(START, START, half_day_start=True), {"2025-06-16": Decimal("0.5")},
         START, START, "half_day_not_held"),
        (LeavePeriod(START, END, half_day_start=True), {**WHOLE_DAYS, "2025-06-16": HALF},
         START, START, "half_day_not_held"),
        # Thursday 19 June 2025 is a public holiday: no working day of the leave.
        (LeavePeriod(START, date(2025, 6, 20)), {**WHOLE_DAYS, "2025-06-20": Decimal(1)},
         date(2025, 6, 19), START, "not_a_working_day"),
        # Back at noon yesterday is in the past for the requester.
        (LeavePeriod(START, END), WHOLE_DAYS, START, date(2025, 6, 17), "last_day_in_the_past"),
        (LeavePeriod(START, END), WHOLE_DAYS, date(2025, 6, 19), START, "not_shorter"),
    ],
)  # fmt: skip
def test_leave_is_ended_at_noon_only_on_a_working_day_whose_morning_it_holds_and_keeps(
    period: LeavePeriod, days: dict[str, Decimal] | None, last_day: date, today: date, rule: str
) -> None:
    request = approved() if days is None else approved_from(period, days)

    with refused(RuleViolation, rule):
        request.shorten(last_day, today, meta("ada"), half_day_end=True)

    assert request.period == period
    assert request.collect_events() == []


def test_hr_ends_someones_leave_at_noon_on_a_day_already_past() -> None:
    request = approved_from(LeavePeriod(START, END), WHOLE_DAYS)

    request.shorten(START, END, meta("hanna"), reason="left at noon", by_hr=True, half_day_end=True)

    assert request.period == LeavePeriod(START, START, half_day_end=True)


def test_the_refusal_of_a_day_whose_morning_is_not_held_says_what_to_do() -> None:
    period = LeavePeriod(START, START, half_day_start=True)

    with pytest.raises(RuleViolation) as caught:
        check_shorten(LeaveStatus.APPROVED, "ada", period, START, "ada", START, half_day_end=True)

    assert caught.value.message == (
        "the leave holds only the afternoon of 2025-06-16: it cannot end at noon that day"
        " (it can be cancelled before it starts)"
    )


def test_the_refusal_of_a_leaves_own_last_day_offers_noon_only_when_it_is_a_working_day() -> None:
    """Leave from Monday to Sunday 22 June: ending it at noon on the Sunday is refused in
    turn (no working day of it), so the refusal of the Sunday does not suggest it."""
    sunday = date(2025, 6, 22)
    weekend_end = approved_from(LeavePeriod(START, sunday), WHOLE_DAYS)
    held_end = approved_from(LeavePeriod(START, END), WHOLE_DAYS)

    with pytest.raises(RuleViolation) as at_weekend:
        weekend_end.shorten(sunday, START, meta("ada"))
    with pytest.raises(RuleViolation) as on_working_day:
        held_end.shorten(END, START, meta("ada"))

    assert at_weekend.value.message == (
        "the leave ends on 2025-06-22 already: give a last day before it"
    )
    assert on_working_day.value.message == (
        "the leave ends on 2025-06-18 already: give a last day before it,"
        " or end it at noon that day: `half_day_end`"
    )


def test_only_approved_leave_is_shortened_by_the_requester_or_hr_with_a_reason() -> None:
    with refused(Conflict, "not_approved"):
        awaiting().shorten(START, START, meta("ada"))
    with refused(NotAllowed, "only_requester"):
        approved().shorten(START, START, meta("mia"))
    with refused(RuleViolation, "reason_required"):
        approved().shorten(START, START, meta("hanna"), by_hr=True)
