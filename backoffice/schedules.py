"""The Temporal schedules the engine runs on: made once, kept on the server, and
brought to this version's definition at every start."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleHandle,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from workflows.sweep import LeaversTasksSweepWorkflow

SWEEP_AT = ScheduleCalendarSpec(hour=(ScheduleRange(0),), minute=(ScheduleRange(10),))
"""Ten past midnight (UTC), every day: the first day someone is no longer employed."""

SWEEP_TIMEOUT = timedelta(hours=23)
"""A sweep that cannot finish (its activity failing again and again) ends before the
next is due: the schedule skips a run while one is under way, so one stuck for ever
would stop every later sweep."""


def sweep_schedule_id(task_queue: str) -> str:
    """One schedule per task queue, as two engines may share one Temporal."""
    return f"leavers-tasks-sweep-{task_queue}"


def sweep_schedule(task_queue: str) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            LeaversTasksSweepWorkflow.run,
            id=f"leavers-tasks-sweep-{task_queue}",
            task_queue=task_queue,
            execution_timeout=SWEEP_TIMEOUT,
        ),
        spec=ScheduleSpec(calendars=[SWEEP_AT]),
        # A day missed while the server was down is swept once when it is back.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=1)),
    )


async def ensure_schedules(client: Client, task_queue: str) -> ScheduleHandle:
    """Make the sweep's schedule, or bring the one an earlier start made to this
    version's definition, keeping its state (paused by an operator, say); its handle."""
    schedule_id = sweep_schedule_id(task_queue)
    schedule = sweep_schedule(task_queue)
    try:
        return await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:
        handle = client.get_schedule_handle(schedule_id)

        def updated(given: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(replace(schedule, state=given.description.schedule.state))

        await handle.update(updated)
        return handle
