"""The base of every aggregate here: every event carries :class:`Meta`, every
command is applied at most once, identified by ``meta.command_id``, and the events
one command records carry one instant (:func:`one_instant`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, datetime_now_with_tzinfo

from domain.meta import Meta

_instant: ContextVar[datetime | None] = ContextVar("backoffice_command_instant", default=None)


@contextmanager
def one_instant() -> Iterator[datetime]:
    """Stamp every event triggered inside with one instant, taken on entry (inside an
    outer one, the outer's): the events a command saves together then happened at
    once, and no instant (an auditor's "as of") falls between two of them."""
    outer = _instant.get()
    if outer is not None:
        yield outer
        return
    instant = datetime_now_with_tzinfo()
    token = _instant.set(instant)
    try:
        yield instant
    finally:
        _instant.reset(token)


class IdempotentAggregate(Aggregate):
    """An aggregate that remembers the commands it has applied.

    Activities are retried; a retried command finds its ``command_id`` among
    ``applied_commands`` and records nothing the second time.
    """

    class Event(Aggregate.Event):
        meta: Meta

        @staticmethod
        def create_timestamp() -> datetime:
            return _instant.get() or datetime_now_with_tzinfo()

        def apply(self, aggregate: Any) -> None:
            # Creation is idempotent by the aggregate's deterministic id, and one
            # command may create an aggregate and then act on it (open an account,
            # then reserve days), so only later events mark the command as applied.
            if not isinstance(self, Aggregate.Created):
                aggregate.applied_commands.add(self.meta.command_id)
            super().apply(aggregate)

    class Created(Event, Aggregate.Created):
        pass

    def __init__(self, meta: Meta) -> None:
        self.applied_commands: set[str] = set()

    def has_applied(self, meta: Meta) -> bool:
        """Whether the command has already been recorded (a retried activity)."""
        return meta.command_id in self.applied_commands


def changed_fields(recorded: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``wanted`` that differ from what is ``recorded``: what a
    ``DetailsChanged`` event records, and nothing when nothing changed."""
    return {key: value for key, value in wanted.items() if recorded.get(key) != value}
