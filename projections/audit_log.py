"""The audit log: one row per stored event of every aggregate, in log order.

Who did it (and for whom), which command and workflow, when, to which stream,
which case and process it belongs to, and the event's own facts as JSON. Rows
are keyed by the event's position in the notification log, so pages and
exports are read by position ranges, never all at once.
"""

from __future__ import annotations

import csv
import difflib
import functools
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple, Protocol, cast
from uuid import UUID

from eventsourcing.utils import resolve_topic

from domain.base import IdempotentAggregate
from domain.case import Case
from domain.directory import DIRECTORY_AGGREGATES
from domain.leave_account import LeaveAccount
from domain.leave_request import LeaveRequest
from domain.refusals import RefusalLog
from projections.base import PreparedProjection, utc_text
from projections.database import Cursor

ENVELOPE = {"originator_id", "originator_version", "timestamp", "meta", "originator_topic"}
"""Attributes every event has; the rest are the event's own facts."""

COLUMNS = (
    *("position", "at", "stream", "version", "aggregate", "event", "actor", "on_behalf_of"),
    *("command_id", "correlation_id", "case_id", "process", "data"),
)


AGGREGATES: tuple[type[IdempotentAggregate], ...] = (
    LeaveRequest,
    LeaveAccount,
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
    known = sorted({process_of(aggregate) for aggregate in AGGREGATES} - {"refusallog"})
    if name in known:
        return None
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"{name!r} is not a process; give one of {', '.join(known)}" + (
        f" (did you mean {close[0]}?)" if close else ""
    )


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

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> AuditEntry:
        (position, at, stream, version, aggregate, event, actor, on_behalf_of, command_id,
         correlation_id, case_id, process, data) = row  # fmt: skip
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
            " data TEXT NOT NULL"
        ),
        "audit_streams": "stream TEXT PRIMARY KEY, aggregate TEXT NOT NULL",
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
        kinds = self._stream_kinds(cursor, [event for _position, event in pairs], streams)
        rows = [entry.row(kinds[entry.stream]) for entry in entries]
        cursor.insert_many("audit_log", COLUMNS, rows, "ON CONFLICT (position) DO NOTHING")

    @staticmethod
    def _stream_kinds(cursor: Cursor, events: list[Any], streams: list[str]) -> dict[str, _Kind]:
        """Each stream's aggregate class: named by its first event (``originator_topic``),
        kept in ``audit_streams`` for the events of later batches."""
        kinds: dict[str, _Kind] = {}
        created = []
        for event, stream in zip(events, streams, strict=True):
            topic = getattr(event, "originator_topic", None)
            if topic is not None and event.originator_version == 1:
                kinds[stream] = _kind(topic)
                created.append((stream, topic))
        if created:
            cursor.insert_many(
                "audit_streams", ("stream", "aggregate"), created, "ON CONFLICT (stream) DO NOTHING"
            )
        missing = sorted(set(streams) - set(kinds))
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            rows = cursor.execute(
                "SELECT stream, aggregate FROM audit_streams"  # noqa: S608
                f" WHERE stream IN ({', '.join('?' for _ in chunk)})",
                chunk,
            ).fetchall()
            kinds.update({stream: _kind(topic) for stream, topic in rows})
        return kinds


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

    def row(self, kind: _Kind) -> tuple[object, ...]:
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
        )


@dataclass(frozen=True)
class _Kind:
    """What the audit log needs of an aggregate class, worked out once per class."""

    name: str
    process: str
    is_case: bool
    is_refusals: bool


@functools.cache
def _kind(topic: str) -> _Kind:
    owner = resolve_topic(topic)
    return _Kind(
        owner.__name__, process_of(owner), issubclass(owner, Case), issubclass(owner, RefusalLog)
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

Authority = Callable[[AuditEntry], dict[str, Any] | None]
"""The authority a decision was taken under (None for other events)."""


class Authorities(Protocol):
    def of(
        self, at: datetime, actor: str, on_behalf_of: str | None, process: str
    ) -> dict[str, object]: ...


def decision_authority(authorities: Authorities) -> Authority:
    """For a decision entry, its decider's authority as it was then; None otherwise."""

    def authority(entry: AuditEntry) -> dict[str, Any] | None:
        if entry.event not in DECISIONS:
            return None
        at = datetime.fromisoformat(entry.at)
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


def csv_lines(
    pages: Iterable[list[AuditEntry]], authority: Authority | None = None
) -> Iterator[str]:
    """The entries as CSV with a header row; ``data`` and ``authority`` as JSON; a
    cell that would start a formula starts with ``'``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, "authority"])
    for entries in pages:
        for entry in entries:
            values = _exported(entry, authority)
            values["data"] = json.dumps(values["data"], sort_keys=True)
            if values["authority"] is not None:
                values["authority"] = json.dumps(values["authority"], sort_keys=True)
            columns = [*CSV_COLUMNS, "authority"]
            writer.writerow([_cell(values[c]) for c in columns])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()
