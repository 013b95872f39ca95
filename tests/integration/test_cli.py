"""The ``backoffice`` command, run in-process against a real SQLite store."""

from __future__ import annotations

import json
import re
import shutil
import socket
import sqlite3
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

import jwt
import psycopg
import pytest
import typer
from typer.testing import CliRunner

from backoffice.cli import DEFAULT_REBUILD_PROCESSES, app
from backoffice.settings import Settings
from projections import tracking
from projections.runner import ProjectionRunner
from services.application import BackofficeApplication
from services.store import StoreLocation

EXAMPLE_ORG = Path(__file__).parents[2] / "examples" / "org.yaml"
ADA_STARTS = "    start_date: 2020-01-01\n"
ADA_LEFT = "    end_date: 2021-06-30\n"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env, and var/ lands in the scratch folder
    monkeypatch.delenv("BACKOFFICE_DATABASE_URL", raising=False)
    monkeypatch.delenv("BACKOFFICE_JWT_SECRET", raising=False)
    return tmp_path / "data"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def recorded_events(data_dir: Path) -> int:
    if not (data_dir / "backoffice.db").exists():
        return 0
    application = BackofficeApplication(env=Settings(data_dir=data_dir).store.eventsourcing_env())
    try:
        return application.recorder.max_notification_id() or 0
    finally:
        application.close()


def test_loading_the_same_org_file_twice_records_nothing_the_second_time(data_dir: Path) -> None:
    first = run("org", "load", str(EXAMPLE_ORG), "--data", str(data_dir))
    recorded = recorded_events(data_dir)
    second = run("org", "load", str(EXAMPLE_ORG), "--data", str(data_dir))

    assert first[0] == 0
    assert "18 new or changed" in first[1]
    assert f"recorded in sqlite:///{(data_dir / 'backoffice.db').resolve()}" in first[2]
    assert second[0] == 0
    assert "0 new or changed" in second[1]
    assert recorded_events(data_dir) == recorded == 26


def test_an_org_file_loaded_by_someone_is_recorded_as_theirs(
    data_dir: Path, tmp_path: Path
) -> None:
    run("org", "load", str(EXAMPLE_ORG), "--data", str(data_dir))
    changed = tmp_path / "changed.yaml"
    changed.write_text(EXAMPLE_ORG.read_text().replace("Alan Turing", "Alan M. Turing"))

    code, _, err = run("org", "load", str(changed), "--by", "e-001", "--data", str(data_dir))
    _, exported, _ = run("audit", "export", "--actor", "e-001", "--data", str(data_dir))
    _, by_the_system, _ = run("audit", "export", "--actor", "system", "--data", str(data_dir))

    assert code == 0, err
    [event] = [json.loads(line) for line in exported.splitlines()]
    assert (event["subject"], event["correlation_id"]) == ("employee e-010", "org-load")
    assert "Alan M. Turing" in json.dumps(event["data"])
    assert len(by_the_system.splitlines()) == 26


def test_an_org_file_loaded_by_nobody_the_directory_knows_is_refused(
    data_dir: Path, tmp_path: Path
) -> None:
    run("org", "load", str(EXAMPLE_ORG), "--data", str(data_dir))
    changed = tmp_path / "changed.yaml"
    changed.write_text(EXAMPLE_ORG.read_text().replace("Alan Turing", "Alan M. Turing"))

    code, _, err = run("org", "load", str(changed), "--by", "e-999", "--data", str(data_dir))

    assert code == 1
    assert "--by e-999: no such employee, in the directory or in the file" in err
    assert "nothing was recorded" in err
    assert recorded_events(data_dir) == 26


def test_a_changed_field_records_one_change(data_dir: Path, tmp_path: Path) -> None:
    run("org", "load", str(EXAMPLE_ORG), "--data", str(data_dir))
    changed = tmp_path / "changed.yaml"
    changed.write_text(EXAMPLE_ORG.read_text().replace("Alan Turing", "Alan M. Turing"))

    code, out, _ = run("org", "load", str(changed), "--data", str(data_dir))

    assert code == 0
    assert "1 new or changed\n  employee e-010: name Alan Turing -> Alan M. Turing\n" in out
    assert recorded_events(data_dir) == 26 + 1


