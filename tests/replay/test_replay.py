"""Recorded histories replay against today's workflow code: a change that is not
deterministic (a different command sequence for the same history) fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.replay.variants import TimerFirstLeaveRequestWorkflow
from worker import WORKFLOWS
from workflows.messages import DATA_CONVERTER
from workflows.sweep import LeaversTasksSweepWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_there_is_a_recorded_history_for_every_leave_path() -> None:
    names = {path.stem for path in HISTORIES}
    assert {
        "leave_approved_and_taken",
        "leave_rejected",
        "leave_escalated_then_approved",
        "leave_rerouted_then_approved",
        "leave_withdrawn",
        "leave_cancelled",
        "leave_ended_early",
        "leave_ended_at_noon",
        "leave_sick",
        "leave_refused",
        "leavers_tasks_sweep",
    } <= names


@pytest.mark.parametrize("path", HISTORIES, ids=[path.stem for path in HISTORIES])
async def test_recorded_history_replays_without_nondeterminism(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())  # noqa: ASYNC240 - tiny file
    replayer = Replayer(
        workflows=[*WORKFLOWS, LeaversTasksSweepWorkflow], data_converter=DATA_CONVERTER
    )

    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)

    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"


@pytest.mark.parametrize("name", ["leave_approved_and_taken", "leave_withdrawn"])
async def test_the_gate_fails_a_non_deterministic_variant_of_the_workflow(name: str) -> None:
    path = Path(__file__).parent / "histories" / f"{name}.json"
    history = WorkflowHistory.from_json(name, path.read_text())
    replayer = Replayer(workflows=[TimerFirstLeaveRequestWorkflow], data_converter=DATA_CONVERTER)

    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)

    assert result.replay_failure is not None
    assert "nondetermin" in str(result.replay_failure).lower()
