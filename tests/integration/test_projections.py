"""The read models, built by the projection runner from real use cases, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.postgres import PostgresSubscription

from domain.case import Decision
from domain.employee import Employee
from domain.leave import LeaveType
from domain.leave_request import LeaveStatus
from projections import tracking
from projections.base import PreparedProjection
from projections.database import COPY_FROM, Cursor, Database
from projections.employees import EmployeeDirectory
from projections.inbox import Inbox
from projections.leave_balances import LeaveBalance
from projections.queries import ReadModels
from projections.registry import all_projections
from projections.runner import ProjectionRunner
from projections.subscription import PollingSubscription, subscribe
from services.application import BackofficeApplication, approval_task_id
from services.store import StoreLocation
from tests.integration.conftest import MONDAY_MORNING, ORGANISATION, Office, eventually, meta

JUNE_3 = date(2030, 6, 3)
JUNE_7 = date(2030, 6, 7)
BEFORE_JUNE = date(2030, 5, 1)
JUNE_4 = date(2030, 6, 4)

# -- inbox ---------------------------------------------------------------------------


def test_inbox_shows_an_open_task_to_the_manager_until_it_is_decided(
    office: Office, runner: ProjectionRunner, read_models: ReadModels
) -> None:
    case_id = office.submit("e-3", JUNE_3, JUNE_7)
    office.ask_manager(case_id)
    runner.catch_up()

    [task] = read_models.open_tasks("e-2")
    assert (task.case_id, task.task_id, task.process) == (
        case_id,
        approval_task_id(case_id),
        "leave",
    )
    assert (task.requester_id, task.assignee_id, task.escalated) == ("e-3", "e-2", False)
    assert task.title == "Linus: annual leave 2030-06-03 to 2030-06-07 (5 days)"
    assert task.due_at == MONDAY_MORNING + timedelta(days=2)
    assert read_models.open_tasks("e-1") == []

    office.decide(case_id, "e-2", Decision.APPROVE)
    runner.catch_up()
    assert read_models.open_tasks("e-2") == []


def test_inbox_lists_the_most_urgent_task_first(
    office: Office, runner: ProjectionRunner, read_models: ReadModels
) -> None:
    later = office.submit("e-3", JUNE_3, JUNE_7)
    office.ask_manager(later, MONDAY_MORNING + timedelta(days=1))
    sooner = office.submit("e-4", JUNE_3, JUNE_7)
    office.ask_manager(sooner, MONDAY_MORNING)
    runner.catch_up()

    assert [task.case_id for task in read_models.open_tasks("e-2")] == [sooner, later]


def test_escalation_adds_the_task_to_the_next_manager_and_marks_it_escalated(
    office: Office, runner: ProjectionRunner, read_models: ReadModels
) -> None:
    case_id = office.submit("e-3", JUNE_3, JUNE_7)
    office.ask_manager(case_id)
    office.escalate(case_id)
    runner.catch_up()

    [for_manager] = read_models.open_tasks("e-2")
    [for_their_manager] = read_models.open_tasks("e-1")
    assert for_manager.escalated
    assert for_their_manager.escalated
    assert for_their_manager.case_id == case_id
    assert for_their_manager.due_at == for_manager.due_at

    office.decide(case_id, "e-1", Decision.REJECT, "busy month")
    runner.catch_up()
    assert read_models.open_tasks("e-1") == read_models.open_tasks("e-2") == []


def test_withdrawing_a_request_takes_its_task_out_of_the_inbox(
    office: Office, runner: ProjectionRunner, read_models: ReadModels
) -> None:
    case_id = office.submit("e-3", JUNE_3, JUNE_7)
    office.ask_manager(case_id)
    runner.catch_up()
    assert len(read_models.open_tasks("e-2")) == 1

    office.withdraw(case_id, "e-3")
    runner.catch_up()
    assert read_models.open_tasks("e-2") == []


# -- balances ------------------------------------------------------------------------


def test_balances_count_pending_and_approved_days_like_the_leave_account(
    office: Office,
    runner: ProjectionRunner,
    read_models: ReadModels,
    application: BackofficeApplication,
) -> None:
    office.approved("e-3", JUNE_3, JUNE_7)
    office.submit("e-3", date(2030, 7, 1), date(2030, 7, 5), half_day_start=True)
    office.submit("e-3", date(2030, 9, 2), date(2030, 9, 4), LeaveType.UNPAID)
    office.submit("e-3", date(2030, 9, 5), date(2030, 9, 6), LeaveType.SICK)
    runner.catch_up()

    balance = read_models.balance("e-3", 2030)
    assert balance == LeaveBalance(
        "e-3", 2030, Decimal(30), Decimal(5), Decimal("4.5"), Decimal("20.5")
    )
    account = application.leave_balance("e-3", 2030)
    assert (balance.entitled, balance.approved, balance.pending, balance.remaining) == (
        account.entitled,
        account.approved,
        account.pending,
        account.remaining,
    )


def test_a_leavers_balance_is_pro_rated_in_the_year_they_leave_and_nothing_after(
    office: Office, runner: ProjectionRunner, read_models: ReadModels
) -> None:
    leaving = replace(ORGANISATION[2], end_date=date(2030, 6, 30))  # 181 days of 365
    office.app.load_organisation([leaving], meta("hr"))
    runner.catch_up()

    this_year, next_year = read_models.balance("e-3", 2030), read_models.balance("e-3", 2031)

    assert this_year is not None and next_year is not None
    assert (this_year.entitled, next_year.entitled) == (Decimal(15), Decimal(0))
    assert this_year.entitled == office.app.leave_balance("e-3", 2030).entitled


def test_a_request_over_new_year_counts_its_days_in_each_year(
    office: Office, runner: ProjectionRunner, read_models: ReadModels
) -> None:
    office.submit("e-3", date(2030, 12, 30), date(2031, 1, 3))  # 1 January is a holiday
    runner.catch_up()

    for year in (2030, 2031):
        balance = read_models.balance("e-3", year)
        assert balance is not None
        assert (balance.pending, balance.remaining) == (Decimal(2), Decimal(28))


def test_cancelling_approved_leave_gives_the_days_back(
    office: Office, runner: ProjectionRunner, read_models: ReadModels
) -> None:
    case_id = office.approved("e-3", JUNE_3, JUNE_7)
    runner.catch_up()
    assert read_models.balance("e-3", 2030) == LeaveBalance(
        "e-3", 2030, Decimal(30), Decimal(5), Decimal(0), Decimal(25)
    )

    office.cancel(case_id, "e-3", today=BEFORE_JUNE)
    runner.catch_up()
    assert read_models.balance("e-3", 2030) == LeaveBalance(
        "e-3", 2030, Decimal(30), Decimal(0), Decimal(0), Decimal(30)
    )


def test_leave_ended_early_leaves_only_its_kept_days_in_every_read_model(
    office: Office, runner: ProjectionRunner, read_models: ReadModels
) -> None:
    case_id = office.approved("e-3", JUNE_3, JUNE_7)
    runner.catch_up()

    office.shorten(case_id, "e-3", last_day=JUNE_4, today=JUNE_4)
    runner.catch_up()

    assert read_models.balance("e-3", 2030) == LeaveBalance(
        "e-3", 2030, Decimal(30), Decimal(2), Decimal(0), Decimal(28)
    )
    days = read_models.team_absences("e-2", JUNE_3, JUNE_7)
    assert [absence.day for absence in days] == [JUNE_3, JUNE_4]
    case = read_models.leave_case(case_id)
    assert case is not None
    assert (case.end, case.working_days, case.status) == (JUNE_4, Decimal(2), "approved")


def test_leave_ended_at_noon_keeps_the_morning_of_its_new_last_day_in_every_read_model(
    office: Office, runner: ProjectionRunner, read_models: ReadModels
) -> None:
    case_id = office.approved("e-3", JUNE_3, JUNE_7)
    runner.catch_up()

    office.shorten(case_id, "e-3", last_day=JUNE_4, today=JUNE_4, half_day_end=True)
    runner.catch_up()

    assert read_models.balance("e-3", 2030) == LeaveBalance(
        "e-3", 2030, Decimal(30), Decimal("1.5"), Decimal(0), Decimal("28.5")
    )
    days = read_models.team_absences("e-2", JUNE_3, JUNE_7)
    assert [(absence.day, absence.share) for absence in days] == [
        (JUNE_3, Decimal(1)),
        (JUNE_4, Decimal("0.5")),
    ]
    case = read_models.leave_case(case_id)
    assert case is not None
    assert (case.end, case.half_day_end, case.working_days) == (JUNE_4, True, Decimal("1.5"))


def test_an_unknown_employee_has_no_balance(
    office: Office, runner: ProjectionRunner, read_models: ReadModels
) -> None:
    runner.catch_up()
    assert read_models.balance("e-404", 2030) is None
    balance = read_models.balance("e-5", 2030)
    assert balance is not None
    assert balance.remaining == Decimal(30)


# -- team calendar -------------------------------------------------------------------


def test_team_calendar_shows_approved_and_sick_leave_of_direct_reports(
    office: Office, runner: ProjectionRunner, read_models: ReadModels
) -> None:
    vacation = office.approved("e-3", JUNE_3, JUNE_7)
    sick = office.submit("e-4", date(2030, 6, 5), date(2030, 6, 6), LeaveType.SICK)
    pending = office.submit("e-4", date(2030, 6, 12), date(2030, 6, 13))
    office.approved("e-5", JUNE_3, JUNE_7)  # reports to e-1, not e-2
    runner.catch_up()

    absences = read_models.team_absences("e-2", date(2030, 6, 4), date(2030, 6, 5))
    assert [(a.employee_id, a.day, a.case_id, a.leave_type) for a in absences] == [
        ("e-3", date(2030, 6, 4), vacation, "annual"),
        ("e-3", date(2030, 6, 5), vacation, "annual"),
        ("e-4", date(2030, 6, 5), sick, "sick"),
    ]
    assert all(a.share == Decimal(1) and a.approved for a in absences)
    june = (date(2030, 6, 1), date(2030, 6, 30))
    tentative = read_models.team_absences("e-2", *june, include_pending=True)
    assert {a.day for a in tentative if a.case_id == pending} == {
        date(2030, 6, 12),
        date(2030, 6, 13),
    }
    assert {a.employee_id for a in read_models.team_absences("e-1", *june)} == {"e-5"}


def test_cancelled_leave_leaves_the_team_calendar(
    office: Office, runner: ProjectionRunner, read_models: ReadModels
) -> None:
    case_id = office.approved("e-3", JUNE_3, JUNE_7)
    runner.catch_up()
    assert len(read_models.team_absences("e-2", JUNE_3, JUNE_7)) == 5

    office.cancel(case_id, "e-3", today=BEFORE_JUNE)
    runner.catch_up()
    assert read_models.team_absences("e-2", JUNE_3, JUNE_7, include_pending=True) == []


# -- leave cases ---------------------------------------------------------------------


def test_leave_cases_follow_each_request_to_its_status(
    office: Office, runner: ProjectionRunner, read_models: ReadModels
) -> None:
    taken = office.approved("e-3", JUNE_3, JUNE_7)
    office.take(taken)
    rejected = office.submit("e-3", date(2030, 7, 1), date(2030, 7, 2))
    office.ask_manager(rejected)
    office.decide(rejected, "e-2", Decision.REJECT)
    withdrawn = office.submit("e-3", date(2030, 7, 8), date(2030, 7, 8))
    office.withdraw(withdrawn, "e-3")
    sick = office.submit("e-3", date(2030, 9, 2), date(2030, 9, 3), LeaveType.SICK)
    pending = office.submit("e-3", date(2030, 10, 7), date(2030, 10, 9), half_day_start=True)
    runner.catch_up()

    cases = read_models.cases_of("e-3")
    assert [(c.case_id, c.status) for c in cases] == [
        (pending, LeaveStatus.PENDING),
        (sick, LeaveStatus.RECORDED),
        (withdrawn, LeaveStatus.WITHDRAWN),
        (rejected, LeaveStatus.REJECTED),
        (taken, LeaveStatus.TAKEN),
    ]
    latest = read_models.leave_case(pending)
    assert latest is not None
    assert (latest.start, latest.end, latest.half_day_start) == (
        date(2030, 10, 7),
        date(2030, 10, 9),
        True,
    )
    assert latest.working_days == Decimal("2.5")
    first = cases[-1]
    assert first.working_days == Decimal(5)
    assert first.submitted_at < first.updated_at
    assert read_models.cases_of("e-4") == []


def test_leave_cases_name_the_position_of_each_requests_latest_change(
    office: Office, runner: ProjectionRunner, read_models: ReadModels
) -> None:
    """A follower reads the cases changed after the last position it saw, oldest change
    first: a case changed again comes again, at its new position, and only once."""
    first = office.submit("e-3", JUNE_3, JUNE_7)
    second = office.submit("e-4", JUNE_3, JUNE_7)
    runner.catch_up()
    seen = read_models.leave_case_changes(None, after=0, limit=10)
    assert [case.case_id for case in seen] == [first, second]
    assert seen[0].position < seen[1].position
    office.ask_manager(first)
    decided = office.decide(first, "e-2", Decision.APPROVE)
    office.submit("e-5", JUNE_3, JUNE_7)  # another requester's, not followed below
    runner.catch_up()

    changed = read_models.leave_case_changes(None, after=seen[-1].position, limit=10)
    assert [(case.case_id, case.status) for case in changed][:1] == [(first, LeaveStatus.APPROVED)]
    assert seen[-1].position < changed[0].position <= decided.position
    assert second not in {case.case_id for case in changed}
    theirs = read_models.leave_case_changes(["e-3", "e-4"], after=0, limit=10)
    assert [case.case_id for case in theirs] == [second, first]
    assert read_models.leave_case_changes(["e-3", "e-4"], after=0, limit=1) == theirs[:1]
    assert read_models.leave_case_changes([], after=0, limit=10) == []


def test_a_task_opened_or_escalated_on_a_request_is_a_change_followers_are_given(
    office: Office, runner: ProjectionRunner, read_models: ReadModels
) -> None:
    """Its manager asked, then theirs: each comes to a follower as the request's latest
    change, at that event's position and time (the status stays pending)."""
    case_id = office.submit("e-3", JUNE_3, JUNE_7)
    runner.catch_up()
    [submitted] = read_models.leave_case_changes(None, after=0, limit=10)

    asked = office.ask_manager(case_id)
    runner.catch_up()
    [opened] = read_models.leave_case_changes(None, after=submitted.position, limit=10)
    escalated = office.escalate(case_id)
    runner.catch_up()
    [sent_up] = read_models.leave_case_changes(None, after=opened.position, limit=10)

    assert (opened.case_id, opened.status, opened.position) == (
        case_id,
        LeaveStatus.PENDING,
        asked.position,
    )
    assert (sent_up.position, sent_up.status) == (escalated.position, LeaveStatus.PENDING)
    assert submitted.updated_at < opened.updated_at < sent_up.updated_at


