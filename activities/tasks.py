"""Activities over every process's tasks at once: the daily sweep of leavers' tasks."""

from __future__ import annotations

import asyncio
from uuid import UUID

import structlog
from temporalio import activity
from temporalio.service import RPCError, RPCStatusCode

from projections.queries import ReadModels
from services.application import BackofficeApplication
from workflows.messages import LEAVE_PROCESS, SweepDay, SweepResult, leave_workflow_id

logger = structlog.get_logger(__name__)

SIGNAL = "deciders_left"
"""The signal every process workflow with approval tasks answers (``ApprovalWorkflow``)."""


class TaskActivities:
    """Over one application (the directory) and its read models (the inbox)."""

    def __init__(self, app: BackofficeApplication, read_models: ReadModels) -> None:
        self.app = app
        self.read_models = read_models

    @activity.defn(name="tell_cases_whose_deciders_left")
    async def tell_cases_whose_deciders_left(self, day: SweepDay) -> SweepResult:
        """Signal each case whose open task nobody still employed may decide, and that a
        manager above could take; the case's workflow checks again on the store and
        sends the task up. Telling a case twice records nothing more, so a retry is safe."""
        chosen, stuck = await asyncio.to_thread(self._chosen, day)
        for case_id, process in stuck:
            logger.warning(
                "task_nobody_can_take",
                case_id=str(case_id),
                process=process,
                why="everyone who may decide it has left and nobody above can take it:"
                " name a manager in the directory, or hr may withdraw the request",
            )
        client = activity.client()
        ended = 0
        for case_id, process in chosen:
            if process != LEAVE_PROCESS:  # no other process has workflows yet
                logger.warning("sweep_unknown_process", case_id=str(case_id), process=process)
                continue
            handle = client.get_workflow_handle(leave_workflow_id(case_id))
            try:
                await handle.signal(SIGNAL)
            except RPCError as error:
                if error.status is not RPCStatusCode.NOT_FOUND:
                    raise
                ended += 1  # closed since the inbox was read: nothing to send up
            else:
                logger.info("deciders_left_told", case_id=str(case_id))
        return SweepResult(told=len(chosen) - ended, ended=ended, stuck=len(stuck))

    def _chosen(self, day: SweepDay) -> tuple[list[tuple[UUID, str]], list[tuple[UUID, str]]]:
        """The cases to tell, each once however many of its tasks are chosen, and the
        cases with a task nobody can take."""
        deciders = self.read_models.deciders_of_open_tasks()

        def cases(tasks: list[tuple[UUID, str, str]]) -> list[tuple[UUID, str]]:
            return list(dict.fromkeys((case_id, process) for case_id, _task, process in tasks))

        return (
            cases(self.app.tasks_to_send_up(deciders, day.today)),
            cases(self.app.tasks_nobody_can_take(deciders, day.today)),
        )
