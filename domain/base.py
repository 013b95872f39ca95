"""The base of every aggregate here: every event carries :class:`Meta`, and every
command is applied at most once, identified by ``meta.command_id``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eventsourcing.domain import Aggregate

from domain.meta import Meta


class IdempotentAggregate(Aggregate):
    """An aggregate that remembers the commands it has applied.

    Activities are retried; a retried command finds its ``command_id`` among
    ``applied_commands`` and records nothing the second time.
    """

    class Event(Aggregate.Event):
        meta: Meta

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
