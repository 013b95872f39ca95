"""The leave request workflow on the time-skipping test server, with real activities."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from temporalio.client import (
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from domain.calendar import WorkingCalendar
from domain.case import Decision
from domain.directory import DelegationTerms
from domain.leave import LeaveType
from domain.leave_request import LeaveStatus
from domain.meta import Meta
from services.application import BackofficeApplication, Saved, approval_task_id
from tests.workflows.conftest import Temporal
from workflows.leave import LeaveRequestWorkflow
from workflows.messages import (
    CaseState,
    ClosingRequest,
    DecisionRequest,
    LeaveRequestStart,
    ShorteningRequest,
    leave_workflow_id,
)

CALENDAR = WorkingCalendar("DE", "BY")
Handle = WorkflowHandle[LeaveRequestWorkflow, object]


def next_friday_with_working_monday_and_tuesday(after: date) -> date:
    day = after + timedelta(days=1)
    while not (
        day.weekday() == 4
        and CALENDAR.is_working_day(day)
        and CALENDAR.is_working_day(day + timedelta(days=3))
        and CALENDAR.is_working_day(day + timedelta(days=4))
    ):
        day += timedelta(days=1)
    return day


def working_days_from(first: date, count: int) -> tuple[date, date]:
    """A period starting on the first working day at or after ``first`` with ``count`` days."""
    while not CALENDAR.is_working_day(first):
        first += timedelta(days=1)
    last, found = first, 1
    while found < count:
        last += timedelta(days=1)
        found += CALENDAR.is_working_day(last)
    return first, last


async def submit(
    temporal: Temporal,
    employee_id: str = "e-100",
    leave_type: LeaveType = LeaveType.ANNUAL,
    days: int = 3,
    weeks_ahead: int = 3,
    today: date | None = None,
    *,
    submitted_by: str | None = None,
    reason: str | None = None,
) -> tuple[Handle, CaseState]:
    """Submit ``employee_id``'s leave, asked by them or (``submitted_by``) by HR for them."""
    today = today or await temporal.today()
    start, end = working_days_from(today + timedelta(weeks=weeks_ahead), days)
    case_id = uuid.uuid4()
    # Update-with-start, as the API does: a refused submission ends the workflow at
    # once, and a separate update could then find it already completed.
    operation = WithStartWorkflowOperation(
        LeaveRequestWorkflow.run,
        LeaveRequestStart(
            case_id=case_id,
            employee_id=employee_id,
            leave_type=leave_type,
            start=start,
            end=end,
            reason=reason,
            submitted_by=submitted_by or employee_id,
            by_hr=submitted_by is not None,
        ),
        id=leave_workflow_id(case_id),
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        task_queue=temporal.task_queue,
    )
    state = await temporal.client.execute_update_with_start_workflow(
        LeaveRequestWorkflow.submission, start_workflow_operation=operation
    )
    handle = await operation.workflow_handle()
    return handle, state


async def after_the_leave(temporal: Temporal, handle: Handle, case: CaseState) -> object:
    """The workflow's result, once test time has been skipped past the end of the leave.

    (The test server does not skip time on its own after an update-with-start.)
    """
    now = await temporal.env.get_current_time()
    await temporal.env.sleep(datetime.combine(case.end, now.timetz()) - now + timedelta(days=2))
    return await handle.result()


def handle_case_id(handle: Handle) -> uuid.UUID:
    return uuid.UUID(handle.id.removeprefix("leave-request-"))


async def decide(
    handle: Handle,
    actor: str,
    decision: Decision,
    comment: str = "",
    *,
    on_behalf_of: str | None = None,
) -> CaseState:
    return await handle.execute_update(
        LeaveRequestWorkflow.decide,
        DecisionRequest(
            task_id=approval_task_id(handle_case_id(handle)),
            decision=decision,
            actor=actor,
            comment=comment,
            on_behalf_of=on_behalf_of,
        ),
    )


async def open_task(handle: Handle) -> CaseState:
    """The case once its approval task is open (the workflow opens it right after submitting)."""
    for _ in range(100):
        state = await handle.query(LeaveRequestWorkflow.case)
        if state is not None and state.task(approval_task_id(state.case_id)) is not None:
            return state
    raise AssertionError("the approval task was never opened")


