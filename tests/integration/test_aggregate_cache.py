"""Aggregates kept in memory: a command trusts them, and is right when another process
wrote meanwhile.

``here`` and ``there`` are two applications on one store, as an API process and a
worker (or two workers) would be: each keeps the events of the aggregates it used.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from uuid import UUID

import pytest

from activities.leave import case_state
from domain.case import Decision
from domain.employee import Employee, EmployeeProfile
from domain.errors import Conflict
from domain.leave_account import LeaveAccount
from domain.leave_request import LeaveStatus
from services.application import BackofficeApplication, Saved, approval_task_id
from services.store import StoreLocation
from tests.integration.conftest import MONDAY_MORNING, ORGANISATION, Office, meta
from workflows.approval import ApprovalWorkflow

START, END = date(2030, 6, 3), date(2030, 6, 7)


@pytest.fixture
def here(office: Office) -> Office:
    return office


@pytest.fixture
def there(store_url: str, here: Office) -> Iterator[Office]:
    app = BackofficeApplication(env=StoreLocation(store_url).eventsourcing_env())
    yield Office(app)
    app.close()


def stored_event_names(office: Office, aggregate_id: UUID) -> list[str]:
    return [type(e).__name__ for e in office.app.events.get(aggregate_id)]


def test_a_command_on_a_case_changed_elsewhere_is_decided_on_the_stored_case(
    here: Office, there: Office
) -> None:
    case_id = here.submit("e-3", START, END)
    here.ask_manager(case_id)
    there.decide(case_id, "e-2", Decision.REJECT)  # here still keeps the task open

    with pytest.raises(Conflict):  # the stored case's answer, not a second decision
        here.decide(case_id, "e-2", Decision.APPROVE)

    assert stored_event_names(here, case_id) == [
        "Submitted",
        "TaskOpened",
        "TaskDecided",
        "Rejected",
    ]
    assert here.app.leave_request(case_id).status is LeaveStatus.REJECTED


def test_a_refusal_on_a_kept_case_is_checked_against_the_stored_case(
    here: Office, there: Office
) -> None:
    case_id = here.submit("e-3", START, END)
    there.ask_manager(case_id)  # here keeps the case without its task

    saved = here.decide(case_id, "e-2", Decision.APPROVE)

    assert saved.case.status is LeaveStatus.APPROVED
    assert stored_event_names(here, case_id)[-1] == "Approved"


def test_a_command_already_applied_answers_with_the_stored_case(
    here: Office, there: Office
) -> None:
    case_id = here.submit("e-3", START, END)
    here.ask_manager(case_id)
    decision = meta("e-2", case_id)
    here.app.decide_leave_request(
        case_id, approval_task_id(case_id), Decision.APPROVE, None, decision
    )
    there.take(case_id)  # here keeps the case as approved

    # A retry of the same decision (same command id) records nothing and tells the truth.
    saved = here.app.decide_leave_request(
        case_id, approval_task_id(case_id), Decision.APPROVE, None, decision
    )

    assert saved.case.status is LeaveStatus.TAKEN
    assert stored_event_names(here, case_id)[-2:] == ["Approved", "Taken"]


def test_a_command_applied_already_answers_no_older_case_than_its_position_shows(
    here: Office, there: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The task's opening saved it but never reported, so it runs again (``there``, a
    worker not keeping the case) while the requester withdraws (``here``) and another
    request is saved. The workflow keeps the answer with the latest position, whichever
    reports first (``ApprovalWorkflow.adopt``): it must be the withdrawn case, never
    the pending one with its task open, which would let decisions through."""
    case_id = here.submit("e-3", START, END)
    opening = meta("system", case_id)
    here.app.open_approval_task(case_id, MONDAY_MORNING, opening)
    withdrawals: list[Saved] = []
    end_of_log = there.app.recorder.max_notification_id

    def meanwhile() -> int | None:
        if not withdrawals:  # there has read the case; here (a context of its own) writes
            withdrawals.append(contextvars.Context().run(here.withdraw, case_id, "e-3"))
            contextvars.Context().run(here.submit, "e-4", START, END)
        return end_of_log()

    monkeypatch.setattr(there.app.recorder, "max_notification_id", meanwhile)
    retried = there.app.open_approval_task(case_id, MONDAY_MORNING, opening)

    assert withdrawals
    for answers in ([withdrawals[0], retried], [retried, withdrawals[0]]):
        workflow = ApprovalWorkflow()
        for answer in answers:
            workflow.adopt(case_state(answer))
        assert workflow.current.status is LeaveStatus.WITHDRAWN
        assert not any(task.is_open for task in workflow.current.tasks)


