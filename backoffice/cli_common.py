"""What every ``backoffice`` command shares: the ``--data`` option, the settings it
selects, instants given on the command line (up to now where the answer for a later one
could still change), and failing with a message."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from backoffice.settings import Settings
from services.store import StoreLocation

DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data", metavar="DIR", help="Data folder (default ./var, or BACKOFFICE_DATA_DIR)."
    ),
]


def settings_for(data: Path | None, **overrides: Any) -> Settings:
    """The settings, with ``--data`` and any other option given on the command line."""
    values = {key: value for key, value in overrides.items() if value is not None}
    if data is not None:
        values["data_dir"] = data
    try:
        return Settings(**values)
    except ValidationError as error:
        raise fail(settings_refused(error)) from None


def settings_refused(error: ValidationError) -> str:
    """``BACKOFFICE_API_PORT: Input should be a valid integer``: each setting that cannot
    be used, by the name it is set with (its value not repeated: it may be a secret)."""
    problems = []
    for problem in error.errors():
        name = f"BACKOFFICE_{str(problem['loc'][0]).upper()}" if problem["loc"] else "settings"
        message = problem["msg"].removeprefix("Value error, ")
        problems.append(f"{name}: {message}")
    return "; ".join(problems)


_temporal = threading.Event()


def connecting_to_temporal() -> None:
    """Called by a command before it connects to Temporal (see ``backoffice.cli.main``)."""
    _temporal.set()


def temporal_connected() -> bool:
    return _temporal.is_set()


def fail(message: str, code: int = 1) -> typer.Exit:
    """Say what went wrong on standard error; raise the result to exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def data_folder(settings: Settings) -> Path:
    """The data folder, made if it is missing; fail saying why it cannot be made."""
    try:
        return settings.ensure_data_dir()
    except OSError as error:
        raise fail(
            f"cannot make the data folder {settings.data_dir}: {error.strerror or error}"
        ) from error


SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
"""What SQLite keeps beside a database's file, by the ending of its name."""


def existing_store(settings: Settings, code: int = 1) -> None:
    """Fail (exit ``code``) unless the event store exists: a command that reads the
    history never makes an empty one (run in another folder, it would read nothing and
    leave a var/ there; given a PostgreSQL schema without a store, it would make the
    tables there)."""
    from services.hash_chain import SQLITE_EVENTS_TABLE  # not at start-up: psycopg

    store = settings.store
    if store.is_postgres:
        _existing_postgres_store(store, code)
        return
    path = store.sqlite_path
    if not path.is_file():
        raise fail(
            f"no event store at {path}; give --data the folder `backoffice up`"
            " uses, or record the organisation there first with `backoffice org load`",
            code,
        )
    try:
        tables = sqlite_tables(path)
    except sqlite3.DatabaseError as error:
        raise fail(
            f"{path} is not a SQLite database ({error}); give --data another folder", code
        ) from None
    if SQLITE_EVENTS_TABLE not in tables:
        raise fail(
            f"{path} holds no event store (no {SQLITE_EVENTS_TABLE} table); give --data the"
            " folder `backoffice up` uses",
            code,
        )


def sqlite_tables(path: Path) -> set[str]:
    """The tables of the SQLite file at ``path``, opened read-only (nothing is made);
    ``sqlite3.DatabaseError`` if it is not a SQLite database."""
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {str(name) for (name,) in rows}


def reachable_store(settings: Settings) -> None:
    """Fail unless the event store can be written where the settings say: a PostgreSQL
    server that answers (at once, not after the connection pool's timeout), or a SQLite
    file that is missing (it is made) or holds an event store, never another database."""
    store = settings.store
    if store.is_postgres:
        if not postgres_holds_store(store, 1):
            _existing_postgres_schema(store)
    elif store.sqlite_path.is_file() and store.sqlite_path.stat().st_size:
        existing_store(settings)  # an empty file is an empty database: it is made one