async def until(handle: Handle, condition: Callable[[CaseState], bool]) -> CaseState:
    """The case once ``condition`` holds (it is met by an activity still running)."""
    for _ in range(250):
        state = await handle.query(LeaveRequestWorkflow.case)
        if state is not None and condition(state):
            return state
        await asyncio.sleep(0.02)
    raise AssertionError(f"the case never got there; it is {state}")


async def test_approved_leave_is_debited_and_closed_as_taken_after_it_ends(
    temporal: Temporal, leave_app: BackofficeApplication
) -> None:
    handle, submitted = await submit(temporal, days=3)
    assert submitted.status is LeaveStatus.PENDING
    assert submitted.working_days == Decimal(3)
    await open_task(handle)

    approved = await decide(handle, "e-010", Decision.APPROVE, "enjoy")

    assert approved.status is LeaveStatus.APPROVED
    task = approved.task(approval_task_id(approved.case_id))
    assert task is not None and task.decided_by == "e-010" and task.comment == "enjoy"
    balance = leave_app.leave_balance("e-100", submitted.start.year)
    assert (balance.approved, balance.pending) == (Decimal(3), Decimal(0))
    final = await after_the_leave(temporal, handle, submitted)
    assert isinstance(final, CaseState) and final.status is LeaveStatus.TAKEN
    assert leave_app.leave_request(submitted.case_id).status is LeaveStatus.TAKEN


async def test_rejected_leave_is_closed_with_the_reason_and_gives_the_days_back(
    temporal: Temporal, leave_app: BackofficeApplication
) -> None:
    handle, submitted = await submit(temporal)
    await open_task(handle)

    await decide(handle, "e-010", Decision.REJECT, "team offsite that week")

    final = await handle.result()
    assert isinstance(final, CaseState)
    assert final.status is LeaveStatus.REJECTED
    assert final.closing_reason == "team offsite that week"
    balance = leave_app.leave_balance("e-100", submitted.start.year)
    assert (balance.approved, balance.pending) == (Decimal(0), Decimal(0))


async def test_overdue_task_escalates_after_two_business_days_across_a_weekend(
    temporal: Temporal, time_skipping_env: WorkflowEnvironment
) -> None:
    now = await time_skipping_env.get_current_time()
    friday = next_friday_with_working_monday_and_tuesday(now.date())
    await time_skipping_env.sleep(datetime.combine(friday, now.timetz()) - now)
    handle, _ = await submit(temporal, today=friday)
    opened = await open_task(handle)
    task = opened.task(approval_task_id(opened.case_id))
    assert task is not None
    assert task.due_at.date() == friday + timedelta(days=4)  # Tuesday, not Sunday

    await time_skipping_env.sleep(timedelta(days=3, hours=23))  # Monday night: not yet due
    monday = await handle.query(LeaveRequestWorkflow.case)
    assert monday is not None and monday.tasks[0].escalated_to == []

    await time_skipping_env.sleep(timedelta(days=1))
    escalated = await handle.query(LeaveRequestWorkflow.case)
    assert escalated is not None and escalated.tasks[0].escalated_to == ["e-001"]
    approved = await decide(handle, "e-001", Decision.APPROVE)
    assert approved.status is LeaveStatus.APPROVED


async def test_an_escalation_skips_a_manager_who_has_left_by_the_workflows_day_not_the_workers(
    temporal: Temporal, leave_app: BackofficeApplication
) -> None:
    """The escalation is due two business days on in the workflow's time; whoever has
    left by then is skipped, even where the worker's clock has not reached that day."""
    today = await temporal.today()
    meta = Meta(actor="hr", command_id="leaves", correlation_id="test")
    leave_app.put_employee(
        replace(leave_app.profile("e-001"), employee_id="e-000", email="e-000@example.com"), meta
    )
    leave_app.put_employee(
        replace(leave_app.profile("e-001"), manager_id="e-000", end_date=today), meta
    )
    handle, _ = await submit(temporal)
    opened = await open_task(handle)
    task = opened.task(approval_task_id(opened.case_id))
    assert task is not None and task.assignees == ["e-010"]

    await temporal.env.sleep(task.due_at - await temporal.env.get_current_time())
    await temporal.env.sleep(timedelta(hours=1))

    escalated = await handle.query(LeaveRequestWorkflow.case)
    assert escalated is not None and escalated.tasks[0].escalated_to == ["e-000"]


