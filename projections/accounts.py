"""Which employee a leave account belongs to.

Only the account's ``Opened`` event names the employee; its later events name
the account. Each projection that needs the owner keeps its own copy, so it
can be rebuilt alone.
"""

from __future__ import annotations

from projections.database import Cursor
from projections.rows import Lookup

COLUMNS = "account_id TEXT PRIMARY KEY, employee_id TEXT NOT NULL"


class AccountOwners:
    """The owners a batch needs, read from and recorded in the projection's own table."""

    def __init__(self, table: str) -> None:
        self._owners = Lookup(table, "account_id", ("employee_id",))

    def load(self, cursor: Cursor, account_ids: set[str]) -> None:
        self._owners.load(cursor, account_ids)

    def remember(self, account_id: str, employee_id: str) -> None:
        self._owners.add(account_id, (employee_id,))

    def owner(self, account_id: str) -> str | None:
        found = self._owners.get(account_id)
        return None if found is None else str(found[0])

    def flush(self, cursor: Cursor) -> None:
        self._owners.flush(cursor)
