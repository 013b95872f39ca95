"""Commands while no worker runs the workflows: a bounded wait, then 503, and the same
request sent again once a worker runs finds the outcome, applied once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from temporalio.service import RPCError

from api import tasks as api_tasks
from api.app import create_app
from api.leave_requests import submission_case_id
from projections.audit_log import AuditFilter
from projections.queries import ReadModels
from tests.integration.api_conftest import Api, weeks_ahead, worker_for
from workflows.messages import leave_workflow_id

TIMEOUT = 1.0


@pytest.fixture
async def idle(api: Api) -> AsyncIterator[Api]:
    """The API of ``api``'s store and Temporal, whose workflows run on a task queue that
    no worker polls until a test starts one (:func:`~tests.integration.api_conftest.worker_for`)."""
    async with _api_like(api, task_queue=f"idle-{uuid.uuid4()}") as idle:
        yield idle


@pytest.fixture
async def brief(api: Api) -> AsyncIterator[Api]:
    """``api`` (its worker running), waiting for a workflow as briefly as ``idle``."""
    async with _api_like(api, task_queue=api.context.settings.task_queue) as brief:
        yield brief


@asynccontextmanager
async def _api_like(api: Api, task_queue: str, wait: float = TIMEOUT) -> AsyncIterator[Api]:
    settings = api.context.settings.model_copy(
        update={"task_queue": task_queue, "command_timeout": wait}
    )
    context = replace(api.context, settings=settings)
    transport = httpx.ASGITransport(app=create_app(context))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield Api(http, context)


async def test_a_request_for_leave_answers_503_and_is_taken_once_a_worker_runs(
    idle: Api,
) -> None:
    period = weeks_ahead(4)

    began = time.monotonic()
    waiting = await idle.submit("e-3", period, key="no-worker-yet")
    waited = time.monotonic() - began
    async with worker_for(idle):
        taken = await idle.submit("e-3", period, key="no-worker-yet")
        again = await idle.submit("e-3", period, key="no-worker-yet")

    assert waiting.status_code == 503, waiting.text
    assert waiting.json()["rule"] == "workflow_not_answering"
    assert "same Idempotency-Key" in waiting.json()["detail"]
    assert waiting.headers["Retry-After"] == "5"
    assert TIMEOUT <= waited < TIMEOUT + 5
    assert taken.status_code == 201, taken.text
    assert again.json()["id"] == taken.json()["id"]
    mine = (await idle.get("e-3", "/api/leave-requests")).json()["items"]
    assert [case["id"] for case in mine] == [taken.json()["id"]]


async def test_a_decision_sent_while_the_worker_is_away_is_recorded_once_it_is_back(
    idle: Api,
) -> None:
    async with worker_for(idle):
        case = await idle.pending("e-3", weeks_ahead(4))
        task = await idle.task_for("e-2", case["id"])

    waiting = await idle.decide("e-2", task["id"], "approve", key="while-away")
    async with worker_for(idle):
        decided = await idle.decide("e-2", task["id"], "approve", key="while-away")
        again = await idle.decide("e-2", task["id"], "approve", key="while-away")

    assert waiting.status_code == 503, waiting.text
    assert waiting.json()["rule"] == "workflow_not_answering"
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "approved"
    assert again.json() == decided.json()
    assert len(decided.json()["decisions"]) == 1


async def test_a_request_sent_without_a_key_is_told_to_look_before_sending_it_again(
    idle: Api,
) -> None:
    """Sent again without a key, a submission would be a second request."""
    waiting = await idle.submit("e-3", weeks_ahead(4))

    assert waiting.status_code == 503, waiting.text
    assert waiting.json()["rule"] == "workflow_not_answering"
    assert "look at the case before sending it again" in waiting.json()["detail"]
    assert "same Idempotency-Key" not in waiting.json()["detail"]


async def test_a_request_cancelled_while_its_workflow_waits_is_cancelled_not_answered(
    idle: Api,
) -> None:
    """A request cancelled from outside (the server stopping, say) stops as cancelled:
    it is not turned into an answer nobody reads."""
    key = "abandoned-while-waiting"
    workflow = idle.context.client.get_workflow_handle(
        leave_workflow_id(submission_case_id("e-3", key))
    )
    sending = asyncio.create_task(idle.submit("e-3", weeks_ahead(4), key=key))
    while True:  # the update is sent with the start: once started, the request waits
        try:
            await workflow.describe()
            break
        except RPCError:
            await asyncio.sleep(0.02)
    sending.cancel()

    with pytest.raises(asyncio.CancelledError):
        await sending


async def test_a_bulk_decision_while_no_worker_runs_waits_once_and_sends_no_more(
    idle: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each decision waits its turn (one at a time here); once the call's wait is over,
    those left are not sent."""
    monkeypatch.setattr(api_tasks, "BULK_CONCURRENCY", 1)
    async with worker_for(idle):
        first = await idle.pending("e-3", weeks_ahead(4))
        second = await idle.pending("e-4", weeks_ahead(6))
        tasks = [(await idle.task_for("e-2", case["id"]))["id"] for case in (first, second)]
    body = {"decisions": [{"task_id": task, "decision": "approve"} for task in tasks]}

    began = time.monotonic()
    response = await idle.http.post(
        "/api/tasks/decisions", json=body, headers=idle.headers("e-2", key="bulk-away")
    )
    waited = time.monotonic() - began
    async with worker_for(idle):
        again = await idle.http.post(
            "/api/tasks/decisions", json=body, headers=idle.headers("e-2", key="bulk-away")
        )

    results = response.json()["results"]
    assert [(r["outcome"], r["status"], r["rule"]) for r in results] == [
        ("failed", 503, "workflow_not_answering"),
        ("failed", 503, "workflow_not_answering"),
    ]
    assert results[1]["detail"].startswith("not sent: ")
    assert waited < 2 * TIMEOUT
    assert [r["outcome"] for r in again.json()["results"]] == ["decided", "decided"]


