"""The directory read from the event store: now, or as of an instant.

Both fold the directory's events (:class:`domain.directory.Directory`) read from
the notification log, filtered by topic, so the directory "as of" and the
directory "now" are the same code. The current one is kept in memory and brought
up to date with one query for newer directory events per call: authority is
checked against what is recorded, never against a read model that may lag. The
events read are kept too (the directory's, a small part of the log), so the
directory as of an instant is folded from them without reading the log again.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import ApplicationRecorder, Mapper
from eventsourcing.utils import get_topic

from domain.directory import DIRECTORY_AGGREGATES, Directory
from domain.directory_changes import Change, changes_between
from domain.organisation import (
    OrganisationChart,
    check_chart,
    delegations_left_revoked,
    directory_warnings,
)
from domain.policy import authority_of

PAGE = 1000


def directory_topics() -> list[str]:
    """The topics of every event class of the directory's aggregates."""
    topics = set()
    for aggregate in DIRECTORY_AGGREGATES:
        for value in vars(aggregate).values():
            if isinstance(value, type) and issubclass(value, DomainEvent):
                topics.add(get_topic(value))
    return sorted(topics)


@dataclass(frozen=True)
class DirectoryChange:
    """What a change to the directory changed (see :meth:`DirectoryReader.change`)."""

    changes: list[Change]
    warnings: list[str]
    """What the change leaves to look at (``domain.organisation.directory_warnings``)
    that was not so before it."""


class DirectoryReader:
    """The directory of one store. Thread-safe: :meth:`current` hands out a snapshot
    that is never changed afterwards (a newer event makes a new one)."""

    def __init__(self, recorder: ApplicationRecorder, mapper: Mapper[UUID]) -> None:
        self.recorder = recorder
        self.mapper = mapper
        self.topics = directory_topics()
        self._lock = threading.Lock()
        self._directory = Directory()
        self._events: tuple[DomainEvent, ...] = ()
        self._position = 0

    def current(self) -> Directory:
        """The directory with every directory event recorded so far. Reads only the part
        of the log written since the last call: the position moves to the end of the
        log, not to the last directory event, so a log of cases is not scanned again."""
        return self.recorded()[0]

    def recorded(self) -> tuple[Directory, tuple[DomainEvent, ...]]:
        """The current directory and the events it was folded from, in log order."""
        with self._lock:
            end = self.recorder.max_notification_id() or 0
            if end <= self._position:
                return self._directory, self._events
            events = [event for _position, event in self.events_after(self._position, stop=end)]
            if events:
                directory = copy.deepcopy(self._directory)
                for event in events:
                    directory.apply(event)
                self._directory, self._events = directory, (*self._events, *events)
            self._position = end
            return self._directory, self._events

    def change(
        self,
        chart: OrganisationChart,
        today: date,
        record: Callable[[OrganisationChart], object],
    ) -> DirectoryChange:
        """Have ``record`` record ``chart`` (a use case of the application, given the
        chart with the last days it keeps as recorded) unless it gives a delegation that
        could never be used on or after ``today`` or breaks another rule of the
        directory (``check_chart``, which names every problem at once), and say
        what changed, the directory after against the directory before, and what that
        leaves to look at. (A change someone else records meanwhile shows too.) A file's
        delegation revoked since that nobody could use now is left revoked, and said so
        (``delegations_left_revoked``)."""
        before = self.current()
        judged = chart.with_recorded_end_dates(before)
        left_revoked = delegations_left_revoked(judged, before, today)
        check_chart(judged, before, today)
        # record keeps the last days as the store holds them when it writes
        record(chart.without_delegations(left_revoked))
        after = self.current()
        known = set(directory_warnings(before, today))
        return DirectoryChange(
            changes_between(before, after),
            [warning for warning in directory_warnings(after, today) if warning not in known]
            + [
                f"{why}; it was revoked and stays so (the file may leave it out)"
                for why in left_revoked.values()
            ],
        )

    def as_of(self, instant: datetime) -> Directory:
        """The directory as it was at ``instant``: the events stamped at or before it."""
        directory = Directory()
        for event in self.recorded()[1]:
            if event.timestamp <= instant:
                directory.apply(event)
        return directory

    def authorities(self) -> Authorities:
        """Under which authority people acted, from the directory as it was then."""
        return Authorities(self)

    def events_after(
        self, position: int, stop: int | None = None
    ) -> Iterator[tuple[int, DomainEvent]]:
        """The directory's events after ``position`` (up to ``stop``), with their
        positions, read a page at a time."""
        while True:
            notifications = self.recorder.select_notifications(
                position, PAGE, stop=stop, topics=self.topics, inclusive_of_start=False
            )
            for notification in notifications:
                event = self.mapper.to_domain_event(notification)
                assert isinstance(event, DomainEvent)
                yield notification.id, event
                position = notification.id
            if len(notifications) < PAGE:
                return


class Authorities:
    """The authority of each decision, from the directory as of its instant, folded
    from the directory's events the reader keeps (the log is read only for what was
    recorded since its last call). An instant at or after every change is answered by
    the current directory (the newest entries of the audit log, the page shown first);
    otherwise the events are folded forward once, for instants asked in time order (an
    audit log read oldest first); an instant earlier than the last asked is folded
    from the start on its own, unless the directory did not change since it (events
    saved at about the same time are stored in either order of their instants: each
    would fold them all again). Nothing is copied."""

    def __init__(self, reader: DirectoryReader) -> None:
        self.reader = reader
        self.current, self.events = reader.recorded()
        self.last_change = max((event.timestamp for event in self.events), default=None)
        self.directory = Directory()
        self.folded = 0
        self.reached: datetime | None = None
        self.changed: datetime | None = None
        """The latest instant of the events folded."""

    def of(
        self, at: datetime, actor: str, on_behalf_of: str | None, process: str
    ) -> dict[str, object]:
        if self.last_change is None or self.last_change <= at:
            directory = self.current
        elif self.reached is not None and at < self.reached:
            unchanged = self.changed is None or self.changed <= at
            directory = self.directory if unchanged else self.reader.as_of(at)
        else:
            while self.folded < len(self.events) and self.events[self.folded].timestamp <= at:
                event = self.events[self.folded]
                self.directory.apply(event)
                self.changed = max(self.changed or event.timestamp, event.timestamp)
                self.folded += 1
            self.reached, directory = at, self.directory
        return authority_of(directory, actor, on_behalf_of, process, at.date())