# -- employee directory --------------------------------------------------------------


def test_a_new_manager_sees_the_moved_employee_in_their_team(
    office: Office, runner: ProjectionRunner, read_models: ReadModels
) -> None:
    office.approved("e-4", JUNE_3, JUNE_7)
    moved = replace(ORGANISATION[3], manager_id="e-1", email="maggie@example.com")
    office.app.load_organisation([moved], meta("hr"))
    runner.catch_up()

    employee = read_models.employee("e-4")
    assert employee is not None
    assert (employee.manager_id, employee.email) == ("e-1", "maggie@example.com")
    assert [e.employee_id for e in read_models.direct_reports("e-1")] == ["e-2", "e-4", "e-5"]
    assert read_models.team_absences("e-2", JUNE_3, JUNE_7) == []
    assert len(read_models.team_absences("e-1", JUNE_3, JUNE_7)) == 5


# -- the runner ----------------------------------------------------------------------


def recorded(office: Office, after: int = 0) -> int:
    """How many events are recorded after a position."""
    notifications = office.app.recorder.select_notifications(
        start=after, limit=10_000, inclusive_of_start=False
    )
    return len(notifications)


def some_history(office: Office) -> None:
    """Requests in every state, so every projection has rows."""
    office.approved("e-3", JUNE_3, JUNE_7)
    cancelled = office.approved("e-4", JUNE_3, JUNE_7)
    office.cancel(cancelled, "e-4", today=BEFORE_JUNE)
    escalated = office.submit("e-3", date(2030, 12, 30), date(2031, 1, 3))
    office.ask_manager(escalated)
    office.escalate(escalated)
    office.submit("e-4", date(2030, 9, 2), date(2030, 9, 4), LeaveType.SICK)
    office.submit("e-5", date(2030, 7, 1), date(2030, 7, 5), half_day_start=True)
    ended_early = office.approved("e-5", date(2030, 8, 5), date(2030, 8, 9))
    office.shorten(ended_early, "e-5", last_day=date(2030, 8, 6), today=date(2030, 8, 6))
    at_noon = office.approved("e-4", date(2030, 10, 7), date(2030, 10, 9))
    office.shorten(at_noon, "e-4", date(2030, 10, 8), date(2030, 10, 8), half_day_end=True)