def test_the_leave_account_kept_in_memory_never_double_books(here: Office, there: Office) -> None:
    here.submit("e-3", START, END)  # here keeps e-3's account
    there.submit("e-3", date(2030, 7, 1), date(2030, 7, 5))

    here.submit("e-3", date(2030, 8, 5), date(2030, 8, 9))

    account = there.app.leave_account("e-3")
    assert account is not None
    assert len(account.bookings) == 3
    assert stored_event_names(here, LeaveAccount.create_id("e-3")).count("Reserved") == 3


@pytest.mark.parametrize("action", ["approve", "reject", "withdraw", "cancel"])
def test_a_command_on_an_account_changed_elsewhere_books_on_the_stored_account(
    here: Office, there: Office, action: str
) -> None:
    here.submit("e-3", START, END)  # here keeps e-3's account with this case's days only
    case_id = there.submit("e-3", date(2030, 7, 1), date(2030, 7, 5))
    there.ask_manager(case_id)
    if action == "cancel":
        there.decide(case_id, "e-2", Decision.APPROVE)

    if action == "withdraw":
        here.withdraw(case_id, "e-3")
    elif action == "cancel":
        here.cancel(case_id, "e-3", today=date(2030, 6, 1))
    else:
        here.decide(case_id, "e-2", Decision.APPROVE if action == "approve" else Decision.REJECT)

    last = stored_event_names(here, LeaveAccount.create_id("e-3"))[-1]
    assert last == ("Confirmed" if action == "approve" else "Released")
    account = there.app.leave_account("e-3")
    assert account is not None
    assert (str(case_id) in account.bookings) is (action == "approve")