def _existing_postgres_schema(store: StoreLocation) -> None:
    """Fail unless the location's schema exists: the store's tables are made in it, the
    schema itself is not (whoever runs the database makes it)."""
    import psycopg

    env, schema = store.eventsourcing_env(), store.postgres_schema
    with psycopg.connect(store.psycopg_conninfo(), connect_timeout=5) as connection:
        row = connection.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)
        ).fetchone()
    if row is None:
        raise fail(
            f"PostgreSQL has no schema {schema} in database {env['POSTGRES_DBNAME']} at"
            f" {env['POSTGRES_HOST']}:{env['POSTGRES_PORT']}; create it (CREATE SCHEMA"
            f" {schema}), or name another in BACKOFFICE_DATABASE_URL"
        )


def _existing_postgres_store(store: StoreLocation, code: int) -> None:
    if not postgres_holds_store(store, code):
        env = store.eventsourcing_env()
        raise fail(
            f"no event store in PostgreSQL schema {store.postgres_schema} of database"
            f" {env['POSTGRES_DBNAME']} at {env['POSTGRES_HOST']}:{env['POSTGRES_PORT']};"
            " check BACKOFFICE_DATABASE_URL, or record the organisation there first with"
            " `backoffice org load`",
            code,
        )


def postgres_holds_store(store: StoreLocation, code: int = 1) -> bool:
    """Whether the location's schema holds an event store; fail (exit ``code``) if the
    server does not answer."""
    import psycopg

    from services.hash_chain import POSTGRES_EVENTS_TABLE

    env = store.eventsourcing_env()
    try:
        with psycopg.connect(store.psycopg_conninfo(), connect_timeout=5) as connection:
            row = connection.execute("SELECT to_regclass(%s)", (POSTGRES_EVENTS_TABLE,)).fetchone()
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise fail(
            f"cannot reach the event store's PostgreSQL at"
            f" {env['POSTGRES_HOST']}:{env['POSTGRES_PORT']}"
            f" (database {env['POSTGRES_DBNAME']}): {reason}",
            code,
        ) from None
    return row is not None and row[0] is not None


def require_employee(settings: Settings, employee_id: str) -> None:
    """Fail unless there is a store and its directory has ``employee_id``, still employed
    (the API refuses anyone who has left)."""
    from services.application import BackofficeApplication

    existing_store(settings)
    application = BackofficeApplication(env=settings.store.eventsourcing_env())
    try:
        employee = application.find_employee(employee_id)
    finally:
        application.close()
    if employee is None:
        raise fail(f"no employee {employee_id}; load the organisation with `backoffice org load`")
    profile = employee.profile
    if profile.end_date is not None and profile.has_left_by(datetime.now(UTC).date()):
        raise fail(
            f"{employee_id} left on {profile.end_date.isoformat()}; the API would refuse them"
        )


def instant(text: str | None, name: str) -> datetime | None:
    """An ISO 8601 instant with its UTC offset, given as option ``name``."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise fail(
            f"{name}: {text!r} is not an ISO 8601 instant, such as 2027-03-01T12:00Z"
        ) from None
    if moment.tzinfo is None:
        raise fail(f"{name}: give the UTC offset, such as 2027-03-01T12:00:00Z")
    return moment


def known_up_to_now(moment: datetime | None, what: str, instead: str) -> datetime | None:
    """``moment``, unless it is after now: fail then in the words the API refuses it with
    (422 ``instant_in_the_future``), as what is recorded until then would change the
    answer. ``instead`` names the option: ``leave --at out for it now``."""
    from domain.errors import RuleViolation
    from services import time_travel

    if moment is not None:
        try:
            time_travel.known_up_to_now(moment, what, instead)
        except RuleViolation as refusal:
            raise fail(refusal.message) from None
    return moment


class Commands(TyperGroup):
    """The ``backoffice`` command group: an event the store can no longer decode fails
    any command that reads it with a message, not a traceback."""

    def invoke(self, ctx: Any) -> Any:  # typer's own click Context, not public
        try:
            return super().invoke(ctx)
        except ValueError as error:
            from eventsourcing.persistence import MapperDeserialisationError

            if not isinstance(error, MapperDeserialisationError):
                raise
            from services.store import unreadable_event

            raise fail(unreadable_event(error)) from None
