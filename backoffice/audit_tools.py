"""The auditor's commands beside ``audit verify``: export the log, show an aggregate as it
was, save a workflow's history for the replay gate, and check the read models against
the events. Registered on the ``audit`` command group by :func:`register`."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, TextIO
from uuid import UUID

import typer

from backoffice.cli_common import (
    SQLITE_COMPANIONS,
    DataOption,
    connecting_to_temporal,
    existing_store,
    fail,
    instant,
    known_up_to_now,
    settings_for,
)

if TYPE_CHECKING:
    from backoffice.settings import Settings

REPLAY_HISTORIES = Path("tests") / "replay" / "histories"


class Bar:
    """A progress bar on standard error: done/total, rate and what is left."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.started = time.monotonic()
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        fraction = 1.0 if not total else min(done / total, 1.0)
        width = 30
        filled = round(fraction * width)
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = done / elapsed
        left = (total - done) / rate if rate and total > done else 0.0
        print(
            f"\r  [{'#' * filled}{'.' * (width - filled)}] {fraction:4.0%}"
            f" {done}/{total} {self.what}, {rate:,.0f}/s, {left:.0f} s left ",
            end="",
            file=sys.stderr,
            flush=True,
        )
        self.shown = True

    def close(self) -> None:
        if self.shown:
            print(file=sys.stderr)