def test_rebuild_gives_exactly_the_same_rows_as_the_incremental_run(
    office: Office, runner: ProjectionRunner, dump_rows: Callable[[], dict[str, Any]]
) -> None:
    some_history(office)
    runner.catch_up()
    incremental = dump_rows()
    assert all(incremental.values())

    reached: list[tuple[int, int]] = []
    applied = runner.rebuild(progress=lambda position, end: reached.append((position, end)))

    assert dump_rows() == incremental
    assert applied == recorded(office)
    end = runner.position()
    assert reached[-1] == (end, end)
    assert [position for position, _ in reached] == sorted({p for p, _ in reached})


def test_a_wait_ends_when_the_runner_of_this_process_commits_not_at_the_next_poll(
    office: Office, runner: ProjectionRunner, store_url: str
) -> None:
    office.submit("e-3", JUNE_3, JUNE_7)
    position = recorded(office)
    waits: list[tuple[bool, float]] = []

    def wait() -> None:
        started = time.monotonic()
        with Database(StoreLocation(store_url)) as database:
            reached = tracking.wait_for(
                database, runner.names, position, timeout=30, interval=10, progress=runner.progress
            )
        waits.append((reached, time.monotonic() - started))

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.2)  # the waiter has polled once, found nothing, and waits up to 10 s
    runner.catch_up()
    waiter.join(30)

    [(reached, seconds)] = waits
    assert reached
    assert seconds < 5  # woken by the batch's commit, not by its next poll


