"""Tamper evidence: the hash chain written with the events, and what verify finds.

A real store is built through the use cases; then random mutations (seeded, so
a failure is reproducible) are applied, each inside a transaction that is rolled
back afterwards, so each mutation sees a fresh copy of the store, and verified
through the same connection.
"""

from __future__ import annotations

import random
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from typer.testing import CliRunner

from backoffice.cli import app as cli
from domain.case import Decision
from domain.employee import Employee
from services import hash_chain
from services.application import BackofficeApplication
from services.hash_chain import (
    HASHES_TABLE,
    POSTGRES_EVENTS_TABLE,
    SQLITE_EVENTS_TABLE,
    Checkpoint,
    StoredRow,
    Verification,
    checkpoint_at,
    stream_hash,
    verify_connection,
    verify_store,
)
from services.store import StoreLocation
from tests.integration.conftest import ORGANISATION, Office, meta

MUTATIONS = 1000
"""Random mutations per kind of store."""

SEED = 4


def build_store(url: str, weeks: int = 5, first_week: int = 0) -> None:
    """Employees, then each week (from a Tuesday: no public holiday) a request approved,
    one rejected and one withdrawn."""
    application = BackofficeApplication(env=StoreLocation(url).eventsourcing_env())
    try:
        application.load_organisation(ORGANISATION, meta("hr"))
        office = Office(application)
        for week in range(first_week, first_week + weeks):
            start = date(2030, 6, 4) + timedelta(weeks=week)
            office.approved("e-3", start, start + timedelta(days=1))
            rejected = office.submit("e-4", start, start)
            office.ask_manager(rejected)
            office.decide(rejected, "e-2", Decision.REJECT, "busy")
            withdrawn = office.submit("e-5", start, start)
            office.withdraw(withdrawn, "e-5")
    finally:
        application.close()


# -- the store seen raw, as someone with write access to the database sees it ---------------


@dataclass(frozen=True)
class Mutation:
    """What was done, and the notification ids verify must name."""

    kind: str
    positions: frozenset[int]
    checkpoint: Checkpoint | None = None


class RawStore:
    """One connection to a store's event and hash tables, writing plain SQL."""

    def __init__(self, url: str) -> None:
        location = StoreLocation(url)
        self.is_postgres = location.is_postgres
        self.connection: sqlite3.Connection | psycopg.Connection[Any]
        if location.is_postgres:
            self.connection = psycopg.connect(location.psycopg_conninfo())
            self.events, self.position = POSTGRES_EVENTS_TABLE, "notification_id"
        else:
            self.connection = sqlite3.connect(location.sqlite_path, isolation_level=None)
            self.events, self.position = SQLITE_EVENTS_TABLE, "rowid"

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        statement = statement.format(
            events=self.events, position=self.position, hashes=HASHES_TABLE
        )
        if isinstance(self.connection, sqlite3.Connection):
            return self.connection.execute(statement, params).fetchall()
        cursor = self.connection.execute(statement.replace("?", "%s"), params)
        return cursor.fetchall() if cursor.description else []

    def key(self, originator_id: UUID) -> str | UUID:
        """An aggregate id as this store keeps it."""
        return originator_id if self.is_postgres else originator_id.hex

    def rows(self) -> list[StoredRow]:
        return [
            StoredRow(n, UUID(str(oid)), version, topic, bytes(state))
            for n, oid, version, topic, state in self.sql(
                "SELECT {position}, originator_id, originator_version, topic, state "
                "FROM {events} ORDER BY {position}"
            )
        ]

    def stream_hashes(self) -> dict[int, bytes]:
        query = "SELECT notification_id, stream_hash FROM {hashes}"
        return {n: bytes(value) for n, value in self.sql(query)}

    @contextmanager
    def scratch(self) -> Iterator[None]:
        """A transaction rolled back at the end: a fresh copy of the store each time."""
        if isinstance(self.connection, sqlite3.Connection):
            self.connection.execute("BEGIN")
            try:
                yield
            finally:
                self.connection.execute("ROLLBACK")
        else:
            with self.connection.transaction(force_rollback=True):
                yield

    def verify(self, checkpoint: Checkpoint | None = None) -> Verification:
        return verify_connection(self.connection, checkpoint=checkpoint)

    def close(self) -> None:
        self.connection.close()


