"""End-to-end throughput: leave cases through the API, from submission to closing.

Ours: each case is submitted through the API (which answers once the task is
open and the read models show it), found in the manager's inbox through the
API, approved through the API, and closed by its workflow (the leave, ten
months back, is over, so it is taken a second after approval). Baseline:
:class:`bench.bare.BareCaseWorkflow`, with the same activities, updates and
timer and no domain work, driven straight through the Temporal client, on the
same dev server in the same run. Both run ``IN_FLIGHT`` cases at a time (a case
stops counting once approved, while it waits to close).

Where the time goes: CPU seconds per case of the dev server and of this
process (API, worker, workflows, activities, projection runner, and the
driving client), for ours and for the bare cases.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta

from bench.common import Figure, Size, Stopwatch, ratio_at_least
from bench.stack import Bare, Product, bare, product, staff
from bench.temporal import CpuMeter, DevServer, dev_server
from bench.workload import monday_after, reports
from domain.employee import EmployeeProfile

NAME = "e2e"
CASES = {Size.TINY: 10, Size.SMALL: 60, Size.DEFAULT: 300, Size.LARGE: 300}
IN_FLIGHT = 50
TARGET = ratio_at_least(0.8)
TAKEN_AFTER = timedelta(seconds=1)
CASE_TIMEOUT = 120.0
"""Seconds a case may take before the benchmark gives up (a broken worker, say)."""


def run(size: Size) -> Iterator[Figure]:
    yield from asyncio.run(_measure(CASES[size]))


async def _measure(cases: int) -> list[Figure]:
    profiles = staff(cases)
    requesters = reports(profiles)[:cases]
    async with dev_server() as server:
        async with bare(server) as baseline:
            bare_cpu, bare_seconds = await _timed(server, lambda: _bare_cases(baseline, cases))
        async with product(server, profiles) as ours:
            our_cpu, our_seconds = await _timed(server, lambda: _our_cases(ours, requesters))
    return [
        Figure(f"{NAME}.rate", cases / our_seconds, "case/s", cases / bare_seconds, TARGET),
        Figure(
            f"{NAME}.server_cpu",
            our_cpu.server / cases * 1000,
            "ms/case",
            bare_cpu.server / cases * 1000,
        ),
        Figure(
            f"{NAME}.process_cpu",
            our_cpu.ours / cases * 1000,
            "ms/case",
            bare_cpu.ours / cases * 1000,
        ),
    ]


async def _timed(server: DevServer, cases: Callable[[], Awaitable[None]]) -> tuple[CpuMeter, float]:
    meter = CpuMeter(server.pid)
    meter.start()
    with Stopwatch() as watch:
        await cases()
    meter.stop()
    return meter, watch.elapsed


async def _our_cases(ours: Product, requesters: list[EmployeeProfile]) -> None:
    slots = asyncio.Semaphore(IN_FLIGHT)

    past = monday_after(-300)

    async def one(requester: EmployeeProfile) -> None:
        manager = str(requester.manager_id)
        async with slots:
            case_id = await ours.submit(requester.employee_id, 0, past)
            await ours.approve(manager, await ours.task_of(manager, case_id))
        await ours.closed(case_id)

    await asyncio.gather(*(asyncio.wait_for(one(each), CASE_TIMEOUT) for each in requesters))


async def _bare_cases(baseline: Bare, cases: int) -> None:
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def one() -> None:
        async with slots:
            handle = await baseline.submit(TAKEN_AFTER)
            await baseline.decide(handle)
        await handle.result()

    await asyncio.gather(*(asyncio.wait_for(one(), CASE_TIMEOUT) for _ in range(cases)))