def test_a_rebuild_shared_out_among_processes_gives_the_same_rows(
    office: Office, runner: ProjectionRunner, dump_rows: Callable[[], dict[str, Any]]
) -> None:
    some_history(office)
    runner.catch_up()
    incremental = dump_rows()

    applied = runner.rebuild(processes=2)

    assert dump_rows() == incremental
    assert applied == recorded(office)
    assert runner.resuming() == []


def test_a_rebuild_in_large_batches_gives_the_rows_of_small_ones(
    office: Office, runner: ProjectionRunner, dump_rows: Callable[[], dict[str, Any]]
) -> None:
    # Large batches write their rows differently (PostgreSQL copies them in bulk).
    some_history(office)
    for week in range(12):
        monday = date(2031, 3, 3) + timedelta(weeks=week)
        office.withdraw(office.submit("e-3", monday, monday + timedelta(days=2)), "e-3")
    runner.catch_up()
    incremental = dump_rows()
    assert len(incremental["audit_log"]) > COPY_FROM

    runner.rebuild_batch_size = 10_000
    runner.rebuild()

    assert dump_rows() == incremental


def test_rebuilding_one_read_model_leaves_the_others_alone(
    office: Office, runner: ProjectionRunner, dump_rows: Callable[[], dict[str, Any]]
) -> None:
    some_history(office)
    runner.catch_up()
    before = dump_rows()

    assert runner.rebuild(["inbox"]) == recorded(office)
    assert dump_rows() == before


@contextmanager
def decoded_classes(app: BackofficeApplication) -> Iterator[list[type]]:
    """The classes of the events ``app``'s mapper decodes meanwhile, in order."""
    decoded: list[type] = []
    decode = app.mapper.to_domain_event

    def decode_and_note(notification: Any) -> Any:
        event = decode(notification)
        decoded.append(type(event))
        return event

    app.mapper.to_domain_event = decode_and_note  # type: ignore[method-assign,assignment]
    try:
        yield decoded
    finally:
        del app.mapper.to_domain_event


def test_a_runner_of_some_read_models_reads_only_their_events_to_the_end_of_the_log(
    office: Office, store_url: str, dump_rows: Callable[[], dict[str, Any]]
) -> None:
    """An inbox-only runner (a rebuild's share, say) decodes the inbox's kinds of event
    alone, and still reads (and counts) the whole log in its batches and moves to its
    end: past the accounts' and the directory's events after the last it handles."""
    some_history(office)
    office.app.load_organisation([replace(ORGANISATION[-1], name="Renamed")], meta("hr"))
    end = office.app.recorder.max_notification_id()
    app = office.app
    with ProjectionRunner(
        store_url, projections=[Inbox()], application=app, batch_size=2
    ) as runner:
        with decoded_classes(app) as decoded:
            applied = runner.catch_up()
        assert runner.position("inbox") == end
        assert runner.progress.reached >= (end or 0)
        assert runner.catch_up() == 0
    inbox = dump_rows()["inbox"]

    assert applied == recorded(office) > len(decoded)
    assert decoded and all(issubclass(kind, Inbox.handles) for kind in decoded)
    with ProjectionRunner(store_url) as everything:  # reads every event
        everything.rebuild(["inbox"])
    assert inbox and dump_rows()["inbox"] == inbox


