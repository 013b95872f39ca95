"""The audit log: one row per stored event of every aggregate, in log order.

Who did it (and for whom), which command and workflow, when, to which stream,
which case and process it belongs to, what it is about (``employee e-100``, named by
the stream's first event, which alone holds the id), and the event's own facts as
JSON. Rows are keyed by the event's position in the notification log, so pages and
exports are read by position ranges, never all at once.
"""

from __future__ import annotations

import csv
import difflib
import functools
import io
import json
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple, Protocol, cast
from uuid import UUID

from eventsourcing.utils import resolve_topic

from domain.base import IdempotentAggregate
from domain.case import Case
from domain.directory import (
    DIRECTORY_AGGREGATES,
    ApprovalLimits,
    Delegation,
    Department,
    Role,
)
from domain.employee import Employee
from domain.leave_account import LeaveAccount
from domain.leave_request import LeaveRequest
from domain.meta import SYSTEM
from domain.refusals import Refusal, RefusalLog
from projections.base import PreparedProjection, utc_text
from projections.database import Cursor

ENVELOPE = {"originator_id", "originator_version", "timestamp", "meta", "originator_topic"}
"""Attributes every event has; the rest are the event's own facts."""

COLUMNS = (
    *("position", "at", "stream", "version", "aggregate", "event", "actor", "on_behalf_of"),
    *("command_id", "correlation_id", "case_id", "process", "data", "subject"),
)


AGGREGATES: tuple[type[IdempotentAggregate], ...] = (
    LeaveRequest,
    LeaveAccount,
    Refusal,
    RefusalLog,
    *DIRECTORY_AGGREGATES,
)
"""Every kind of aggregate the store holds: the event types a filter may name are theirs."""


@functools.cache
def event_types() -> frozenset[str]:
    """Every event type as the log names it, with its aggregate: ``LeaveRequest.Submitted``.

    An aggregate's events are its ``Event`` subclasses, those declared on a base class
    (a case's ``TaskOpened``) included; the library's generic ``Created`` is not one, as
    each aggregate names its creation event (``@event("Submitted")`` on ``__init__``).
    """
    return frozenset(
        f"{aggregate.__name__}.{name}"
        for aggregate in AGGREGATES
        for name in dir(aggregate)
        if name != "Created"
        and isinstance(kind := getattr(aggregate, name), type)
        and issubclass(kind, aggregate.Event)
        and kind is not aggregate.Event
    )


def unknown_event_type(name: str) -> str | None:
    """What is wrong with ``name`` as an event type (``Submitted``, or with its aggregate,
    ``LeaveRequest.Submitted``), or None when some aggregate has it."""
    qualified = event_types()
    known = qualified if "." in name else {kind.rpartition(".")[2] for kind in qualified}
    if name in known:
        return None
    event = name.rpartition(".")[2]
    close = (
        [kind for kind in known if kind.lower() == name.lower()]
        or sorted(kind for kind in known if kind.rpartition(".")[2] == event)  # Case.X
        or difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
    )
    return (
        f"{name!r} is not an event type; give one such as Submitted or, with its aggregate,"
        " LeaveRequest.Submitted" + (f" (did you mean {' or '.join(close)}?)" if close else "")
    )


def unknown_process(name: str) -> str | None:
    """What is wrong with ``name`` as a process, or None when the log has such entries
    (a refusal is entered under its case's process)."""
    known = sorted({process_of(aggregate) for aggregate in AGGREGATES} - {"refusal", "refusallog"})
    if name in known:
        return None
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"{name!r} is not a process; give one of {', '.join(known)}" + (
        f" (did you mean {close[0]}?)" if close else ""
    )


SUBJECTS: dict[type[IdempotentAggregate], tuple[str, str]] = {
    Employee: ("employee", "employee_id"),
    Department: ("department", "department_id"),
    Role: ("role", "name"),
    ApprovalLimits: ("limits", "process"),
    Delegation: ("delegation", "delegation_id"),
    LeaveAccount: ("leave account", "employee_id"),
}
"""What a stream of each kind is about, in the words ``org load`` reports changes in:
the kind of thing, and the attribute of the stream's first event that names it. Later
events do not name it (an ``Employee.DetailsChanged`` has only the fields changed), so
every entry of the stream takes it from the first. A case is named by ``case_id``."""