@pytest.fixture
def raw(store_url: str) -> Iterator[RawStore]:
    build_store(store_url)
    store = RawStore(store_url)
    yield store
    store.close()


# -- the mutations ---------------------------------------------------------------------------


class Mutator:
    """Random changes to a store, each of one kind an attacker or an accident might make."""

    def __init__(self, store: RawStore, rng: random.Random) -> None:
        self.store, self.rng = store, rng
        self.rows = store.rows()
        self.stream_hashes = store.stream_hashes()
        self.last = store.verify().checkpoint
        self.kinds: list[Callable[[], Mutation]] = [
            self.flip_a_byte,
            self.change_the_topic,
            self.delete_an_event,
            self.delete_a_hash_row,
            self.delete_an_event_and_its_hash_row,
            self.swap_two_states,
            self.swap_two_positions,
            self.swap_two_versions,
            self.insert_an_event,
            self.truncate_the_tail,
            self.forge_an_event_with_its_stream_hashes,
        ]

    def any(self) -> Mutation:
        return self.rng.choice(self.kinds)()

    def _set_state(self, row: StoredRow, state: bytes) -> None:
        self.store.sql(
            "UPDATE {events} SET state = ? WHERE {position} = ?", (state, row.notification_id)
        )

    def _flipped(self, state: bytes) -> bytes:
        flipped = bytearray(state)
        flipped[self.rng.randrange(len(flipped))] ^= self.rng.randrange(1, 256)
        return bytes(flipped)

    def _delete_event(self, position: int) -> None:
        self.store.sql("DELETE FROM {events} WHERE {position} = ?", (position,))

    def _delete_hash_row(self, position: int) -> None:
        self.store.sql("DELETE FROM {hashes} WHERE notification_id = ?", (position,))

    def flip_a_byte(self) -> Mutation:
        row = self.rng.choice(self.rows)
        self._set_state(row, self._flipped(row.state))
        return Mutation("flip_a_byte", frozenset({row.notification_id}))

    def change_the_topic(self) -> Mutation:
        row = self.rng.choice(self.rows)
        other = self.rng.choice([r.topic for r in self.rows if r.topic != row.topic])
        self.store.sql(
            "UPDATE {events} SET topic = ? WHERE {position} = ?", (other, row.notification_id)
        )
        return Mutation("change_the_topic", frozenset({row.notification_id}))

    def delete_an_event(self) -> Mutation:
        row = self.rng.choice(self.rows)
        self._delete_event(row.notification_id)
        return Mutation("delete_an_event", frozenset({row.notification_id}))

    def delete_a_hash_row(self) -> Mutation:
        row = self.rng.choice(self.rows[1:])  # the first one is "not covered", tested below
        self._delete_hash_row(row.notification_id)
        return Mutation("delete_a_hash_row", frozenset({row.notification_id}))

    def delete_an_event_and_its_hash_row(self) -> Mutation:
        index = self.rng.randrange(len(self.rows) - 1)  # the last one is truncation
        position, following = (r.notification_id for r in self.rows[index : index + 2])
        self._delete_event(position)
        self._delete_hash_row(position)
        return Mutation("delete_an_event_and_its_hash_row", frozenset({following}))

    def swap_two_states(self) -> Mutation:
        first, second = self.rng.sample(self.rows, 2)
        while first.state == second.state:
            first, second = self.rng.sample(self.rows, 2)
        self._set_state(first, second.state)
        self._set_state(second, first.state)
        return Mutation(
            "swap_two_states", frozenset({first.notification_id, second.notification_id})
        )

    def swap_two_positions(self) -> Mutation:
        first, second = (r.notification_id for r in self.rng.sample(self.rows, 2))
        move = "UPDATE {events} SET {position} = ? WHERE {position} = ?"
        self.store.sql(move, (-1, first))
        self.store.sql(move, (first, second))
        self.store.sql(move, (second, -1))
        return Mutation("swap_two_positions", frozenset({first, second}))

    def swap_two_versions(self) -> Mutation:
        """Reorder two events of one stream."""
        streams: dict[UUID, list[StoredRow]] = {}
        for row in self.rows:
            streams.setdefault(row.originator_id, []).append(row)
        stream = self.rng.choice([rows for rows in streams.values() if len(rows) > 1])
        first, second = self.rng.sample(stream, 2)
        move = "UPDATE {events} SET originator_version = ? WHERE {position} = ?"
        self.store.sql(move, (-1, first.notification_id))
        self.store.sql(move, (first.originator_version, second.notification_id))
        self.store.sql(move, (second.originator_version, first.notification_id))
        return Mutation(
            "swap_two_versions", frozenset({first.notification_id, second.notification_id})
        )

    def insert_an_event(self) -> Mutation:
        """A copy of a stream's last event, appended to it as its next version."""
        row = self.rng.choice(self.rows)
        version = max(
            r.originator_version for r in self.rows if r.originator_id == row.originator_id
        )
        (inserted,) = self.store.sql(
            "INSERT INTO {events} (originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?) RETURNING {position}",
            (self.store.key(row.originator_id), version + 1, row.topic, row.state),
        )
        return Mutation("insert_an_event", frozenset({inserted[0]}))

    def truncate_the_tail(self) -> Mutation:
        """The last events and their hash rows: a consistent, shorter chain that only
        a checkpoint kept from before tells apart."""
        assert self.last is not None
        cut = self.rows[-self.rng.randint(1, 10)].notification_id
        self.store.sql("DELETE FROM {events} WHERE {position} >= ?", (cut,))
        self.store.sql("DELETE FROM {hashes} WHERE notification_id >= ?", (cut,))
        return Mutation(
            "truncate_the_tail", frozenset({self.last.notification_id}), checkpoint=self.last
        )

    def forge_an_event_with_its_stream_hashes(self) -> Mutation:
        """Change an event and recompute its stream's hashes from there on, as a
        forger who knows the per-stream rule would; the global chain is left alone."""
        forged = self.rng.choice(self.rows)
        later = [
            r
            for r in self.rows
            if r.originator_id == forged.originator_id
            and r.originator_version >= forged.originator_version
        ]
        previous = next(
            (
                self.stream_hashes[r.notification_id]
                for r in self.rows
                if r.originator_id == forged.originator_id
                and r.originator_version == forged.originator_version - 1
            ),
            b"",
        )
        for row in later:
            if row is forged:
                row = replace(row, state=self._flipped(row.state))
                self._set_state(row, row.state)
            previous = stream_hash(
                row.originator_id, row.originator_version, row.topic, row.state, previous
            )
            self.store.sql(
                "UPDATE {hashes} SET stream_hash = ? WHERE notification_id = ?",
                (previous, row.notification_id),
            )
        return Mutation(
            "forge_an_event_with_its_stream_hashes", frozenset({forged.notification_id})
        )