async def test_one_task_whose_workflow_does_not_answer_does_not_hold_back_the_others(
    brief: Api, idle: Api
) -> None:
    """A bulk's tasks are decided side by side: one workflow stuck (here, its worker
    gone) fails alone, within the call's wait, and the others are decided."""
    async with worker_for(idle):
        stuck = await idle.pending("e-3", weeks_ahead(4))
        stuck_task = (await idle.task_for("e-2", stuck["id"]))["id"]
    running = await brief.pending("e-4", weeks_ahead(6))
    running_task = (await brief.task_for("e-2", running["id"]))["id"]
    body = {
        "decisions": [
            {"task_id": task, "decision": "approve"} for task in (stuck_task, running_task)
        ]
    }

    began = time.monotonic()
    response = await brief.http.post(
        "/api/tasks/decisions", json=body, headers=brief.headers("e-2", key="one-stuck")
    )
    waited = time.monotonic() - began

    results = response.json()["results"]
    assert [(r["task_id"], r["outcome"], r["rule"]) for r in results] == [
        (stuck_task, "failed", "workflow_not_answering"),
        (running_task, "decided", None),
    ]
    assert waited < 2 * TIMEOUT


def refusals_kept(api: Api, case_id: uuid.UUID) -> int:
    """The refusals of the case in the audit log, once it has caught up."""
    position = api.context.application.recorder.max_notification_id() or 0
    assert api.context.read_models.wait_for(position, 5)
    selection = AuditFilter(case_id=str(case_id), event="Refused")
    return len(
        api.context.read_models.audit_page(selection, newest_first=False, after=None, limit=10)
    )


async def test_a_request_refused_once_a_worker_runs_is_kept_when_sent_again(idle: Api) -> None:
    """The first attempt answered 503; the worker, once back, refused it: sent again,
    the request gets that refusal, and the auditors find it kept, once."""
    start, _end = weeks_ahead(3)
    too_long = (start, start + timedelta(days=60))
    key = "refused-while-away"

    waiting = await idle.submit("e-3", too_long, key=key)
    workflow = idle.context.client.get_workflow_handle(
        leave_workflow_id(submission_case_id("e-3", key))
    )
    async with worker_for(idle):
        await workflow.result()  # refused, and ended, before the request is sent again
        refused = await idle.submit("e-3", too_long, key=key)
        again = await idle.submit("e-3", too_long, key=key)

    assert waiting.status_code == 503, waiting.text
    assert refused.status_code == 422, refused.text
    assert again.json() == refused.json()
    assert refusals_kept(idle, submission_case_id("e-3", key)) == 1


class LaggingReadModels(ReadModels):
    """Read models whose projections lag: each wait for them lasts its whole timeout."""

    def wait_for(self, position: int, timeout: float = 5.0) -> bool:
        time.sleep(timeout)
        return super().wait_for(position, timeout)


async def test_read_models_lagging_behind_a_bulk_do_not_hold_back_its_decisions(
    brief: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bulk waits for the read models once, after its decisions: their lag is not
    taken from the workflows' wait, nor blamed on the workers."""
    monkeypatch.setattr(api_tasks, "BULK_CONCURRENCY", 1)
    cases = [await brief.pending(who, weeks_ahead(4)) for who in ("e-3", "e-4")]
    tasks = [(await brief.task_for("e-2", case["id"]))["id"] for case in cases]
    settings = brief.context.settings.model_copy(update={"read_your_writes_timeout": 3.5})
    lagging = replace(
        brief.context, settings=settings, read_models=LaggingReadModels(settings.store_url)
    )
    body = {"decisions": [{"task_id": task, "decision": "approve"} for task in tasks]}

    try:
        async with _api_like(Api(brief.http, lagging), settings.task_queue, wait=3) as slow:
            response = await slow.http.post(
                "/api/tasks/decisions", json=body, headers=slow.headers("e-2", key="lagging")
            )
    finally:
        lagging.read_models.close()

    assert [r["outcome"] for r in response.json()["results"]] == ["decided", "decided"]