async def test_told_its_deciders_have_left_the_task_goes_up_at_once_and_still_escalates_when_due(
    temporal: Temporal, leave_app: BackofficeApplication
) -> None:
    handle, _ = await submit(temporal)
    opened = await open_task(handle)
    yesterday = await temporal.today() - timedelta(days=1)
    leave_app.put_employee(
        replace(leave_app.profile("e-010"), end_date=yesterday),
        Meta(actor="hr", command_id="alan-leaves", correlation_id="test"),
    )

    await handle.signal(LeaveRequestWorkflow.deciders_left)
    rerouted = await until(handle, lambda state: state.tasks[0].escalated_to == ["e-001"])
    task = opened.task(approval_task_id(opened.case_id))
    assert task is not None
    await temporal.env.sleep(task.due_at - await temporal.env.get_current_time())
    await temporal.env.sleep(timedelta(hours=1))
    later = await handle.query(LeaveRequestWorkflow.case)

    assert rerouted.status is LeaveStatus.PENDING
    assert later is not None and later.tasks[0].escalated_to == ["e-001"]  # nobody else above
    escalations = [
        event
        for event in leave_app.events.get(opened.case_id)
        if type(event).__name__ == "TaskEscalated"
    ]
    assert [event.because for event in escalations] == ["deciders_left"]  # type: ignore[attr-defined]
    assert (await decide(handle, "e-001", Decision.APPROVE)).status is LeaveStatus.APPROVED


async def test_told_its_deciders_have_left_while_one_is_still_here_the_task_stays(
    temporal: Temporal, leave_app: BackofficeApplication
) -> None:
    handle, _ = await submit(temporal)
    await open_task(handle)

    await handle.signal(LeaveRequestWorkflow.deciders_left)
    decided = await decide(handle, "e-010", Decision.APPROVE)

    assert decided.tasks[0].escalated_to == []
    assert decided.status is LeaveStatus.APPROVED


async def test_a_decision_by_whom_the_task_is_being_sent_up_to_waits_instead_of_being_refused(
    temporal: Temporal, leave_app: BackofficeApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the escalation is saved, the inbox shows the task to the manager above; their
    decision may reach the workflow before the escalation's activity has reported."""
    saved, reported = threading.Event(), threading.Event()
    escalate = leave_app.escalate_approval_task

    def escalate_then_report_late(*args: Any) -> Saved:
        done = escalate(*args)
        saved.set()
        reported.wait(10)
        return done

    monkeypatch.setattr(leave_app, "escalate_approval_task", escalate_then_report_late)
    handle, _ = await submit(temporal)
    opened = await open_task(handle)
    task = opened.task(approval_task_id(opened.case_id))
    assert task is not None
    sleeping = asyncio.create_task(
        temporal.env.sleep(task.due_at - await temporal.env.get_current_time())
    )
    assert await asyncio.to_thread(saved.wait, 10)

    deciding = asyncio.create_task(decide(handle, "e-001", Decision.APPROVE))
    await asyncio.sleep(0.5)  # the update reaches the workflow while the activity runs
    reported.set()
    decided = await deciding
    await sleeping

    assert decided.status is LeaveStatus.APPROVED
    assert decided.tasks[0].decided_by == "e-001"


async def test_withdrawn_request_closes_its_task_and_gives_the_days_back(
    temporal: Temporal, leave_app: BackofficeApplication
) -> None:
    handle, submitted = await submit(temporal, days=2)
    await open_task(handle)
    assert leave_app.leave_balance("e-100", submitted.start.year).pending == Decimal(2)

    withdrawn = await handle.execute_update(
        LeaveRequestWorkflow.withdraw, ClosingRequest(actor="e-100")
    )

    assert withdrawn.status is LeaveStatus.WITHDRAWN
    assert not withdrawn.tasks[0].is_open
    assert leave_app.leave_balance("e-100", submitted.start.year).pending == Decimal(0)
    assert isinstance(await handle.result(), CaseState)


async def test_cancelling_approved_leave_before_it_starts_gives_the_days_back(
    temporal: Temporal, leave_app: BackofficeApplication
) -> None:
    handle, submitted = await submit(temporal, days=4)
    await open_task(handle)
    await decide(handle, "e-010", Decision.APPROVE)
    assert leave_app.leave_balance("e-100", submitted.start.year).approved == Decimal(4)

    cancelled = await handle.execute_update(
        LeaveRequestWorkflow.cancel, ClosingRequest(actor="e-100")
    )

    assert cancelled.status is LeaveStatus.CANCELLED
    assert leave_app.leave_balance("e-100", submitted.start.year).approved == Decimal(0)
    final = await handle.result()
    assert isinstance(final, CaseState) and final.status is LeaveStatus.CANCELLED


async def test_leave_ended_early_gives_the_days_back_and_is_taken_the_day_after_its_new_end(
    temporal: Temporal, leave_app: BackofficeApplication
) -> None:
    handle, submitted = await submit(temporal, days=4)
    await open_task(handle)
    await decide(handle, "e-010", Decision.APPROVE)
    now = await temporal.env.get_current_time()
    await temporal.env.sleep(datetime.combine(submitted.start, now.timetz()) - now)  # day 1

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            LeaveRequestWorkflow.shorten,
            ShorteningRequest(actor="e-100", last_day=submitted.start - timedelta(days=1)),
        )
    shortened = await handle.execute_update(
        LeaveRequestWorkflow.shorten, ShorteningRequest(actor="e-100", last_day=submitted.start)
    )

    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.details[0] == "before_start"
    assert (shortened.status, shortened.end, shortened.working_days) == (
        LeaveStatus.APPROVED,
        submitted.start,
        Decimal(1),
    )
    assert leave_app.leave_balance("e-100", submitted.start.year).approved == Decimal(1)
    # Taken the day after its new last day, days before the old one.
    await temporal.env.sleep(timedelta(days=2))
    assert submitted.end > submitted.start + timedelta(days=2)
    final = await eventually_closed(handle)
    assert isinstance(final, CaseState) and final.status is LeaveStatus.TAKEN
    assert final.end == submitted.start


