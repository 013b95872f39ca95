"""The ``backoffice`` command."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from backoffice import audit_tools
from backoffice.audit_cli import audit_app
from backoffice.cli_common import (
    SQLITE_COMPANIONS,
    Commands,
    DataOption,
    data_folder,
    existing_store,
    fail,
    instant,
    known_up_to_now,
    postgres_holds_store,
    reachable_store,
    require_employee,
    settings_for,
    sqlite_tables,
    temporal_connected,
)
from backoffice.settings import Settings
from backoffice.users_cli import users_app
from services.store import StoreLocation

app = typer.Typer(
    cls=Commands,
    no_args_is_help=True,
    add_completion=False,
    help="Backoffice workflow engine.",
)
org_app = typer.Typer(
    no_args_is_help=True,
    help="The organisation: departments, employees, roles, limits and delegations.",
)
projections_app = typer.Typer(no_args_is_help=True, help="Read models built from the events.")
app.add_typer(org_app, name="org")
app.add_typer(projections_app, name="projections")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
audit_tools.register(audit_app)


@app.command()
def up(
    data: DataOption = None,
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, metavar="PORT", help="Port of the HTTP API (default 8000)."),
    ] = None,
    temporal_address: Annotated[
        str | None,
        typer.Option(
            metavar="HOST:PORT",
            help="HOST:PORT of an existing Temporal; default: start the dev server.",
        ),
    ] = None,
) -> None:
    """Run everything: Temporal dev server, worker, projections and the HTTP API."""
    from backoffice.logs import configure_logging
    from backoffice.stack import run_stack

    configure_logging("WARNING")
    settings = settings_for(data, api_port=port, temporal_address=temporal_address)
    reachable_store(settings)
    data_folder(settings)
    try:
        asyncio.run(run_stack(settings))
    except RuntimeError as error:
        raise fail(str(error)) from error


@org_app.command("load")
def org_load(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="YAML organisation file (examples/org.yaml).")
    ],
    data: DataOption = None,
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            metavar="EMPLOYEE_ID",
            help="Who loads it, recorded as the author of its changes (default: system).",
        ),
    ] = None,
) -> None:
    """Record the organisation of FILE: departments, employees, roles, limits, delegations.

    What is new, and the changed fields of what is known. Reports each change,
    old -> new, and warns of people who leave while holding a place."""
    from backoffice.org_file import OrgFileError, describe, read_org_file
    from domain.errors import DomainError
    from domain.meta import SYSTEM, Meta
    from domain.organisation import ChartRefused
    from services.application import BackofficeApplication

    settings = settings_for(data)
    try:
        org = read_org_file(file)
    except OrgFileError as error:
        raise fail(str(error)) from error
    chart = org.chart
    data_folder(settings)
    reachable_store(settings)
    application = BackofficeApplication(env=settings.store.eventsourcing_env())
    meta = Meta(
        actor=by or SYSTEM, command_id=f"org-load/{uuid.uuid4()}", correlation_id="org-load"
    )
    try:
        known = application.directory.current().employees
        if (
            by is not None
            and by not in known
            and by not in {e.employee_id for e in chart.employees}
        ):
            raise fail(
                f"--by {by}: no such employee, in the directory or in the file;"
                " nothing was recorded"
            )
        change = application.change_directory(
            chart, datetime.now(UTC).date(), lambda chart: application.load_directory(chart, meta)
        )
    except ChartRefused as error:
        raise fail(f"{org.refusal(error)}\n{file}: nothing was recorded") from error
    except DomainError as error:
        raise fail(f"{file}: {error.message}; nothing was recorded") from error
    finally:
        application.close()
    typer.echo(
        f"{file}: {len(chart.employees)} employees read, {len(change.changes)} new or changed"
    )
    for item in change.changes:
        typer.echo(f"  {describe(item)}")
    for warning in change.warnings:
        typer.echo(f"warning: {warning}")
    typer.echo(f"recorded in {settings.store.shown}", err=True)


@app.command()
def token(
    employee_id: Annotated[
        str, typer.Argument(metavar="EMPLOYEE_ID", help="The employee the token is for.")
    ],
    data: DataOption = None,
) -> None:
    """Print a bearer token for EMPLOYEE_ID (and nothing else) on standard output."""
    from api.auth import issue_token

    settings = settings_for(data)
    if settings.uses_identity_provider:
        raise fail("tokens come from the identity provider (BACKOFFICE_JWKS_FILE / _URL is set)")
    require_employee(settings, employee_id)
    typer.echo(issue_token(settings, employee_id))


DEFAULT_REBUILD_PROCESSES = min(
    2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
)
"""Two processes rebuild the read models about 1.3 to 1.5 times as fast as one (see
docs/performance.md); more add little, as each reads and decodes the whole log."""


@projections_app.command("rebuild")
def projections_rebuild(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="NAME",
            help="Read models to rebuild (default: all): employee_directory, inbox,"
            " leave_balances, team_calendar, leave_cases, audit_log.",
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            metavar="INSTANT",
            help="Only the events recorded up to this instant (ISO 8601, up to now); needs --into.",
        ),
    ] = None,
    into: Annotated[
        str | None,
        typer.Option(
            metavar="FILE_OR_SCHEMA",
            help="Build a copy here instead of the live read models: a SQLite file, or a"
            " PostgreSQL schema name when the store is PostgreSQL.",
        ),
    ] = None,
    processes: Annotated[
        int,
        typer.Option(
            min=1,
            metavar="N",
            help="Share the read models out among this many processes, each replaying the"
            " log into its share (the audit log is about half the work); by default two,"
            " or one on a machine with a single core.",
        ),
    ] = DEFAULT_REBUILD_PROCESSES,
    data: DataOption = None,
) -> None:
    """Rebuild read models from the events, with a progress bar.

    Killed half way, the same command resumes where it stopped and counts
    nothing twice. With --into (and --until) it builds a copy as of a past
    instant and leaves the live ones untouched."""
    from backoffice.audit_tools import Bar
    from projections.registry import all_projections
    from projections.runner import ProjectionRunner, UnknownProjection

    moment = instant(until, "--until")
    if moment is not None and into is None:
        raise fail("--until builds a copy: give --into FILE (or a PostgreSQL schema)")
    known_up_to_now(
        moment, "a copy of the read models", "leave --until out for one as they are now"
    )
    settings = settings_for(data)
    existing_store(settings)
    target = None if into is None else _copy_url(settings, into)
    bar = Bar("events")
    known = all_projections()
    # A copy holds the read models asked for, and only those.
    chosen_only = [p for p in known if names and p.name in names] if target else None
    if target is not None and names and len(chosen_only or []) < len(set(names)):
        unknown = sorted(set(names) - {p.name for p in known})
        raise fail(
            f"no projection named {', '.join(unknown)};"
            f" known read models: {', '.join(p.name for p in known)}"
        )
    with ProjectionRunner(
        settings.store_url, into=target, until=moment, projections=chosen_only or None
    ) as runner:
        chosen = names or runner.names
        resumed = [name for name in runner.resuming() if name in chosen]
        if resumed:
            typer.echo(f"resuming the interrupted rebuild of {', '.join(resumed)}", err=True)
        try:
            count = runner.rebuild(names or None, progress=bar, processes=processes)
        except UnknownProjection as error:
            raise fail(f"{error}; known read models: {', '.join(runner.names)}") from error
        except RuntimeError as error:  # a helper process of --processes stopped
            raise fail(str(error)) from error
        finally:
            bar.close()
    where = "" if target is None else f" into {into}"
    as_of = "" if moment is None else f" as of {moment.isoformat()}"
    done = f"rebuilt {', '.join(chosen)}{where}{as_of}"
    if set(chosen) <= set(resumed):  # the events before, the interrupted run replayed
        typer.echo(f"{done}: resumed where it was interrupted, {count} more events")
    else:
        typer.echo(f"{done} from {count} events")


def _copy_url(settings: Settings, into: str) -> str:
    """Where a copy of read models goes: a schema beside the store's on PostgreSQL,
    otherwise a SQLite file (refusing the live store's own file)."""
    store = settings.store
    if store.is_postgres:
        if not into.isidentifier():
            raise fail(f"--into {into!r}: give a PostgreSQL schema name (letters, digits, _)")
        if into == store.postgres_schema:
            raise fail("--into names the live store's own schema; choose another")
        copy = f"{store.url.split('?')[0]}?schema={into}"
        if postgres_holds_store(StoreLocation(copy)):
            raise fail(
                f"--into {into} holds an event store; give a schema of its own for the copy"
                " (a new one, or one an earlier copy made)"
            )
        return copy
    path, live = Path(into).resolve(), store.sqlite_path.resolve()
    if path == live:
        raise fail("--into names the live store's own file; choose another")
    if path in {live.with_name(live.name + suffix) for suffix in SQLITE_COMPANIONS}:
        raise fail("--into names a file SQLite keeps beside the live store's; choose another")
    if path.is_dir():
        raise fail(f"--into {into} is a folder; give a file name in it")
    if not path.parent.is_dir():
        raise fail(f"--into: there is no folder {path.parent}")
    if path.exists():
        _copy_of_read_models_only(into, path)
    return f"sqlite:///{path}"


def _copy_of_read_models_only(into: str, path: Path) -> None:
    """Fail unless the SQLite file at ``path`` may take a copy of the read models: one
    an earlier copy made, never another store (whose own read models it would overwrite)."""
    from services.hash_chain import SQLITE_EVENTS_TABLE

    try:
        tables = sqlite_tables(path)
    except sqlite3.DatabaseError:
        raise fail(f"--into {into} is not a SQLite database; give a file of its own") from None
    if SQLITE_EVENTS_TABLE in tables:
        raise fail(
            f"--into {into} holds an event store; give a file of its own for the copy"
            " (a new one, or one an earlier copy made)"
        )
    if tables and "projection_tracking" not in tables:  # another program's database
        raise fail(
            f"--into {into} holds other tables than read models; give a file of its own for"
            " the copy (a new one, or one an earlier copy made)"
        )


def main() -> None:
    """The ``backoffice`` command. After a command that connected to Temporal, the
    process ends without the interpreter's teardown, in which the SDK's threads could
    abort it (exit 134 now and again, temporalio/sdk-python#300)."""
    try:
        app()
    except SystemExit as done:
        if not temporal_connected():
            raise
        code = done.code if isinstance(done.code, int) else 0 if done.code is None else 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