def export(
    since: Annotated[
        str | None, typer.Option(metavar="INSTANT", help="At or after this instant (ISO 8601).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(metavar="INSTANT", help="At or before this instant (ISO 8601).")
    ] = None,
    format: Annotated[
        Literal["jsonl", "csv"], typer.Option("--format", help="jsonl or csv.")
    ] = "jsonl",
    case: Annotated[str | None, typer.Option(metavar="CASE_ID", help="Only this case id.")] = None,
    actor: Annotated[
        str | None, typer.Option(metavar="EMPLOYEE_ID", help="Only what this person did.")
    ] = None,
    process: Annotated[
        str | None, typer.Option(metavar="PROCESS", help="leave, directory, ...")
    ] = None,
    event: Annotated[
        str | None,
        typer.Option(
            "--type", metavar="TYPE", help="An event type: Submitted, or LeaveRequest.Submitted."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write here (default: stdout)."),
    ] = None,
    bom: Annotated[
        bool,
        typer.Option(
            "--bom",
            help="CSV only: start with the byte order mark, by which a spreadsheet (Excel)"
            " reads the text as written (Zoë, not ZoÃ«).",
        ),
    ] = False,
    data: DataOption = None,
) -> None:
    """Export the audit log (a filtered selection), oldest first, streamed page by page."""
    from projections.audit_log import (
        AuditEntry,
        AuditFilter,
        AuditLog,
        actor_authority,
        csv_lines,
        empty_actor,
        jsonl_lines,
        unknown_actor,
        unknown_event_type,
        unknown_process,
    )
    from projections.queries import ReadModels
    from projections.runner import ProjectionRunner
    from services.application import BackofficeApplication

    if case is not None:
        try:
            case = str(UUID(case))  # as the audit log writes it
        except ValueError:
            raise fail(f"--case: {case!r} is not a case id (a UUID)") from None
    if event is not None and (problem := unknown_event_type(event)) is not None:
        raise fail(f"--type: {problem}")
    if process is not None and (problem := unknown_process(process)) is not None:
        raise fail(f"--process: {problem}")
    if actor is not None and (problem := empty_actor(actor, "--actor")) is not None:
        raise fail(f"--actor: {problem}")
    if bom and format != "csv":
        raise fail("--bom: a byte order mark is for CSV; add --format csv")
    first, last = instant(since, "--since"), instant(until, "--until")
    if first is not None and last is not None and first > last:
        raise fail(f"--since {since} is after --until {until}: no instant is in between")
    selection = AuditFilter(
        case_id=case, actor=actor, process=process, event=event, since=first, until=last
    )
    settings = settings_for(data)
    existing_store(settings)
    if output is not None and output.is_dir():
        raise fail(f"--output {output} is a folder; give a file name in it")
    if output is not None and not output.parent.is_dir():
        raise fail(f"--output: there is no folder {output.parent}")
    if output is not None and _own_file(settings, output):
        raise fail(
            f"--output {output} is Backoffice's own (its event store, or a file of its data"
            f" folder {settings.data_dir}); give the export a file of its own elsewhere"
        )
    where = "standard output" if output is None else str(output)
    bar = Bar("events into the audit log")
    with ProjectionRunner(settings.store_url, projections=[AuditLog()]) as runner:
        runner.catch_up(progress=bar)  # the log shows every event recorded so far
    bar.close()
    read_models = ReadModels(settings.store_url)
    pages = read_models.audit_entries(selection)
    application = BackofficeApplication(env=settings.store.eventsourcing_env())
    try:
        authority = actor_authority(application.directory.authorities())
        exported = 0
        last_position = 0

        def counted() -> Iterator[list[AuditEntry]]:
            nonlocal exported, last_position
            for page in pages:
                exported += len(page)
                last_position = page[-1].position
                yield page

        if format == "csv":
            lines = csv_lines(counted(), authority, bom=bom)
        else:
            lines = jsonl_lines(counted(), authority)
        try:
            with _opened(output) as out:
                for chunk in lines:
                    out.write(chunk)
        except BrokenPipeError:
            raise  # a reader that stopped reading (`| head`): the command ends quietly
        except OSError as error:  # a full disk
            raise fail(f"cannot write the export to {where}: {error.strerror or error}") from None
        unknown = (
            None if exported else unknown_actor(actor, application.directory.current().employees)
        )
    finally:
        application.close()
        read_models.close()
    events = "event" if exported == 1 else "events"
    typer.echo(f"exported {exported} {events} to {where}", err=True)
    if exported:
        _say_checkpoint(settings, last_position)
    if unknown is not None:
        typer.echo(f"--actor: {unknown}", err=True)


def _say_checkpoint(settings: Settings, position: int) -> None:
    """Tie an export to the hash chain: the checkpoint of the record up to its last
    event, which ``audit verify --checkpoint`` checks the store against, now or later."""
    from services.hash_chain import checkpoint_at

    checkpoint = checkpoint_at(settings.store, position)
    if checkpoint is None:
        typer.echo(
            "no checkpoint: these events are not linked into the hash chain (written before"
            " it, or their links removed); `backoffice audit verify` says which",
            err=True,
        )
        return
    linked = checkpoint.notification_id == position
    up_to = "the export's last event" if linked else f"{checkpoint.notification_id}"
    typer.echo(
        f"checkpoint: {checkpoint}  (the record up to {up_to}; keep it with the export:"
        f" `backoffice audit verify --checkpoint {checkpoint}` shows, now or later, that"
        " the store still holds that history unchanged)",
        err=True,
    )
    if not linked:
        typer.echo(
            f"the export's last event, at {position}, is not linked into the chain: the"
            f" checkpoint is of the last one that is, at {checkpoint.notification_id};"
            " `backoffice audit verify` says what was altered",
            err=True,
        )


def _own_file(settings: Settings, path: Path) -> bool:
    """Whether ``path`` is the SQLite event store (or what SQLite keeps beside it) or a
    file already in the data folder (the token secret, the Temporal dev server's state):
    an export written there would destroy it."""
    target = path.resolve()
    if not settings.store.is_postgres:
        store = settings.store.sqlite_path.resolve()
        if target in {store.with_name(store.name + suffix) for suffix in ("", *SQLITE_COMPANIONS)}:
            return True
    return target.exists() and target.parent == settings.data_dir.resolve()


def _refused_submission(settings: Settings, case_id: UUID) -> str | None:
    """Why nothing was recorded for ``case_id``, when only a refused submission names it
    (found in the audit log, brought up to date first)."""
    from projections.audit_log import AuditFilter, AuditLog, refused_submission
    from projections.queries import ReadModels
    from projections.runner import ProjectionRunner

    with ProjectionRunner(settings.store_url, projections=[AuditLog()]) as runner:
        runner.catch_up()
    read_models = ReadModels(settings.store_url)
    try:
        selection = AuditFilter(case_id=str(case_id))
        return refused_submission(str(case_id), read_models.audit_entries(selection))
    finally:
        read_models.close()


@contextmanager
def _opened(path: Path | None) -> Iterator[TextIO]:
    """Standard output, or the file ``path`` written whole or not at all: an export that
    fails or is interrupted leaves no half-written file, and an earlier one as it was.
    (What is not a file, such as /dev/null or a pipe, is written as it goes.)"""
    if path is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    if path.exists() and not path.is_file():
        with path.open("w", encoding="utf-8", newline="") as out:
            yield out
        return
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as out:
            yield out
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def aggregate(
    aggregate_id: Annotated[str, typer.Argument(metavar="ID", help="An aggregate (case) id.")],
    at: Annotated[
        str | None, typer.Option(metavar="INSTANT", help="As it was at this instant, up to now.")
    ] = None,
    version: Annotated[
        int | None, typer.Option(metavar="VERSION", help="As it was at this version.", min=1)
    ] = None,
    data: DataOption = None,
) -> None:
    """Print an aggregate as JSON, as it was at a version or an instant (default: now)."""
    from domain.errors import NotFound
    from services.application import BackofficeApplication
    from services.time_travel import aggregate_state

    if at is not None and version is not None:
        raise fail("give --at or --version, not both")
    try:
        identifier = UUID(aggregate_id)
    except ValueError:
        raise fail(f"{aggregate_id!r} is not an aggregate id (a UUID)") from None
    moment = known_up_to_now(instant(at, "--at"), "the aggregate", "leave --at out for it now")
    settings = settings_for(data)
    existing_store(settings)
    application = BackofficeApplication(env=settings.store.eventsourcing_env())
    try:
        found = aggregate_state(application, identifier, at=moment, version=version)
    except NotFound as error:
        if error.rule == "aggregate_not_found":
            raise fail(_refused_submission(settings, identifier) or error.message) from None
        raise fail(error.message) from None
    finally:
        application.close()
    document = {**found.__dict__, "id": str(found.id), "at": found.at.isoformat()}
    typer.echo(json.dumps(document, indent=2, sort_keys=True))


def record_history(
    workflow_id: Annotated[str, typer.Argument(metavar="WORKFLOW_ID")],
    name: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="File name without .json (default: the workflow id)."),
    ] = None,
    into: Annotated[
        Path, typer.Option(metavar="DIR", help="Folder of the replay gate's histories.")
    ] = REPLAY_HISTORIES,
    temporal_address: Annotated[
        str | None,
        typer.Option(
            metavar="HOST:PORT",
            help="HOST:PORT; default: the Temporal of `backoffice up` on --data.",
        ),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Write over a history saved under that name.")
    ] = False,
    data: DataOption = None,
) -> None:
    """Save a workflow's history from a running Temporal into the replay gate's folder.

    CI replays every history there against the workflow code of every change."""
    from backoffice.stack import TEMPORAL_ADDRESS_FILE

    if name is not None and (Path(name).name != name or name in {"", ".", ".."}):
        raise typer.BadParameter(
            f"{name!r} is not a file name (no folders: give those to --into)", param_hint="--name"
        )
    if into == REPLAY_HISTORIES and not into.is_dir():  # not run in the repository
        raise fail(
            f"--into: there is no folder {into} here; run the command in the repository's"
            " folder, where the replay gate reads it, or give --into"
        )
    existing = next(folder for folder in (into, *into.parents) if folder.exists())
    if not existing.is_dir():  # found only once the history is fetched, it would be lost
        raise fail(f"--into: {existing} is a file, not a folder; give a folder for the history")
    settings = settings_for(data)
    address = temporal_address or settings.temporal_address
    if address is None:
        recorded = settings.data_dir / TEMPORAL_ADDRESS_FILE
        if not recorded.exists():
            raise fail(
                f"no Temporal address: give --temporal-address, or run `backoffice up`"
                f" on {settings.data_dir} first"
            )
        address = recorded.read_text().strip()
    target = into / f"{name or workflow_id.replace('/', '_')}.json"
    if target.exists() and not replace:
        raise fail(f"{target} exists; give --replace to write over it, or another --name")
    text, problem = asyncio.run(_history_json(address, settings.temporal_namespace, workflow_id))
    if problem is not None:
        raise fail(problem)
    into.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    typer.echo(f"saved the history of {workflow_id} to {target}")