def test_a_read_model_may_handle_every_event_of_an_aggregate(store_url: str) -> None:
    """Whether a stored event is decoded is asked of the class its topic names (the
    library keeps superseded copies of some event classes as bases of the current
    ones, under the same topic): a read model handling an aggregate's every event gets
    that aggregate's events, and no other is decoded."""

    class EveryEmployeeEvent(EmployeeDirectory):
        handles = (Employee.Event,)  # type: ignore[assignment]

    app = BackofficeApplication(env=StoreLocation(store_url).eventsourcing_env())
    try:
        app.load_organisation(ORGANISATION, meta("hr"))
        app.load_organisation([replace(ORGANISATION[-1], name="Renamed")], meta("hr"))
        Office(app).submit("e-3", JUNE_3, JUNE_7)
        with (
            ProjectionRunner(
                store_url, projections=[EveryEmployeeEvent()], application=app
            ) as runner,
            decoded_classes(app) as decoded,
        ):
            assert runner.catch_up() == app.recorder.max_notification_id()
    finally:
        app.close()

    assert len(decoded) == len(ORGANISATION) + 1  # registered, and one renamed
    assert all(issubclass(kind, Employee.Event) for kind in decoded)


def test_catching_up_again_applies_nothing_and_changes_nothing(
    office: Office, runner: ProjectionRunner, dump_rows: Callable[[], dict[str, Any]]
) -> None:
    some_history(office)
    assert runner.catch_up() == recorded(office)
    before = dump_rows()

    assert runner.catch_up() == 0
    assert dump_rows() == before


