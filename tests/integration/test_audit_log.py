"""The audit log read model on SQLite and PostgreSQL: what each entry says it is about,
built alike by following the log and by a rebuild, and an audit log made before it
said so, replayed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

from projections import tracking
from projections.audit_log import AuditEntry, AuditFilter
from projections.database import Database
from projections.queries import ReadModels
from projections.runner import ProjectionRunner
from services.store import StoreLocation
from tests.integration.conftest import Office, meta
from tests.integration.test_projections import some_history


def logged(read_models: ReadModels, event: str) -> list[AuditEntry]:
    selection = AuditFilter(event=event)
    return read_models.audit_page(selection, newest_first=False, after=None, limit=100)


def test_every_event_of_a_directory_stream_names_what_it_is_about(
    office: Office,
    runner: ProjectionRunner,
    read_models: ReadModels,
    dump_rows: Callable[[], dict[str, Any]],
) -> None:
    """An end date changed is an event of the employee's stream that does not name them
    (only its first event does): the audit log names them, as ``org load`` does."""
    some_history(office)  # the change is applied batches after the registration
    app = office.app
    app.put_employee(replace(app.profile("e-3"), end_date=date(2031, 6, 30)), meta("admin"))
    app.set_role_members("hr", ["e-1"], meta("admin"))
    app.set_role_members("hr", ["e-2"], meta("admin"))
    runner.catch_up()
    incremental = dump_rows()

    changed = logged(read_models, "Employee.DetailsChanged")
    roles = logged(read_models, "Role.MembersChanged")
    registered = logged(read_models, "Employee.Registered")
    reserved = logged(read_models, "LeaveAccount.Reserved")
    cases = logged(read_models, "LeaveRequest.Submitted")
    runner.rebuild(processes=2)

    assert [(entry.subject, entry.data) for entry in changed] == [
        ("employee e-3", {"changes": {"end_date": "2031-06-30"}})
    ]
    assert [entry.subject for entry in roles] == ["role hr", "role hr"]
    assert [entry.subject for entry in registered] == [f"employee e-{n}" for n in range(1, 6)]
    assert {entry.subject for entry in reserved} == {
        "leave account e-3",
        "leave account e-4",
        "leave account e-5",
    }
    assert {entry.subject for entry in cases} == {None}  # a case is named by case_id
    assert dump_rows() == incremental


OLD_TABLES = {
    "audit_log": (
        "position BIGINT PRIMARY KEY, at TEXT NOT NULL, stream TEXT NOT NULL,"
        " version BIGINT NOT NULL, aggregate TEXT NOT NULL, event TEXT NOT NULL,"
        " actor TEXT NOT NULL, on_behalf_of TEXT, command_id TEXT NOT NULL,"
        " correlation_id TEXT NOT NULL, case_id TEXT, process TEXT NOT NULL,"
        " data TEXT NOT NULL"
    ),
    "audit_streams": "stream TEXT PRIMARY KEY, aggregate TEXT NOT NULL",
}
"""The audit log's tables before its entries named what they are about."""


def test_an_audit_log_made_before_entries_named_their_subject_is_replayed_to_name_them(
    office: Office, store_url: str
) -> None:
    some_history(office)
    end = office.app.recorder.max_notification_id() or 0
    with Database(StoreLocation(store_url)) as database, database.transaction() as cursor:
        for table, columns in OLD_TABLES.items():
            cursor.execute(f"CREATE TABLE {table} ({columns})")
        cursor.execute(
            "CREATE TABLE projection_tracking (name TEXT PRIMARY KEY, position BIGINT NOT NULL)"
        )
        cursor.execute("INSERT INTO projection_tracking VALUES ('audit_log', ?)", [end])

    with ProjectionRunner(store_url, application=office.app) as runner:
        assert runner.position("audit_log") == 0
        runner.catch_up()
    read_models = ReadModels(store_url)
    try:
        registered = logged(read_models, "Employee.Registered")
    finally:
        read_models.close()
    with Database(StoreLocation(store_url)) as database, database.transaction() as cursor:
        rows = cursor.execute("SELECT COUNT(*) FROM audit_log").fetchall()
        unfinished = tracking.rebuilding(cursor)

    assert [entry.subject for entry in registered] == [f"employee e-{n}" for n in range(1, 6)]
    assert rows == [(end,)]
    assert unfinished == {"audit_log"}  # its reader-only indexes: at the end of the replay