def process_of(aggregate: type) -> str:
    if issubclass(aggregate, (LeaveRequest, LeaveAccount)):
        return "leave"
    if aggregate in DIRECTORY_AGGREGATES:
        return "directory"
    return aggregate.__name__.lower()


def _json(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date | UUID):
        return str(value) if isinstance(value, UUID) else value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


_encode_facts = json.JSONEncoder(default=_json, sort_keys=True).encode
"""``json.dumps(facts, default=_json, sort_keys=True)``, without making an encoder per call."""


def facts(event: object) -> dict[str, Any]:
    """The event's own attributes, without the envelope."""
    return {key: value for key, value in vars(event).items() if key not in ENVELOPE}


@dataclass(frozen=True)
class AuditEntry:
    position: int
    at: str
    stream: str
    version: int
    aggregate: str
    event: str
    actor: str
    on_behalf_of: str | None
    command_id: str
    correlation_id: str
    case_id: str | None
    process: str
    data: dict[str, Any]
    subject: str | None = None
    """What the entry is about: ``employee e-100``, ``role hr``, ``leave account e-100``
    (:data:`SUBJECTS`); None for a case's events, which ``case_id`` names."""

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> AuditEntry:
        (position, at, stream, version, aggregate, event, actor, on_behalf_of, command_id,
         correlation_id, case_id, process, data, subject) = row  # fmt: skip
        return cls(
            int(position),
            at,
            stream,
            int(version),
            aggregate,
            event,
            actor,
            on_behalf_of,
            command_id,
            correlation_id,
            case_id,
            process,
            json.loads(data),
            subject,
        )

    def as_dict(self) -> dict[str, Any]:
        return {field: getattr(self, field) for field in self.__dataclass_fields__}


class AuditLog(PreparedProjection):
    name = "audit_log"
    with_positions = True
    tables = {
        "audit_log": (
            "position BIGINT PRIMARY KEY, at TEXT NOT NULL, stream TEXT NOT NULL,"
            " version BIGINT NOT NULL, aggregate TEXT NOT NULL, event TEXT NOT NULL,"
            " actor TEXT NOT NULL, on_behalf_of TEXT, command_id TEXT NOT NULL,"
            " correlation_id TEXT NOT NULL, case_id TEXT, process TEXT NOT NULL,"
            " data TEXT NOT NULL, subject TEXT"
        ),
        "audit_streams": "stream TEXT PRIMARY KEY, aggregate TEXT NOT NULL, subject TEXT",
    }
    read_indexes = (
        "CREATE INDEX IF NOT EXISTS audit_log_by_case ON audit_log (case_id, position)",
        "CREATE INDEX IF NOT EXISTS audit_log_by_stream ON audit_log (stream, position)",
        "CREATE INDEX IF NOT EXISTS audit_log_by_actor ON audit_log (actor, position)",
        "CREATE INDEX IF NOT EXISTS audit_log_by_at ON audit_log (at)",
    )
    handles = (IdempotentAggregate.Event,)

    def prepare(self, cursor: Cursor, events: Sequence[object]) -> list[_Entry]:
        """Each event's row but for what its stream's aggregate class decides, which
        may be known only to the database (``audit_streams``)."""
        pairs = cast(Sequence[tuple[int, Any]], events)  # with_positions
        streams: dict[UUID, str] = {}
        return [_Entry.of(position, event, streams) for position, event in pairs]

    def apply_prepared(self, cursor: Cursor, events: Sequence[object], prepared: object) -> None:
        pairs = cast(Sequence[tuple[int, Any]], events)  # with_positions
        entries = cast(list[_Entry], prepared)
        streams = [entry.stream for entry in entries]
        known = self._streams(cursor, [event for _position, event in pairs], streams)
        rows = [entry.row(*known[entry.stream]) for entry in entries]
        cursor.insert_many("audit_log", COLUMNS, rows, "ON CONFLICT (position) DO NOTHING")

    @staticmethod
    def _streams(
        cursor: Cursor, events: list[Any], streams: list[str]
    ) -> dict[str, tuple[_Kind, str | None]]:
        """Each stream's aggregate class and subject: named by its first event
        (``originator_topic``, :data:`SUBJECTS`), kept in ``audit_streams`` for the
        events of later batches."""
        known: dict[str, tuple[_Kind, str | None]] = {}
        created = []
        for event, stream in zip(events, streams, strict=True):
            topic = getattr(event, "originator_topic", None)
            if topic is not None and event.originator_version == 1:
                kind = _kind(topic)
                subject = kind.subject_of(event)
                known[stream] = kind, subject
                created.append((stream, topic, subject))
        if created:
            cursor.insert_many(
                "audit_streams",
                ("stream", "aggregate", "subject"),
                created,
                "ON CONFLICT (stream) DO NOTHING",
            )
        missing = sorted(set(streams) - set(known))
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            rows = cursor.execute(
                "SELECT stream, aggregate, subject FROM audit_streams"  # noqa: S608
                f" WHERE stream IN ({', '.join('?' for _ in chunk)})",
                chunk,
            ).fetchall()
            known.update({stream: (_kind(topic), subject) for stream, topic, subject in rows})
        return known


