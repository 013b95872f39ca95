"""Open work at scale: a worker holding many leave cases that wait for a decision.

The cases are started on the embedded dev server and run by a worker in a
process of its own, so that its resident memory is the worker's alone; each
case is submitted and its approval task opened, then waits (for two business
days). The baseline column shows the same worker, idle, before any case.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from eventsourcing.utils import get_topic
from temporalio.client import Client

from bench.common import (
    Figure,
    Size,
    Stopwatch,
    application,
    sqlite_store,
    store_bytes,
    value_under,
)
from bench.temporal import dev_server, memory_bytes
from bench.workload import CaseWriter, leave_period, monday_after, organisation, reports
from domain.employee import EmployeeProfile
from domain.leave import LeaveType
from projections.events import TaskOpened
from services.application import BackofficeApplication
from workflows.leave import LeaveRequestWorkflow
from workflows.messages import LeaveRequestStart, leave_workflow_id

NAME = "open_cases"
CASES = {Size.TINY: 40, Size.SMALL: 500, Size.DEFAULT: 2_000, Size.LARGE: 10_000}
STARTS_AT_ONCE = 100
TARGET = value_under(600, "MB")
MB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[1]
PATIENCE = 30.0
"""Seconds to wait for the next task to open before giving up."""


def run(size: Size) -> Iterator[Figure]:
    yield from asyncio.run(_measure(CASES[size]))


async def _measure(cases: int) -> list[Figure]:
    with sqlite_store() as url, application(url) as app:
        profiles = organisation(managers=max(1, cases // 100), reports_each=100)
        CaseWriter([app], profiles).register_organisation()
        before = store_bytes(url)
        async with dev_server() as server, _worker(server.address, url) as (pid, task_queue):
            idle = memory_bytes(pid)
            with Stopwatch() as watch:
                await _start(server.client, task_queue, reports(profiles)[:cases])
                await _until_opened(app, cases)
            resident, peak = memory_bytes(pid), memory_bytes(pid, "VmHWM")
        per_case = (store_bytes(url) - before) / cases
    return [
        Figure(f"{NAME}.worker_rss", resident / MB, "MB", baseline=idle / MB, target=TARGET),
        Figure(f"{NAME}.worker_rss_peak", peak / MB, "MB", baseline=idle / MB),
        Figure(f"{NAME}.opened_per_s", cases / watch.elapsed, "case/s"),
        Figure(f"{NAME}.store_per_case.sqlite", per_case, "B"),
    ]


@asynccontextmanager
async def _worker(address: str, url: str) -> AsyncIterator[tuple[int, str]]:
    """A worker process on a fresh task queue: its pid and the queue."""
    task_queue = f"bench-{uuid.uuid4()}"
    worker = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bench.worker_process", address, task_queue, url),
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert worker.stdin is not None
    assert worker.stdout is not None
    try:
        line = await worker.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError(f"the worker did not start: {line!r}")
        yield worker.pid, task_queue
    finally:
        worker.stdin.close()
        await asyncio.wait_for(worker.wait(), 30)


async def _start(client: Client, task_queue: str, requesters: Sequence[EmployeeProfile]) -> None:
    """Start a case for each requester, ``STARTS_AT_ONCE`` at a time."""
    for first in range(0, len(requesters), STARTS_AT_ONCE):
        batch = requesters[first : first + STARTS_AT_ONCE]
        await asyncio.gather(*(start_case(client, task_queue, each) for each in batch))


async def start_case(client: Client, task_queue: str, requester: EmployeeProfile) -> uuid.UUID:
    """Start a leave request two months ahead, as the API does."""
    case_id, period = uuid.uuid4(), leave_period(0, monday_after(60))
    await client.start_workflow(
        LeaveRequestWorkflow.run,
        LeaveRequestStart(
            case_id=case_id,
            employee_id=requester.employee_id,
            leave_type=LeaveType.ANNUAL,
            start=period.start,
            end=period.end,
            submitted_by=requester.employee_id,
        ),
        id=leave_workflow_id(case_id),
        task_queue=task_queue,
    )
    return case_id


async def _until_opened(app: BackofficeApplication, cases: int) -> None:
    """Wait until every case's approval task is opened: every case is waiting."""
    topic = get_topic(TaskOpened)
    opened, position = 0, 0
    clock = asyncio.get_running_loop().time
    progressed = clock()
    while opened < cases:
        found = app.recorder.select_notifications(
            start=position, limit=1000, topics=[topic], inclusive_of_start=False
        )
        if found:
            opened, position, progressed = opened + len(found), found[-1].id, clock()
        elif clock() - progressed > PATIENCE:
            raise RuntimeError(f"only {opened} of {cases} tasks opened; none for {PATIENCE} s")
        else:
            await asyncio.sleep(0.2)