async def test_leave_ended_at_noon_keeps_the_morning_and_is_taken_the_day_after_its_new_end(
    temporal: Temporal, leave_app: BackofficeApplication
) -> None:
    handle, submitted = await submit(temporal, days=6)  # six working days span a weekend
    await open_task(handle)
    await decide(handle, "e-010", Decision.APPROVE)
    now = await temporal.env.get_current_time()
    await temporal.env.sleep(datetime.combine(submitted.start, now.timetz()) - now)  # day 1
    weekend = next(
        day
        for day in (submitted.start + timedelta(days=n) for n in range(1, 9))
        if not CALENDAR.is_working_day(day)
    )
    second = working_days_from(submitted.start + timedelta(days=1), 1)[0]

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            LeaveRequestWorkflow.shorten,
            ShorteningRequest(actor="e-100", last_day=weekend, half_day_end=True),
        )
    shortened = await handle.execute_update(
        LeaveRequestWorkflow.shorten,
        ShorteningRequest(actor="e-100", last_day=second, half_day_end=True),
    )

    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.details[0] == "not_a_working_day"
    assert (shortened.end, shortened.half_day_end, shortened.working_days) == (
        second,
        True,
        Decimal("1.5"),
    )
    assert leave_app.leave_balance("e-100", second.year).approved == Decimal("1.5")
    await temporal.env.sleep(datetime.combine(second, now.timetz()) - now + timedelta(days=2))
    final = await eventually_closed(handle)
    assert isinstance(final, CaseState) and final.status is LeaveStatus.TAKEN
    assert (final.end, final.half_day_end) == (second, True)


async def test_leave_ended_at_noon_on_its_own_last_day_is_taken_after_that_day(
    temporal: Temporal, leave_app: BackofficeApplication
) -> None:
    handle, submitted = await submit(temporal, days=2)
    await open_task(handle)
    await decide(handle, "e-010", Decision.APPROVE)

    shortened = await handle.execute_update(
        LeaveRequestWorkflow.shorten,
        ShorteningRequest(actor="e-100", last_day=submitted.end, half_day_end=True),
    )
    with pytest.raises(WorkflowUpdateFailedError) as again:
        await handle.execute_update(
            LeaveRequestWorkflow.shorten,
            ShorteningRequest(actor="e-100", last_day=submitted.end, half_day_end=True),
        )

    cause = again.value.cause
    assert isinstance(cause, ApplicationError) and cause.details[0] == "not_shorter"
    assert (shortened.end, shortened.working_days) == (submitted.end, Decimal("1.5"))
    final = await after_the_leave(temporal, handle, shortened)
    assert isinstance(final, CaseState) and final.status is LeaveStatus.TAKEN
    assert (final.end, final.half_day_end) == (submitted.end, True)