def test_every_random_mutation_of_a_real_store_is_detected_where_it_was_made(
    raw: RawStore,
) -> None:
    mutator = Mutator(raw, random.Random(SEED))
    missed: list[str] = []
    kinds: dict[str, int] = {}
    for number in range(MUTATIONS):
        with raw.scratch():
            mutation = mutator.any()
            result = raw.verify(mutation.checkpoint)
        kinds[mutation.kind] = kinds.get(mutation.kind, 0) + 1
        named = {finding.notification_id for finding in result.findings}
        if result.ok or not mutation.positions <= named:
            missed.append(f"#{number} {mutation}: {[str(f) for f in result.findings]}")

    assert missed == []
    assert set(kinds) == {kind.__name__ for kind in mutator.kinds}
    assert min(kinds.values()) >= 50
    assert raw.verify().ok  # every mutation was rolled back


def test_an_untouched_store_verifies_clean_and_ends_at_its_last_event(store_url: str) -> None:
    build_store(store_url, weeks=2)

    result = verify_store(StoreLocation(store_url))

    assert result.findings == []
    assert result.events == result.links > 0
    assert result.checkpoint is not None
    assert result.checkpoint.notification_id == _last_position(store_url)
    assert verify_store(StoreLocation(store_url), checkpoint=result.checkpoint).ok


