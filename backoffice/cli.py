"""The ``backoffice`` command."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from backoffice.settings import Settings
from backoffice.users_cli import users_app

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Backoffice workflow engine.")
org_app = typer.Typer(no_args_is_help=True, help="The organisation: employees and managers.")
projections_app = typer.Typer(no_args_is_help=True, help="Read models built from the events.")
app.add_typer(org_app, name="org")
app.add_typer(projections_app, name="projections")
app.add_typer(users_app, name="users")

DataOption = Annotated[
    Path | None,
    typer.Option("--data", help="Data folder (default ./var, or BACKOFFICE_DATA_DIR)."),
]


def _settings(data: Path | None, **overrides: Any) -> Settings:
    values = {key: value for key, value in overrides.items() if value is not None}
    if data is not None:
        values["data_dir"] = data
    return Settings(**values)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


@app.command()
def up(
    data: DataOption = None,
    port: Annotated[int | None, typer.Option(help="Port of the HTTP API (default 8000).")] = None,
    temporal_address: Annotated[
        str | None,
        typer.Option(help="HOST:PORT of an existing Temporal; default: start the dev server."),
    ] = None,
) -> None:
    """Run everything: Temporal dev server, worker, projections and the HTTP API."""
    from backoffice.logs import configure_logging
    from backoffice.stack import run_stack

    configure_logging("WARNING")
    settings = _settings(data, api_port=port, temporal_address=temporal_address)
    try:
        asyncio.run(run_stack(settings))
    except RuntimeError as error:
        raise _fail(str(error)) from error


@org_app.command("load")
def org_load(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="YAML file with an `employees:` list.")
    ],
    data: DataOption = None,
) -> None:
    """Record the employees of FILE: new ones, and changed fields of known ones."""
    from backoffice.org_file import OrgFileError, parse_org_file
    from domain.errors import DomainError
    from domain.meta import Meta
    from services.application import BackofficeApplication

    settings = _settings(data)
    try:
        chart = parse_org_file(file)
    except OrgFileError as error:
        raise _fail(str(error)) from error
    settings.ensure_data_dir()
    application = BackofficeApplication(env=settings.store.eventsourcing_env())
    meta = Meta(actor="system", command_id=f"org-load/{uuid.uuid4()}", correlation_id="org-load")
    try:
        changed = application.load_directory(chart, meta)
    except DomainError as error:
        raise _fail(f"{file}: {error.message}; nothing was recorded") from error
    finally:
        application.close()
    typer.echo(
        f"{file}: {len(chart.employees)} employees read, {len(changed)} new or changed"
        + (f" ({', '.join(changed)})" if changed else "")
    )


@app.command()
def token(
    employee_id: Annotated[
        str, typer.Argument(metavar="EMPLOYEE_ID", help="The employee the token is for.")
    ],
    data: DataOption = None,
) -> None:
    """Print a bearer token for EMPLOYEE_ID (and nothing else) on standard output."""
    from api.auth import issue_token
    from services.application import BackofficeApplication

    settings = _settings(data)
    if settings.uses_identity_provider:
        raise _fail("tokens come from the identity provider (BACKOFFICE_JWKS_FILE / _URL is set)")
    settings.ensure_data_dir()
    application = BackofficeApplication(env=settings.store.eventsourcing_env())
    try:
        known = application.find_employee(employee_id) is not None
    finally:
        application.close()
    if not known:
        raise _fail(f"no employee {employee_id}; load the organisation with `backoffice org load`")
    typer.echo(issue_token(settings, employee_id))


@projections_app.command("rebuild")
def projections_rebuild(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="NAME",
            help="Read models to rebuild (default: all): employee_directory, inbox, leave_balances,"
            " team_calendar, leave_cases.",
        ),
    ] = None,
    data: DataOption = None,
) -> None:
    """Rebuild read models from the events."""
    from projections.runner import ProjectionRunner

    settings = _settings(data)
    settings.ensure_data_dir()

    def progress(position: int, last: int) -> None:
        percent = 100 if not last else position * 100 // last
        print(f"\r  {position}/{last} events ({percent}%)", end="", file=sys.stderr, flush=True)

    with ProjectionRunner(settings.store_url) as runner:
        chosen = names or runner.names
        try:
            count = runner.rebuild(names or None, progress=progress)
        except ValueError as error:
            raise _fail(f"{error}; known read models: {', '.join(runner.names)}") from error
    print(file=sys.stderr)
    typer.echo(f"rebuilt {', '.join(chosen)} from {count} events")


def main() -> None:
    app()
