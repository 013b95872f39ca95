"""The read models' connections: kept between calls, fresh in what they see."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest

from projections.queries import IDLE_CONNECTIONS, ReadModels
from projections.runner import ProjectionRunner
from tests.integration.conftest import Office


def test_a_kept_connection_sees_what_was_committed_after_it_was_kept(
    office: Office, runner: ProjectionRunner, read_models: ReadModels
) -> None:
    assert read_models.open_tasks("e-2") == []  # the connection is kept after this call
    case_id = office.submit("e-3", date(2030, 6, 3), date(2030, 6, 7))
    office.ask_manager(case_id)
    runner.catch_up()

    assert [task.case_id for task in read_models.open_tasks("e-2")] == [case_id]


def test_calls_from_many_threads_share_a_few_connections(
    office: Office, runner: ProjectionRunner, read_models: ReadModels
) -> None:
    case_id = office.submit("e-3", date(2030, 6, 3), date(2030, 6, 7))
    office.ask_manager(case_id)
    runner.catch_up()

    with ThreadPoolExecutor(max_workers=8) as threads:
        answers = list(threads.map(lambda _: read_models.open_tasks("e-2"), range(200)))

    assert all([task.case_id for task in tasks] == [case_id] for tasks in answers)
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
