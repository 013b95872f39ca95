"""Tamper evidence: a hash chain over every stored event, per stream and across the store.

Each event's *stream hash* covers its aggregate id, version, topic, stored state
and the stream hash of the event before it in the same aggregate; each event's
*global hash* covers its notification id, its stream hash and the global hash of
the event before it in notification order. The recorders in
``services/persistence_sqlite.py`` and ``services/persistence_postgres.py`` write
one hash row ("link") per event into :data:`HASHES_TABLE`, in the transaction
that inserts the events. :func:`verify_store` reads both tables back and names
every event that no longer matches. See ``docs/tamper-evidence.md``.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg

from services.store import StoreLocation

HASHES_TABLE = "event_hashes"
"""One row per stored event: its position, its stream and the two hashes."""

GENESIS = b""
"""The predecessor of a stream's first event and of the store's first event."""

_STREAM = b"backoffice.stream-hash.v1"
_GLOBAL = b"backoffice.global-hash.v1"

Progress = Callable[[int, int], None]
"""Called with (notification id reached, last notification id) while verifying, and
once more at the end with the last reached."""
PROGRESS_EVERY = 1000
"""Rows checked between two calls of the progress."""


def _encode(*fields: bytes) -> bytes:
    """Each field prefixed with its length (8 bytes, big-endian): no two different
    sequences of fields encode to the same bytes."""
    return b"".join(len(value).to_bytes(8, "big") + value for value in fields)


def stream_hash(
    originator_id: UUID, originator_version: int, topic: str, state: bytes, previous: bytes
) -> bytes:
    """SHA-256 of one stored event and the stream hash of its predecessor."""
    return hashlib.sha256(
        _encode(
            _STREAM,
            str(originator_id).encode(),
            str(originator_version).encode(),
            topic.encode(),
            bytes(state),
            previous,
        )
    ).digest()


def global_hash(notification_id: int, stream: bytes, previous: bytes) -> bytes:
    """SHA-256 of a notification's position, its event's stream hash and the
    global hash of the notification before it."""
    return hashlib.sha256(
        _encode(_GLOBAL, str(notification_id).encode(), stream, previous)
    ).digest()


@dataclass(frozen=True)
class Link:
    """The hash row of one stored event."""

    notification_id: int
    originator_id: UUID
    originator_version: int
    stream_hash: bytes
    global_hash: bytes


@dataclass(frozen=True)
class NewEvent:
    """An event just inserted, with the notification id the store gave it."""

    notification_id: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


def link_events(
    events: Sequence[NewEvent],
    predecessors: Mapping[tuple[UUID, int], bytes],
    previous_global: bytes,
) -> list[Link]:
    """The links of ``events`` (one transaction's), in notification order.

    ``predecessors`` holds the stored stream hash of each event's predecessor
    (same aggregate, version - 1) when it has one; ``previous_global`` the last
    global hash in the store (:data:`GENESIS` when there is none).
    """
    links: list[Link] = []
    latest: dict[UUID, tuple[int, bytes]] = {}
    for event in sorted(events, key=lambda e: e.notification_id):
        key = event.originator_id
        prior = latest.get(key)
        if prior is not None and prior[0] == event.originator_version - 1:
            previous_stream = prior[1]
        else:
            previous_stream = predecessors.get((key, event.originator_version - 1), GENESIS)
        stream = stream_hash(
            key, event.originator_version, event.topic, event.state, previous_stream
        )
        previous_global = global_hash(event.notification_id, stream, previous_global)
        links.append(
            Link(event.notification_id, key, event.originator_version, stream, previous_global)
        )
        latest[key] = (event.originator_version, stream)
    return links


class ChainEnds:
    """What one process knows of the chain's ends, so that extending it rarely reads them
    back: the stream hash of each recently linked stream's last event, and the last link
    this process wrote. Hash rows never change once committed, so a kept stream hash
    stays true; the kept global end is used only when the new events' first notification
    id directly follows it (no other writer added a row in between). A recorder stages
    the links of a transaction (:meth:`stage`) and confirms them once it commits
    (:meth:`confirm_staged`); links of a transaction that failed are never kept.
    """

    def __init__(self, maxsize: int = 10_000) -> None:
        self.maxsize = maxsize
        self._streams: OrderedDict[UUID, tuple[int, bytes]] = OrderedDict()
        self._last: tuple[int, bytes] | None = None
        self._lock = threading.Lock()
        self._staged = threading.local()

    def predecessors(
        self, events: Sequence[NewEvent]
    ) -> tuple[dict[tuple[UUID, int], bytes], list[tuple[UUID, int]]]:
        """The stream hashes of the events' predecessors that are kept, and the
        predecessors (stream, version) that must be read from the store."""
        new = {(event.originator_id, event.originator_version) for event in events}
        wanted = {
            (event.originator_id, event.originator_version - 1)
            for event in events
            if event.originator_version > 1
        } - new
        known: dict[tuple[UUID, int], bytes] = {}
        with self._lock:
            for stream, version in wanted:
                kept = self._streams.get(stream)
                if kept is not None and kept[0] == version:
                    known[(stream, version)] = kept[1]
        return known, sorted(wanted - known.keys(), key=lambda key: (str(key[0]), key[1]))

    def previous_global(self, first_notification_id: int) -> bytes | None:
        """The global hash before ``first_notification_id`` if this process wrote it
        last; None when it must be read from the store."""
        with self._lock:
            last = self._last
        if last is not None and last[0] == first_notification_id - 1:
            return last[1]
        return None

    def stage(self, links: Sequence[Link]) -> None:
        """Links this thread's transaction is about to commit."""
        self._staged.links = links

    def clear_staged(self) -> None:
        self._staged.links = ()

    def confirm_staged(self) -> None:
        """This thread's transaction committed: keep the ends its links made."""
        links: Sequence[Link] = getattr(self._staged, "links", ())
        self._staged.links = ()
        if not links:
            return
        with self._lock:
            for link in links:
                kept = self._streams.get(link.originator_id)
                if kept is None or kept[0] < link.originator_version:
                    self._streams[link.originator_id] = (link.originator_version, link.stream_hash)
                self._streams.move_to_end(link.originator_id)
            while len(self._streams) > self.maxsize:
                self._streams.popitem(last=False)
            end = links[-1]
            if self._last is None or end.notification_id > self._last[0]:
                self._last = (end.notification_id, end.global_hash)


# -- checkpoints -----------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A position in the global chain and its hash: ``<notification id>:<hex>``.

    Kept outside the system, it proves later that the store still holds the
    same history up to that position (nothing before it changed or removed).
    """

    notification_id: int
    global_hash: bytes

    def __str__(self) -> str:
        return f"{self.notification_id}:{self.global_hash.hex()}"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        refused = ValueError(
            f"not a checkpoint: {text!r} (expected POSITION:HASH, a position from 1 and 64 hex"
            " digits, as `backoffice audit verify` prints it)"
        )
        position, _, digest = text.strip().partition(":")
        try:
            notification_id = int(position)
            value = bytes.fromhex(digest)
        except ValueError:
            raise refused from None
        if notification_id < 1 or len(value) != hashlib.sha256().digest_size:
            raise refused
        return cls(notification_id, value)


# -- verifying ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredRow:
    """An event as the store holds it now."""

    notification_id: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


@dataclass(frozen=True)
class Finding:
    """One thing wrong with the store, with where it is."""

    kind: str
    """``changed``, ``deleted``, ``unlinked``, ``moved``, ``gap``, ``chain``,
    ``not_covered`` or ``checkpoint``."""
    detail: str
    notification_id: int | None = None
    originator_id: UUID | None = None
    originator_version: int | None = None

    def __str__(self) -> str:
        where = []
        if self.notification_id is not None:
            where.append(f"notification {self.notification_id}")
        if self.originator_id is not None:
            where.append(f"stream {self.originator_id} version {self.originator_version}")
        return f"{', '.join(where) or 'store'}: {self.kind}: {self.detail}"


@dataclass
class Verification:
    """What :func:`verify_chain` found."""

    events: int = 0
    links: int = 0
    findings: list[Finding] = field(default_factory=list)
    last: Checkpoint | None = None
    """The chain's end as stored: what to keep outside, once the store verifies."""

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def checkpoint(self) -> Checkpoint | None:
        """The digest to keep outside the system; None unless the store verifies."""
        return self.last if self.ok else None


def verify_chain(
    events: Iterable[StoredRow],
    links: Iterable[Link],
    *,
    checkpoint: Checkpoint | None = None,
    progress: Progress | None = None,
    last_position: int = 0,
) -> Verification:
    """Check every event against its link and both chains; both inputs in
    notification order. Reports each problem where it is, and goes on."""
    result = Verification()
    found = result.findings.append
    streams: dict[UUID, tuple[int, bytes | None]] = {}
    """Per stream: the last version seen and its stored stream hash (None: unknown)."""
    previous_global = GENESIS
    uncovered: list[int] = []  # events before the first link: written before the chain
    at_checkpoint: bytes | None = None
    position, count = 0, 0
    for count, (position, event, link) in enumerate(_by_position(events, links), 1):
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(position, last_position)
        if event is not None:
            result.events += 1
        if link is None:
            assert event is not None
            if result.links == 0:
                uncovered.append(event.notification_id)
                streams[event.originator_id] = (event.originator_version, GENESIS)
            else:
                found(_at(event, "unlinked", "no hash row: inserted, or its hash row deleted"))
                streams[event.originator_id] = (event.originator_version, None)
            continue
        result.links += 1
        if event is None:
            found(_at(link, "deleted", "event deleted: the chain recorded it here"))
        elif (event.originator_id, event.originator_version) != (
            link.originator_id,
            link.originator_version,
        ):
            found(
                _at(
                    event,
                    "moved",
                    f"the chain recorded stream {link.originator_id} version "
                    f"{link.originator_version} here: rows swapped, moved or replaced",
                )
            )
        else:
            _check_stream(event, link, streams, found)
        streams[link.originator_id] = (link.originator_version, link.stream_hash)
        if global_hash(link.notification_id, link.stream_hash, previous_global) != link.global_hash:
            found(
                _at(
                    link,
                    "chain",
                    "global chain broken: this hash row was rewritten, "
                    "or a row before it was removed or inserted",
                )
            )
        previous_global = link.global_hash
        result.last = Checkpoint(link.notification_id, link.global_hash)
        if checkpoint is not None and link.notification_id == checkpoint.notification_id:
            at_checkpoint = link.global_hash
    if progress is not None and count % PROGRESS_EVERY != 0:  # the end, not shown yet
        progress(position, max(position, last_position))
    if uncovered:
        result.findings.insert(0, _uncovered(uncovered))
    if checkpoint is not None:
        _check_checkpoint(checkpoint, at_checkpoint, found)
    return result


def _gap(expected: int, version: int) -> str:
    if version < expected:
        return f"version {version} of this stream comes again, after version {expected - 1}"
    if version == expected + 1:
        return f"version {expected} of this stream is missing"
    return f"versions {expected} to {version - 1} of this stream are missing"


def _check_stream(
    event: StoredRow,
    link: Link,
    streams: dict[UUID, tuple[int, bytes | None]],
    found: Callable[[Finding], None],
) -> None:
    """Does the event match the stream hash written for it, after its predecessor?"""
    seen = streams.get(event.originator_id)
    expected_version = 1 if seen is None else seen[0] + 1
    if event.originator_version != expected_version:
        found(_at(event, "gap", _gap(expected_version, event.originator_version)))
    previous = GENESIS if seen is None else seen[1]
    if previous is None:
        return  # the predecessor is already reported as unlinked
    recomputed = stream_hash(
        event.originator_id, event.originator_version, event.topic, event.state, previous
    )
    if recomputed != link.stream_hash:
        found(
            _at(
                event,
                "changed",
                "the stored event (topic or state) or its predecessor differs "
                "from what was written",
            )
        )


def _check_checkpoint(
    checkpoint: Checkpoint, stored: bytes | None, found: Callable[[Finding], None]
) -> None:
    position = checkpoint.notification_id
    if stored is None:
        found(
            Finding(
                "checkpoint",
                "the checkpoint's position is not in the chain: history truncated or rewritten",
                notification_id=position,
            )
        )
    elif stored != checkpoint.global_hash:
        found(
            Finding(
                "checkpoint",
                "the chain's hash here differs from the checkpoint: history up to it was rewritten",
                notification_id=position,
            )
        )


def _uncovered(positions: list[int]) -> Finding:
    return Finding(
        "not_covered",
        f"{len(positions)} events (notifications {positions[0]} to {positions[-1]}) "
        "not covered: written before the chain existed (or their hash rows deleted)",
    )


def _at(row: StoredRow | Link, kind: str, detail: str) -> Finding:
    return Finding(kind, detail, row.notification_id, row.originator_id, row.originator_version)


def _by_position(
    events: Iterable[StoredRow], links: Iterable[Link]
) -> Iterator[tuple[int, StoredRow | None, Link | None]]:
    """Each notification id present in either, with the event and the link there."""
    event_iter, link_iter = iter(events), iter(links)
    event, link = next(event_iter, None), next(link_iter, None)
    while event is not None or link is not None:
        if link is None or (event is not None and event.notification_id < link.notification_id):
            assert event is not None
            yield event.notification_id, event, None
            event = next(event_iter, None)
        elif event is None or link.notification_id < event.notification_id:
            yield link.notification_id, None, link
            link = next(link_iter, None)
        else:
            yield event.notification_id, event, link
            event, link = next(event_iter, None), next(link_iter, None)


# -- reading a store ------------------------------------------------------------------------

SQLITE_EVENTS_TABLE = "stored_events"
POSTGRES_EVENTS_TABLE = "backoffice_events"
"""eventsourcing names the table after the application (``BackofficeApplication.name``)."""

_FETCH = 2000


class StoreMissing(Exception):
    """There is no event store where the location says."""


def verify_store(
    location: StoreLocation,
    *,
    checkpoint: Checkpoint | None = None,
    progress: Progress | None = None,
) -> Verification:
    """Read the store's events and hash rows in one snapshot and verify them."""
    if location.is_postgres:
        with psycopg.connect(location.psycopg_conninfo()) as postgres:
            postgres.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            return verify_connection(postgres, checkpoint=checkpoint, progress=progress)
    if not location.sqlite_path.is_file():
        raise StoreMissing(f"no event store at {location.sqlite_path}")
    sqlite = sqlite3.connect(location.sqlite_path, isolation_level=None)
    try:
        sqlite.execute("BEGIN")  # one read snapshot for both tables
        return verify_connection(sqlite, checkpoint=checkpoint, progress=progress)
    finally:
        sqlite.close()


def checkpoint_at(location: StoreLocation, position: int) -> Checkpoint | None:
    """The checkpoint of the history up to ``position``: the stored link of the last
    event at or before it (as stored: ``verify_store`` with it says whether the chain
    holds). None when no event there is linked (none, or all written before the chain)."""
    from projections.database import Database

    with Database(location) as database, database.transaction(write=False) as cursor:
        row = cursor.execute(
            f"SELECT notification_id, global_hash FROM {HASHES_TABLE}"  # noqa: S608
            " WHERE notification_id <= ? ORDER BY notification_id DESC LIMIT 1",
            [position],
        ).fetchone()
    return None if row is None else Checkpoint(int(row[0]), _bytes(row[1]))


def verify_connection(
    connection: sqlite3.Connection | psycopg.Connection[Any],
    *,
    checkpoint: Checkpoint | None = None,
    progress: Progress | None = None,
) -> Verification:
    """Verify the store seen by an open connection (inside its current transaction)."""
    if isinstance(connection, sqlite3.Connection):
        return _verify_sqlite(connection, checkpoint, progress)
    return _verify_postgres(connection, checkpoint, progress)


def _verify_sqlite(
    connection: sqlite3.Connection, checkpoint: Checkpoint | None, progress: Progress | None
) -> Verification:
    def exists(table: str) -> bool:
        query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        return connection.execute(query, (table,)).fetchone() is not None

    if not exists(SQLITE_EVENTS_TABLE):
        raise StoreMissing(f"no events table ({SQLITE_EVENTS_TABLE}) in this store")
    (last,) = connection.execute(f"SELECT MAX(rowid) FROM {SQLITE_EVENTS_TABLE}").fetchone()  # noqa: S608
    events = (
        StoredRow(n, _uuid(oid), version, str(topic), _bytes(state))
        for n, oid, version, topic, state in connection.execute(
            "SELECT rowid, originator_id, originator_version, topic, state "  # noqa: S608
            f"FROM {SQLITE_EVENTS_TABLE} ORDER BY rowid"
        )
    )
    links: Iterable[Link] = ()
    if exists(HASHES_TABLE):
        links = (
            Link(n, _uuid(oid), version, _bytes(stream), _bytes(whole))
            for n, oid, version, stream, whole in connection.execute(
                "SELECT notification_id, originator_id, originator_version, "  # noqa: S608
                f"stream_hash, global_hash FROM {HASHES_TABLE} ORDER BY notification_id"
            )
        )
    return verify_chain(
        events, links, checkpoint=checkpoint, progress=progress, last_position=last or 0
    )


def _uuid(value: object) -> UUID:
    """An aggregate id as SQLite keeps it (hex); one that is not is reported, not fatal."""
    try:
        return UUID(str(value))
    except ValueError:
        return UUID(int=0)


def _bytes(value: object) -> bytes:
    """Stored bytes; SQLite lets a tamperer store text or NULL there instead."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return b"" if value is None else str(value).encode()


def _verify_postgres(
    connection: psycopg.Connection[Any], checkpoint: Checkpoint | None, progress: Progress | None
) -> Verification:
    def exists(table: str) -> bool:
        row = connection.execute("SELECT to_regclass(%s)", (table,)).fetchone()
        return row is not None and row[0] is not None

    if not exists(POSTGRES_EVENTS_TABLE):
        raise StoreMissing(f"no events table ({POSTGRES_EVENTS_TABLE}) in this schema")
    row = connection.execute(f"SELECT MAX(notification_id) FROM {POSTGRES_EVENTS_TABLE}").fetchone()  # noqa: S608
    last = row[0] if row is not None else None
    # Server-side cursors, so a long store is streamed rather than loaded at once.
    event_cursor = connection.cursor(name="verify_events")
    event_cursor.itersize = _FETCH
    event_cursor.execute(
        "SELECT notification_id, originator_id, originator_version, topic, state "  # noqa: S608
        f"FROM {POSTGRES_EVENTS_TABLE} ORDER BY notification_id"
    )
    events = (
        StoredRow(n, oid, version, str(topic), _bytes(state))
        for n, oid, version, topic, state in event_cursor
    )
    links: Iterable[Link] = ()
    link_cursor = connection.cursor(name="verify_links")
    if exists(HASHES_TABLE):
        link_cursor.itersize = _FETCH
        link_cursor.execute(
            "SELECT notification_id, originator_id, originator_version, "  # noqa: S608
            f"stream_hash, global_hash FROM {HASHES_TABLE} ORDER BY notification_id"
        )
        links = (
            Link(n, oid, version, _bytes(stream), _bytes(whole))
            for n, oid, version, stream, whole in link_cursor
        )
    try:
        return verify_chain(
            events, links, checkpoint=checkpoint, progress=progress, last_position=last or 0
        )
    finally:
        event_cursor.close()
        link_cursor.close()