def test_a_command_run_again_on_the_stored_state_takes_a_new_instant(
    here: Office, there: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its events follow the ones it ran again after, in time as in the log: an instant
    (an auditor's "as of") shows the account as it was, never a state it never had."""
    here.submit("e-3", START, END)  # here keeps e-3's account
    profile = here.app.profile
    elsewhere: list[UUID] = []

    def meanwhile(employee_id: str) -> EmployeeProfile:
        if not elsewhere:  # while here's first attempt runs, there (another process: a
            # context of its own) books on the account
            case = contextvars.Context().run(
                there.submit, "e-3", date(2030, 8, 5), date(2030, 8, 9)
            )
            elsewhere.append(case)
        return profile(employee_id)

    monkeypatch.setattr(here.app, "profile", meanwhile)
    here.submit("e-3", date(2030, 7, 1), date(2030, 7, 5))

    account = list(here.app.events.get(LeaveAccount.create_id("e-3")))
    names = [type(event).__name__ for event in account]
    instants = [event.timestamp for event in account]  # type: ignore[attr-defined]
    assert names == ["Opened", "Reserved", "Reserved", "Reserved"]  # there's, then here's
    assert instants == sorted(instants)


def test_an_aggregate_from_kept_events_is_the_aggregate_the_store_gives(
    here: Office, store_url: str
) -> None:
    case_id = here.submit("e-3", START, END)
    here.ask_manager(case_id, MONDAY_MORNING)
    here.escalate(case_id)
    here.decide(case_id, "e-1", Decision.APPROVE)
    here.take(case_id)
    fresh = BackofficeApplication(env=StoreLocation(store_url).eventsourcing_env())
    try:
        for aggregate_id in (case_id, LeaveAccount.create_id("e-3")):
            kept = here.app.repository.get(aggregate_id, for_update=True)
            stored = fresh.repository.get(aggregate_id)
            assert vars(kept) == vars(stored)
            # Each get replays into a new aggregate: changing one changes no other.
            assert here.app.repository.get(aggregate_id) is not kept
    finally:
        fresh.close()


def test_only_the_most_recently_used_aggregates_are_kept(here: Office) -> None:
    repository = here.app.repository
    repository.maxsize = 2
    case_id = here.submit("e-3", START, END)  # the case and e-3's account, saved last
    assert set(repository.kept_ids()) == {case_id, LeaveAccount.create_id("e-3")}

    other = here.submit("e-4", START, END)

    assert set(repository.kept_ids()) == {other, LeaveAccount.create_id("e-4")}
    assert here.app.leave_request(case_id).status is LeaveStatus.PENDING  # read again


def test_the_events_kept_are_bounded_all_aggregates_together(here: Office) -> None:
    repository = here.app.repository
    repository.max_events = 3  # a new case has 1 event, a new account 2
    case_id = here.submit("e-3", START, END)
    assert set(repository.kept_ids()) == {case_id, LeaveAccount.create_id("e-3")}

    other = here.submit("e-4", START, END)

    assert set(repository.kept_ids()) == {other, LeaveAccount.create_id("e-4")}


def test_directory_changes_made_at_the_same_moment_are_all_recorded(store_url: str) -> None:
    """Two administrators change one employee at once (two API requests, two processes):
    the one whose save finds the other's first is made again on what is stored, instead
    of failing on the stream's version."""
    env = StoreLocation(store_url).eventsourcing_env()
    setup = BackofficeApplication(env=env)
    setup.load_organisation(ORGANISATION, meta("hr"))
    setup.close()
    applications = [BackofficeApplication(env=env) for _ in range(4)]
    start = threading.Barrier(len(applications), timeout=30)
    errors: list[BaseException] = []

    def rename(application: BackofficeApplication, number: int) -> None:
        try:
            renamed = replace(application.profile("e-3"), name=f"Linus {number}")
            start.wait()
            for round_ in range(5):
                application.put_employee(
                    replace(renamed, name=f"Linus {number}.{round_}"), meta(f"admin-{number}")
                )
        except BaseException as error:  # reported by the assertion below
            errors.append(error)
            start.abort()

    threads = [
        threading.Thread(target=rename, args=(application, number))
        for number, application in enumerate(applications)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        for application in applications:
            application.close()

    assert errors == []
    check = BackofficeApplication(env=env)
    try:
        names = [
            getattr(event, "changes", {}).get("name")
            for event in check.events.get(Employee.create_id("e-3"))
        ]
    finally:
        check.close()
    assert len([name for name in names if name]) == 4 * 5  # every change recorded


def test_requests_of_one_employee_decided_at_the_same_moment_are_all_recorded(
    here: Office,
) -> None:
    """A manager decides several requests of one employee at once (a bulk decision: the
    worker's activities in threads of one process): each books on the one leave account,
    and the one whose save finds another's first is made again on what is stored, as
    often as it takes, instead of failing the activity on the stream's version."""
    mondays = [date(2030, 7, 1) + timedelta(weeks=week) for week in range(8)]
    cases = []
    for monday in mondays:
        case_id = here.submit("e-3", monday, monday)
        here.ask_manager(case_id)
        cases.append(case_id)
    start = threading.Barrier(len(cases), timeout=30)
    errors: list[BaseException] = []

    def approve(case_id: UUID) -> None:
        try:
            start.wait()
            here.decide(case_id, "e-2", Decision.APPROVE)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)
            start.abort()

    threads = [threading.Thread(target=approve, args=(case_id,)) for case_id in cases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    names = stored_event_names(here, LeaveAccount.create_id("e-3"))
    assert names.count("Confirmed") == len(cases)
