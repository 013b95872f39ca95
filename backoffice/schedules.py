"""The Temporal schedules the engine runs on: made once, kept on the server."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleHandle,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)

from workflows.sweep import LeaversTasksSweepWorkflow

SWEEP_AT = "10 0 * * *"
"""Ten past midnight (UTC), every day: the first day someone is no longer employed."""


def sweep_schedule_id(task_queue: str) -> str:
    """One schedule per task queue, as two engines may share one Temporal."""
    return f"leavers-tasks-sweep-{task_queue}"


async def ensure_schedules(client: Client, task_queue: str) -> ScheduleHandle:
    """Make the sweep's schedule unless it exists (a restart keeps the one made before,
    and its record of runs); its handle."""
    schedule_id = sweep_schedule_id(task_queue)
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            LeaversTasksSweepWorkflow.run,
            id=f"leavers-tasks-sweep-{task_queue}",
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(cron_expressions=[SWEEP_AT]),
        # A day missed while the server was down is swept once when it is back.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=1)),
    )
    try:
        return await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:
        return client.get_schedule_handle(schedule_id)