async def _history_json(address: str, namespace: str, workflow_id: str) -> tuple[str, str | None]:
    """The workflow's history as JSON, or what went wrong."""
    from temporalio.client import Client
    from temporalio.service import RPCError, RPCStatusCode

    from workflows.messages import DATA_CONVERTER

    connecting_to_temporal()
    try:
        client = await Client.connect(address, namespace=namespace, data_converter=DATA_CONVERTER)
    except RuntimeError as error:
        return "", f"cannot reach Temporal at {address}: {error}"
    try:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return "", f"Temporal at {address} has no workflow {workflow_id}{_as_case(workflow_id)}"
        return "", f"Temporal at {address} could not give the history: {error.message}"
    return history.to_json(), None


def _as_case(workflow_id: str) -> str:
    """What to give instead when ``workflow_id`` is a case id, as an auditor reads it in
    the audit log; nothing otherwise."""
    from workflows.messages import leave_workflow_id

    try:
        case_id = UUID(workflow_id)
    except ValueError:
        return ""
    return f"; the workflow of leave request {case_id} is {leave_workflow_id(case_id)}"


def verify_projections(data: DataOption = None) -> None:
    """Check the read models against the events; exit 1 naming each row that differs.

    Every read model is rebuilt from the events into a scratch copy, up to the
    position the live one has reached, and compared row by row with it; when
    nothing differs, it says how far that is and how many events are not applied yet."""
    from backoffice.projection_check import check_read_models

    settings = settings_for(data)
    existing_store(settings)
    scratch = Path(tempfile.mkdtemp(prefix="backoffice-verify-"))
    bar = Bar("events into the scratch copy")
    try:
        check = check_read_models(settings.store_url, scratch, progress=bar)
    finally:
        bar.close()
        shutil.rmtree(scratch, ignore_errors=True)
    differences = check.differences
    if not differences:
        typer.echo(check.reach())
        return
    counts = Counter(difference.table for difference in differences)
    for difference in differences:
        typer.echo(str(difference))
    summary = ", ".join(f"{table}: {count}" for table, count in sorted(counts.items()))
    count = len(differences)
    raise fail(f"{count} difference{'' if count == 1 else 's'} from the events ({summary})")


def register(audit_app: typer.Typer) -> None:
    audit_app.command("export")(export)
    audit_app.command("aggregate")(aggregate)
    audit_app.command("record-history")(record_history)
    audit_app.command("verify-projections")(verify_projections)
