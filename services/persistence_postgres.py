"""eventsourcing's PostgreSQL persistence, with every event linked into the hash chain.

``PERSISTENCE_MODULE=services.persistence_postgres`` (see ``StoreLocation``).
The module holds exactly one infrastructure factory class, :class:`Factory`,
so eventsourcing finds it; the library's module is imported under its own name.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing import postgres
from eventsourcing.persistence import (
    InterfaceError,
    OperationalError,
    ProgrammingError,
    StoredEvent,
)
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composable, Identifier, Literal

from services.hash_chain import GENESIS, HASHES_TABLE, ChainEnds, NewEvent, link_events

SCHEMA_LOCK = 0x62616B65
"""Any constant: serialises the creation of the store's tables within a database."""


class HashChainedPostgresRecorder(postgres.PostgresApplicationRecorder):
    """Inserts one hash row per event, with the same cursor, in the same transaction."""

    def __init__(
        self, datastore: postgres.PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.chain_ends = ChainEnds()
        if datastore.enable_db_functions:
            # That path inserts through a database function and skips the hooks below.
            raise ProgrammingError("the hash chain needs POSTGRES_ENABLE_DB_FUNCTIONS off")
        table = SQL("{}.{}").format(Identifier(datastore.schema), Identifier(HASHES_TABLE))
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {table} ("
                "notification_id bigint PRIMARY KEY, "
                "originator_id {originator_id_type} NOT NULL, "
                "originator_version bigint NOT NULL, "
                "stream_hash bytea NOT NULL, "
                "global_hash bytea NOT NULL)"
            ).format(table=table, originator_id_type=Identifier(datastore.originator_id_type))
        )
        # Stores made before kept the hash rows unique by stream and version: an index
        # nothing reads, which costs every commit. Dropped once, when there (the check
        # first: ALTER TABLE would take the table's lock at every start).
        old_index = f"{HASHES_TABLE}_originator_id_originator_version_key"
        self.sql_create_statements.append(
            SQL(
                "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_constraint AS c"
                " JOIN pg_class AS t ON t.oid = c.conrelid"
                " JOIN pg_namespace AS n ON n.oid = t.relnamespace"
                " WHERE n.nspname = {schema} AND t.relname = {hashes} AND c.conname = {name})"
                " THEN ALTER TABLE {table} DROP CONSTRAINT {constraint}; END IF; END $$"
            ).format(
                schema=Literal(datastore.schema),
                hashes=Literal(HASHES_TABLE),
                name=Literal(old_index),
                table=table,
                constraint=Identifier(old_index),
            )
        )
        # Return each row's identity with its id, so links never rely on row order.
        self.insert_events_statement += SQL(", originator_id, originator_version")
        # One round trip for what extending the chain needs and this process does not
        # know (``ChainEnds``): the stored stream hash of new events' predecessors, and
        # (the row whose id is NULL) the last global hash.
        # The predecessors travel as one JSON array of [id, version] pairs: psycopg
        # dumps a Python list into an array element by element, which took seconds for
        # the tens of thousands of events of a bulk load.
        # Predecessors are found through the events table's own key: an index of the
        # hash rows by stream and version would cost every commit (stores made before
        # have one, unused).
        self._select_chain_ends = SQL(
            "SELECT e.originator_id, e.originator_version, h.stream_hash "
            "FROM {events} AS e JOIN {table} AS h ON h.notification_id = e.notification_id "
            "WHERE (e.originator_id, e.originator_version) IN "
            "(SELECT (pair->>0)::{originator_id_type}, (pair->>1)::bigint"
            " FROM jsonb_array_elements(%s::jsonb) AS pair) "
            "UNION ALL (SELECT NULL, NULL, global_hash FROM {table} WHERE %s "
            "ORDER BY notification_id DESC LIMIT 1)"
        ).format(
            table=table,
            events=SQL("{}.{}").format(
                Identifier(datastore.schema), Identifier(self.events_table_name)
            ),
            originator_id_type=Identifier(datastore.originator_id_type),
        )
        self._insert_links = SQL("INSERT INTO {table} VALUES (%s, %s, %s, %s, %s)").format(
            table=table
        )
        # psycopg turns a composed statement into bytes on every execute, quoting each
        # identifier again through libpq: about a tenth of a command's time. These
        # statements never change, so they are made into plain SQL text once.
        for name in FIXED_STATEMENTS:
            setattr(self, name, _as_text(getattr(self, name)))
        self.lock_table_statements = [
            SQL(statement.as_string()) if isinstance(statement, Composable) else statement
            for statement in self.lock_table_statements
        ]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """The library's insert (its path without database functions), except that an
        error in linking the events rolls their transaction back: the library keeps
        the error until the transaction has ended, which commits the events when the
        error is not the database's own (a failed statement aborts the transaction)."""
        self.chain_ends.clear_staged()
        if not stored_events:
            return None
        failure: Exception | None = None
        ids: Sequence[int] | None = None
        with self.datastore.get_connection() as conn, conn.transaction():
            with conn.pipeline() as pipeline, conn.cursor() as curs:
                try:
                    self._insert_stored_events(curs, stored_events, **kwargs)
                    # Now, so a uniqueness violation raises IntegrityError here.
                    pipeline.sync()
                    ids = self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
                except Exception as error:  # raised once the pipeline has ended
                    failure = error
            if failure is not None:
                raise failure  # inside the transaction: it rolls back
        self.chain_ends.confirm_staged()  # committed
        return ids

    def create_table(self) -> None:
        # Processes starting together on a new schema (an API and a worker) race on
        # CREATE TYPE / CREATE TABLE IF NOT EXISTS, and one fails with a duplicate in
        # pg_type; they take turns instead, holding a session lock on one connection
        # while the library creates the tables through others.
        with self.datastore.pool.connection() as connection:
            connection.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
            try:
                super().create_table()
            finally:
                connection.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))

    def _fetch_ids_after_insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        rows = curs.fetchall()
        if len(rows) != len(stored_events):
            raise ProgrammingError(f"got {len(rows)} notification ids for {len(stored_events)}")
        by_key = {(_uuid(e.originator_id), e.originator_version): e for e in stored_events}
        new = []
        for row in rows:
            key = (_uuid(row["originator_id"]), row["originator_version"])
            event = by_key[key]
            new.append(NewEvent(row["notification_id"], *key, event.topic, event.state))
        # _insert_stored_events locked the events table (EXCLUSIVE) until commit:
        # no other writer can add events or hash rows before we read the end of
        # the chain below and extend it.
        predecessors, unknown = self.chain_ends.predecessors(new)
        previous = self.chain_ends.previous_global(min(e.notification_id for e in new))
        if unknown or previous is None:
            wanted = [[str(stream), version] for stream, version in unknown]
            curs.execute(self._select_chain_ends, (json.dumps(wanted), previous is None))
            for end in curs.fetchall():
                if end["originator_id"] is None:
                    previous = bytes(end["stream_hash"])
                else:
                    key = (_uuid(end["originator_id"]), end["originator_version"])
                    predecessors[key] = bytes(end["stream_hash"])
        if previous is None:
            previous = GENESIS
        links = link_events(new, predecessors, previous)
        self.chain_ends.stage(links)
        curs.executemany(
            self._insert_links,
            [
                (
                    link.notification_id,
                    link.originator_id,
                    link.originator_version,
                    link.stream_hash,
                    link.global_hash,
                )
                for link in links
            ],
        )
        return [row["notification_id"] for row in rows]


FIXED_STATEMENTS = (
    "insert_events_statement",
    "select_events_statement",
    "max_notification_id_statement",
    "_select_chain_ends",
    "_insert_links",
)
"""The recorder's statements (the library's and ours) used on every read and write."""


def _as_text(statement: object) -> object:
    return SQL(statement.as_string()) if isinstance(statement, Composable) else statement


def _uuid(originator_id: UUID | str) -> UUID:
    return originator_id if isinstance(originator_id, UUID) else UUID(originator_id)


class Factory(postgres.PostgresFactory):
    """The library's PostgreSQL factory, recording events with
    :class:`HashChainedPostgresRecorder`."""

    application_recorder_class = HashChainedPostgresRecorder
