"""The baseline of the Temporal benchmarks: a leave case's shape with no domain work.

:class:`BareCaseWorkflow` has the leave workflow's activities, updates and
timer, in the same order: submit (with a ``submission`` update that waits for
it), open a task, wait for the ``decide`` update (which runs an activity),
wait a second, mark taken. Its activities do nothing, in the same kind of
thread pool as the real ones.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow

STEP = timedelta(seconds=30)


class BareStart(BaseModel):
    case_id: str
    taken_after: timedelta
    """How long the case waits after the decision: the leave workflow waits until the
    leave has ended, and at least a second."""


@activity.defn(name="bare_step")
def bare_step(step: str) -> str:
    return step


@workflow.defn
class BareCaseWorkflow:
    """A case that records nothing: four no-op activities, two updates and a timer."""

    def __init__(self) -> None:
        self.submitted = False
        self.opened = False
        self.decided = False

    @workflow.run
    async def run(self, start: BareStart) -> str:
        await _step("submit")
        self.submitted = True
        await _step("open")
        self.opened = True
        await workflow.wait_condition(lambda: self.decided)
        await workflow.sleep(start.taken_after)
        await _step("taken")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return start.case_id

    @workflow.update
    async def submission(self) -> bool:
        await workflow.wait_condition(lambda: self.submitted)
        return True

    @workflow.update
    async def decide(self, decision: str) -> str:
        await workflow.wait_condition(lambda: self.opened)
        answer = await _step(decision)
        self.decided = True
        return answer

    @decide.validator
    def validate_decide(self, decision: str) -> None:
        if self.decided:
            raise ValueError("already decided")


async def _step(step: str) -> str:
    return await workflow.execute_activity(bare_step, step, start_to_close_timeout=STEP)
