"""Builds the Temporal worker that runs every workflow and activity of the engine."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker

from activities.leave import LeaveActivities
from services.application import BackofficeApplication
from workflows.leave import LeaveRequestWorkflow

WORKFLOWS = [LeaveRequestWorkflow]


def build_worker(
    client: Client, app: BackofficeApplication, task_queue: str, max_activity_threads: int = 8
) -> Worker:
    """A worker for ``task_queue``; activities run in threads, as the store's API is sync.

    The caller owns ``app`` and the executor's lifetime is the worker's.
    """
    leave = LeaveActivities(app)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[
            leave.submit,
            leave.open_task,
            leave.escalate,
            leave.reroute,
            leave.record_decision,
            leave.withdraw,
            leave.cancel,
            leave.mark_taken,
        ],
        activity_executor=ThreadPoolExecutor(max_workers=max_activity_threads),
        max_concurrent_activities=max_activity_threads,
    )