def test_an_org_file_with_an_unknown_manager_is_refused_whole(
    data_dir: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE_ORG.read_text().replace("manager: e-001", "manager: e-999"))

    code, _, err = run("org", "load", str(bad), "--data", str(data_dir))

    assert code == 1
    assert "e-010" in err
    assert "e-999" in err
    assert "nothing was recorded" in err
    assert recorded_events(data_dir) == 0


def test_a_malformed_org_file_names_the_line(data_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        EXAMPLE_ORG.read_text().replace("annual_leave_days: 25", "annual_leave_days: -1")
    )

    code, _, err = run("org", "load", str(bad), "--data", str(data_dir))

    assert code == 1
    assert "line" in err
    assert "e-101" in err
    assert recorded_events(data_dir) == 0


def test_token_prints_only_a_token_signed_for_the_employee(data_dir: Path) -> None:
    run("org", "load", str(EXAMPLE_ORG), "--data", str(data_dir))

    code, out, _ = run("token", "e-100", "--data", str(data_dir))

    assert code == 0
    assert out.count("\n") == 1
    secret = Settings(data_dir=data_dir).signing_secret()
    claims = jwt.decode(out.strip(), secret, algorithms=["HS256"], options={"verify_aud": False})
    assert claims["sub"] == "e-100"


def test_token_for_an_unknown_employee_is_refused(data_dir: Path) -> None:
    run("org", "load", str(EXAMPLE_ORG), "--data", str(data_dir))

    code, out, err = run("token", "e-404", "--data", str(data_dir))

    assert code == 1
    assert out == ""
    assert "no employee e-404" in err


def test_no_token_for_someone_who_has_left(data_dir: Path, tmp_path: Path) -> None:
    left = tmp_path / "left.yaml"
    left.write_text(
        EXAMPLE_ORG.read_text().replace(
            "    start_date: 2020-01-01\n  - id: e-101",
            "    start_date: 2020-01-01\n    end_date: 2021-06-30\n  - id: e-101",
            1,
        )
    )
    assert run("org", "load", str(left), "--data", str(data_dir))[0] == 0

    code, out, err = run("token", "e-100", "--data", str(data_dir))

    assert code == 1
    assert out == ""
    assert "e-100 left on 2021-06-30" in err


def test_a_file_without_the_end_date_gives_nobody_their_sign_in_back(
    data_dir: Path, tmp_path: Path
) -> None:
    left = tmp_path / "left.yaml"
    left.write_text(EXAMPLE_ORG.read_text().replace(ADA_STARTS, ADA_STARTS + ADA_LEFT, 1))
    run("org", "load", str(left), "--data", str(data_dir))

    code, _, _ = run("org", "load", str(EXAMPLE_ORG), "--data", str(data_dir))

    assert code == 0
    assert "e-100 left on 2021-06-30" in run("token", "e-100", "--data", str(data_dir))[2]


def test_the_report_shows_a_reinstatement_with_the_last_day_it_clears(
    data_dir: Path, tmp_path: Path
) -> None:
    left, back = tmp_path / "left.yaml", tmp_path / "back.yaml"
    left.write_text(EXAMPLE_ORG.read_text().replace(ADA_STARTS, ADA_STARTS + ADA_LEFT, 1))
    back.write_text(EXAMPLE_ORG.read_text().replace(ADA_STARTS, ADA_STARTS + "    end_date:\n"))
    run("org", "load", str(left), "--data", str(data_dir))

    code, out, _ = run("org", "load", str(back), "--data", str(data_dir))

    assert code == 0
    assert out.splitlines()[1:] == ["  employee e-100: end_date 2021-06-30 -> (none)"]


def test_a_delegation_ended_before_today_is_refused_naming_its_last_day(
    data_dir: Path, tmp_path: Path
) -> None:
    ended = tmp_path / "ended.yaml"
    ended.write_text(EXAMPLE_ORG.read_text().replace("end: 2030-07-26", "end: 2025-07-30"))
    ended.write_text(ended.read_text().replace("start: 2030-07-15", "start: 2025-07-19"))

    code, _, err = run("org", "load", str(ended), "--data", str(data_dir))

    assert code == 1
    assert "delegation alan-summer-2030 ended on 2025-07-30, before today" in err
    assert "nothing was recorded" in err
    assert recorded_events(data_dir) == 0


