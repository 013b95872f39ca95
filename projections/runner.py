"""The projection runner: applies the event log to the read models, in batches."""

from __future__ import annotations

import gc
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Self
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder, Subscription
from eventsourcing.utils import resolve_topic

from projections import tracking
from projections.base import Projection
from projections.database import Cursor, Database
from projections.registry import all_projections
from projections.subscription import POLL_INTERVAL, PollingSubscription, subscribe
from services.application import BackofficeApplication
from services.store import StoreLocation
from services.unavailable import CONNECTION_LOST

logger = logging.getLogger(__name__)

REBUILD_WEIGHTS = {"audit_log": 5}
"""How much work each read model's replay is, against the others' 1: the audit log
writes a row for every event (measured: about the five others together)."""

LEFT_BEHIND_CHECK_INTERVAL = 5.0
"""Seconds between a following runner's looks for read models that a rebuild in another
process emptied and left half way (killed): no new event wakes the runner for them."""

REPLAY_GC_THRESHOLDS = (20_000, 20, 100)
"""The garbage collector's thresholds while a rebuild replays the log (Python's default:
700, 10, 10): see :func:`replaying`."""

Progress = Callable[[int, int], None]
"""Called after each batch with the position reached and the position to reach."""


class UnknownProjection(ValueError):
    """A read model asked for by a name no projection has."""


