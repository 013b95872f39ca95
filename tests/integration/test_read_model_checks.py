"""Read models checked against the events, rebuilt after a kill, and built as of a past
instant into a copy, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from backoffice.projection_check import check_read_models, compare_read_models
from projections.audit_log import AuditEntry, AuditFilter, jsonl_lines, pages
from projections.database import Database
from projections.queries import ReadModels
from projections.runner import ProjectionRunner
from services.store import StoreLocation
from tests.integration.conftest import Office

pytestmark = pytest.mark.parametrize("store_url", ["sqlite", "postgres"], indirect=True)


def some_cases(office: Office) -> list[uuid.UUID]:
    return [
        office.approved("e-3", date(2030, 6, 3), date(2030, 6, 5)),
        office.submit("e-4", date(2030, 7, 1), date(2030, 7, 2)),
        office.approved("e-4", date(2030, 8, 5), date(2030, 8, 9)),
    ]


def copy_url(store_url: str, tmp_path: Path) -> str:
    if StoreLocation(store_url).is_postgres:
        return f"{store_url.split('?')[0]}?schema=copy_{uuid.uuid4().hex[:10]}"
    return f"sqlite:///{tmp_path / 'copy.db'}"


def execute(store_url: str, sql: str, params: list[object] | None = None) -> None:
    with Database(StoreLocation(store_url)) as database, database.transaction() as cursor:
        cursor.execute(sql, params or [])


def test_read_models_built_from_the_events_match_them(
    store_url: str, office: Office, runner: ProjectionRunner, tmp_path: Path
) -> None:
    some_cases(office)
    runner.catch_up()

    assert compare_read_models(store_url, tmp_path) == []


def test_read_models_behind_the_events_are_said_to_match_only_up_to_their_position(
    store_url: str, office: Office, runner: ProjectionRunner, tmp_path: Path
) -> None:
    some_cases(office)
    runner.catch_up()
    reached = office.app.recorder.max_notification_id() or 0
    office.submit("e-3", date(2030, 9, 2), date(2030, 9, 3))  # no runner running now
    last = office.app.recorder.max_notification_id() or 0

    check = check_read_models(store_url, tmp_path)

    assert (check.differences, check.never_built) == ([], [])
    assert set(check.positions.values()) == {reached}
    assert check.reach() == (
        f"the read models match the events up to position {reached}; {last - reached} events"
        " recorded after it are not applied yet (is the projection runner running?)"
    )


def test_a_changed_row_is_named_by_its_table_key_and_the_columns_that_differ(
    store_url: str, office: Office, runner: ProjectionRunner, tmp_path: Path
) -> None:
    pending = some_cases(office)[1]
    runner.catch_up()
    execute(
        store_url,
        "UPDATE leave_cases SET status = 'approved', requester_id = 'e-9' WHERE case_id = ?",
        [str(pending)],
    )

    differences = compare_read_models(store_url, tmp_path)

    assert [str(difference) for difference in differences] == [
        f"leave_cases [case_id='{pending}']: requester_id ours 'e-9', replayed 'e-4';"
        " status ours 'approved', replayed 'pending'"
    ]
    [changed] = differences
    assert (changed.kind, changed.key) == ("changed", (("case_id", str(pending)),))
    assert changed.changes == (
        ("requester_id", "e-9", "e-4"),
        ("status", "approved", "pending"),
    )


def test_a_row_missing_or_not_given_by_the_events_is_named_by_its_key(
    store_url: str, office: Office, runner: ProjectionRunner, tmp_path: Path
) -> None:
    some_cases(office)
    runner.catch_up()
    execute(store_url, "DELETE FROM audit_log WHERE position = 1")
    execute(
        store_url,
        "INSERT INTO leave_balances (employee_id, year, approved, pending)"
        " VALUES ('e-9', 2031, '1', '0')",
    )

    differences = sorted(compare_read_models(store_url, tmp_path), key=lambda d: d.table)

    assert [(d.table, d.kind, d.key) for d in differences] == [
        ("audit_log", "missing", (("position", 1),)),
        ("leave_balances", "unexpected", (("employee_id", "e-9"), ("year", 2031))),
    ]
    assert str(differences[0]).startswith("audit_log [position=1]: missing; the events give at=")
    assert str(differences[1]) == (
        "leave_balances [employee_id='e-9', year=2031]: not given by the events:"
        " approved='1', pending='0'"
    )


def test_a_read_model_tracked_beyond_the_end_of_the_log_is_reported(
    store_url: str, office: Office, runner: ProjectionRunner, tmp_path: Path
) -> None:
    some_cases(office)
    runner.catch_up()
    last = office.app.recorder.max_notification_id() or 0
    execute(
        store_url, "UPDATE projection_tracking SET position = ? WHERE name = 'inbox'", [last + 37]
    )

    differences = compare_read_models(store_url, tmp_path)

    assert [(d.table, d.kind) for d in differences] == [("inbox", "ahead")]
    assert str(differences[0]) == (
        f"inbox: at position {last + 37}, beyond the last event ({last}): the events"
        f" recorded next, up to {last + 37}, would never reach it"
    )


def test_a_missing_read_model_table_is_reported_and_not_made_again(
    store_url: str, office: Office, runner: ProjectionRunner, tmp_path: Path
) -> None:
    some_cases(office)
    runner.catch_up()
    execute(store_url, "DROP TABLE inbox")

    differences = compare_read_models(store_url, tmp_path)

    assert [(d.table, d.kind) for d in differences] == [("inbox", "no_table")]
    assert str(differences[0]) == "inbox: the table is missing"
    with pytest.raises(Exception, match="inbox"):  # the check wrote nothing
        execute(store_url, "SELECT * FROM inbox")


def test_a_rebuild_killed_half_way_resumes_and_counts_nothing_twice(
    store_url: str,
    office: Office,
    runner: ProjectionRunner,
    dump_rows: Callable[[], dict[str, Any]],
    tmp_path: Path,
) -> None:
    some_cases(office)
    runner.catch_up()
    before = dump_rows()

    def killed(position: int, last: int) -> None:
        raise KeyboardInterrupt  # as if Ctrl-C arrived after the first batch committed

    with pytest.raises(KeyboardInterrupt):
        runner.rebuild(progress=killed)
    half_way = runner.position()
    resuming = runner.resuming()
    runner.rebuild()

    assert 0 < half_way < max(position for _name, position in before["projection_tracking"])
    assert resuming == sorted(runner.names)
    assert runner.resuming() == []
    assert dump_rows() == before
    assert compare_read_models(store_url, tmp_path) == []


def test_a_copy_as_of_an_instant_holds_what_was_recorded_by_then(
    store_url: str, office: Office, runner: ProjectionRunner, tmp_path: Path
) -> None:
    first = office.approved("e-3", date(2030, 6, 3), date(2030, 6, 5))
    time.sleep(0.01)
    instant = datetime.now(UTC)
    time.sleep(0.01)
    later = office.submit("e-4", date(2030, 7, 1), date(2030, 7, 2))
    runner.catch_up()
    target = copy_url(store_url, tmp_path)

    with ProjectionRunner(store_url, into=target, until=instant) as copier:
        copier.rebuild()

    def cases(url: str) -> set[str]:
        with Database(StoreLocation(url)) as database, database.transaction() as cursor:
            return {row[0] for row in cursor.execute("SELECT case_id FROM leave_cases").fetchall()}

    assert cases(target) == {str(first)}
    assert cases(store_url) == {str(first), str(later)}


def test_an_export_reads_the_log_one_page_at_a_time(
    store_url: str, office: Office, runner: ProjectionRunner, read_models: ReadModels
) -> None:
    some_cases(office)
    runner.catch_up()
    reads: list[int | None] = []

    def read_page(chosen: AuditFilter, after: int | None, limit: int) -> list[AuditEntry]:
        reads.append(after)
        return read_models.audit_page(chosen, newest_first=False, after=after, limit=limit)

    lines = jsonl_lines(pages(read_page, AuditFilter(), batch=5))
    first_chunk = next(lines)
    reads_for_the_first_chunk = len(reads)
    rest = "".join(lines)

    everything = read_models.audit_page(AuditFilter(), newest_first=False, after=None, limit=999)
    assert reads_for_the_first_chunk == 1
    assert first_chunk.count("\n") == 5
    assert (first_chunk + rest).count("\n") == len(everything) > 10
    assert len(reads) == len(everything) // 5 + 1
