"""Record the workflows' histories that the replay test replays.

Run after a deliberate, versioned change to a workflow (or name the scenarios to
record, keeping the other histories as they were recorded):

    .venv/bin/python -m tests.replay.record_histories [NAME ...]

Each scenario runs on the time-skipping test server with the real activities over
a scratch SQLite store, and its history is written to ``histories/NAME.json``.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from backoffice.binaries import find_binary
from domain.case import Decision
from domain.employee import EmployeeProfile
from domain.leave import LeaveType
from domain.meta import Meta
from projections.queries import ReadModels
from projections.runner import ProjectionRunner
from services.application import BackofficeApplication, approval_task_id
from worker import build_worker
from workflows.leave import LeaveRequestWorkflow
from workflows.messages import (
    DATA_CONVERTER,
    ClosingRequest,
    DecisionRequest,
    LeaveRequestStart,
    ShorteningRequest,
    SweepResult,
    leave_workflow_id,
)
from workflows.sweep import LeaversTasksSweepWorkflow

HISTORIES = Path(__file__).parent / "histories"
TASK_QUEUE = "record-histories"
Handle = WorkflowHandle[LeaveRequestWorkflow, object]


async def start(env: WorkflowEnvironment, leave_type: LeaveType, weeks: int, days: int) -> Handle:
    client = env.client
    today = (await env.get_current_time()).date()  # earlier scenarios skipped time
    first = today + timedelta(weeks=weeks)
    first += timedelta(days=(7 - first.weekday()) % 7)  # a Monday
    case_id = uuid.uuid4()
    handle = await client.start_workflow(
        LeaveRequestWorkflow.run,
        LeaveRequestStart(
            case_id=case_id,
            employee_id="e-100",
            leave_type=leave_type,
            start=first,
            end=first + timedelta(days=days - 1),
            submitted_by="e-100",
        ),
        id=leave_workflow_id(case_id),
        task_queue=TASK_QUEUE,
    )
    await handle.execute_update(LeaveRequestWorkflow.submission)
    return handle


async def decide(handle: Handle, actor: str, decision: Decision) -> None:
    for _ in range(100):  # until the workflow has opened the task
        state = await handle.query(LeaveRequestWorkflow.case)
        if state is not None and state.tasks:
            break
    case_id = uuid.UUID(handle.id.removeprefix("leave-request-"))
    await handle.execute_update(
        LeaveRequestWorkflow.decide,
        DecisionRequest(task_id=approval_task_id(case_id), decision=decision, actor=actor),
    )


async def approved_and_taken(env: WorkflowEnvironment) -> Handle:
    handle = await start(env, LeaveType.ANNUAL, weeks=2, days=3)
    await decide(handle, "e-010", Decision.APPROVE)
    return handle


async def rejected(env: WorkflowEnvironment) -> Handle:
    handle = await start(env, LeaveType.UNPAID, weeks=2, days=2)
    await decide(handle, "e-010", Decision.REJECT)
    return handle


async def escalated_then_approved(env: WorkflowEnvironment) -> Handle:
    handle = await start(env, LeaveType.ANNUAL, weeks=4, days=1)
    await env.sleep(timedelta(days=7))
    await decide(handle, "e-001", Decision.APPROVE)
    return handle


async def rerouted_then_approved(env: WorkflowEnvironment, app: BackofficeApplication) -> Handle:
    """The manager leaves while the task waits; told so, the workflow sends it up."""
    handle = await start(env, LeaveType.ANNUAL, weeks=4, days=1)
    yesterday = (await env.get_current_time()).date() - timedelta(days=1)
    leaving = replace(app.profile("e-010"), end_date=yesterday)
    app.put_employee(leaving, Meta("hr", "e-010-leaves", "record-histories"))
    await handle.signal(LeaveRequestWorkflow.deciders_left)
    for _ in range(100):  # until the workflow has sent the task up
        state = await handle.query(LeaveRequestWorkflow.case)
        if state is not None and state.tasks and state.tasks[0].escalated_to:
            break
        await asyncio.sleep(0.02)
    await decide(handle, "e-001", Decision.APPROVE)
    app.put_employee(replace(leaving, end_date=None), Meta("hr", "back", "record-histories"))
    return handle


async def leavers_tasks_sweep(
    env: WorkflowEnvironment, app: BackofficeApplication, url: str
) -> WorkflowHandle[LeaversTasksSweepWorkflow, SweepResult]:
    """The daily sweep finds a task whose only decider has left and tells its case."""
    handle = await start(env, LeaveType.ANNUAL, weeks=4, days=1)
    yesterday = (await env.get_current_time()).date() - timedelta(days=1)
    leaving = replace(app.profile("e-010"), end_date=yesterday)
    app.put_employee(leaving, Meta("hr", "e-010-leaves-again", "record-histories"))
    ProjectionRunner(url).catch_up()  # the sweep reads the inbox
    sweep = await env.client.start_workflow(
        LeaversTasksSweepWorkflow.run, id=f"sweep-{uuid.uuid4()}", task_queue=TASK_QUEUE
    )
    told = await sweep.result()
    assert told.told == 1, told
    await handle.execute_update(LeaveRequestWorkflow.withdraw, ClosingRequest(actor="e-100"))
    app.put_employee(replace(leaving, end_date=None), Meta("hr", "back-again", "record-histories"))
    return sweep


async def withdrawn(env: WorkflowEnvironment) -> Handle:
    handle = await start(env, LeaveType.ANNUAL, weeks=2, days=2)
    for _ in range(100):  # until the workflow has opened the task
        state = await handle.query(LeaveRequestWorkflow.case)
        if state is not None and state.tasks:
            break
    await handle.execute_update(LeaveRequestWorkflow.withdraw, ClosingRequest(actor="e-100"))
    return handle


async def cancelled(env: WorkflowEnvironment) -> Handle:
    handle = await start(env, LeaveType.ANNUAL, weeks=3, days=2)
    await decide(handle, "e-010", Decision.APPROVE)
    await handle.execute_update(LeaveRequestWorkflow.cancel, ClosingRequest(actor="e-100"))
    return handle


async def ended_early(env: WorkflowEnvironment, *, at_noon: bool = False) -> Handle:
    handle = await start(env, LeaveType.ANNUAL, weeks=2, days=4)
    await decide(handle, "e-010", Decision.APPROVE)
    state = await handle.query(LeaveRequestWorkflow.case)
    assert state is not None
    last_day = state.start + timedelta(days=1)
    await handle.execute_update(
        LeaveRequestWorkflow.shorten,
        ShorteningRequest(actor="e-100", last_day=last_day, half_day_end=at_noon),
    )
    return handle


async def ended_at_noon(env: WorkflowEnvironment) -> Handle:
    return await ended_early(env, at_noon=True)


async def sick(env: WorkflowEnvironment) -> Handle:
    return await start(env, LeaveType.SICK, weeks=1, days=2)


async def refused(env: WorkflowEnvironment) -> Handle:
    case_id = uuid.uuid4()
    today = (await env.get_current_time()).date()
    return await env.client.start_workflow(
        LeaveRequestWorkflow.run,
        LeaveRequestStart(
            case_id=case_id,
            employee_id="e-100",
            leave_type=LeaveType.ANNUAL,
            start=today + timedelta(days=14),
            end=today + timedelta(days=90),
            submitted_by="e-100",
        ),
        id=leave_workflow_id(case_id),
        task_queue=TASK_QUEUE,
    )


Scenario = Callable[[WorkflowEnvironment], Awaitable[Handle]]
SCENARIOS: dict[str, Scenario] = {
    "leave_approved_and_taken": approved_and_taken,
    "leave_rejected": rejected,
    "leave_escalated_then_approved": escalated_then_approved,
    "leave_withdrawn": withdrawn,
    "leave_cancelled": cancelled,
    "leave_ended_early": ended_early,
    "leave_ended_at_noon": ended_at_noon,
    "leave_sick": sick,
    "leave_refused": refused,
}
WITH_APPLICATION: dict[
    str, Callable[[WorkflowEnvironment, BackofficeApplication], Awaitable[Handle]]
] = {
    "leave_rerouted_then_approved": rerouted_then_approved,
}


def organisation() -> list[EmployeeProfile]:
    chain = [("e-001", None), ("e-010", "e-001"), ("e-100", "e-010")]
    return [
        EmployeeProfile(i, i, f"{i}@example.com", m, "DE", "BY", Decimal(30), date(2020, 1, 1))
        for i, m in chain
    ]


def _given(
    app: BackofficeApplication,
    run: Callable[[WorkflowEnvironment, BackofficeApplication], Awaitable[Handle]],
) -> Scenario:
    async def scenario(env: WorkflowEnvironment) -> Handle:
        return await run(env, app)

    return scenario


async def record(names: list[str]) -> None:
    """Record the named scenarios' histories, or every one's."""
    HISTORIES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{scratch}/e.db"
        app = BackofficeApplication(
            env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": f"{scratch}/e.db"}
        )
        read_models = ReadModels(url)
        app.load_organisation(organisation(), Meta("system", "org", "record-histories"))
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=find_binary("temporal-test-server"),
            data_converter=DATA_CONVERTER,
        )
        try:
            async with build_worker(env.client, app, TASK_QUEUE, read_models=read_models):
                scenarios: dict[str, Scenario] = {
                    **SCENARIOS,
                    **{name: _given(app, run) for name, run in WITH_APPLICATION.items()},
                }
                for name, scenario in scenarios.items():
                    if names and name not in names:
                        continue
                    handle = await scenario(env)
                    await handle.result()
                    await _write(name, handle)
                if not names or "leavers_tasks_sweep" in names:
                    await _write("leavers_tasks_sweep", await leavers_tasks_sweep(env, app, url))
        finally:
            await env.shutdown()
            read_models.close()
            app.close()


async def _write(name: str, handle: WorkflowHandle[Any, Any]) -> None:
    history = await handle.fetch_history()
    (HISTORIES / f"{name}.json").write_text(history.to_json())
    print(f"recorded {name}")


if __name__ == "__main__":
    asyncio.run(record(sys.argv[1:]))