async def eventually_closed(handle: Handle, seconds: float = 10) -> object:
    """The workflow's result once it has closed: the test server skips no time while
    a test waits for a result, so a test that skipped it waits for the close itself."""
    for _ in range(int(seconds * 10)):
        if (await handle.describe()).status is not WorkflowExecutionStatus.RUNNING:
            return await handle.result()
        await asyncio.sleep(0.1)
    raise AssertionError(f"{handle.id} still runs")


async def test_hr_cancels_someones_approved_leave_with_a_reason_and_never_without(
    temporal: Temporal, leave_app: BackofficeApplication
) -> None:
    handle, submitted = await submit(temporal, days=2)
    await open_task(handle)
    await decide(handle, "e-010", Decision.APPROVE)
    leave_app.set_role_members("hr", ["e-101"], Meta("admin", "hr", "test"))

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            LeaveRequestWorkflow.cancel, ClosingRequest(actor="e-101", by_hr=True)
        )
    cancelled = await handle.execute_update(
        LeaveRequestWorkflow.cancel,
        ClosingRequest(actor="e-101", by_hr=True, reason="leaves before then"),
    )

    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.details[0] == "reason_required"
    assert (cancelled.status, cancelled.closing_reason) == (
        LeaveStatus.CANCELLED,
        "leaves before then",
    )
    assert leave_app.leave_balance("e-100", submitted.start.year).approved == Decimal(0)
    recorded = leave_app.leave_request(submitted.case_id)
    assert [type(event).__name__ for event in leave_app.events.get(recorded.id)][-1] == "Cancelled"


@pytest.mark.parametrize(
    ("actor", "kind", "rule"),
    [
        ("e-100", "not_allowed", "no_self_approval"),
        ("e-101", "not_allowed", "not_an_approver"),
        ("e-001", "not_allowed", "not_an_approver"),  # not escalated yet
    ],
)
async def test_decision_validator_refuses_who_may_not_decide(
    temporal: Temporal, actor: str, kind: str, rule: str
) -> None:
    handle, _ = await submit(temporal)
    await open_task(handle)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await decide(handle, actor, Decision.APPROVE)

    cause = refused.value.cause
    assert isinstance(cause, ApplicationError)
    assert (cause.type, cause.details[0]) == (kind, rule)
    state = await handle.query(LeaveRequestWorkflow.case)
    assert state is not None and state.status is LeaveStatus.PENDING


