"""The auditor's commands, run in-process on a real SQLite store (and a real Temporal dev
server for ``record-history``)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
import sys
from contextlib import closing
from dataclasses import replace
from datetime import date
from pathlib import Path
from uuid import UUID

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from typer.testing import CliRunner

from backoffice.cli import app
from projections.database import Database
from services.application import BackofficeApplication
from services.store import StoreLocation
from tests.integration.api_conftest import Api, weeks_ahead
from tests.integration.conftest import ORGANISATION, Office, meta
from tests.integration.test_cli import data_dir, run
from worker import WORKFLOWS
from workflows.messages import DATA_CONVERTER, leave_workflow_id

__all__ = ["data_dir"]  # the fixture, shared with the other CLI tests


def a_store(data: Path) -> list[str]:
    """Two leave requests recorded in the store of ``data``: their case ids."""
    data.mkdir(parents=True, exist_ok=True)
    application = BackofficeApplication(
        env=StoreLocation(f"sqlite:///{data / 'backoffice.db'}").eventsourcing_env()
    )
    try:
        application.load_organisation(ORGANISATION, meta("hr"))
        office = Office(application)
        approved = office.approved("e-3", date(2030, 6, 3), date(2030, 6, 5))
        pending = office.submit("e-4", date(2030, 7, 1), date(2030, 7, 2))
    finally:
        application.close()
    return [str(approved), str(pending)]


def test_export_writes_the_filtered_log_as_json_lines_and_csv(data_dir: Path) -> None:
    approved, _ = a_store(data_dir)

    code, out, err = run("audit", "export", "--case", approved, "--data", str(data_dir))
    csv_code, table, _ = run(
        "audit", "export", "--case", approved, "--format", "csv", "--data", str(data_dir)
    )

    lines = [json.loads(line) for line in out.splitlines()]
    rows = list(csv.DictReader(io.StringIO(table)))
    assert (code, csv_code) == (0, 0)
    assert "events into the audit log" in err  # progress while the log catches up
    assert f"exported {len(out.splitlines())} events to standard output" in err
    assert {line["case_id"] for line in lines} == {approved}
    assert {line["event"] for line in lines[:2]} == {"Reserved", "Submitted"}
    assert [int(row["position"]) for row in rows] == [line["position"] for line in lines]
    [decision] = [line for line in lines if line["event"] == "TaskDecided"]
    assert decision["authority"]["acting_for"] is None and decision["actor"] == "e-2"


def test_a_csv_export_for_a_spreadsheet_starts_with_a_byte_order_mark(
    data_dir: Path, tmp_path: Path
) -> None:
    a_store(data_dir)
    plain, marked = tmp_path / "plain.csv", tmp_path / "marked.csv"

    run("audit", "export", "--format", "csv", "-o", str(plain), "--data", str(data_dir))
    code, _, _ = run(
        "audit", "export", "--format", "csv", "--bom", "-o", str(marked), "--data",
        str(data_dir),
    )  # fmt: skip
    refused, _, err = run("audit", "export", "--bom", "--data", str(data_dir))

    assert code == 0
    assert marked.read_bytes() == b"\xef\xbb\xbf" + plain.read_bytes()
    assert refused == 1 and "--bom: a byte order mark is for CSV; add --format csv" in err


def test_an_export_by_an_actor_the_directory_does_not_know_says_so(data_dir: Path) -> None:
    a_store(data_dir)

    code, out, err = run("audit", "export", "--actor", "e-33", "--data", str(data_dir))
    _, _, idle = run("audit", "export", "--actor", "e-1", "--data", str(data_dir))

    assert (code, out) == (0, "")
    assert "exported 0 events to standard output" in err
    assert "--actor: the directory knows nobody with the id e-33" in err
    assert "knows nobody" not in idle


def test_an_export_by_an_empty_actor_is_refused_as_an_empty_case_type_or_process_is(
    data_dir: Path,
) -> None:
    """``--actor ""`` exported nothing and said the directory knows nobody with the id
    "" (a slip of the shell, an unset variable): refused as the other filters are."""
    a_store(data_dir)

    code, out, err = run("audit", "export", "--actor", "", "--data", str(data_dir))
    others = [run("audit", "export", option, "", "--data", str(data_dir))[0] for option in (
        "--case", "--type", "--process"
    )]  # fmt: skip

    assert (code, out) == (1, "")
    assert err == (
        "error: --actor: '' is not an actor; give an employee's id, or system for what the"
        " product did itself (leave --actor out for everyone's)\n"
    )
    assert others == [1, 1, 1]


def test_an_export_names_whom_a_change_to_an_employee_concerns(data_dir: Path) -> None:
    a_store(data_dir)
    application = BackofficeApplication(
        env=StoreLocation(f"sqlite:///{data_dir / 'backoffice.db'}").eventsourcing_env()
    )
    try:
        leaves = replace(application.profile("e-3"), end_date=date(2031, 3, 31))
        application.put_employee(leaves, meta("admin"))
    finally:
        application.close()

    code, out, _ = run(
        "audit", "export", "--type", "Employee.DetailsChanged", "--data", str(data_dir)
    )

    assert code == 0
    assert [(line["subject"], line["data"]) for line in map(json.loads, out.splitlines())] == [
        ("employee e-3", {"changes": {"end_date": "2031-03-31"}})
    ]


def test_export_by_time_and_to_a_file(data_dir: Path, tmp_path: Path) -> None:
    a_store(data_dir)
    target = tmp_path / "none.jsonl"

    code, _, _ = run(
        "audit", "export", "--since", "2999-01-01T00:00Z", "-o", str(target), "--data",
        str(data_dir),
    )  # fmt: skip
    bad, _, err = run("audit", "export", "--since", "yesterday", "--data", str(data_dir))

    assert code == 0 and target.read_text() == ""
    assert bad == 1 and "--since: 'yesterday' is not an ISO 8601 instant" in err


def test_an_export_that_fails_leaves_no_half_written_file_and_an_earlier_one_as_it_was(
    data_dir: Path, tmp_path: Path
) -> None:
    a_store(data_dir)
    exports = tmp_path / "exports"
    exports.mkdir()
    earlier, new = exports / "earlier.jsonl", exports / "new.jsonl"
    run("audit", "export", "-o", str(earlier), "--data", str(data_dir))
    exported = earlier.read_text()
    with (
        Database(StoreLocation(f"sqlite:///{data_dir / 'backoffice.db'}")) as database,
        database.transaction() as cursor,
    ):  # the last person registered, read only for the decision's authority
        cursor.execute(
            "UPDATE stored_events SET state = CAST('garbage' AS BLOB) WHERE rowid = (SELECT"
            " MAX(rowid) FROM stored_events WHERE topic LIKE '%Employee.Registered')"
        )

    results = [
        run("audit", "export", "-o", str(path), "--data", str(data_dir)) for path in (earlier, new)
    ]

    for code, _, err in results:
        assert code == 1, err
        assert "cannot be read from the store" in err
    assert earlier.read_text() == exported and exported.count("\n") > 5
    assert list(exports.iterdir()) == [earlier]


def test_an_export_over_the_event_store_or_another_file_of_the_data_folder_is_refused(
    data_dir: Path,
) -> None:
    a_store(data_dir)
    (data_dir / "jwt-secret").write_text("a secret")
    kept = {path: path.read_bytes() for path in data_dir.iterdir()}

    results = {
        name: run("audit", "export", "-o", str(data_dir / name), "--data", str(data_dir))
        for name in ("backoffice.db", "backoffice.db-wal", "jwt-secret")
    }

    for name, (code, out, err) in results.items():
        assert code == 1, (name, err)
        assert out == ""
        assert err.startswith(f"error: --output {data_dir / name} is Backoffice's own"), err
        assert "exported" not in err
    for path in data_dir.iterdir():  # reading the store may leave SQLite's -shm and -wal
        assert path.read_bytes() == kept.get(path, path.read_bytes()), path
        assert b'{"actor": ' not in path.read_bytes(), path


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a full disk)")
def test_an_export_onto_a_full_disk_says_so_without_a_traceback(data_dir: Path) -> None:
    a_store(data_dir)

    code, out, err = run("audit", "export", "-o", "/dev/full", "--data", str(data_dir))

    assert code == 1
    assert out == ""
    assert "error: cannot write the export to /dev/full: No space left on device" in err, err
    assert "exported" not in err


def test_an_export_of_a_case_id_that_is_not_one_is_refused(data_dir: Path) -> None:
    a_store(data_dir)

    code, out, err = run("audit", "export", "--case", "notauuid", "--data", str(data_dir))

    assert (code, out) == (1, "")
    assert "--case: 'notauuid' is not a case id (a UUID)" in err


def test_an_export_of_an_event_type_no_aggregate_has_is_refused(data_dir: Path) -> None:
    a_store(data_dir)

    code, out, err = run("audit", "export", "--type", "Submited", "--data", str(data_dir))

    assert (code, out) == (1, "")
    assert (
        "--type: 'Submited' is not an event type; give one such as Submitted or, with its"
        " aggregate, LeaveRequest.Submitted (did you mean Submitted?)"
    ) in err


def test_an_export_of_a_process_the_engine_does_not_run_is_refused(data_dir: Path) -> None:
    a_store(data_dir)

    code, out, err = run("audit", "export", "--process", "leeve", "--data", str(data_dir))

    assert (code, out) == (1, "")
    assert "--process: 'leeve' is not a process; give one of directory, leave" in err


def test_an_export_of_a_time_window_that_ends_before_it_starts_is_refused(
    data_dir: Path,
) -> None:
    a_store(data_dir)

    code, out, err = run(
        "audit", "export", "--since", "2027-03-02T00:00Z", "--until", "2027-03-01T00:00Z",
        "--data", str(data_dir),
    )  # fmt: skip

    assert code == 1
    assert out == ""
    assert "--since 2027-03-02T00:00Z is after --until 2027-03-01T00:00Z" in err


def test_an_export_names_the_records_checkpoint_at_its_last_event_which_verify_accepts(
    data_dir: Path,
) -> None:
    approved, _ = a_store(data_dir)

    code, out, err = run("audit", "export", "--case", approved, "--data", str(data_dir))

    last = json.loads(out.splitlines()[-1])["position"]
    [said] = [line for line in err.splitlines() if line.startswith("checkpoint: ")]
    checkpoint = said.removeprefix("checkpoint: ").split()[0]
    assert code == 0 and checkpoint.startswith(f"{last}:")  # not the end of the whole log
    assert "audit verify --checkpoint" in err
    verified, shown, _ = run("audit", "verify", "--checkpoint", checkpoint, "--data", str(data_dir))
    assert verified == 0 and "chain intact" in shown


def test_an_export_whose_last_event_is_not_linked_says_so_and_where_the_checkpoint_is(
    data_dir: Path,
) -> None:
    a_store(data_dir)
    with closing(sqlite3.connect(data_dir / "backoffice.db")) as store, store:
        store.execute(
            "DELETE FROM event_hashes"
            " WHERE notification_id = (SELECT MAX(rowid) FROM stored_events)"
        )

    code, out, err = run("audit", "export", "--data", str(data_dir))

    last = json.loads(out.splitlines()[-1])["position"]
    assert code == 0
    assert f"checkpoint: {last - 1}:" in err
    assert f"the export's last event, at {last}, is not linked into the chain" in err
    assert "backoffice audit verify" in err


def test_an_empty_export_names_no_checkpoint(data_dir: Path) -> None:
    a_store(data_dir)

    code, _, err = run("audit", "export", "--since", "2999-01-01T00:00Z", "--data", str(data_dir))

    assert code == 0 and "checkpoint" not in err


def test_an_export_of_one_event_says_one_event(data_dir: Path) -> None:
    a_store(data_dir)

    code, out, err = run(
        "audit", "export", "--type", "Opened", "--actor", "e-3", "--data", str(data_dir)
    )

    assert code == 0 and len(out.splitlines()) == 1
    assert "exported 1 event to standard output" in err


def test_an_aggregate_at_a_version(data_dir: Path) -> None:
    approved, _ = a_store(data_dir)

    code, out, _ = run("audit", "aggregate", approved, "--version", "1", "--data", str(data_dir))
    _, latest, _ = run("audit", "aggregate", approved, "--data", str(data_dir))
    missing, _, err = run(
        "audit", "aggregate", approved, "--version", "99", "--data", str(data_dir)
    )
    beyond, _, beyond_err = run(
        "audit", "aggregate", approved, "--version", str(2**64), "--data", str(data_dir)
    )

    assert code == 0
    assert (json.loads(out)["version"], json.loads(out)["state"]["status"]) == (1, "pending")
    assert json.loads(latest)["state"]["status"] == "approved"
    versions = json.loads(latest)["version"]
    assert missing == 1 and f"{approved} has versions 1 to {versions}, not 99" in err
    assert beyond == 1 and f"{approved} has versions 1 to {versions}, not {2**64}" in beyond_err


def test_the_aggregate_of_a_refused_submission_says_why_nothing_was_recorded(
    data_dir: Path,
) -> None:
    """A refused submission records no case, only its refusal under the case id it
    would have had (which its timeline shows): the command says so, as the API does."""
    a_store(data_dir)
    case_id = UUID("3f0c1a2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b")
    application = BackofficeApplication(
        env=StoreLocation(f"sqlite:///{data_dir / 'backoffice.db'}").eventsourcing_env()
    )
    try:
        application.record_refusal(
            case_id, "leave", "submit", 422, "period_too_long", "too long", "e-3", "wf"
        )
    finally:
        application.close()

    code, _, err = run("audit", "aggregate", str(case_id), "--data", str(data_dir))

    assert code == 1
    assert (
        f"nothing was recorded for case {case_id}: its submission was refused"
        " (period_too_long: too long)"
    ) in err


def files_in(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes: what a command would have written."""
    return {str(path): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def test_an_aggregate_as_of_an_instant_after_now_is_refused_as_the_api_refuses_it(
    data_dir: Path,
) -> None:
    approved, _ = a_store(data_dir)
    before = files_in(data_dir)

    code, out, err = run(
        "audit", "aggregate", approved, "--at", "2099-01-01T00:00:00Z", "--data", str(data_dir)
    )

    assert (code, out) == (1, "")
    assert err.startswith("error: the aggregate is known up to now (2"), err
    assert err.rstrip().endswith("not at 2099-01-01T00:00:00+00:00; leave --at out for it now"), err
    assert files_in(data_dir) == before


def test_a_copy_of_the_read_models_as_of_an_instant_after_now_is_refused(
    data_dir: Path, tmp_path: Path
) -> None:
    a_store(data_dir)
    before = files_in(data_dir)
    copy = tmp_path / "as-of.db"

    code, out, err = run(
        "projections", "rebuild", "--until", "2099-01-01T00:00:00Z", "--into", str(copy),
        "--data", str(data_dir),
    )  # fmt: skip

    assert (code, out) == (1, "")
    assert err.startswith("error: a copy of the read models is known up to now (2"), err
    assert err.rstrip().endswith(
        "not at 2099-01-01T00:00:00+00:00; leave --until out for one as they are now"
    ), err
    assert not copy.exists()
    assert files_in(data_dir) == before


def test_an_event_the_store_can_no_longer_read_is_named_by_every_command_reading_it(
    data_dir: Path,
) -> None:
    approved, _ = a_store(data_dir)
    run("projections", "rebuild", "--data", str(data_dir))
    with (
        Database(StoreLocation(f"sqlite:///{data_dir / 'backoffice.db'}")) as database,
        database.transaction() as cursor,
    ):  # rewritten by hand as text, as an edit in a SQLite shell leaves it
        cursor.execute(
            "UPDATE stored_events SET state = CAST(state AS TEXT)"
            " WHERE originator_id = ? AND originator_version = 1",
            [UUID(approved).hex],
        )
    data = ("--data", str(data_dir))

    commands = [
        ("audit", "aggregate", approved, *data),
        ("audit", "verify-projections", *data),
        ("projections", "rebuild", "--processes", "1", *data),
    ]
    results = {command[:2]: CliRunner().invoke(app, list(command)) for command in commands}

    for command, result in results.items():
        assert result.exit_code == 1, (command, result.exception)
        assert isinstance(result.exception, SystemExit | None), (command, result.exception)
        assert (
            f"error: the event of {approved} at version 1 cannot be read from the store"
        ) in result.stderr, (command, result.stderr)
        assert "backoffice audit verify" in result.stderr
        assert "known read models" not in result.stderr


def test_verify_projections_exits_non_zero_naming_a_corrupted_row(data_dir: Path) -> None:
    _, pending = a_store(data_dir)
    never_built = run("audit", "verify-projections", "--data", str(data_dir))
    run("projections", "rebuild", "--data", str(data_dir))
    clean = run("audit", "verify-projections", "--data", str(data_dir))
    with (
        Database(StoreLocation(f"sqlite:///{data_dir / 'backoffice.db'}")) as database,
        database.transaction() as cursor,
    ):
        cursor.execute("UPDATE leave_cases SET status = 'approved' WHERE case_id = ?", [pending])

    code, out, err = run("audit", "verify-projections", "--data", str(data_dir))

    assert never_built[0] == 0  # empty read models at position 0 say nothing false
    assert clean[0] == 0 and "match the events" in clean[1]
    assert code == 1
    assert out == f"leave_cases [case_id='{pending}']: status ours 'approved', replayed 'pending'\n"
    assert "1 difference from the events (leave_cases: 1)" in err


def test_verify_projections_says_how_far_it_compared_and_what_is_not_applied_yet(
    data_dir: Path,
) -> None:
    """It said "the read models match the events" of read models never built, or behind
    the events (no projection runner running): it compares them only up to their own
    position. It now says how far that is and how many events are recorded after it."""
    a_store(data_dir)
    url = f"sqlite:///{data_dir / 'backoffice.db'}"

    def last_position() -> int:
        application = BackofficeApplication(env=StoreLocation(url).eventsourcing_env())
        try:
            return application.recorder.max_notification_id() or 0
        finally:
            application.close()

    recorded = last_position()
    never_built = run("audit", "verify-projections", "--data", str(data_dir))
    run("projections", "rebuild", "--data", str(data_dir))
    application = BackofficeApplication(env=StoreLocation(url).eventsourcing_env())
    try:
        Office(application).submit("e-3", date(2030, 9, 2), date(2030, 9, 3))
    finally:
        application.close()
    behind = run("audit", "verify-projections", "--data", str(data_dir))
    run("projections", "rebuild", "--data", str(data_dir))
    caught_up = run("audit", "verify-projections", "--data", str(data_dir))
    last = last_position()

    assert never_built[:2] == (
        0,
        f"no read model was ever built: nothing was compared; {recorded} events are"
        " recorded (is the projection runner running? projections rebuild builds them)\n",
    )
    assert behind[:2] == (
        0,
        f"the read models match the events up to position {recorded}; {last - recorded}"
        " events recorded after it are not applied yet (is the projection runner running?)\n",
    )
    assert caught_up[:2] == (0, f"the read models match the events, up to the last ({last})\n")


def test_rebuild_until_an_instant_into_a_copy_leaves_the_live_read_models(
    data_dir: Path, tmp_path: Path
) -> None:
    a_store(data_dir)
    run("projections", "rebuild", "--data", str(data_dir))
    copy = tmp_path / "as-of.db"

    code, out, err = run(
        "projections", "rebuild", "leave_cases", "--until", "2000-01-01T00:00:00Z",
        "--into", str(copy), "--data", str(data_dir),
    )  # fmt: skip
    refused, _, refusal = run(
        "projections", "rebuild", "--until", "2000-01-01T00:00:00Z", "--data", str(data_dir)
    )

    def count(path: Path) -> int:
        with (
            Database(StoreLocation(f"sqlite:///{path}")) as database,
            database.transaction(write=False) as cursor,
        ):
            return int(cursor.execute("SELECT count(*) FROM leave_cases").fetchall()[0][0])

    assert code == 0, out + err
    assert f"into {copy} as of 2000-01-01" in out and "from 0 events" in out
    assert (count(copy), count(data_dir / "backoffice.db")) == (0, 2)
    with (
        Database(StoreLocation(f"sqlite:///{copy}")) as database,
        database.transaction(write=False) as cursor,
    ):
        tracked = cursor.execute("SELECT name FROM projection_tracking").fetchall()
    assert tracked == [("leave_cases",)]  # a copy holds the read models asked for
    assert refused == 1 and "--until builds a copy" in refusal


async def test_record_history_saves_a_history_the_replay_gate_replays(
    api: Api, tmp_path: Path
) -> None:
    case = await api.approved("e-3", weeks_ahead(3, days=1))
    workflow_id = leave_workflow_id(UUID(case["id"]))
    address = api.context.client.service_client.config.target_host

    code, out, err = await asyncio.to_thread(
        run,
        "audit", "record-history", workflow_id, "--name", "approved", "--into", str(tmp_path),
        "--temporal-address", address,
    )  # fmt: skip
    unknown, _, unknown_err = await asyncio.to_thread(
        run,
        "audit", "record-history", "leave-nothing", "--temporal-address", address,
        "--into", str(tmp_path),
    )  # fmt: skip

    saved = tmp_path / "approved.json"
    assert code == 0, out + err
    assert str(saved) in out
    history = WorkflowHistory.from_json(workflow_id, saved.read_text())
    replayer = Replayer(workflows=WORKFLOWS, data_converter=DATA_CONVERTER)
    assert (
        await replayer.replay_workflow(history, raise_on_replay_failure=False)
    ).replay_failure is None
    assert unknown == 1 and "no workflow leave-nothing" in unknown_err


async def test_record_history_run_as_a_command_always_ends_with_its_own_exit_code(
    api: Api, tmp_path: Path
) -> None:
    """The Temporal SDK's threads could abort the process while the interpreter shut down
    (exit 134 now and again, temporalio/sdk-python#300): the command ends without that
    teardown. Run ten times, as the abort came about once in five runs."""
    address = api.context.client.service_client.config.target_host
    command = Path(sys.executable).parent / "backoffice"

    async def unknown_workflow() -> tuple[int, bytes]:
        process = await asyncio.create_subprocess_exec(
            str(command), "audit", "record-history", "leave-nothing",
            "--temporal-address", address, "--into", str(tmp_path),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await process.communicate()
        return process.returncode or 0, err

    results = [await unknown_workflow() for _ in range(10)]

    assert [code for code, _ in results] == [1] * 10, results
    assert all(b"no workflow leave-nothing" in err for _, err in results)


async def test_record_history_writes_only_a_new_file_in_its_folder(
    api: Api, tmp_path: Path
) -> None:
    case = await api.approved("e-3", weeks_ahead(3, days=1))
    workflow_id = leave_workflow_id(UUID(case["id"]))
    address = api.context.client.service_client.config.target_host
    folder = tmp_path / "histories"
    folder.mkdir()
    (folder / "kept.json").write_text("an earlier history")

    def record(name: str, *extra: str) -> tuple[int, str, str]:
        return run(
            "audit", "record-history", workflow_id, "--name", name, "--into", str(folder),
            "--temporal-address", address, *extra,
        )  # fmt: skip

    escaping = await asyncio.to_thread(record, "../escaped")
    again = await asyncio.to_thread(record, "kept")
    replaced = await asyncio.to_thread(record, "kept", "--replace")

    assert escaping[0] == 2 and "--name" in escaping[2], escaping
    assert not (tmp_path / "escaped.json").exists()
    assert again[0] == 1 and f"{folder / 'kept.json'} exists; give --replace" in again[2], again
    assert replaced[0] == 0, replaced
    assert json.loads((folder / "kept.json").read_text())["events"]


async def test_record_history_given_a_case_id_names_the_workflow_id_to_give(
    api: Api, tmp_path: Path
) -> None:
    case = await api.approved("e-3", weeks_ahead(3, days=1))
    address = api.context.client.service_client.config.target_host

    code, _, err = await asyncio.to_thread(
        run,
        "audit", "record-history", case["id"], "--temporal-address", address,
        "--into", str(tmp_path),
    )  # fmt: skip

    assert code == 1
    assert (
        f"no workflow {case['id']}; the workflow of leave request {case['id']} is"
        f" {leave_workflow_id(UUID(case['id']))}"
    ) in err
    assert not (tmp_path / f"{case['id']}.json").exists()


def test_record_history_into_a_file_rather_than_a_folder_is_refused_before_asking_temporal(
    data_dir: Path, tmp_path: Path
) -> None:
    a_file = tmp_path / "histories.json"
    a_file.write_text("an earlier history")

    def record(into: Path) -> tuple[int, str, str]:
        return run(
            "audit", "record-history", "leave-request-1", "--into", str(into),
            "--temporal-address", "127.0.0.1:1", "--data", str(data_dir),
        )  # fmt: skip

    results = [record(a_file), record(a_file / "inside")]

    for code, _, err in results:
        assert code == 1, err
        assert f"error: --into: {a_file} is a file, not a folder" in err, err
        assert "cannot reach Temporal" not in err
    assert a_file.read_text() == "an earlier history"


def test_record_history_outside_the_repository_without_into_says_where_to_run_it(
    data_dir: Path, tmp_path: Path
) -> None:
    # data_dir runs the command in tmp_path, which has no tests/replay/histories
    code, _, err = run(
        "audit", "record-history", "leave-request-1", "--temporal-address", "127.0.0.1:1",
        "--data", str(data_dir),
    )  # fmt: skip

    assert code == 1, err
    assert "error: --into: there is no folder tests/replay/histories here" in err, err
    assert "cannot reach Temporal" not in err
    assert not (tmp_path / "tests").exists()
