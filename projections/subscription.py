"""Following the notification log as events are recorded.

PostgreSQL's recorder has a subscription (LISTEN/NOTIFY); eventsourcing's
SQLite recorder has none, so on SQLite :class:`PollingSubscription` polls the
log with the same interface.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence

from eventsourcing.persistence import ApplicationRecorder, Notification, Subscription

POLL_INTERVAL = 0.1
"""Seconds between polls of an idle SQLite log: the longest a new event written by
another process waits (one written in this process wakes the subscription at once)."""


class PollingSubscription(Subscription[ApplicationRecorder]):
    """The notifications after ``gt``, then each new one as it is recorded.

    Iterating blocks until there is a notification; ``stop()`` (from any
    thread) ends the iteration. Use it as a context manager, like the
    library's subscriptions.
    """

    def __init__(
        self,
        recorder: ApplicationRecorder,
        gt: int | None = None,
        topics: Sequence[str] = (),
        *,
        interval: float = POLL_INTERVAL,
        limit: int = 500,
    ) -> None:
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        self._interval = interval
        self._limit = limit
        self._buffer: deque[Notification] = deque()
        self._wake = threading.Event()

    def stop(self) -> None:
        super().stop()
        self._wake.set()

    def wake(self, position: int | None = None) -> None:
        """Poll now: something was just recorded (by this process)."""
        self._wake.set()

    def __next__(self) -> Notification:
        while not self._buffer and not self._has_been_stopped:
            self._buffer.extend(
                self._recorder.select_notifications(
                    start=self._last_notification_id or 0,
                    limit=self._limit,
                    topics=self._topics,
                    inclusive_of_start=False,
                )
            )
            if self._buffer:
                self._last_notification_id = self._buffer[-1].id
            else:
                self._wake.wait(self._interval)
                self._wake.clear()
        if self._has_been_stopped:
            raise StopIteration
        return self._buffer.popleft()


def subscribe(
    recorder: ApplicationRecorder, gt: int | None = None, *, interval: float = POLL_INTERVAL
) -> Subscription[ApplicationRecorder]:
    """The recorder's own subscription where it has one, else a polling one."""
    try:
        return recorder.subscribe(gt=gt)
    except NotImplementedError:
        return PollingSubscription(recorder, gt=gt, interval=interval)