async def test_decision_validator_refuses_whoever_asked_for_the_case_even_acting_for_the_approver(
    temporal: Temporal, leave_app: BackofficeApplication
) -> None:
    leave_app.set_role_members(
        "hr", ["e-101"], Meta(actor="admin", command_id=f"hr-{uuid.uuid4()}", correlation_id="t")
    )
    handle, submitted = await submit(temporal, submitted_by="e-101", reason="phoned in")
    await open_task(handle)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await decide(handle, "e-101", Decision.APPROVE, on_behalf_of="e-010")

    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.details[0] == "no_self_approval"
    # Refused by the validator: the update never entered the history, no activity ran.
    history = await handle.fetch_history()
    accepted = [
        event.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        for event in history.events
        if event.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    assert accepted == ["submission"]
    assert leave_app.leave_request(submitted.case_id).status is LeaveStatus.PENDING


async def test_a_decision_claiming_to_act_for_an_approver_is_refused_without_a_delegation(
    temporal: Temporal, leave_app: BackofficeApplication
) -> None:
    handle, submitted = await submit(temporal)
    await open_task(handle)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await decide(handle, "e-101", Decision.APPROVE, on_behalf_of="e-010")

    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.details[0] == "no_delegation"
    assert leave_app.leave_request(submitted.case_id).status is LeaveStatus.PENDING


async def test_a_delegate_decides_for_the_approver_and_is_recorded_acting_for_them(
    temporal: Temporal, leave_app: BackofficeApplication
) -> None:
    today = datetime.now(UTC).date()  # delegations are checked against the real date
    leave_app.grant_delegation(
        DelegationTerms("away", "e-010", "e-101", today - timedelta(days=1), today + timedelta(30)),
        Meta(actor="e-010", command_id="delegate", correlation_id="test"),
    )
    handle, submitted = await submit(temporal)
    await open_task(handle)

    state = await handle.execute_update(
        LeaveRequestWorkflow.decide,
        DecisionRequest(
            task_id=approval_task_id(submitted.case_id),
            decision=Decision.APPROVE,
            actor="e-101",
            on_behalf_of="e-010",
        ),
    )

    task = leave_app.leave_request(submitted.case_id).task(approval_task_id(submitted.case_id))
    assert state.status is LeaveStatus.APPROVED
    assert (task.decided_by, task.decided_on_behalf_of) == ("e-101", "e-010")


async def test_approving_leave_past_a_last_day_set_meanwhile_is_refused_and_rejecting_is_not(
    temporal: Temporal, leave_app: BackofficeApplication
) -> None:
    handle, submitted = await submit(temporal)
    await open_task(handle)
    leaving = replace(leave_app.profile("e-100"), end_date=submitted.start)
    leave_app.put_employee(leaving, Meta(actor="hr", command_id="leaves", correlation_id="test"))

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await decide(handle, "e-010", Decision.APPROVE)
    rejected = await decide(handle, "e-010", Decision.REJECT, "leaving before then")

    cause = refused.value.cause
    assert isinstance(cause, ApplicationError)
    assert (cause.type, cause.details[0]) == ("rule_violation", "after_employment_ends")
    assert rejected.status is LeaveStatus.REJECTED


async def test_the_task_of_someone_whose_manager_has_left_goes_to_the_next_manager_up(
    temporal: Temporal, leave_app: BackofficeApplication
) -> None:
    yesterday = await temporal.today() - timedelta(days=1)
    left = replace(leave_app.profile("e-010"), end_date=yesterday)
    leave_app.put_employee(left, Meta(actor="hr", command_id="leaves", correlation_id="test"))
    handle, submitted = await submit(temporal)

    state = await open_task(handle)

    task = state.task(approval_task_id(submitted.case_id))
    assert task is not None and task.assignees == ["e-001"]
    decided = await decide(handle, "e-001", Decision.APPROVE)
    assert decided.status is LeaveStatus.APPROVED


async def test_second_decision_on_a_decided_task_is_refused_as_a_conflict(
    temporal: Temporal,
) -> None:
    handle, _ = await submit(temporal)
    await open_task(handle)
    await decide(handle, "e-010", Decision.APPROVE)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await decide(handle, "e-010", Decision.REJECT)

    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == "conflict"


async def test_request_beyond_the_balance_is_refused_and_records_nothing(
    temporal: Temporal, leave_app: BackofficeApplication
) -> None:
    before = leave_app.recorder.max_notification_id()

    next_year = date((await temporal.today()).year + 1, 1, 1)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await submit(temporal, days=31, today=next_year, weeks_ahead=0)

    cause = refused.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.details[0] == "insufficient_balance"
    assert leave_app.recorder.max_notification_id() == before


async def test_sick_leave_is_recorded_without_approval_and_the_manager_informed(
    temporal: Temporal, leave_app: BackofficeApplication
) -> None:
    handle, recorded = await submit(temporal, leave_type=LeaveType.SICK, weeks_ahead=1)

    assert recorded.status is LeaveStatus.RECORDED
    assert recorded.tasks == []
    events = leave_app.events.get(recorded.case_id)
    assert [type(event).__name__ for event in events] == ["Submitted", "ManagerInformed"]
    final = await after_the_leave(temporal, handle, recorded)
    assert isinstance(final, CaseState) and final.status is LeaveStatus.TAKEN


async def test_an_escalation_due_after_a_decision_already_in_the_store_escalates_nothing(
    temporal: Temporal, leave_app: BackofficeApplication
) -> None:
    handle, submitted = await submit(temporal)
    opened = await open_task(handle)
    task_id = approval_task_id(opened.case_id)
    # The decision reaches the store while the workflow has not heard of it yet.
    leave_app.decide_leave_request(
        submitted.case_id,
        task_id,
        Decision.APPROVE,
        None,
        Meta(actor="e-010", command_id="direct", correlation_id=handle.id),
    )

    await temporal.env.sleep(timedelta(days=5))

    state = await handle.query(LeaveRequestWorkflow.case)
    assert state is not None
    assert state.status is LeaveStatus.APPROVED
    assert state.tasks[0].escalated_to == []
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.RUNNING


async def test_a_decision_and_a_withdrawal_at_once_one_wins_the_other_is_refused(
    temporal: Temporal, leave_app: BackofficeApplication
) -> None:
    handle, submitted = await submit(temporal)
    await open_task(handle)

    outcomes = await asyncio.gather(
        decide(handle, "e-010", Decision.APPROVE),
        handle.execute_update(LeaveRequestWorkflow.withdraw, ClosingRequest(actor="e-100")),
        return_exceptions=True,
    )

    refusals = [each for each in outcomes if isinstance(each, WorkflowUpdateFailedError)]
    assert len(refusals) == 1
    assert isinstance(refusals[0].cause, ApplicationError)
    assert refusals[0].cause.type == "conflict"
    winner = next(each for each in outcomes if isinstance(each, CaseState))
    assert leave_app.leave_request(submitted.case_id).status is winner.status
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING or (
        winner.status is LeaveStatus.WITHDRAWN
    )


async def test_a_cancellation_saved_but_not_reported_when_the_leave_ends_closes_the_case(
    temporal: Temporal, leave_app: BackofficeApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cancellation's activity saved ``Cancelled`` but its completion was lost (a
    worker gone), and its retry comes after the leave has ended: the case stays
    cancelled, is not marked taken, and its workflow does not fail."""
    cancel = leave_app.cancel_leave_request
    attempts: list[Saved] = []

    def cancel_then_lose_the_answer(*args: Any, **kwargs: Any) -> Saved:
        attempts.append(cancel(*args, **kwargs))
        if len(attempts) == 1:
            raise ApplicationError("worker lost", next_retry_delay=timedelta(days=40))
        return attempts[-1]

    monkeypatch.setattr(leave_app, "cancel_leave_request", cancel_then_lose_the_answer)
    handle, submitted = await submit(temporal, days=2)
    await open_task(handle)
    await decide(handle, "e-010", Decision.APPROVE)

    cancelling = asyncio.create_task(
        handle.execute_update(LeaveRequestWorkflow.cancel, ClosingRequest(actor="e-100"))
    )
    await temporal.env.sleep(timedelta(days=41))  # the leave's end, then the retry
    final = await handle.result()

    assert isinstance(final, CaseState) and final.status is LeaveStatus.CANCELLED
    assert (await cancelling).status is LeaveStatus.CANCELLED
    assert leave_app.leave_request(submitted.case_id).status is LeaveStatus.CANCELLED


@pytest.fixture
def manager_removed_after_submission(
    leave_app: BackofficeApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The requester's manager is cleared from the directory between the submission's
    activity and the task's opening (an admin's change, or a worker down meanwhile)."""
    submit_leave = leave_app.submit_leave_request

    def submit_then_manager_removed(*args: Any, **kwargs: Any) -> Saved:
        saved = submit_leave(*args, **kwargs)
        without = replace(leave_app.profile("e-100"), manager_id=None)
        leave_app.put_employee(without, Meta("admin", "no-manager", "test"))
        monkeypatch.setattr(leave_app, "submit_leave_request", submit_leave)
        return saved

    monkeypatch.setattr(leave_app, "submit_leave_request", submit_then_manager_removed)


@pytest.mark.usefixtures("manager_removed_after_submission")
async def test_a_request_whose_manager_was_removed_before_its_task_stays_withdrawable(
    temporal: Temporal, leave_app: BackofficeApplication
) -> None:
    handle, submitted = await submit(temporal, days=2)

    withdrawn = await handle.execute_update(
        LeaveRequestWorkflow.withdraw, ClosingRequest(actor="e-100")
    )

    assert (submitted.status, submitted.tasks) == (LeaveStatus.PENDING, [])
    assert withdrawn.status is LeaveStatus.WITHDRAWN
    assert leave_app.leave_balance("e-100", submitted.start.year).pending == Decimal(0)
    final = await handle.result()
    assert isinstance(final, CaseState) and final.status is LeaveStatus.WITHDRAWN


@pytest.mark.usefixtures("manager_removed_after_submission")
async def test_the_task_of_a_request_without_a_manager_is_opened_once_one_is_named(
    temporal: Temporal, leave_app: BackofficeApplication
) -> None:
    handle, _ = await submit(temporal)
    named = replace(leave_app.profile("e-100"), manager_id="e-010")
    leave_app.put_employee(named, Meta("admin", "manager-again", "test"))

    await temporal.env.sleep(timedelta(days=1, hours=1))
    opened = await open_task(handle)

    task = opened.task(approval_task_id(opened.case_id))
    assert task is not None and task.assignees == ["e-010"]
    assert (await decide(handle, "e-010", Decision.APPROVE)).status is LeaveStatus.APPROVED
