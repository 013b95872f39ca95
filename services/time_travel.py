"""Any aggregate as it was: at a version, or as of an instant (for auditors)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, DomainEvent

from domain.errors import NotFound, RuleViolation

LAST_POSSIBLE_VERSION = 2**63 - 1
"""The largest version a store can hold (SQLite's and PostgreSQL's 64-bit integers): a
larger one is asked for as this one, which no aggregate reaches either."""


@dataclass(frozen=True)
class AggregateState:
    id: UUID
    type: str
    version: int
    at: datetime
    """When this version was recorded."""
    state: dict[str, Any]
    """Its public attributes, as JSON can carry them."""


def known_up_to_now(at: datetime, what: str, instead: str) -> None:
    """Refuse an instant after now (RuleViolation ``instant_in_the_future``): what is
    recorded until then would change the answer for it. ``what`` is what was asked for
    (``the aggregate``), ``instead`` what to do in the caller's words (the API names its
    query parameter, the command line its option)."""
    now = datetime.now(UTC)
    if at > now:
        raise RuleViolation(
            "instant_in_the_future",
            f"{what} is known up to now ({now.isoformat(timespec='seconds')}),"
            f" not at {at.isoformat()}; {instead}",
        )


def aggregate_state(
    application: Application[UUID], aggregate_id: UUID, *, at: datetime | None, version: int | None
) -> AggregateState:
    """The aggregate at ``version`` or as of ``at``; NotFound, saying why, if it did not
    exist then (no such aggregate, not yet recorded at ``at``, fewer versions)."""
    if at is not None:
        version = None
        first: datetime | None = None
        for stored in application.recorder.select_events(aggregate_id):
            event = application.mapper.to_domain_event(stored)
            if isinstance(event, DomainEvent):
                first = first or event.timestamp
                if event.timestamp > at:
                    break
            version = stored.originator_version
        if version is None:
            if first is None:
                raise _unknown(aggregate_id)
            raise NotFound(
                "not_yet_recorded",
                f"{aggregate_id} was first recorded at {first.isoformat()}; there is nothing"
                " before that",
            )
    asked = None if version is None else min(version, LAST_POSSIBLE_VERSION)
    try:
        aggregate: Aggregate = application.repository.get(aggregate_id, version=asked)
    except AggregateNotFoundError:
        raise _unknown(aggregate_id) from None
    if version is not None and aggregate.version != version:
        raise NotFound(
            "no_such_version",
            f"{aggregate_id} has versions 1 to {aggregate.version}, not {version}",
        )
    state = {
        key: plain(value)
        for key, value in vars(aggregate).items()
        if not key.startswith("_") and key != "applied_commands"
    }
    return AggregateState(
        id=aggregate.id,
        type=type(aggregate).__name__,
        version=aggregate.version,
        at=aggregate.modified_on,
        state=state,
    )


def _unknown(aggregate_id: UUID) -> NotFound:
    return NotFound("aggregate_not_found", f"no aggregate {aggregate_id}")


def plain(value: object) -> Any:
    """A value of an aggregate's state as JSON can carry it."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: plain(getattr(value, field.name)) for field in dataclasses.fields(value)
        }
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [plain(item) for item in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, datetime) or hasattr(value, "isoformat"):
        return value.isoformat()
    return value