class _Entry(NamedTuple):
    """An event's audit row, made without the database, but for the columns its
    stream's aggregate class decides (:meth:`row` fills them in). A tuple: one is made
    for every event a rebuild replays, and a tuple is made faster than a frozen
    dataclass."""

    position: int
    at: str
    stream: str
    version: int
    event: str
    actor: str
    on_behalf_of: str | None
    command_id: str
    correlation_id: str
    named_case: str | None
    """The ``case_id`` among the event's facts (a leave account's bookings name one)."""
    named_process: str | None
    """The ``process`` among the event's facts (a refusal log's events name theirs)."""
    data: str

    @classmethod
    def of(cls, position: int, event: Any, streams: dict[UUID, str]) -> _Entry:
        """``streams``: the streams' ids as text, kept across a batch's events."""
        own = facts(event)
        named_case = own.get("case_id")
        named_process = own.get("process")
        meta = event.meta
        stream = streams.get(event.originator_id)
        if stream is None:
            stream = streams[event.originator_id] = str(event.originator_id)
        return cls(
            position,
            utc_text(event.timestamp),
            stream,
            event.originator_version,
            type(event).__name__,
            meta.actor,
            meta.on_behalf_of,
            meta.command_id,
            meta.correlation_id,
            named_case if isinstance(named_case, str) else None,
            named_process if isinstance(named_process, str) else None,
            _encode_facts(own),
        )

    def row(self, kind: _Kind, subject: str | None) -> tuple[object, ...]:
        return (
            self.position,
            self.at,
            self.stream,
            self.version,
            kind.name,
            self.event,
            self.actor,
            self.on_behalf_of,
            self.command_id,
            self.correlation_id,
            self.stream if kind.is_case else self.named_case,
            self.named_process if kind.is_refusals else kind.process,
            self.data,
            subject,
        )


@dataclass(frozen=True)
class _Kind:
    """What the audit log needs of an aggregate class, worked out once per class."""

    name: str
    process: str
    is_case: bool
    is_refusals: bool
    subject: tuple[str, str] | None
    """The kind of thing a stream is about and the attribute naming it (:data:`SUBJECTS`)."""

    def subject_of(self, created: object) -> str | None:
        """What the stream whose first event is ``created`` is about."""
        if self.subject is None:
            return None
        kind, attribute = self.subject
        return f"{kind} {getattr(created, attribute)}"


@functools.cache
def _kind(topic: str) -> _Kind:
    owner = resolve_topic(topic)
    subject = next((SUBJECTS[kind] for kind in owner.__mro__ if kind in SUBJECTS), None)
    return _Kind(
        owner.__name__,
        process_of(owner),
        issubclass(owner, Case),
        issubclass(owner, (Refusal, RefusalLog)),
        subject,
    )


