"""Which employee a leave account belongs to.

Only the account's ``Opened`` event names the employee; its later events name
the account. Each projection that needs the owner keeps its own copy, so it
can be rebuilt alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from projections.database import Cursor
from projections.events import (
    AccountOpened,
    DaysReserved,
    ReservationConfirmed,
    ReservationReleased,
    ReservationShortened,
)
from projections.rows import Lookup

COLUMNS = "account_id TEXT PRIMARY KEY, employee_id TEXT NOT NULL"

ACCOUNT_EVENTS = (AccountOpened, DaysReserved)
"""The account events that name their account (and, the first, its owner)."""
CASE_EVENTS = (DaysReserved, ReservationConfirmed, ReservationReleased, ReservationShortened)
"""The account events that name a case."""


def account_of(event: AccountOpened | DaysReserved) -> str:
    return str(event.originator_id)


def cases_in(events: Iterable[object]) -> set[str]:
    """The cases a batch of account events names."""
    return {e.case_id for e in events if isinstance(e, CASE_EVENTS)}


class AccountOwners:
    """The owners a batch needs, read from and recorded in the projection's own table."""

    def __init__(self, table: str) -> None:
        self._owners = Lookup(table, "account_id", ("employee_id",))

    def load(self, cursor: Cursor, events: Iterable[object]) -> None:
        """The owners of the accounts a batch of account events names."""
        account_ids = {account_of(e) for e in events if isinstance(e, ACCOUNT_EVENTS)}
        self._owners.load(cursor, account_ids)

    def remember(self, account_id: str, employee_id: str) -> None:
        self._owners.add(account_id, (employee_id,))

    def owner(self, account_id: str) -> str | None:
        found = self._owners.get(account_id)
        return None if found is None else str(found[0])

    def flush(self, cursor: Cursor) -> None:
        self._owners.flush(cursor)
