"""Which employee a leave account belongs to.

Only the account's ``Opened`` event names the employee; its later events name
the account. Each projection that needs the owner keeps its own copy, so it
can be rebuilt alone.
"""

from __future__ import annotations

from uuid import UUID

from projections.database import Cursor

COLUMNS = "account_id TEXT PRIMARY KEY, employee_id TEXT NOT NULL"


class AccountOwners:
    def __init__(self, table: str) -> None:
        self.table = table

    def remember(self, cursor: Cursor, account_id: UUID, employee_id: str) -> None:
        cursor.execute(
            f"INSERT INTO {self.table} (account_id, employee_id) VALUES (?, ?)"  # noqa: S608
            " ON CONFLICT (account_id) DO NOTHING",
            [str(account_id), employee_id],
        )

    def owner(self, cursor: Cursor, account_id: UUID) -> str | None:
        row = cursor.execute(
            f"SELECT employee_id FROM {self.table} WHERE account_id = ?",  # noqa: S608
            [str(account_id)],
        ).fetchone()
        return None if row is None else str(row[0])
