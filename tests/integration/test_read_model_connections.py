"""The read models' connections: kept between calls, fresh in what they see."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date

import psycopg
import pytest

from projections.database import Database
from projections.queries import IDLE_CONNECTIONS, ReadModels
from projections.runner import ProjectionRunner
from services.application import BackofficeApplication
from services.store import StoreLocation
from tests.integration.conftest import ORGANISATION, Office, meta


def test_a_kept_connection_sees_what_was_committed_after_it_was_kept(
    office: Office, runner: ProjectionRunner, read_models: ReadModels
) -> None:
    assert read_models.open_tasks("e-2") == []  # the connection is kept after this call
    case_id = office.submit("e-3", date(2030, 6, 3), date(2030, 6, 7))
    office.ask_manager(case_id)
    runner.catch_up()

    assert [task.case_id for task in read_models.open_tasks("e-2")] == [case_id]


def test_calls_from_many_threads_share_a_few_connections(
    office: Office,
    runner: ProjectionRunner,
    read_models: ReadModels,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case_id = office.submit("e-3", date(2030, 6, 3), date(2030, 6, 7))
    office.ask_manager(case_id)
    runner.catch_up()

    opened: list[object] = []
    open_now = [0, 0]  # open at this moment, and the most at any moment
    counting = threading.Lock()

    class CountedDatabase(Database):
        def __init__(self, location: StoreLocation) -> None:
            super().__init__(location)
            with counting:
                opened.append(self)
                open_now[0] += 1
                open_now[1] = max(open_now)

        def close(self) -> None:
            with counting:
                open_now[0] -= 1
            super().close()

    monkeypatch.setattr("projections.queries.Database", CountedDatabase)
    with ThreadPoolExecutor(max_workers=8) as threads:
        answers = list(threads.map(lambda _: read_models.open_tasks("e-2"), range(200)))

    assert all([task.case_id for task in tasks] == [case_id] for tasks in answers)
    # At most one per thread at a time; over the calls, far fewer than one per call
    # (while all 8 threads are busy, those beyond the kept few open one and close it).
    assert open_now[1] <= 8
    assert len(opened) < 200 // 4
    assert len(read_models._idle) <= IDLE_CONNECTIONS


def test_a_connection_that_failed_is_not_kept(read_models: ReadModels) -> None:
    read_models.position()
    kept = list(read_models._idle)

    with (
        pytest.raises(Exception, match=r"no such table|does not exist"),
        read_models._read() as cursor,
    ):
        cursor.execute("SELECT * FROM no_such_table")

    assert not set(map(id, read_models._idle)) & set(map(id, kept))
    assert read_models.position() >= 0  # a new connection answers


def test_a_kept_connection_the_server_closed_is_replaced(postgres_url: str) -> None:
    read_models = ReadModels(postgres_url)
    try:
        read_models.position()
        [kept] = read_models._idle
        assert kept._postgres is not None
        backend = kept._postgres.info.backend_pid
        with psycopg.connect(StoreLocation(postgres_url).psycopg_conninfo()) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))

        assert read_models.position() == 0  # answered on a new connection
        assert read_models.wait_for(0, timeout=1)
    finally:
        read_models.close()

    assert read_models._idle == []


def test_a_following_runner_whose_connection_the_server_closed_goes_on_with_a_new_one(
    postgres_url: str,
) -> None:
    """PostgreSQL restarted, or a connection killed by an administrator: the runner
    must not keep failing on its dead connection, leaving every read model behind."""
    with following_runner(postgres_url) as (office, runner):
        with psycopg.connect(StoreLocation(postgres_url).psycopg_conninfo()) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (runner_backend(runner),))

        after = office.ask_manager(office.submit("e-4", date(2030, 6, 3), date(2030, 6, 7)))

        assert runner.wait_for(after.position, timeout=5)


def test_a_runner_whose_connection_the_server_closed_says_so_without_a_traceback(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL restarting is no fault of the runner's, and it recovers by itself: a
    warning saying so each time it tries again, not an error with a traceback."""
    with following_runner(postgres_url) as (office, runner):
        with psycopg.connect(StoreLocation(postgres_url).psycopg_conninfo()) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE pid <> pg_backend_pid() AND datname = current_database()"
                " AND query LIKE %s",
                [f"%{StoreLocation(postgres_url).postgres_schema}%"],
            )
            admin.execute("SELECT pg_terminate_backend(%s)", (runner_backend(runner),))

        after = office.ask_manager(office.submit("e-4", date(2030, 6, 3), date(2030, 6, 7)))

        assert runner.wait_for(after.position, timeout=5)
    failures = [r for r in caplog.records if r.name == "projections.runner"]
    assert failures, "the connections were closed under the runner"
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in failures)
    assert all("lost its connection to the database" in r.getMessage() for r in failures)


@contextmanager
def following_runner(postgres_url: str) -> Iterator[tuple[Office, ProjectionRunner]]:
    """A runner following the log of a store with the organisation, once it has applied
    a first request (its connection is open)."""
    application = BackofficeApplication(env=StoreLocation(postgres_url).eventsourcing_env())
    application.load_organisation(ORGANISATION, meta("hr"))
    office = Office(application)
    runner = ProjectionRunner(
        postgres_url, application=application, poll_interval=0.01, retry_interval=0.05
    )
    try:
        runner.start()
        before = office.ask_manager(office.submit("e-3", date(2030, 6, 3), date(2030, 6, 7)))
        assert runner.wait_for(before.position, timeout=5)
        yield office, runner
    finally:
        runner.close()
        application.close()


def runner_backend(runner: ProjectionRunner) -> int:
    connection = runner._database._postgres
    assert connection is not None
    return connection.info.backend_pid
