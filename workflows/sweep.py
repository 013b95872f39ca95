"""The daily sweep of leavers' tasks, started by a Temporal schedule.

A task waits for the people who may decide it; someone who leaves cannot sign in to
decide. Each day the sweep tells every case whose open task nobody still employed
may decide (the case's workflow then sends the task up the management chain at
once), instead of leaving it until it falls due, or for ever once escalated.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.tasks import TaskActivities
    from workflows.messages import SweepDay, SweepResult


@workflow.defn
class LeaversTasksSweepWorkflow:
    """One sweep: a single activity, on the workflow's day."""

    @workflow.run
    async def run(self) -> SweepResult:
        return await workflow.execute_activity_method(
            TaskActivities.tell_cases_whose_deciders_left,
            SweepDay(today=workflow.now().date()),
            start_to_close_timeout=timedelta(minutes=10),
            # Tried again for an hour at most: the next day's sweep tries afresh.
            schedule_to_close_timeout=timedelta(hours=1),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
        )
