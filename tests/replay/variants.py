"""A deliberately non-deterministic edit of the leave workflow, to prove the replay gate
catches one: it sets a timer the recorded histories never had before doing anything."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.leave import LeaveRequestWorkflow
from workflows.messages import CaseState, LeaveRequestStart, Refusal


@workflow.defn(name="LeaveRequestWorkflow")
class TimerFirstLeaveRequestWorkflow(LeaveRequestWorkflow):
    @workflow.run
    async def run(self, start: LeaveRequestStart) -> CaseState | Refusal:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(start)
