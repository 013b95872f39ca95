"""eventsourcing's SQLite persistence, with every event linked into the hash chain.

``PERSISTENCE_MODULE=services.persistence_sqlite`` (see ``StoreLocation``).
The module holds exactly one infrastructure factory class, :class:`Factory`,
so eventsourcing finds it; the library's module is imported under its own name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing import sqlite
from eventsourcing.persistence import StoredEvent

from services.hash_chain import GENESIS, HASHES_TABLE, ChainEnds, NewEvent, link_events


class HashChainedSQLiteRecorder(sqlite.SQLiteApplicationRecorder):
    """Inserts one hash row per event, with the same cursor, in the same transaction."""

    def __init__(
        self, datastore: sqlite.SQLiteDatastore, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name)
        self.chain_ends = ChainEnds()
        # Found through the events table's own key: an index of the hash rows by
        # stream and version would cost every commit a page (stores made before
        # have one, unused).
        self._select_predecessor = (
            f"SELECT h.stream_hash FROM {events_table_name} AS e "  # noqa: S608
            f"JOIN {HASHES_TABLE} AS h ON h.notification_id = e.rowid "
            "WHERE e.originator_id = ? AND e.originator_version = ?"
        )

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        self.chain_ends.clear_staged()
        ids = super().insert_events(stored_events, **kwargs)
        self.chain_ends.confirm_staged()  # committed
        return ids

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {HASHES_TABLE} ("
            "notification_id INTEGER PRIMARY KEY, "
            "originator_id TEXT NOT NULL, "
            "originator_version INTEGER NOT NULL, "
            "stream_hash BLOB NOT NULL, "
            "global_hash BLOB NOT NULL)",
        ]

    def _insert_events(
        self, c: sqlite.SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        if not ids:
            return ids
        # The inserts above took SQLite's write lock, held until this transaction
        # ends: no other writer can add events or hash rows before we read the end
        # of the chain below and extend it.
        new = [
            NewEvent(n, _uuid(e.originator_id), e.originator_version, e.topic, e.state)
            for n, e in zip(ids, stored_events, strict=True)
        ]
        predecessors, unknown = self.chain_ends.predecessors(new)
        for originator_id, version in unknown:
            c.execute(self._select_predecessor, (originator_id.hex, version))
            row = c.fetchone()
            if row is not None:
                predecessors[(originator_id, version)] = row[0]
        previous = self.chain_ends.previous_global(min(ids))
        if previous is None:
            c.execute(
                f"SELECT global_hash FROM {HASHES_TABLE} "  # noqa: S608
                "ORDER BY notification_id DESC LIMIT 1"
            )
            row = c.fetchone()
            previous = GENESIS if row is None else row[0]
        links = link_events(new, predecessors, previous)
        c.executemany(
            f"INSERT INTO {HASHES_TABLE} VALUES (?, ?, ?, ?, ?)",  # noqa: S608
            [
                (
                    link.notification_id,
                    link.originator_id.hex,
                    link.originator_version,
                    link.stream_hash,
                    link.global_hash,
                )
                for link in links
            ],
        )
        self.chain_ends.stage(links)
        return ids


def _uuid(originator_id: UUID | str) -> UUID:
    return originator_id if isinstance(originator_id, UUID) else UUID(originator_id)


class Factory(sqlite.SQLiteFactory):
    """The library's SQLite factory, recording events with :class:`HashChainedSQLiteRecorder`."""

    application_recorder_class = HashChainedSQLiteRecorder