def test_replaying_events_after_a_rewound_position_counts_nothing_twice(
    office: Office,
    runner: ProjectionRunner,
    read_models: ReadModels,
    dump_rows: Callable[[], dict[str, Any]],
    store_url: str,
) -> None:
    some_history(office)
    runner.catch_up()
    before = dump_rows()
    end = runner.position()

    for rewound_to in (end // 2, 0):
        with (
            Database(StoreLocation(store_url)) as database,
            database.transaction() as cursor,
        ):
            cursor.execute("UPDATE projection_tracking SET position = ?", [rewound_to])
        assert runner.catch_up() == recorded(office, after=rewound_to)
        assert dump_rows() == before
    assert read_models.balance("e-3", 2030) == LeaveBalance(
        "e-3", 2030, Decimal(30), Decimal(5), Decimal(2), Decimal(23)
    )


def test_tracking_positions_never_move_backwards(
    office: Office, runner: ProjectionRunner, store_url: str
) -> None:
    some_history(office)
    runner.catch_up()
    end = runner.position()

    with Database(StoreLocation(store_url)) as database, database.transaction() as cursor:
        tracking.advance(cursor, "inbox", 1)
    assert runner.position("inbox") == end


def test_two_runners_on_one_store_apply_each_event_once(
    office: Office,
    runner: ProjectionRunner,
    store_url: str,
    dump_rows: Callable[[], dict[str, Any]],
) -> None:
    some_history(office)
    counts: list[int] = []
    with ProjectionRunner(store_url, batch_size=3) as other:
        threads = [
            threading.Thread(target=lambda r=each: counts.append(r.catch_up()))
            for each in (runner, other)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    together = dump_rows()

    assert sum(counts) == recorded(office)
    runner.rebuild()
    assert dump_rows() == together


def test_background_runner_applies_new_events_and_wait_for_reads_your_writes(
    office: Office, runner: ProjectionRunner, read_models: ReadModels
) -> None:
    runner.start()
    try:
        case_id = office.submit("e-3", JUNE_3, JUNE_7)
        saved = office.ask_manager(case_id)
        assert read_models.wait_for(saved.position, timeout=5)
        assert [task.case_id for task in read_models.open_tasks("e-2")] == [case_id]

        saved = office.decide(case_id, "e-2", Decision.APPROVE)
        assert runner.wait_for(saved.position, timeout=5)
        assert read_models.open_tasks("e-2") == []
        assert read_models.position() >= saved.position
    finally:
        runner.stop()


def test_wait_for_gives_up_when_the_read_models_are_behind(
    office: Office, runner: ProjectionRunner, read_models: ReadModels
) -> None:
    saved = office.ask_manager(office.submit("e-3", JUNE_3, JUNE_7))

    assert not read_models.wait_for(saved.position, timeout=0.05)
    runner.catch_up()
    assert read_models.wait_for(saved.position, timeout=0)


def test_runner_follows_the_library_subscription_on_postgres_and_polls_on_sqlite(
    office: Office, runner: ProjectionRunner, store_url: str
) -> None:
    runner.start()
    try:
        assert eventually(lambda: runner.subscription is not None)
        expected = (
            PostgresSubscription if StoreLocation(store_url).is_postgres else PollingSubscription
        )
        assert isinstance(runner.subscription, expected)
        saved = office.ask_manager(office.submit("e-3", JUNE_3, JUNE_7))
        assert runner.wait_for(saved.position, timeout=5)
    finally:
        runner.stop()
    assert runner.subscription is None


def test_a_subscription_yields_recorded_then_new_notifications_until_stopped(
    office: Office, application: BackofficeApplication
) -> None:
    recorded = application.recorder.max_notification_id() or 0
    received: list[int] = []
    with subscribe(application.recorder, gt=recorded - 2) as subscription:

        def follow() -> None:
            received.extend(notification.id for notification in subscription)

        follower = threading.Thread(target=follow)
        follower.start()
        position = office.ask_manager(office.submit("e-3", JUNE_3, JUNE_7)).position
        assert eventually(lambda: bool(received) and received[-1] == position)
        subscription.stop()
        follower.join(timeout=5)

    assert not follower.is_alive()
    assert received == list(range(recorded - 1, position + 1))


def test_the_polling_subscription_stops_while_waiting(application: BackofficeApplication) -> None:
    subscription = PollingSubscription(application.recorder, gt=0, interval=10)
    waiter = threading.Thread(target=lambda: list(subscription))
    waiter.start()
    started = datetime.now(UTC)
    subscription.stop()
    waiter.join(timeout=5)
    assert not waiter.is_alive()
    assert datetime.now(UTC) - started < timedelta(seconds=5)


def test_a_runner_in_the_writing_process_wakes_at_once_instead_of_at_its_next_poll(
    office: Office, application: BackofficeApplication, store_url: str
) -> None:
    """A runner sharing the application (as ``backoffice up`` wires it) is woken by each
    save; another process's writes wait for the poll (here: a minute, never reached)."""
    with ProjectionRunner(store_url, application=application, poll_interval=60) as runner:
        runner.start()
        assert eventually(lambda: runner.subscription is not None)
        saved = office.ask_manager(office.submit("e-3", JUNE_3, JUNE_7))

        assert runner.wait_for(saved.position, timeout=5)


def test_a_rebuild_reads_in_its_own_larger_batches(
    office: Office, application: BackofficeApplication, store_url: str
) -> None:
    for week in range(4):
        first = JUNE_3 + timedelta(weeks=week)
        office.ask_manager(office.submit("e-3", first, first + timedelta(days=1)))
    recorded = application.recorder.max_notification_id() or 0
    batches: list[int] = []

    with ProjectionRunner(
        store_url, application=application, batch_size=4, rebuild_batch_size=10
    ) as runner:
        runner.catch_up(progress=lambda position, last: batches.append(position))
        following = len(batches)
        batches.clear()
        runner.rebuild(progress=lambda position, last: batches.append(position))

    assert following == -(-recorded // 4)
    assert len(batches) == -(-recorded // 10)


def test_rows_copied_in_bulk_are_stored_as_rows_inserted_one_by_one(store_url: str) -> None:
    values = ["plain", "", "tab\there", "line\nbreak", "back\\slash", "\\N", None]
    rows = [(index, values[index % len(values)], index % 2 == 0) for index in range(2 * COPY_FROM)]
    with Database(StoreLocation(store_url)) as database:
        with database.transaction() as cursor:
            for table in ("bulk", "one_by_one"):
                cursor.execute(f"CREATE TABLE {table} (k BIGINT PRIMARY KEY, t TEXT, b BOOLEAN)")
        with database.transaction() as cursor:
            cursor.insert_many("bulk", ("k", "t", "b"), rows, "ON CONFLICT (k) DO NOTHING")
            for row in rows:
                cursor.insert_many(
                    "one_by_one", ("k", "t", "b"), [row], "ON CONFLICT (k) DO NOTHING"
                )
        with database.transaction(write=False) as cursor:
            bulk = cursor.execute("SELECT * FROM bulk ORDER BY k").fetchall()
            one_by_one = cursor.execute("SELECT * FROM one_by_one ORDER BY k").fetchall()

    assert bulk == one_by_one
    assert [row[1] for row in bulk[: len(values)]] == values


def test_a_value_bulk_copy_would_store_differently_is_refused(postgres_url: str) -> None:
    rows = [(index, uuid4()) for index in range(COPY_FROM)]  # text must be given as text
    with Database(StoreLocation(postgres_url)) as database:
        with database.transaction() as cursor:
            cursor.execute("CREATE TABLE ids (k BIGINT PRIMARY KEY, t TEXT)")
        with pytest.raises(TypeError, match="differently"), database.transaction() as cursor:
            cursor.insert_many("ids", ("k", "t"), rows, "ON CONFLICT (k) DO NOTHING")


def audit_indexes(store_url: str) -> set[str]:
    with Database(StoreLocation(store_url)) as database, database.transaction() as cursor:
        if cursor.is_postgres:
            sql = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
        else:
            sql = "SELECT name FROM sqlite_master WHERE type = 'index'"
        return {name for (name,) in cursor.execute(sql).fetchall() if "audit_log_by" in name}


def test_the_indexes_a_rebuild_dropped_wait_for_its_end(
    office: Office, runner: ProjectionRunner, store_url: str
) -> None:
    some_history(office)
    runner.catch_up()
    assert len(audit_indexes(store_url)) == 4
    with Database(StoreLocation(store_url)) as database, database.transaction() as cursor:
        [audit] = [p for p in runner.projections if p.name == "audit_log"]
        audit.drop_read_indexes(cursor)  # as a rebuild killed half way leaves them
        tracking.start_rebuild(cursor, audit.name)

    ReadModels(store_url).close()  # an API starting meanwhile makes the tables it needs
    assert audit_indexes(store_url) == set()

    runner.rebuild(["audit_log"])  # resumes, and makes them at its end

    assert len(audit_indexes(store_url)) == 4


def test_a_following_runner_finishes_a_rebuild_that_stopped_half_way(
    office: Office, runner: ProjectionRunner, store_url: str
) -> None:
    some_history(office)
    runner.catch_up()
    with Database(StoreLocation(store_url)) as database, database.transaction() as cursor:
        [audit] = [p for p in runner.projections if p.name == "audit_log"]
        audit.drop_read_indexes(cursor)  # as a rebuild killed half way leaves them
        tracking.start_rebuild(cursor, audit.name)

    runner.start()  # as `backoffice up` does after the rebuild stopped

    assert eventually(lambda: runner.resuming() == [])
    assert len(audit_indexes(store_url)) == 4


OLD_LEAVE_CASES = (
    "case_id TEXT PRIMARY KEY, requester_id TEXT NOT NULL, leave_type TEXT NOT NULL,"
    " first_day TEXT NOT NULL, last_day TEXT NOT NULL, half_day_start BOOLEAN NOT NULL,"
    " half_day_end BOOLEAN NOT NULL, working_days TEXT NOT NULL, status TEXT NOT NULL,"
    " submitted_at TEXT NOT NULL, updated_at TEXT NOT NULL"
)
"""The leave cases' table before its rows named the position of their latest change."""


def test_a_read_model_made_before_a_column_it_now_has_is_replayed_to_fill_it(
    office: Office, store_url: str, dump_rows: Callable[[], dict[str, Any]]
) -> None:
    """Its tables are made again and its position set back to 0, marked as a rebuild
    (whose reader-only indexes wait for its end); the other read models stay."""
    some_history(office)
    with ProjectionRunner(store_url, application=office.app) as first:
        first.catch_up()
    expected = dump_rows()
    end = office.app.recorder.max_notification_id() or 0
    with Database(StoreLocation(store_url)) as database, database.transaction() as cursor:
        cursor.execute("DROP TABLE leave_cases")
        cursor.execute(f"CREATE TABLE leave_cases ({OLD_LEAVE_CASES})")
        cursor.execute("INSERT INTO leave_cases (case_id, requester_id, leave_type, first_day,"
                       " last_day, half_day_start, half_day_end, working_days, status,"
                       " submitted_at, updated_at) VALUES ('x', 'e-3', 'annual', '2030-06-03',"
                       " '2030-06-07', FALSE, FALSE, '5', 'pending', '', '')")  # fmt: skip

    with ProjectionRunner(store_url, application=office.app) as runner:
        assert runner.position("leave_cases") == 0
        assert runner.position("inbox") == end
        assert runner.resuming() == ["leave_cases"]
        runner.catch_up()

    assert dump_rows() == expected


def test_a_following_runner_catches_up_read_models_a_rebuild_elsewhere_left_half_way(
    office: Office,
    runner: ProjectionRunner,
    store_url: str,
    dump_rows: Callable[[], dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`backoffice projections rebuild` killed half way (its helpers too) while `backoffice
    up` follows the log, and nothing recorded since: the following runner sees the read
    models fall behind what it had reached, catches them up and finishes the rebuild,
    rather than leaving the inbox and balances half replayed until the next event."""
    some_history(office)
    runner.catch_up()
    together = dump_rows()
    runner.check_interval = 0.05
    runner.start()
    try:
        assert eventually(lambda: runner.subscription is not None)
        half = (office.app.recorder.max_notification_id() or 0) // 2
        with ProjectionRunner(store_url, application=office.app, stop=half) as killed:
            monkeypatch.setattr(killed, "_end_rebuilds", lambda projections: None)  # killed
            killed.rebuild()
        assert runner.resuming() != []

        assert eventually(lambda: runner.resuming() == [])
        assert eventually(lambda: dump_rows() == together)
        assert len(audit_indexes(store_url)) == 4
    finally:
        runner.stop()


def test_runners_of_other_read_models_do_not_wait_for_each_other(postgres_url: str) -> None:
    app = BackofficeApplication(env=StoreLocation(postgres_url).eventsourcing_env())
    app.load_organisation(ORGANISATION, meta("hr"))
    app.close()
    with (
        ProjectionRunner(postgres_url, projections=[EmployeeDirectory()]) as other,
        Database(StoreLocation(postgres_url)) as database,
    ):
        with database.transaction() as cursor:
            tracking.create_schema(cursor, all_projections())
        with database.transaction() as cursor:
            tracking.positions(cursor, for_update=True, names=["audit_log"])  # held meanwhile
            done = threading.Thread(target=other.catch_up, daemon=True)
            done.start()
            done.join(10)
            assert not done.is_alive()
        assert other.position("employee_directory") > 0


@pytest.mark.parametrize(
    "kind",
    [type(p) for p in all_projections() if isinstance(p, PreparedProjection)],
    ids=lambda kind: kind.name,
)
def test_a_read_model_works_out_its_rows_while_the_database_is_free_to_write(
    sqlite_url: str, kind: type[PreparedProjection]
) -> None:
    """On SQLite a runner's write transaction holds the whole database (the other
    processes of a shared rebuild and the application's writers wait): a read model
    reads and works out its rows before it begins (``Projection.prepare``), and only
    writes them inside it."""
    build = BackofficeApplication(env=StoreLocation(sqlite_url).eventsourcing_env())
    build.load_organisation(ORGANISATION, meta("hr"))
    office = Office(build)
    office.approved("e-3", JUNE_3, JUNE_7)
    office.ask_manager(office.submit("e-4", JUNE_3, JUNE_7))
    end = build.recorder.max_notification_id()
    build.close()
    free: list[bool] = []

    def prepare(self: PreparedProjection, cursor: Cursor, events: Sequence[object]) -> object:
        other = sqlite3.connect(StoreLocation(sqlite_url).sqlite_path, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")  # fails at once if a writer holds it
            other.execute("ROLLBACK")
            free.append(True)
        except sqlite3.OperationalError:
            free.append(False)
        finally:
            other.close()
        return kind.prepare(self, cursor, events)

    probing = type(kind.__name__, (kind,), {"prepare": prepare})()
    with ProjectionRunner(sqlite_url, projections=[probing]) as runner:
        applied = runner.catch_up(batch_size=2)
        reached = runner.position(kind.name)

    assert applied > 2 and len(free) > 1
    assert all(free)
    assert reached == end


@contextmanager
def _decided_in_the_inbox(
    office: Office, store_url: str
) -> Iterator[tuple[ProjectionRunner, ProjectionRunner, Database, int]]:
    """A task opened, then decided; the inbox at the opening (where the task shows), an
    inbox runner (``first``), one that replays no further than the opening
    (``second``), a connection for a rebuild's reset, and the opening's position."""
    case_id = office.submit("e-3", JUNE_3, JUNE_7)
    office.ask_manager(case_id)
    opened = office.app.recorder.max_notification_id() or 0
    office.decide(case_id, "e-2", Decision.APPROVE)
    app = office.app
    with (
        ProjectionRunner(store_url, projections=[Inbox()], application=app) as first,
        ProjectionRunner(store_url, projections=[Inbox()], application=app, stop=opened) as second,
        Database(StoreLocation(store_url)) as database,
    ):
        second.catch_up()
        yield first, second, database, opened


def test_rows_prepared_before_a_rebuild_emptied_them_are_never_written(
    office: Office, store_url: str
) -> None:
    """A runner prepares a batch from rows that a rebuild then empties, and another
    runner replays the log back to the very position the first one started from: equal
    positions must not pass the prepared rows as current (the rebuild's reset counts)."""
    app = office.app
    with _decided_in_the_inbox(office, store_url) as (first, second, database, opened):
        assert first.position("inbox") == opened
        interfered: list[bool] = []
        inbox = first.projections[0]
        prepare = Inbox.prepare

        def prepare_meanwhile(cursor: Cursor, events: Sequence[object]) -> object:
            if interfered:
                return prepare(inbox, cursor, events)  # type: ignore[arg-type]
            interfered.append(True)
            with database.transaction() as other:  # `projections rebuild inbox` begins
                Inbox().clear(other)
                tracking.reset(other, "inbox")
            prepared = prepare(inbox, cursor, events)  # type: ignore[arg-type]
            second.catch_up()  # replays up to that same position
            return prepared

        inbox.prepare = prepare_meanwhile  # type: ignore[method-assign]
        first.catch_up()

        with database.transaction(write=False) as cursor:
            rows = cursor.execute("SELECT case_id FROM inbox").fetchall()
        assert interfered
        assert rows == []  # the task was decided
        assert first.position("inbox") == app.recorder.max_notification_id()


def test_a_reset_between_the_reads_of_positions_and_resets_is_never_missed(
    office: Office, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild's reset commits between the runner's two unlocked reads (its positions
    and its reset counts), and another runner then replays back to the old position
    while the first prepares from the emptied rows. On PostgreSQL each statement sees
    what committed before it, so an old position paired with the new count would pass
    the locked check and write the emptied rows' batch as current."""
    app = office.app
    with _decided_in_the_inbox(office, store_url) as (first, second, database, _opened):
        armed: list[str] = []  # "between": reset after the first of the two reads
        reads: dict[str, Callable[..., dict[str, int]]] = {
            "positions": tracking.positions,
            "resets": tracking.resets,
        }

        def read_then_reset(name: str) -> Callable[..., dict[str, int]]:
            def read(cursor: Cursor, *args: Any, **kwargs: Any) -> dict[str, int]:
                result = reads[name](cursor, *args, **kwargs)
                if armed == ["between"] and not kwargs.get("for_update"):
                    armed[:] = ["during prepare"]
                    with database.transaction() as other:  # `projections rebuild inbox`
                        Inbox().clear(other)
                        tracking.reset(other, "inbox")
                return result

            return read

        monkeypatch.setattr(tracking, "positions", read_then_reset("positions"))
        monkeypatch.setattr(tracking, "resets", read_then_reset("resets"))
        inbox = first.projections[0]
        prepare = Inbox.prepare

        def prepare_meanwhile(cursor: Cursor, events: Sequence[object]) -> object:
            prepared = prepare(inbox, cursor, events)  # type: ignore[arg-type]
            if armed == ["during prepare"]:
                armed[:] = ["done"]
                second.catch_up()  # replays up to that same position
            return prepared

        inbox.prepare = prepare_meanwhile  # type: ignore[method-assign]
        armed.append("between")
        first.catch_up()

        with database.transaction(write=False) as cursor:
            rows = cursor.execute("SELECT case_id FROM inbox").fetchall()
        assert armed == ["done"]
        assert rows == []  # the task was decided
        assert first.position("inbox") == app.recorder.max_notification_id()


def test_read_models_take_only_a_runner_that_applies_all_they_read(store_url: str) -> None:
    with (
        ProjectionRunner(store_url, projections=[EmployeeDirectory()]) as partial,
        pytest.raises(ValueError, match="every read model"),
    ):
        ReadModels(store_url, progress=partial.progress)