def test_an_org_file_breaking_several_rules_is_refused_naming_each_with_its_line(
    data_dir: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    text = EXAMPLE_ORG.read_text().replace("head: e-020", "head: e-999")
    text = text.replace("  cfo: [e-001]", "  cfo: [e-001, e-404]")
    bad.write_text(text.replace("to: e-020", "to: e-010"))

    code, _, err = run("org", "load", str(bad), "--data", str(data_dir))

    assert code == 1
    assert err.splitlines() == [
        f"error: {bad} line 15: department d-people: head e-999 does not exist",
        f"{bad} line 84: role cfo: member e-404 does not exist",
        f"{bad} line 105: delegation alan-summer-2030: nobody delegates to themselves",
        f"{bad}: nothing was recorded",
    ]
    assert recorded_events(data_dir) == 0


def test_the_report_warns_of_a_manager_who_leaves_and_still_manages_people(
    data_dir: Path, tmp_path: Path
) -> None:
    alan_leaves = tmp_path / "leaves.yaml"
    alan_starts = "    start_date: 2018-09-01\n"
    alan_leaves.write_text(
        EXAMPLE_ORG.read_text().replace(alan_starts, alan_starts + "    end_date: 2099-12-31\n")
    )

    code, out, _ = run("org", "load", str(alan_leaves), "--data", str(data_dir))

    assert code == 0
    assert out.splitlines()[-2:] == [
        "warning: e-010 leaves on 2099-12-31 and still manages e-100, e-101",
        "warning: department d-eng: its head e-010 leaves on 2099-12-31",
    ]


def test_projections_rebuild_reports_progress_and_what_it_rebuilt(data_dir: Path) -> None:
    run("org", "load", str(EXAMPLE_ORG), "--data", str(data_dir))

    code, out, err = run("projections", "rebuild", "--data", str(data_dir))

    assert code == 0
    assert "26/26 events" in err
    assert "rebuilt employee_directory" in out


def test_a_rebuild_resumed_says_what_it_replayed_now_and_what_before(data_dir: Path) -> None:
    """Killed after its replay had reached the end of the log (or while `up` caught the
    read models up): run again, it finishes and says so, rather than "from 0 events"
    (an empty store, it would seem)."""
    run("org", "load", str(EXAMPLE_ORG), "--data", str(data_dir))
    store_url = Settings(data_dir=data_dir).store_url
    with ProjectionRunner(store_url) as killed:
        killed.rebuild(["inbox", "leave_balances"], processes=1)
        with killed._db.transaction() as cursor:  # as its mark is left when killed
            tracking.start_rebuild(cursor, "inbox")
            tracking.start_rebuild(cursor, "leave_balances")

    code, out, err = run(
        "projections", "rebuild", "inbox", "leave_balances", "--data", str(data_dir)
    )

    assert code == 0, err
    assert "resuming the interrupted rebuild of inbox, leave_balances" in err
    assert out.splitlines()[-1] == (
        "rebuilt inbox, leave_balances: resumed where it was interrupted, 0 more events"
    )


@pytest.mark.parametrize(
    ("processes", "helpers_expected"),
    [(["--processes", "2"], 1), ([], DEFAULT_REBUILD_PROCESSES - 1)],
    ids=["asked", "default"],
)
def test_projections_rebuild_shares_the_read_models_among_processes(
    data_dir: Path,
    processes: list[str],
    helpers_expected: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """By default as many processes as the machine has cores, up to two."""
    run("org", "load", str(EXAMPLE_ORG), "--data", str(data_dir))
    helpers: list[object] = []
    start_helper = ProjectionRunner._start_helper

    def counted(runner: ProjectionRunner, share: list[Any]) -> Any:
        helpers.append(share)
        return start_helper(runner, share)

    monkeypatch.setattr(ProjectionRunner, "_start_helper", counted)

    code, out, err = run("projections", "rebuild", *processes, "--data", str(data_dir))

    assert code == 0, err
    assert len(helpers) == helpers_expected
    assert "from 26 events" in out
    with ProjectionRunner(Settings(data_dir=data_dir).store_url) as runner:
        assert runner.resuming() == []
        assert runner.catch_up() == 0  # every read model is at the end of the log


def test_rebuilding_an_unknown_read_model_names_the_known_ones(data_dir: Path) -> None:
    run("org", "load", str(EXAMPLE_ORG), "--data", str(data_dir))

    code, _, err = run("projections", "rebuild", "nonsense", "--data", str(data_dir))

    assert code == 1
    assert "inbox" in err


READING_COMMANDS = {
    "token": ["token", "e-100"],
    "users set-password": ["users", "set-password", "e-100", "--password-stdin"],
    "projections rebuild": ["projections", "rebuild"],
    "audit export": ["audit", "export"],
    "audit aggregate": ["audit", "aggregate", "6f1c3a52-53a4-4f7e-9d0b-3c6a2f1e8b47"],
    "audit verify-projections": ["audit", "verify-projections"],
}


@pytest.mark.parametrize("command", READING_COMMANDS.values(), ids=READING_COMMANDS.keys())
def test_a_command_on_a_folder_without_a_store_says_so_and_creates_nothing(
    data_dir: Path, command: list[str]
) -> None:
    code, out, err = run(*command, "--data", str(data_dir))

    assert code == 1, err
    assert out == ""
    assert f"no event store at {data_dir / 'backoffice.db'}" in err
    assert not data_dir.exists()


@pytest.mark.parametrize(
    "command",
    [*READING_COMMANDS.values(), ["audit", "verify"]],
    ids=[*READING_COMMANDS.keys(), "audit verify"],
)
@pytest.mark.parametrize("content", ["another database", "not a database"])
def test_a_command_on_a_file_that_is_not_an_event_store_says_so_and_changes_nothing(
    data_dir: Path, command: list[str], content: str
) -> None:
    data_dir.mkdir()
    store = data_dir / "backoffice.db"
    if content == "another database":
        with closing(sqlite3.connect(store)) as other:
            other.execute("CREATE TABLE x (a)")
    else:
        store.write_text("these are not the droids you are looking for")
    before = store.read_bytes()

    code, out, err = run(*command, "--data", str(data_dir))

    assert code == (2 if command == ["audit", "verify"] else 1), err
    assert out == ""
    expected = "is not a SQLite database" if content == "not a database" else "holds no event store"
    assert err.startswith(f"error: {store} {expected}"), err
    assert store.read_bytes() == before
    assert sorted(path.name for path in data_dir.iterdir()) == ["backoffice.db"]


@pytest.mark.parametrize(
    "command",
    [*READING_COMMANDS.values(), ["audit", "verify"]],
    ids=[*READING_COMMANDS.keys(), "audit verify"],
)
def test_a_command_on_a_postgres_schema_without_a_store_says_so_and_creates_nothing(
    data_dir: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("BACKOFFICE_DATABASE_URL", postgres_url)
    schema = StoreLocation(postgres_url).postgres_schema

    code, out, err = run(*command, "--data", str(data_dir))

    assert code == (2 if command == ["audit", "verify"] else 1), err
    assert out == ""
    assert f"no event store in PostgreSQL schema {schema} of database test" in err
    with psycopg.connect(StoreLocation(postgres_url).psycopg_conninfo()) as connection:
        tables = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchall()
    assert tables == []


@pytest.mark.parametrize(
    ("command", "exit_code"),
    [
        (["audit", "export"], 1),
        (["audit", "verify"], 2),
        (["org", "load", str(EXAMPLE_ORG)], 1),
        (["up", "--port", "8999"], 1),  # its --data is a file: were the store let through,
    ],  # ``up`` would stop there, never starting anything
    ids=["audit export", "audit verify", "org load", "up"],
)
def test_a_command_on_a_postgres_server_that_does_not_answer_says_so(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], exit_code: int
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("BACKOFFICE_DATABASE_URL", f"postgresql://postgres@127.0.0.1:{port}/test")

    blocked = data_dir.parent / "a-file"
    blocked.write_text("not a folder")
    data = blocked / "data" if command[0] == "up" else data_dir

    code, out, err = run(*command, "--data", str(data))

    assert code == exit_code
    assert out == ""
    assert err.startswith(f"error: cannot reach the event store's PostgreSQL at 127.0.0.1:{port}")
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "command",
    [["org", "load", str(EXAMPLE_ORG)], ["up", "--port", "8999"]],  # up: as above
    ids=["org load", "up"],
)
def test_a_command_on_a_postgres_schema_that_does_not_exist_says_so(
    data_dir: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    missing = f"t_{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("BACKOFFICE_DATABASE_URL", f"{postgres_url.split('?')[0]}?schema={missing}")
    blocked = data_dir.parent / "a-file"
    blocked.write_text("not a folder")
    data = blocked / "data" if command[0] == "up" else data_dir

    code, out, err = run(*command, "--data", str(data))

    assert code == 1, err
    assert out == ""
    assert err.startswith(f"error: PostgreSQL has no schema {missing} in database test"), err
    assert f"CREATE SCHEMA {missing}" in err


@pytest.mark.parametrize(
    ("command", "option"),
    [(["projections", "rebuild", "--into"], "--into"), (["audit", "export", "-o"], "--output")],
    ids=["rebuild into", "export to"],
)
def test_writing_into_a_folder_that_does_not_exist_is_refused(
    data_dir: Path, tmp_path: Path, command: list[str], option: str
) -> None:
    run("org", "load", str(EXAMPLE_ORG), "--data", str(data_dir))
    missing = tmp_path / "missing" / "file"

    code, _, err = run(*command, str(missing), "--data", str(data_dir))

    assert code == 1
    assert f"{option}: there is no folder {missing.parent}" in err


@pytest.mark.parametrize(
    "target",
    ["another store", "a folder", "a text file", "another database", "the store's log"],
)
def test_rebuilding_read_models_into_what_is_not_a_file_of_their_own_is_refused(
    data_dir: Path, tmp_path: Path, target: str
) -> None:
    run("org", "load", str(EXAMPLE_ORG), "--data", str(data_dir))
    if target == "another store":
        into = tmp_path / "other.db"
        shutil.copy(data_dir / "backoffice.db", into)
        expected = f"--into {into} holds an event store; give a file of its own"
    elif target == "another database":  # such as the Temporal dev server's, in the folder
        into = data_dir / "temporal.db"
        with closing(sqlite3.connect(into)) as connection:
            connection.execute("CREATE TABLE executions (id TEXT)")
        expected = f"--into {into} holds other tables than read models; give a file of its own"
    elif target == "the store's log":  # empty once SQLite has moved it into the store
        into = data_dir / "backoffice.db-wal"
        into.write_bytes(b"")
        expected = "--into names a file SQLite keeps beside the live store's; choose another"
    elif target == "a folder":
        into = tmp_path / "folder"
        into.mkdir()
        expected = f"--into {into} is a folder; give a file name in it"
    else:
        into = tmp_path / "notes.txt"
        into.write_text("my notes")
        expected = f"--into {into} is not a SQLite database"
    before = into.read_bytes() if into.is_file() else None

    code, out, err = run(
        "projections", "rebuild", "--until", "2026-01-01T00:00Z", "--into", str(into),
        "--data", str(data_dir),
    )  # fmt: skip

    assert code == 1, err
    assert out == ""
    assert err.startswith(f"error: {expected}"), err
    assert (into.read_bytes() if into.is_file() else None) == before


def test_rebuilding_read_models_into_a_postgres_schema_holding_a_store_is_refused(
    data_dir: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKOFFICE_DATABASE_URL", postgres_url)
    run("org", "load", str(EXAMPLE_ORG), "--data", str(data_dir))
    other = f"t_{uuid.uuid4().hex[:12]}"
    conninfo = StoreLocation(postgres_url).psycopg_conninfo()
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {other}")
    try:
        other_url = f"{postgres_url.split('?')[0]}?schema={other}"
        BackofficeApplication(env=StoreLocation(other_url).eventsourcing_env()).close()

        code, out, err = run(
            "projections", "rebuild", "--until", "2026-01-01T00:00Z", "--into", other,
            "--data", str(data_dir),
        )  # fmt: skip

        assert code == 1, err
        assert out == ""
        assert err.startswith(f"error: --into {other} holds an event store"), err
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {other} CASCADE")


def test_exporting_to_a_folder_is_refused(data_dir: Path, tmp_path: Path) -> None:
    run("org", "load", str(EXAMPLE_ORG), "--data", str(data_dir))

    code, out, err = run("audit", "export", "-o", str(tmp_path), "--data", str(data_dir))

    assert code == 1, err
    assert out == ""
    assert err.startswith(f"error: --output {tmp_path} is a folder; give a file name in it"), err


@pytest.mark.parametrize("port", ["0", "65536", "99999"])
def test_up_refuses_a_port_that_cannot_exist_before_doing_anything(
    tmp_path: Path, port: str
) -> None:
    blocked = tmp_path / "a-file"  # were the port let through, ``up`` would stop here
    blocked.write_text("not a folder")

    code, _, err = run("up", "--port", port, "--data", str(blocked / "data"))

    assert code == 2, err
    assert "--port" in err


def test_up_says_when_it_cannot_make_its_data_folder(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")

    code, _, err = run("up", "--data", str(blocked / "data"))

    assert code == 1
    assert f"cannot make the data folder {blocked / 'data'}" in err


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("BACKOFFICE_COMMAND_TIMEOUT", "-1", "BACKOFFICE_COMMAND_TIMEOUT: Input should be greater"),
        ("BACKOFFICE_API_PORT", "eighty", "BACKOFFICE_API_PORT: Input should be a valid integer"),
        (
            "BACKOFFICE_DATABASE_URL",
            "mysql://db.internal/backoffice",
            "BACKOFFICE_DATABASE_URL: a sqlite:///PATH or postgresql://",
        ),
        (
            "BACKOFFICE_DATABASE_URL",
            "postgresql://app@db.internal/backoffice?sslmode=require",
            "BACKOFFICE_DATABASE_URL: the parameter sslmode is not one the store takes"
            " (only schema); the PostgreSQL client reads its own settings, such as"
            " PGSSLMODE, from the environment",
        ),
    ],
    ids=["negative wait", "port not a number", "another database", "unknown parameter"],
)
def test_a_setting_that_cannot_be_used_is_named_with_what_is_wrong_before_anything_is_done(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, said: str
) -> None:
    monkeypatch.setenv(variable, value)

    code, out, err = run("org", "load", str(EXAMPLE_ORG), "--data", str(data_dir))

    assert (code, out) == (1, "")
    assert err.startswith(f"error: {said}"), err
    assert "Traceback" not in err
    assert not data_dir.exists()


def test_a_password_given_in_the_store_s_url_is_never_shown_in_the_refusal(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKOFFICE_DATABASE_URL", "postgresql://app@db/bo?password=s3cret")

    code, _out, err = run("org", "load", str(EXAMPLE_ORG), "--data", str(data_dir))

    assert code == 1
    assert "the parameter password is not one the store takes" in err
    assert "s3cret" not in err


def test_an_empty_database_url_means_the_default_store(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a .env template or a compose file often leaves it."""
    monkeypatch.setenv("BACKOFFICE_DATABASE_URL", "")

    code, _out, err = run("org", "load", str(EXAMPLE_ORG), "--data", str(data_dir))

    assert code == 0, err
    assert f"recorded in sqlite:///{(data_dir / 'backoffice.db').resolve()}" in err


def test_a_schema_named_empty_is_refused(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKOFFICE_DATABASE_URL", "postgresql://app@db/bo?schema=")

    code, _out, err = run("org", "load", str(EXAMPLE_ORG), "--data", str(data_dir))

    assert code == 1
    assert "BACKOFFICE_DATABASE_URL: schema= names no schema" in err


def test_every_option_that_takes_a_value_names_what_it_takes_in_the_help() -> None:
    # `<str>` or `<path>` beside an option tells a reader nothing: an instant, a file, a
    # HOST:PORT? Flags take no value, and a choice lists its values by itself.
    def unnamed(command: Any, path: str) -> list[str]:
        if hasattr(command, "commands"):
            return [
                found
                for name, sub in command.commands.items()
                for found in unnamed(sub, f"{path} {name}")
            ]
        return [
            f"{path} {param.opts[0]}"
            for param in command.params
            if param.param_type_name == "option"
            and not param.is_flag
            and param.metavar is None
            and not param.type_descriptor.is_choice
        ]

    assert unnamed(typer.main.get_command(app), "backoffice") == []

    code, shown, _ = run("audit", "record-history", "--help")
    assert code == 0
    assert re.search(r"--into +DIR ", shown) and re.search(r"--temporal-address +HOST:PORT ", shown)


@pytest.mark.parametrize("group", [[], ["org"], ["projections"], ["users"], ["audit"]])
def test_each_command_is_summed_up_on_one_line_in_its_groups_help(group: list[str]) -> None:
    # A summary written over several lines of its docstring was listed broken where they
    # broke ("Killed half way, the" alone on its line), however wide the terminal.
    result = CliRunner().invoke(app, [*group, "--help"], env={"COLUMNS": "250"})

    rows = result.stdout.split("Commands")[1].splitlines()[1:-1]
    assert rows
    assert [row for row in rows if row.startswith("│  ")] == []
