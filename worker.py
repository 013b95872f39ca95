"""Builds the Temporal worker that runs every workflow and activity of the engine."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker

from activities.leave import LeaveActivities
from activities.tasks import TaskActivities
from projections.queries import ReadModels
from services.application import BackofficeApplication
from workflows.leave import LeaveRequestWorkflow
from workflows.sweep import LeaversTasksSweepWorkflow

WORKFLOWS = [LeaveRequestWorkflow]
"""The process workflows (their histories are replayed by the tests)."""


def build_worker(
    client: Client,
    app: BackofficeApplication,
    task_queue: str,
    max_activity_threads: int = 8,
    *,
    read_models: ReadModels | None = None,
) -> Worker:
    """A worker for ``task_queue``; activities run in threads, as the store's API is sync.

    With ``read_models`` it also runs the daily sweep of leavers' tasks (its schedule:
    ``backoffice.schedules``), which reads the inbox. The caller owns ``app`` and
    ``read_models``; the executor's lifetime is the worker's.
    """
    leave = LeaveActivities(app)
    sweep = [] if read_models is None else [LeaversTasksSweepWorkflow]
    tasks = [] if read_models is None else [TaskActivities(app, read_models)]
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[*WORKFLOWS, *sweep],
        activities=[
            *(task.tell_cases_whose_deciders_left for task in tasks),
            leave.submit,
            leave.open_task,
            leave.escalate,
            leave.reroute,
            leave.record_decision,
            leave.withdraw,
            leave.cancel,
            leave.shorten,
            leave.mark_taken,
        ],
        activity_executor=ThreadPoolExecutor(max_workers=max_activity_threads),
        max_concurrent_activities=max_activity_threads,
    )
