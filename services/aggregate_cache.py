"""The events of recently used aggregates, kept in memory, and commands that trust them.

Loading an aggregate costs a query and decoding each of its events. The
:class:`CachingRepository` keeps each recently used aggregate's decoded events
(events are immutable) and replays them into a fresh aggregate on every ``get``,
so no two callers ever share an aggregate's state.

A plain ``get`` still asks the store for events newer than those kept (one query,
usually answered by nothing): another process may have written them. A command
that will *save* the aggregate may skip even that (``for_update=True``), inside
:meth:`CachingRepository.optimistically`: if the kept events were behind, the save
fails on the stream's version (the store's optimistic concurrency control), or
the command refuses or fails on state that is old, or its save does not extend a
trusted aggregate (so no version check covered it); in each case the command runs
a second time with every aggregate brought up to date from the store, and only
that attempt's outcome counts. A failed save forgets the aggregates it carried.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.persistence import EventStore

T = TypeVar("T")

logger = logging.getLogger(__name__)

DEFAULT_MAXSIZE = 10_000
"""Aggregates kept at most (the least recently used go first)."""

DEFAULT_MAX_EVENTS = 100_000
"""Events kept at most, all aggregates together: about a kilobyte each once decoded,
so some 100 MB at worst (a leave account's stream grows for a whole career)."""


def replay(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's ``project_aggregate`` without its per-event runtime-protocol
    ``isinstance`` assertion (every stored event here is the library's ``DomainEvent``,
    which mutates), which took a tenth of a command's time."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


@dataclass
class _Attempt:
    """One optimistic run of a command: the aggregates it took from kept events
    without asking the store."""

    trusted: set[UUID] = field(default_factory=set)


class _Unconfirmed(Exception):
    """A command trusted kept events of an aggregate its save did not extend, so no
    version check confirmed them."""


_attempt: ContextVar[_Attempt | None] = ContextVar("backoffice_cache_attempt", default=None)


class CachingRepository(Repository[UUID]):
    """The library's repository with an in-process cache of aggregates' events."""

    def __init__(
        self,
        event_store: EventStore[UUID],
        *,
        maxsize: int = DEFAULT_MAXSIZE,
        max_events: int = DEFAULT_MAX_EVENTS,
    ) -> None:
        super().__init__(event_store)
        self.maxsize = maxsize
        self.max_events = max_events
        self._streams: OrderedDict[UUID, tuple[Any, ...]] = OrderedDict()
        self._events = 0  # kept, all streams together
        self._lock = threading.Lock()

    def get(
        self,
        aggregate_id: UUID,
        *,
        version: int | None = None,
        projector_func: Any = replay,
        for_update: bool = False,
        **kwargs: Any,
    ) -> Any:
        """The aggregate now (or at ``version``, read from the store).

        ``for_update``: the caller saves it afterwards, inside :meth:`optimistically`;
        kept events are then used without asking the store for newer ones.
        """
        if version is not None:
            return super().get(aggregate_id, version=version, projector_func=projector_func)
        with self._lock:
            kept = self._streams.get(aggregate_id)
            if kept is not None:
                self._streams.move_to_end(aggregate_id)
        attempt = _attempt.get()
        if kept is not None and for_update and attempt is not None:
            attempt.trusted.add(aggregate_id)
            events = kept
        else:
            after = kept[-1].originator_version if kept else None
            newer = tuple(self.event_store.get(aggregate_id, gt=after))
            events = kept + newer if kept else newer
            if not events:
                raise AggregateNotFoundError(aggregate_id)
            if newer:
                self._keep(aggregate_id, events)
        return projector_func(None, events)

    def optimistically(self, command: Callable[[], T]) -> T:
        """Run ``command`` trusting kept events for what it saves; if it then fails in
        any way (a stale version, a refusal or an error on state that may be old, a
        trusted aggregate its save did not extend), run it again with every aggregate
        read up to date."""
        attempt = _Attempt()
        token = _attempt.set(attempt)
        try:
            return command()
        except Exception as error:
            if not attempt.trusted:
                raise
            logger.debug("running again on stored state after %r", error)
        finally:
            _attempt.reset(token)
        token = _attempt.set(None)
        try:
            return command()
        finally:
            _attempt.reset(token)

    def kept_ids(self) -> list[UUID]:
        """The aggregates whose events are kept, least recently used first."""
        with self._lock:
            return list(self._streams)

    def check_saved(self, extended: Iterable[UUID]) -> None:
        """Called before a save with the aggregates it adds events to: their versions
        are checked by the store. An aggregate the command trusted from kept events and
        does not extend (a command already applied, a booking not found on an account
        that was behind) was never checked, and the command's answer may rest on old
        state: the command runs again on what the store holds."""
        attempt = _attempt.get()
        if attempt is not None and attempt.trusted - set(extended):
            raise _Unconfirmed

    def remember(self, events: Iterable[Any]) -> None:
        """Add events just saved to their aggregates' kept events."""
        by_stream: dict[UUID, list[Any]] = {}
        for event in events:
            by_stream.setdefault(event.originator_id, []).append(event)
        with self._lock:
            for stream, new in by_stream.items():
                kept = self._streams.get(stream)
                first = new[0].originator_version
                if first == 1:
                    self._put(stream, tuple(new))
                elif kept is not None and kept[-1].originator_version == first - 1:
                    self._put(stream, kept + tuple(new))
                else:
                    self._drop(stream)

    def forget(self, aggregates: Mapping[UUID, Any] | Iterable[UUID]) -> None:
        """Drop what is kept of these aggregates (a save of them failed)."""
        with self._lock:
            for aggregate_id in aggregates:
                self._drop(aggregate_id)

    def _keep(self, aggregate_id: UUID, events: tuple[Any, ...]) -> None:
        with self._lock:
            kept = self._streams.get(aggregate_id)
            if kept is None or kept[-1].originator_version < events[-1].originator_version:
                self._put(aggregate_id, events)

    def _put(self, aggregate_id: UUID, events: tuple[Any, ...]) -> None:
        self._drop(aggregate_id)
        self._streams[aggregate_id] = events
        self._events += len(events)
        while len(self._streams) > self.maxsize or (
            self._events > self.max_events and len(self._streams) > 1
        ):
            _oldest, dropped = self._streams.popitem(last=False)
            self._events -= len(dropped)

    def _drop(self, aggregate_id: UUID) -> None:
        dropped = self._streams.pop(aggregate_id, None)
        if dropped is not None:
            self._events -= len(dropped)