@dataclass(frozen=True)
class AuditFilter:
    """What an auditor asks for; every part optional."""

    case_id: str | None = None
    stream: str | None = None
    actor: str | None = None
    process: str | None = None
    event: str | None = None
    """An event type: ``Submitted``, or with its aggregate, ``LeaveRequest.Submitted``."""
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> tuple[str, list[object]]:
        clauses: list[str] = []
        params: list[object] = []
        aggregate, event = None, self.event
        if event is not None and "." in event:  # as the pages show it: LeaveRequest.Submitted
            aggregate, _, event = event.rpartition(".")
        for column, value in (
            ("case_id", self.case_id),
            ("stream", self.stream),
            ("actor", self.actor),
            ("process", self.process),
            ("aggregate", aggregate),
            ("event", event),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if self.since is not None:
            clauses.append("at >= ?")
            params.append(utc_text(self.since))
        if self.until is not None:
            clauses.append("at <= ?")
            params.append(utc_text(self.until))
        return " AND ".join(clauses) or "1 = 1", params


def empty_actor(actor: str, leave_out: str) -> str | None:
    """What is wrong with ``actor`` as a filter when it is empty (or blank), as an empty
    case, event type or process is refused rather than matching nothing; ``leave_out``
    is how the caller names the filter. None for any other actor."""
    if actor.strip():
        return None
    return (
        f"{actor!r} is not an actor; give an employee's id, or {SYSTEM} for what the product"
        f" did itself (leave {leave_out} out for everyone's)"
    )


def unknown_actor(actor: str | None, employees: Container[str]) -> str | None:
    """Why a selection by ``actor`` that matched nothing did: an id the directory
    (``employees``, by id) does not know; None when it knows the actor, who then did
    nothing that matched."""
    if actor is None or actor == SYSTEM or actor in employees:
        return None
    return (
        f"the directory knows nobody with the id {actor}: an actor is an employee's id,"
        f" or {SYSTEM} for what the product did itself"
    )


REFUSALS = {"Refusal", "RefusalLog"}
"""The aggregates that keep refused commands (one per refusal; one per case before)."""


def refused_submission(case_id: str, pages: Iterable[list[AuditEntry]]) -> str | None:
    """Why no aggregate has ``case_id`` when only a refusal names it (``pages``: the
    case's entries): a submission the rules refused records no case, only the refusal,
    under the case id it would have had, so an auditor following it learns why."""
    for entries in pages:
        for entry in entries:
            refusal = entry.aggregate in REFUSALS and entry.event == "Refused"
            if refusal and entry.data.get("operation") == "submit":
                return (
                    f"nothing was recorded for case {case_id}: its submission was refused"
                    f" ({entry.data.get('rule')}: {entry.data.get('detail')}); the refusal"
                    " is on the case's timeline"
                )
    return None


def page(
    cursor: Cursor, selection: AuditFilter, *, newest_first: bool, after: int | None, limit: int
) -> list[AuditEntry]:
    """One page of entries; ``after`` is the last position of the previous page."""
    where, params = selection.where()
    if after is not None:
        where += " AND position < ?" if newest_first else " AND position > ?"
        params.append(after)
    order = "DESC" if newest_first else "ASC"
    rows = cursor.execute(
        f"SELECT {', '.join(COLUMNS)} FROM audit_log WHERE {where}"  # noqa: S608
        f" ORDER BY position {order} LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [AuditEntry.from_row(row) for row in rows]


def pages(
    read_page: Any, selection: AuditFilter, *, batch: int = 1000
) -> Iterator[list[AuditEntry]]:
    """Every matching entry, oldest first, a page at a time (``read_page(selection,
    after, limit)`` reads one, in a transaction of its own)."""
    after: int | None = None
    while True:
        entries: list[AuditEntry] = read_page(selection, after, batch)
        if entries:
            yield entries
        if len(entries) < batch:
            return
        after = entries[-1].position


CSV_COLUMNS = list(COLUMNS)


DECISIONS = {"TaskDecided"}
"""The events whose decider's authority an export shows."""
BY_HR = {"Withdrawn", "Cancelled", "Shortened"}
"""A case's closings and endings early, made under the ``hr`` role when their facts say
``by_hr`` (a leave account's ``Shortened`` says nothing of who: its case's does)."""
DIRECTORY = {kind.__name__ for kind in DIRECTORY_AGGREGATES}
"""The aggregates of the directory: a change by a person was made under their roles."""

Authority = Callable[[AuditEntry], dict[str, Any] | None]
"""The authority an entry's actor acted under (None for an entry that needs none)."""


def acted_under_authority(entry: AuditEntry) -> bool:
    """Whether the entry is one its actor could make only under some authority: a
    decision, HR asking for, closing (or ending early) another's leave, a person
    changing the directory."""
    return (
        entry.event in DECISIONS
        or (entry.event in BY_HR and entry.data.get("by_hr") is True)
        or (entry.event == "Submitted" and entry.actor != entry.data.get("requester_id"))
        or (entry.aggregate in DIRECTORY and entry.actor != SYSTEM)
    )


class Authorities(Protocol):
    def of(
        self, at: datetime, actor: str, on_behalf_of: str | None, process: str
    ) -> dict[str, object]: ...


def actor_authority(authorities: Authorities) -> Authority:
    """For an entry made under some authority (:func:`acted_under_authority`), its
    actor's authority as it was then; None otherwise."""

    def authority(entry: AuditEntry) -> dict[str, Any] | None:
        if not acted_under_authority(entry):
            return None
        at = datetime.fromisoformat(entry.at)
        if entry.aggregate in DIRECTORY:  # as it was before the change itself
            at -= timedelta(microseconds=1)
        return authorities.of(at, entry.actor, entry.on_behalf_of, entry.process)

    return authority


def _exported(entry: AuditEntry, authority: Authority | None) -> dict[str, Any]:
    values = entry.as_dict()
    values["authority"] = None if authority is None else authority(entry)
    return values


def jsonl_lines(
    pages: Iterable[list[AuditEntry]], authority: Authority | None = None
) -> Iterator[str]:
    """The entries as JSON Lines, one page in memory at a time; with ``authority``,
    each decision carries the decider's authority as it was then."""
    for entries in pages:
        yield "".join(
            json.dumps(_exported(entry, authority), sort_keys=True) + "\n" for entry in entries
        )


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet takes a cell's text to be a formula by (OWASP's CSV injection)."""


def _cell(value: object) -> object:
    """A CSV cell: empty for None; text a spreadsheet would run as a formula (an id
    such as ``=HYPERLINK(...)``) behind a ``'``, which shows it as the text it is."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


BOM = "\ufeff"
"""The byte order mark, by which a spreadsheet (Excel) reads a CSV file as UTF-8."""


def csv_lines(
    pages: Iterable[list[AuditEntry]], authority: Authority | None = None, *, bom: bool = False
) -> Iterator[str]:
    """The entries as CSV with a header row; ``data`` and ``authority`` as JSON with its
    text as written (``Zoë``, not ``Zo\\u00eb``: a spreadsheet shows a cell as it is); a
    cell that would start a formula starts with ``'``. ``bom``: first the byte order
    mark, without which a spreadsheet reads ``Zoë`` as ``ZoÃ«``."""
    buffer = io.StringIO(BOM if bom else "")
    buffer.seek(0, io.SEEK_END)
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, "authority"])
    for entries in pages:
        for entry in entries:
            values = _exported(entry, authority)
            values["data"] = json.dumps(values["data"], ensure_ascii=False, sort_keys=True)
            if values["authority"] is not None:
                values["authority"] = json.dumps(
                    values["authority"], ensure_ascii=False, sort_keys=True
                )
            columns = [*CSV_COLUMNS, "authority"]
            writer.writerow([_cell(values[c]) for c in columns])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()
