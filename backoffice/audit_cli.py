"""``backoffice audit``: what an auditor runs against the event store."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from backoffice.cli_common import DataOption, existing_store, fail, settings_for

audit_app = typer.Typer(no_args_is_help=True, help="Read, replay and verify the event history.")

MAX_FINDINGS_SHOWN = 100


@audit_app.command("verify")
def verify(
    data: DataOption = None,
    checkpoint: Annotated[
        str | None,
        typer.Option(
            "--checkpoint",
            metavar="DIGEST",
            help="A digest printed by an earlier verify: prove the store still extends it.",
        ),
    ] = None,
) -> None:
    """Check every stored event against the hash chain; exit 1 if anything was altered.

    Prints a checkpoint (POSITION:HASH) to keep outside the system.
    """
    from services.hash_chain import Checkpoint, StoreMissing, verify_store

    settings = settings_for(data)
    try:
        kept = Checkpoint.parse(checkpoint) if checkpoint is not None else None
    except ValueError as error:
        raise fail(str(error), code=2) from error
    existing_store(settings, code=2)

    shown: list[int] = []

    def progress(position: int, last: int) -> None:
        shown.append(position)
        print(f"\r  {position}/{last} events checked", end="", file=sys.stderr, flush=True)

    try:
        result = verify_store(settings.store, checkpoint=kept, progress=progress)
    except StoreMissing as error:
        raise fail(str(error), code=2) from error
    if shown:
        print(file=sys.stderr)
    for finding in result.findings[:MAX_FINDINGS_SHOWN]:
        typer.echo(f"ALTERED {finding}")
    if len(result.findings) > MAX_FINDINGS_SHOWN:
        typer.echo(f"... and {len(result.findings) - MAX_FINDINGS_SHOWN} more")
    summary = f"{result.events} events, {result.links} hash rows"
    if not result.ok:
        count = len(result.findings)
        typer.echo(f"FAILED: {count} problem{'' if count == 1 else 's'} in {summary}")
        raise typer.Exit(1)
    extends = f", extends checkpoint {kept}" if kept is not None else ""
    typer.echo(f"OK: {summary}, chain intact{extends}")
    typer.echo(f"checkpoint: {result.checkpoint or 'none (empty store)'}")
