"""``backoffice users``: passwords for the embedded sign-in page."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from backoffice.cli_common import DataOption, fail, require_employee, settings_for

users_app = typer.Typer(no_args_is_help=True, help="People who sign in to the web pages.")


@users_app.command("set-password")
def set_password(
    employee_id: Annotated[
        str, typer.Argument(metavar="EMPLOYEE_ID", help="Whose password to set.")
    ],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from standard input."),
    ] = False,
    data: DataOption = None,
) -> None:
    """Set EMPLOYEE_ID's password for the sign-in page (typed twice, or from standard input).

    Their open sessions end, so a changed password signs every browser out."""
    from services.credentials import Credentials, WeakPassword

    settings = settings_for(data)
    require_employee(settings, employee_id)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        Credentials(settings.store).set_password(employee_id, password)
    except WeakPassword as error:
        raise fail(f"{error}; nothing was changed") from error
    typer.echo(f"password set for {employee_id}")
