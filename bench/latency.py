"""Decision latency: one decision through the API on an idle system, versus a bare update.

Set up first, untimed: cases submitted through the API (leave two months ahead,
so an approved case then sleeps) and as many bare cases started and submitted.
Then one decision at a time, alternating: the manager approves a case through
the API (authentication, loading the case, the ``decide`` update and its
validator, the activity, the events saved, the read models caught up, the
answer), and a bare case's ``decide`` update makes its round trip (it runs one
no-op activity, as ours runs one activity), on the same dev server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from datetime import timedelta

from temporalio.client import WorkflowHandle

from bench.bare import BareCaseWorkflow
from bench.common import Figure, Size, Stopwatch, percentile, ratio_at_most
from bench.stack import Bare, Product, bare, product, staff
from bench.temporal import dev_server
from bench.workload import monday_after, reports
from domain.employee import EmployeeProfile

NAME = "latency"
DECISIONS = {Size.TINY: 10, Size.SMALL: 50, Size.DEFAULT: 200, Size.LARGE: 200}
TARGET = ratio_at_most(3)
SET_UP_IN_FLIGHT = 10
NEVER = timedelta(days=365)
SETTLE = 1.0
"""Seconds to let the set-up's work finish before the first decision."""

Decision = tuple[str, str]
"""The manager and the task to approve."""


def run(size: Size) -> Iterator[Figure]:
    yield from asyncio.run(_measure(DECISIONS[size]))


async def _measure(decisions: int) -> list[Figure]:
    profiles = staff(decisions)
    async with dev_server() as server, bare(server) as baseline, product(server, profiles) as ours:
        pending = await _our_pending(ours, reports(profiles)[:decisions])
        handles = await _bare_pending(baseline, decisions)
        await asyncio.sleep(SETTLE)
        our_samples, bare_samples = [], []
        for (manager, task_id), handle in zip(pending, handles, strict=True):
            our_samples.append(await _milliseconds(ours.approve(manager, task_id)))
            bare_samples.append(await _milliseconds(Bare.decide(handle)))
    return [
        Figure(
            f"{NAME}.p50",
            percentile(our_samples, 0.5),
            "ms",
            percentile(bare_samples, 0.5),
            TARGET,
        ),
        Figure(f"{NAME}.p99", percentile(our_samples, 0.99), "ms", percentile(bare_samples, 0.99)),
    ]


async def _milliseconds(call: Awaitable[None]) -> float:
    """How long awaiting ``call`` (a coroutine, not yet started) takes."""
    with Stopwatch() as watch:
        await call
    return watch.elapsed * 1000


async def _our_pending(ours: Product, requesters: list[EmployeeProfile]) -> list[Decision]:
    """Submit a case for each requester: each case's manager and task."""
    slots = asyncio.Semaphore(SET_UP_IN_FLIGHT)
    ahead = monday_after(60)

    async def one(requester: EmployeeProfile) -> Decision:
        manager = str(requester.manager_id)
        async with slots:
            case_id = await ours.submit(requester.employee_id, 0, ahead)
            return manager, await ours.task_of(manager, case_id)

    return list(await asyncio.gather(*(one(each) for each in requesters)))


async def _bare_pending(baseline: Bare, cases: int) -> list[WorkflowHandle[BareCaseWorkflow, str]]:
    slots = asyncio.Semaphore(SET_UP_IN_FLIGHT)

    async def one() -> WorkflowHandle[BareCaseWorkflow, str]:
        async with slots:
            return await baseline.submit(NEVER)

    return list(await asyncio.gather(*(one() for _ in range(cases))))
