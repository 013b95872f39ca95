"""Who did what, on whose behalf, and as part of which command: carried by every event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SYSTEM = "system"


@dataclass(frozen=True)
class Meta:
    """Metadata of one command, recorded on each event the command triggers.

    ``command_id`` makes commands idempotent: an aggregate that has already
    applied a command ignores it the second time. ``correlation_id`` is the
    workflow id of the case (or the name of the tool that issued the command).
    The time of each event is the event's own UTC ``timestamp``.
    """

    actor: str
    command_id: str
    correlation_id: str
    on_behalf_of: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # Written out: dataclasses.asdict recurses and copies, on every event stored.
        return {
            "actor": self.actor,
            "command_id": self.command_id,
            "correlation_id": self.correlation_id,
            "on_behalf_of": self.on_behalf_of,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Meta:
        return cls(**data)