def test_a_store_that_grew_after_a_checkpoint_still_extends_it(store_url: str) -> None:
    build_store(store_url, weeks=1)
    kept = verify_store(StoreLocation(store_url)).checkpoint
    assert kept is not None

    build_store(store_url, weeks=1, first_week=1)  # the same organisation, more requests
    result = verify_store(StoreLocation(store_url), checkpoint=kept)

    assert result.ok, result.findings
    assert result.checkpoint is not None
    assert result.checkpoint.notification_id > kept.notification_id


def test_the_checkpoint_at_a_position_is_the_chains_there_and_the_store_extends_it(
    store_url: str,
) -> None:
    build_store(store_url, weeks=1)
    location = StoreLocation(store_url)
    end = verify_store(location).checkpoint
    assert end is not None

    middle = checkpoint_at(location, end.notification_id // 2)

    assert checkpoint_at(location, end.notification_id) == end
    assert checkpoint_at(location, 0) is None
    assert middle is not None and middle.notification_id <= end.notification_id // 2
    assert verify_store(location, checkpoint=middle).ok


def test_a_truncated_store_is_consistent_but_no_longer_extends_an_earlier_checkpoint(
    store_url: str,
) -> None:
    build_store(store_url, weeks=2)
    kept = verify_store(StoreLocation(store_url)).checkpoint
    assert kept is not None
    store = RawStore(store_url)
    with store.scratch():
        store.sql("DELETE FROM {events} WHERE {position} > ?", (kept.notification_id - 3,))
        store.sql("DELETE FROM {hashes} WHERE notification_id > ?", (kept.notification_id - 3,))
        alone = store.verify()
        against = store.verify(kept)
    store.close()

    assert alone.ok  # without a checkpoint, a shorter history is a valid one
    assert [(f.kind, f.notification_id) for f in against.findings] == [
        ("checkpoint", kept.notification_id)
    ]


def test_history_rewritten_after_a_truncation_fails_the_checkpoint(store_url: str) -> None:
    build_store(store_url, weeks=2)
    kept = verify_store(StoreLocation(store_url)).checkpoint
    assert kept is not None
    store = RawStore(store_url)
    cut = kept.notification_id - 5
    store.sql("DELETE FROM {events} WHERE {position} > ?", (cut,))
    store.sql("DELETE FROM {hashes} WHERE notification_id > ?", (cut,))
    if isinstance(store.connection, psycopg.Connection):
        store.connection.commit()
    store.close()

    build_store(store_url, weeks=2, first_week=2)  # the product writes on, past the cut
    result = verify_store(StoreLocation(store_url), checkpoint=kept)

    assert [(f.kind, f.notification_id) for f in result.findings] == [
        ("checkpoint", kept.notification_id)
    ]


def test_events_written_concurrently_by_two_applications_form_one_valid_chain(
    store_url: str,
) -> None:
    env = StoreLocation(store_url).eventsourcing_env()
    setup = BackofficeApplication(env=env)
    setup.load_organisation(ORGANISATION, meta("hr"))
    setup.close()
    # Both applications exist before either writes, so only the writing is concurrent,
    # and the barrier gives up rather than wait for a thread that failed.
    applications = [BackofficeApplication(env=env) for _ in range(2)]
    start = threading.Barrier(2, timeout=30)
    errors: list[BaseException] = []

    def ask_for_leave(application: BackofficeApplication, employee_id: str) -> None:
        try:
            office = Office(application)
            start.wait()
            for week in range(15):
                day = date(2030, 6, 4) + timedelta(weeks=week)
                office.ask_manager(office.submit(employee_id, day, day))
        except BaseException as error:  # reported by the assertion below
            errors.append(error)
            start.abort()

    threads = [
        threading.Thread(target=ask_for_leave, args=(application, employee))
        for application, employee in zip(applications, ("e-3", "e-4"), strict=True)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        for application in applications:
            application.close()
    result = verify_store(StoreLocation(store_url))

    assert errors == []
    assert result.findings == []
    assert result.events == result.links == _last_position(store_url)


def test_two_applications_extending_the_same_streams_in_turn_form_one_valid_chain(
    store_url: str,
) -> None:
    """Each application keeps the chain ends it wrote (``ChainEnds``); here each one's
    kept ends go stale as the other extends the same case and account, its kept case
    is behind (so a save fails on the version and runs again), and the global end
    moves on between its writes: every link must still be made from what the store
    holds."""
    env = StoreLocation(store_url).eventsourcing_env()
    first, second = (BackofficeApplication(env=env) for _ in range(2))
    try:
        first.load_organisation(ORGANISATION, meta("hr"))
        one, two = Office(first), Office(second)
        for week in range(3):
            day = date(2030, 6, 4) + timedelta(weeks=week)
            case_id = one.submit("e-3", day, day)  # the case and e-3's account
            two.ask_manager(case_id)  # the case, behind in the first's kept ends
            one.decide(case_id, "e-2", Decision.APPROVE)  # both, from stored hashes
            two.take(case_id)
            withdrawn = two.submit("e-3", day + timedelta(days=1), day + timedelta(days=1))
            one.withdraw(withdrawn, "e-3")  # e-3's account: last extended by the second
    finally:
        first.close()
        second.close()

    result = verify_store(StoreLocation(store_url))

    assert result.findings == []
    assert result.events == result.links  # PostgreSQL skips the ids of failed saves
    assert result.last is not None
    assert result.last.notification_id == _last_position(store_url)


def test_events_whose_hash_rows_fail_are_not_recorded_either(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hash rows are made after the events are inserted, in their transaction: an
    error there (here, in linking) must take the events back with it."""
    application = BackofficeApplication(env=StoreLocation(store_url).eventsourcing_env())
    try:
        application.load_organisation(ORGANISATION, meta("hr"))
        before = application.recorder.max_notification_id()

        def fail(*_args: object) -> None:
            raise RuntimeError("the links could not be made")

        module = "services.persistence_" + ("postgres" if "postgres" in store_url else "sqlite")
        monkeypatch.setattr(f"{module}.link_events", fail)
        with pytest.raises(RuntimeError, match="links could not be made"):
            Office(application).submit("e-3", date(2030, 6, 4), date(2030, 6, 5))
        monkeypatch.undo()
        after = application.recorder.max_notification_id()
        Office(application).submit("e-3", date(2030, 6, 4), date(2030, 6, 5))
    finally:
        application.close()

    assert after == before
    assert verify_store(StoreLocation(store_url)).findings == []


def test_a_store_made_before_session_4_loses_its_unused_index_of_hash_rows(
    postgres_url: str,
) -> None:
    """Stores made before hash rows stopped being indexed by stream and version keep
    that unique index, which only costs every commit: the next start drops it, and the
    chain goes on as before."""
    build_store(postgres_url, weeks=1)
    location = StoreLocation(postgres_url)
    schema = location.postgres_schema

    def constraints() -> list[str]:
        with psycopg.connect(location.psycopg_conninfo()) as connection:
            rows = connection.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'u'",
                [f"{schema}.{HASHES_TABLE}"],
            ).fetchall()
        return [str(name) for (name,) in rows]

    with psycopg.connect(location.psycopg_conninfo(), autocommit=True) as connection:
        connection.execute(  # as the table was made then
            f"ALTER TABLE {schema}.{HASHES_TABLE} ADD UNIQUE (originator_id, originator_version)"
        )
    assert constraints() == [f"{HASHES_TABLE}_originator_id_originator_version_key"]

    build_store(postgres_url, weeks=1, first_week=1)

    assert constraints() == []
    assert verify_store(location).ok


def test_events_written_before_the_chain_existed_are_reported_as_not_covered(
    store_url: str,
) -> None:
    chained = StoreLocation(store_url).eventsourcing_env()
    library = dict(
        chained,
        PERSISTENCE_MODULE=chained["PERSISTENCE_MODULE"].replace(
            "services.persistence_", "eventsourcing."
        ),
    )
    before = BackofficeApplication(env=library)
    before.load_organisation(ORGANISATION, meta("hr"))
    before.close()
    build_store(store_url, weeks=1)  # e-3 .. e-5's accounts and requests, chained
    after = BackofficeApplication(env=chained)
    renamed = replace(ORGANISATION[2], name="Linus T.")  # a stream begun before the chain
    after.load_organisation([renamed], meta("hr"))
    continued: int = after.repository.get(Employee.create_id("e-3")).version
    after.close()

    result = verify_store(StoreLocation(store_url))

    assert [(f.kind, str(f)) for f in result.findings] == [
        (
            "not_covered",
            "store: not_covered: 5 events (notifications 1 to 5) not covered: "
            "written before the chain existed (or their hash rows deleted)",
        )
    ]
    assert result.links == result.events - 5
    assert continued == 2


# -- the command -------------------------------------------------------------------------


def audit(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["audit", *args])
    return result.exit_code, result.stdout


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BACKOFFICE_DATABASE_URL", raising=False)
    data = tmp_path / "data"
    data.mkdir()
    build_store(f"sqlite:///{data / 'backoffice.db'}", weeks=1)
    return data


def test_verify_prints_a_checkpoint_that_a_later_verify_accepts(data_dir: Path) -> None:
    code, out = audit("verify", "--data", str(data_dir))
    digest = out.split("checkpoint: ")[1].strip()
    again, out_again = audit("verify", "--data", str(data_dir), "--checkpoint", digest)

    assert code == 0
    assert "OK: " in out
    assert Checkpoint.parse(digest).notification_id == _last_position(
        f"sqlite:///{data_dir / 'backoffice.db'}"
    )
    assert again == 0
    assert f"extends checkpoint {digest}" in out_again


@pytest.mark.parametrize("every", [1000, 7])
def test_verify_s_last_progress_line_counts_every_event(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, every: int
) -> None:
    """Progress was shown every thousand rows and not at the end: the last line of a
    store of 100,006 events said 100000/100006 (and a small store showed none)."""
    monkeypatch.setattr(hash_chain, "PROGRESS_EVERY", every)
    last = _last_position(f"sqlite:///{data_dir / 'backoffice.db'}")
    assert last % 7  # the last row is not one the progress is shown at anyway

    result = CliRunner().invoke(cli, ["audit", "verify", "--data", str(data_dir)])

    assert result.exit_code == 0
    assert result.stderr.split("\r")[-1] == f"  {last}/{last} events checked\n"


def test_verify_names_an_altered_event_and_exits_non_zero(data_dir: Path) -> None:
    _, out = audit("verify", "--data", str(data_dir))
    digest = out.split("checkpoint: ")[1].strip()
    with closing(sqlite3.connect(data_dir / "backoffice.db")) as connection, connection:
        originator_id, version, state = connection.execute(
            "SELECT originator_id, originator_version, state FROM stored_events WHERE rowid = 7"
        ).fetchone()
        connection.execute("UPDATE stored_events SET state = ? WHERE rowid = 7", (state + b" ",))

    code, out = audit("verify", "--data", str(data_dir), "--checkpoint", digest)

    assert code == 1
    assert f"ALTERED notification 7, stream {UUID(originator_id)} version {version}: changed" in out
    assert "FAILED: 1 problem in " in out
    assert "checkpoint: " not in out


def test_verify_refuses_a_checkpoint_it_cannot_read(data_dir: Path) -> None:
    code, _ = audit("verify", "--data", str(data_dir), "--checkpoint", "12:not-hex")

    assert code == 2


def _last_position(url: str) -> int:
    application = BackofficeApplication(env=StoreLocation(url).eventsourcing_env())
    try:
        return application.recorder.max_notification_id() or 0
    finally:
        application.close()