class ProjectionRunner:
    """Keeps the read models of one store up to date with its event log.

    The runner owns one connection to the store's database. A batch reads up
    to ``batch_size`` notifications after the lowest tracked position,
    decodes them, gives each projection the events it has not seen yet (it
    applies them as a batch, with a few statements), moves the positions
    forward and commits once: the rows and their positions change together
    or not at all. Several runners may share a store; each batch
    holds the tracking rows' lock, so every event is applied once.

    ``catch_up()`` and ``rebuild()`` may be called from any thread; ``start()``
    follows the log in a background thread until ``stop()``.
    """

    def __init__(
        self,
        store_url: str,
        *,
        projections: Sequence[Projection] | None = None,
        application: Application[UUID] | None = None,
        batch_size: int = 500,
        rebuild_batch_size: int | None = None,
        poll_interval: float = POLL_INTERVAL,
        retry_interval: float = 1.0,
        check_interval: float = LEFT_BEHIND_CHECK_INTERVAL,
        into: str | None = None,
        until: datetime | None = None,
        stop: int | None = None,
    ) -> None:
        """``into``: the URL of a store whose database receives the read models (default:
        the event store's own); ``until``: apply only events recorded at or before that
        instant; ``stop``: read the log no further than that position. The last two build
        read models as of a past moment, for audit; the runner then is not for following."""
        self.store_url = store_url
        self.into = into
        self.location = StoreLocation(into or store_url)
        self.until = until
        self.stop_position = stop
        self.projections = list(all_projections() if projections is None else projections)
        self.batch_size = batch_size
        self.rebuild_batch_size = rebuild_batch_size or 10 * batch_size
        """Rebuilds read from an empty start and nobody waits on them: larger batches
        mean fewer statements per event (while a batch commits, writers to SQLite wait)."""
        self.poll_interval = poll_interval
        self.retry_interval = retry_interval
        self.check_interval = check_interval
        self._owns_application = application is None
        self.application: Application[UUID] = application or BackofficeApplication(
            env=StoreLocation(store_url).eventsourcing_env()
        )
        if into is not None and self.location.is_postgres:
            tracking.create_postgres_schema(self.location)
        self._database = Database(self.location)
        self._lock = threading.Lock()  # one connection, one transaction at a time
        self._position = 0  # the lowest position after the last batch
        self._dispatch: dict[type, tuple[int, ...]] = {}
        self._decoded: dict[str, bool] = {}
        """For each topic met in the log, whether its events are decoded: those of a
        class some read model here handles (as of an instant, every one: only its
        timestamp says whether it counts)."""
        self.progress = tracking.Progress(self.names)
        """Where this runner has committed every one of its projections up to: give it
        to the ``ReadModels`` of this process, whose waits then end as a batch commits."""
        self._stopping = threading.Event()
        self._guard = threading.Lock()  # the subscription, between run() and stop()
        self._subscription: Subscription[ApplicationRecorder] | None = None
        self._thread: threading.Thread | None = None
        self._watcher: threading.Thread | None = None
        with self._lock, self._db.transaction() as cursor:
            tracking.create_schema(cursor, self.projections)

    @property
    def _db(self) -> Database:
        """The runner's connection (call it holding ``_lock``), opened anew if the server
        closed it: a following runner tries again after an error, and would otherwise
        fail on the dead connection for ever, leaving every read model behind."""
        if self._database.is_broken:
            self._database.close()
            self._database = Database(self.location)
        return self._database

    @property
    def names(self) -> list[str]:
        return [projection.name for projection in self.projections]

    # -- applying events ------------------------------------------------------------

    def catch_up(self, progress: Progress | None = None, *, batch_size: int | None = None) -> int:
        """Apply every recorded event not yet applied; the number of events applied."""
        size = batch_size or self.batch_size
        end = self.application.recorder.max_notification_id() or 0
        if self.stop_position is not None:
            end = min(end, self.stop_position)
        applied = 0
        while True:
            read, count = self._apply_next_batch(size)
            applied += count
            if progress is not None and read:
                progress(self._position, max(end, self._position))
            if read < size:
                return applied

    def _apply_next_batch(self, size: int) -> tuple[int, int]:
        """Read, apply and commit one batch: how many notifications were read and applied.

        The batch is read and decoded, and each projection reads the rows it changes and
        works out their new values (``Projection.prepare``, in a reading transaction),
        before the tracking rows are locked for writing: on SQLite that lock is the
        database's write lock, which the other runners (a shared rebuild's other
        processes) and the application's writers wait for, and reading the log takes
        one of the application's pooled connections, which the application's own
        writers hold while they wait for that lock. If another runner moved the
        positions meanwhile, or a rebuild reset them (even if a runner has since
        replayed them back to where they were), the batch is read again.
        """
        with self._lock:
            while True:
                with self._db.transaction(write=False) as cursor:
                    state = self._state(cursor)
                behind = state[0]
                start = min(behind.values())
                read, events, reached = self._read(start, size)
                due = self._due(behind, events)
                prepared = self._prepare(due)
                with self._db.transaction() as cursor:
                    if self._state(cursor, for_update=True) != state:
                        continue  # another runner (or a rebuild) moved them meanwhile
                    self._apply(cursor, due, prepared, reached if read else None)
                    break
        self._position = reached
        self.progress.reach(self._position)
        if events:
            logger.debug("applied %d events up to %d", len(events), self._position)
        applied = read if self.until is None else sum(self._in_time(e) for _p, e in events)
        return read, applied

    def _behind(self, cursor: Cursor, *, for_update: bool = False) -> dict[str, int]:
        tracked = tracking.positions(cursor, for_update=for_update, names=self.names)
        return {name: tracked.get(name, 0) for name in self.names}

    def _prepare(self, due: list[Sequence[object]]) -> list[object]:
        """What each projection makes of the events due to it, read in one transaction
        (none when nothing is due: a poll that found the log unchanged)."""
        if not any(due):
            return [None] * len(due)
        with self._db.transaction(write=False) as cursor:
            return [
                projection.prepare(cursor, given) if given else None
                for projection, given in zip(self.projections, due, strict=True)
            ]

    def _state(
        self, cursor: Cursor, *, for_update: bool = False
    ) -> tuple[dict[str, int], dict[str, int]]:
        """The read models' positions and how often each was reset (in that order: on
        PostgreSQL ``for_update`` locks the tracking rows a reset also writes)."""
        if for_update:  # the tracking rows locked first: a reset waits, or is seen
            behind = self._behind(cursor, for_update=True)
            return behind, tracking.resets(cursor, self.names)
        # Unlocked (on PostgreSQL each statement its own snapshot): the resets first, so
        # a reset between the two reads shows as an older count with its position 0.
        resets = tracking.resets(cursor, self.names)
        return self._behind(cursor), resets

    def _read(self, start: int, size: int) -> tuple[int, list[tuple[int, object]], int]:
        """The next batch of the log after ``start``: how many notifications were read,
        the ids and events of those of a kind some read model here handles (the others
        are not decoded), and the position read up to."""
        notifications = self.application.recorder.select_notifications(
            start=start, limit=size, stop=self.stop_position, inclusive_of_start=False
        )
        decode = self.application.mapper.to_domain_event
        events: list[tuple[int, object]] = [
            (notification.id, decode(notification))
            for notification in notifications
            if self._decodes(notification.topic)
        ]
        reached = notifications[-1].id if notifications else start
        return len(notifications), events, reached

    def _decodes(self, topic: str) -> bool:
        """Whether events of ``topic`` are decoded, worked out once per topic (from the
        class the topic names now, renamed topics included)."""
        decodes = self._decoded.get(topic)
        if decodes is None:
            decodes = self.until is not None or bool(self._handlers(resolve_topic(topic)))
            self._decoded[topic] = decodes
        return decodes

    def _in_time(self, event: object) -> bool:
        return self.until is None or getattr(event, "timestamp", self.until) <= self.until

    def _due(
        self, behind: dict[str, int], events: list[tuple[int, object]]
    ) -> list[Sequence[object]]:
        """For each projection, the events of the batch it handles and has not seen
        (``(position, event)`` pairs for those ``with_positions``)."""
        due: list[list[tuple[int, object]]] = [[] for _ in self.projections]
        seen = [behind[projection.name] for projection in self.projections]
        for position, event in events:
            if self._in_time(event):
                for index in self._handlers(type(event)):
                    if position > seen[index]:
                        due[index].append((position, event))
        return [
            pairs if projection.with_positions else [event for _position, event in pairs]
            for projection, pairs in zip(self.projections, due, strict=True)
        ]

    def _apply(
        self,
        cursor: Cursor,
        due: list[Sequence[object]],
        prepared: list[object],
        reached: int | None,
    ) -> None:
        """Give each projection the events due to it, and move every position on to
        ``reached`` (None: nothing was read)."""
        for projection, given, made in zip(self.projections, due, prepared, strict=True):
            if given:
                projection.apply_prepared(cursor, given, made)
        if reached is not None:
            for name in self.names:
                tracking.advance(cursor, name, reached)

    def _handlers(self, kind: type) -> tuple[int, ...]:
        """The indexes of the projections that handle events of class ``kind``."""
        handlers = self._dispatch.get(kind)
        if handlers is None:
            handlers = self._dispatch[kind] = tuple(
                index
                for index, projection in enumerate(self.projections)
                if issubclass(kind, projection.handles)
            )
        return handlers

    def rebuild(
        self,
        names: Collection[str] | None = None,
        progress: Progress | None = None,
        *,
        processes: int = 1,
    ) -> int:
        """Empty the named read models (all by default) and replay the whole log into them.

        The emptying commits first and the replay then commits batch by batch
        (a single transaction would hold SQLite's write lock for the whole
        replay), so readers see the read models fill up again meanwhile. The
        emptying is remembered until the replay ends: a rebuild that was killed
        half way resumes where its last batch committed, and applies no event
        twice. Indexes only readers use (``Projection.read_indexes``) are dropped
        for the replay and made again at its end.

        ``processes`` > 1 shares the read models out among that many processes,
        each reading the log and replaying it into its share (this one reports
        ``progress`` for the largest share). Returns the number of events applied.
        """
        chosen = [p for p in self.projections if names is None or p.name in names]
        unknown = set(names or ()) - {p.name for p in chosen}
        if unknown:
            raise UnknownProjection(f"no projection named {', '.join(sorted(unknown))}")
        with self._lock, self._db.transaction() as cursor:
            tracking.lock_schema(cursor)  # no process makes the indexes dropped below
            unfinished = tracking.rebuilding(cursor)
            for projection in chosen:
                if projection.name not in unfinished:
                    projection.drop_read_indexes(cursor)
                    projection.clear(cursor)
                    tracking.reset(cursor, projection.name)
                    tracking.start_rebuild(cursor, projection.name)
        shares = _shares(chosen, processes) if _all_registered(chosen) else [chosen]
        with replaying():
            if len(shares) == 1:
                applied = self.catch_up(progress, batch_size=self.rebuild_batch_size)
            else:
                applied = self._rebuild_shared(shares, progress)
        self._end_rebuilds(chosen)
        return applied

    def _end_rebuilds(self, projections: Sequence[Projection]) -> None:
        """Make the indexes a rebuild dropped and forget that it was unfinished."""
        with self._lock, self._db.transaction() as cursor:
            for projection in projections:
                projection.create_tables(cursor)  # and the indexes the rebuild dropped
                tracking.end_rebuild(cursor, projection.name)

    def _rebuild_shared(self, shares: list[list[Projection]], progress: Progress | None) -> int:
        """Replay the first share here and each other share in a process of its own:
        ``python -m projections.share``, given its share on standard input (the store's
        URL may hold a password), which prints how many events it applied, and ends if
        this process is killed."""
        helpers = [self._start_helper(share) for share in shares[1:]]
        try:
            with self._share_runner(shares[0]) as runner:
                applied = runner.catch_up(progress, batch_size=self.rebuild_batch_size)
        except BaseException:
            for helper in helpers:
                helper.terminate()
            raise
        finally:
            outputs = [helper.communicate()[0] for helper in helpers]
        failed = [
            projection.name
            for share, helper in zip(shares[1:], helpers, strict=True)
            if helper.returncode
            for projection in share
        ]
        if failed:
            raise RuntimeError(
                f"the rebuild of {', '.join(failed)} stopped (see above); run it again to resume it"
            )
        applied = max([applied, *(int(output) for output in outputs)])
        # Whatever was recorded while the shares replayed, for every read model.
        return applied + self.catch_up(batch_size=self.rebuild_batch_size)

    def _start_helper(self, share: list[Projection]) -> subprocess.Popen[str]:
        helper = subprocess.Popen(  # noqa: S603 - this interpreter, arguments we built
            # -P: the package this process runs, not one in the working directory
            [sys.executable, "-P", "-m", "projections.share", str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert helper.stdin is not None
        helper.stdin.write(self._share_spec(share))
        helper.stdin.close()
        helper.stdin = None  # given: communicate() is left only the output to read
        return helper

    def _share_spec(self, share: list[Projection]) -> str:
        return json.dumps(
            {
                "store_url": self.store_url,
                "names": [projection.name for projection in share],
                "into": self.into,
                "until": None if self.until is None else self.until.isoformat(),
                "stop": self.stop_position,
                "batch_size": self.rebuild_batch_size,
            }
        )

    def _share_runner(self, share: list[Projection]) -> ProjectionRunner:
        return ProjectionRunner(
            self.store_url,
            projections=share,
            application=self.application,
            rebuild_batch_size=self.rebuild_batch_size,
            into=self.into,
            until=self.until,
            stop=self.stop_position,
        )

    def resuming(self) -> list[str]:
        """The read models whose rebuild was interrupted and will resume."""
        with self._lock, self._db.transaction(write=False) as cursor:
            return sorted(tracking.rebuilding(cursor))

    def position(self, name: str | None = None) -> int:
        """The named projection's position, or the lowest of all."""
        with self._lock, self._db.transaction(write=False) as cursor:
            tracked = tracking.positions(cursor)
        if name is not None:
            return tracked[name]
        return min(tracked[each] for each in self.names)

    def wait_for(self, position: int, timeout: float) -> bool:
        """Whether every projection reaches ``position`` within ``timeout`` seconds."""
        with Database(self.location) as database:
            return tracking.wait_for(
                database, self.names, position, timeout, progress=self.progress
            )

    # -- following the log -----------------------------------------------------------

    def run(self) -> None:
        """Follow the log until ``stop()``; on an error, log it and try again shortly."""
        while not self._stopping.is_set():
            try:
                self._follow()
            except Exception as error:
                self._failed(error, self.retry_interval)
                self._stopping.wait(self.retry_interval)

    def _failed(self, error: Exception, retrying_in: float) -> None:
        if isinstance(error, CONNECTION_LOST):
            logger.warning(
                "projection runner lost its connection to the database (%s); retrying in %s s",
                str(error).strip(),
                retrying_in,
            )
        else:
            logger.exception("projection runner failed; retrying in %s s", retrying_in)

    def _follow(self) -> None:
        # The subscription only wakes the runner up; the events are applied in
        # batches, and whatever a batch has already applied is skipped here.
        self.catch_up()
        self._finish_stopped_rebuilds()
        with subscribe(
            self.application.recorder, gt=self._position, interval=self.poll_interval
        ) as subscription:
            with self._guard:
                self._subscription = subscription
            stop_waking = None
            if isinstance(subscription, PollingSubscription) and isinstance(
                self.application, BackofficeApplication
            ):
                stop_waking = self.application.on_saved(subscription.wake)
            try:
                if self._stopping.is_set():
                    return
                for notification in subscription:
                    if notification.id > self._position:
                        self.catch_up()
            finally:
                if stop_waking is not None:
                    stop_waking()
                with self._guard:
                    self._subscription = None

    def _finish_stopped_rebuilds(self) -> None:
        """A rebuild that stopped half way (killed, or a helper failed) leaves its read
        models marked unfinished, without their reader-only indexes. Once this runner
        has caught them up with the whole log, their rows are complete: make the
        indexes and forget the mark, instead of leaving readers slow until someone
        runs the rebuild again."""
        unfinished = self.resuming()
        stopped = [p for p in self.projections if p.name in unfinished]
        if stopped:
            logger.warning(
                "finishing the stopped rebuild of %s", ", ".join(p.name for p in stopped)
            )
            self._end_rebuilds(stopped)

    def _watch(self) -> None:
        """Until ``stop()``, every ``check_interval`` seconds: catch up the read models
        that a rebuild elsewhere emptied and left (positions below what this runner
        reached, or marked unfinished) and finish that rebuild, once they have not moved
        since the last look (a rebuild still running moves them). The subscription wakes
        the runner only for new events, and none may come for a long while."""
        last: tuple[dict[str, int], set[str]] | None = None
        while not self._stopping.wait(self.check_interval):
            try:
                with self._lock, self._db.transaction(write=False) as cursor:
                    positions = tracking.positions(cursor, names=self.names)
                    looked = (positions, tracking.rebuilding(cursor) & set(self.names))
                left = min(positions.values(), default=self._position) < self._position
                if (left or looked[1]) and looked == last:
                    logger.warning("catching up read models a rebuild elsewhere left behind")
                    self.catch_up()
                    self._finish_stopped_rebuilds()
                last = looked if left or looked[1] else None
            except Exception as error:
                self._failed(error, self.check_interval)

    @property
    def subscription(self) -> Subscription[ApplicationRecorder] | None:
        """The subscription the background loop is following, if it is."""
        return self._subscription

    def start(self) -> None:
        """Follow the log in a background thread."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("the projection runner is already running")
        self._stopping.clear()
        self._thread = threading.Thread(target=self.run, name="projection-runner", daemon=True)
        self._thread.start()
        self._watcher = threading.Thread(target=self._watch, name="projection-watch", daemon=True)
        self._watcher.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop following the log (after the batch in hand) and wait for the thread."""
        self._stopping.set()
        with self._guard:
            if self._subscription is not None:
                self._subscription.stop()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._watcher is not None:
            self._watcher.join(timeout)
            self._watcher = None

    def close(self) -> None:
        self.stop()
        self._database.close()
        if self._owns_application:
            self.application.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _all_registered(projections: Sequence[Projection]) -> bool:
    """Whether each is the registry's read model of its name: another process can make it."""
    registered = {projection.name: type(projection) for projection in all_projections()}
    return all(registered.get(p.name) is type(p) for p in projections)


def _shares(projections: Sequence[Projection], processes: int) -> list[list[Projection]]:
    """The read models in up to ``processes`` shares of about equal work, the
    largest first."""
    shares: list[list[Projection]] = [[] for _ in range(max(1, processes))]
    load = [0] * len(shares)
    heaviest_first = sorted(projections, key=lambda p: -REBUILD_WEIGHTS.get(p.name, 1))
    for projection in heaviest_first:
        lightest = load.index(min(load))
        shares[lightest].append(projection)
        load[lightest] += REBUILD_WEIGHTS.get(projection.name, 1)
    return [share for share in shares if share]


def replay_share(spec: str) -> int:
    """In a helper process of a shared rebuild: replay the log into the read models
    that ``spec`` (JSON, from ``ProjectionRunner._share_spec``) names; the number of
    events applied."""
    share = json.loads(spec)
    projections = [p for p in all_projections() if p.name in share["names"]]
    until = share["until"]
    with (
        replaying(),
        ProjectionRunner(
            share["store_url"],
            projections=projections,
            rebuild_batch_size=share["batch_size"],
            into=share["into"],
            until=None if until is None else datetime.fromisoformat(until),
            stop=share["stop"],
        ) as runner,
    ):
        return runner.catch_up(batch_size=share["batch_size"])


@contextmanager
def replaying() -> Iterator[None]:
    """Collect garbage less often while replaying the log in large batches (this
    process's setting, put back afterwards). A batch makes objects by the ten thousand
    (decoded events, rows) that all live until it commits, and by default every 700 new
    objects the collector would traverse them again, only to find them alive: about a
    tenth of a rebuild's time. What a batch leaves is still collected, less often."""
    thresholds = gc.get_threshold()
    gc.set_threshold(*REPLAY_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
