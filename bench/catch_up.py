"""Projection catch-up: rebuilding every read model versus merely decoding the log.

The stores are filled with one realistic log (mostly approved and taken
requests, some escalated, rejected, withdrawn, open and sick; the cases' use
cases interleaved as in a live system), commanded through the aggregates and
bulk-inserted as the mapper stores them; nothing is cached between runs. Ours:
``ProjectionRunner.rebuild`` sharing the read models among two processes
(``--processes 2``), and at the ``large`` size again in one process (an
explanatory figure, left out of the default size to keep it under two minutes).
The baseline reads the same notifications in batches of the runner's size and
decodes each into its domain event, nothing more, after the rebuilds, so it has
the warmest cache.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack

from bench.common import (
    REBUILD_PROCESSES,
    Figure,
    Size,
    Stopwatch,
    application,
    every_store,
    ratio_at_least,
)
from bench.workload import CaseWriter, organisation, realistic_mix
from projections.runner import ProjectionRunner
from services.application import BackofficeApplication

NAME = "catch_up"
EVENTS = {Size.TINY: 3_000, Size.SMALL: 30_000, Size.DEFAULT: 200_000, Size.LARGE: 200_000}
TARGETS = {"sqlite": ratio_at_least(0.5), "postgres": ratio_at_least(0.4)}
CASES_PER_EMPLOYEE = 10
EVENTS_PER_CASE = 6.5  # in the realistic mix, roughly


def run(size: Size) -> Iterator[Figure]:
    with every_store() as urls, ExitStack() as stack:
        apps = {kind: stack.enter_context(application(url)) for kind, url in urls.items()}
        recorded = fill(list(apps.values()), EVENTS[size])
        for kind, app in apps.items():
            yield from _measure(kind, urls[kind], app, recorded, one_process=size is Size.LARGE)


def fill(stores: Sequence[BackofficeApplication], events: int) -> int:
    """Write about ``events`` events of realistic cases into each store; the number written."""
    employees = max(1, round(events / EVENTS_PER_CASE / CASES_PER_EMPLOYEE))
    profiles = organisation(managers=max(1, employees // 10), reports_each=10)
    writer = CaseWriter(stores, profiles, processes=2)
    writer.register_organisation()
    writer.write(realistic_mix(), cases=None, events=events)
    return writer.events


def _measure(
    kind: str, url: str, app: BackofficeApplication, recorded: int, *, one_process: bool
) -> Iterator[Figure]:
    counts = (REBUILD_PROCESSES, 1) if one_process else (REBUILD_PROCESSES,)
    with ProjectionRunner(url, application=app) as runner:
        seconds = {count: _rebuild(runner, recorded, count) for count in counts}
        decoding = _decode_all(app, runner.batch_size)
    yield Figure(
        f"{NAME}.{kind}",
        ours=recorded / seconds[REBUILD_PROCESSES],
        unit="ev/s",
        baseline=recorded / decoding,
        target=TARGETS[kind],
    )
    if one_process:
        yield Figure(
            f"{NAME}.{kind}.one_process",
            ours=recorded / seconds[1],
            unit="ev/s",
            baseline=recorded / decoding,
        )


def _rebuild(runner: ProjectionRunner, recorded: int, processes: int) -> float:
    """Seconds to rebuild every read model with ``processes`` processes."""
    with Stopwatch() as rebuild:
        applied = runner.rebuild(processes=processes)
    if applied != recorded:
        raise RuntimeError(f"the rebuild applied {applied} of {recorded} events")
    return rebuild.elapsed


def _decode_all(app: BackofficeApplication, batch_size: int) -> float:
    """Seconds to read every notification and decode its event, batch by batch."""
    position = 0
    with Stopwatch() as watch:
        while True:
            notifications = app.recorder.select_notifications(
                start=position, limit=batch_size, inclusive_of_start=False
            )
            for notification in notifications:
                app.mapper.to_domain_event(notification)
            if len(notifications) < batch_size:
                break
            position = notifications[-1].id
    return watch.elapsed
