"""The audit log read model on SQLite and PostgreSQL: what each entry says it is about,
built alike by following the log and by a rebuild, and an audit log made before it
said so, replayed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any
from uuid import uuid4

from domain.refusals import RefusalLog
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


def test_each_refusal_is_kept_once_in_a_stream_of_its_own(
    office: Office, runner: ProjectionRunner, read_models: ReadModels
) -> None:
    """Keeping a refusal reads none of the case's earlier ones, so a caller refused
    thousands of times on a case costs no more for the last; one sent again under its
    key is kept once. Refusals kept in a case's one log, as before, are still read."""
    app = office.app
    case = uuid4()
    earlier = RefusalLog(str(case), "leave", meta("e-4"))  # as stores before hold them
    earlier.refuse("withdraw", 403, "only_requester", "not yours", meta("e-4"))
    app.save(earlier)
    for _ in range(3):
        app.record_refusal(case, "leave", "decide", 409, "not_pending", "no", "e-2", "wf")
    for _ in range(2):
        app.record_refusal(
            case, "leave", "submit", 422, "too_long", "no", "e-3", "wf", command_id="keyed"
        )
    runner.catch_up()

    refused = logged(read_models, "Refused")

    assert [(e.aggregate, e.version, e.actor, e.case_id) for e in refused] == [
        ("RefusalLog", 2, "e-4", str(case)),
        *[("Refusal", 1, "e-2", str(case))] * 3,
        ("Refusal", 1, "e-3", str(case)),
    ]
    assert len({entry.stream for entry in refused}) == 5
    assert {entry.process for entry in refused} == {"leave"}


def test_leave_ended_at_noon_is_logged_with_the_half_day_given_back_and_kept(
    office: Office,
    runner: ProjectionRunner,
    read_models: ReadModels,
    dump_rows: Callable[[], dict[str, Any]],
) -> None:
    case_id = office.approved("e-3", date(2030, 6, 3), date(2030, 6, 5))
    office.shorten(case_id, "e-3", date(2030, 6, 4), date(2030, 6, 4), half_day_end=True)
    runner.catch_up()
    incremental = dump_rows()

    (ended,) = logged(read_models, "LeaveRequest.Shortened")
    (given_back,) = logged(read_models, "LeaveAccount.Shortened")
    runner.rebuild()

    assert (ended.case_id, ended.data["half_day_end"], ended.data["days"]) == (
        str(case_id),
        True,
        {"2030-06-03": "1", "2030-06-04": "0.5"},
    )
    assert (given_back.data["half_day_end"], given_back.data["released"]) == (
        True,
        {"2030-06-04": "0.5", "2030-06-05": "1"},
    )
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
