"""Passwords and browser sessions for the embedded sign-in, in the store's own database.

Not in the event store: events are kept forever, while a password hash must be
replaceable (and forgettable) and a session is short-lived state. Both live in
tables of the same SQLite file or PostgreSQL schema as the events.

Passwords are kept as argon2id hashes (``argon2-cffi``), salted and slow by design.
A session is a random id the browser holds in a cookie; only its SHA-256 is stored,
so a copy of the table opens no session. Each session carries its CSRF token. Failed
sign-ins are counted here too, so that every API process counts the same ones
(``web.security.SignInLimiter`` says how many it allows).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from projections.database import Cursor, Database
from projections.tracking import SCHEMA_LOCK
from services.store import StoreLocation

MIN_PASSWORD_LENGTH = 12

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS web_credentials (
        employee_id TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS web_sessions (
        session_hash TEXT PRIMARY KEY,
        employee_id TEXT NOT NULL,
        csrf_token TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS web_sign_in_failures (
        counted_as TEXT NOT NULL,
        failed_at DOUBLE PRECISION NOT NULL,
        attempt TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS web_sign_in_failures_by_count"
    " ON web_sign_in_failures (counted_as, failed_at)",
    "CREATE INDEX IF NOT EXISTS web_sign_in_failures_by_time ON web_sign_in_failures (failed_at)",
)


class WeakPassword(ValueError):
    """A password too short to be set."""


@dataclass(frozen=True)
class Session:
    """A signed-in browser: ``session_id`` is the cookie's value (never stored as is)."""

    session_id: str
    employee_id: str
    csrf_token: str
    created_at: datetime
    expires_at: datetime

    def is_valid_csrf(self, token: str | None) -> bool:
        """Whether a form's token is this session's, compared in constant time."""
        return token is not None and secrets.compare_digest(
            token.encode(), self.csrf_token.encode()
        )


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class Credentials:
    """Password hashes and sessions of one store; safe to call from many threads
    (each call opens its own connection, as the read models do)."""

    def __init__(
        self,
        location: StoreLocation,
        *,
        session_lifetime: timedelta = timedelta(hours=8),
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.location = location
        self.session_lifetime = session_lifetime
        self.hasher = hasher or PasswordHasher()
        # Verified against when the employee has no password, so an unknown id takes
        # as long to refuse as a wrong password.
        self._decoy = self.hasher.hash(secrets.token_urlsafe(16))
        with self._transaction() as cursor:
            if cursor.is_postgres:  # two processes starting at once take turns
                cursor.execute("SELECT pg_advisory_xact_lock(?)", [SCHEMA_LOCK])
            for statement in SCHEMA:
                cursor.execute(statement)

    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[Cursor]:
        with Database(self.location) as database, database.transaction(write=write) as cursor:
            yield cursor

    # -- passwords -------------------------------------------------------------------

    def set_password(self, employee_id: str, password: str, now: datetime | None = None) -> None:
        """Store a new hash for ``employee_id`` and end their sessions (a changed password
        signs every browser out)."""
        if len(password) < MIN_PASSWORD_LENGTH:
            raise WeakPassword(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
        if not password.strip():
            raise WeakPassword("a password needs more than spaces")
        password_hash = self.hasher.hash(password)
        with self._transaction() as cursor:
            self._store_hash(cursor, employee_id, password_hash, now or datetime.now(UTC))
            cursor.execute("DELETE FROM web_sessions WHERE employee_id = ?", (employee_id,))

    def has_password(self, employee_id: str) -> bool:
        return self._hash_of(employee_id) is not None

    def verify(self, employee_id: str, password: str) -> bool:
        """Whether ``password`` is ``employee_id``'s. A hash made with weaker parameters than
        the hasher's is replaced on a successful check."""
        stored = self._hash_of(employee_id)
        try:
            self.hasher.verify(stored or self._decoy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        if stored is None:
            return False
        if self.hasher.check_needs_rehash(stored):
            with self._transaction() as cursor:
                new_hash = self.hasher.hash(password)
                self._store_hash(cursor, employee_id, new_hash, datetime.now(UTC))
        return True

    def _hash_of(self, employee_id: str) -> str | None:
        with self._transaction(write=False) as cursor:
            row = cursor.execute(
                "SELECT password_hash FROM web_credentials WHERE employee_id = ?", (employee_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    def _store_hash(cursor: Cursor, employee_id: str, password_hash: str, now: datetime) -> None:
        cursor.execute(
            "INSERT INTO web_credentials (employee_id, password_hash, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (employee_id) DO UPDATE"
            " SET password_hash = excluded.password_hash, updated_at = excluded.updated_at",
            (employee_id, password_hash, now.isoformat()),
        )

    # -- sessions --------------------------------------------------------------------

    def start_session(self, employee_id: str, now: datetime | None = None) -> Session:
        created = now or datetime.now(UTC)
        session = Session(
            session_id=secrets.token_urlsafe(32),
            employee_id=employee_id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=created,
            expires_at=created + self.session_lifetime,
        )
        with self._transaction() as cursor:
            # Expired sessions go when new ones come, so the table stays small.
            cursor.execute("DELETE FROM web_sessions WHERE expires_at <= ?", (created.isoformat(),))
            cursor.execute(
                "INSERT INTO web_sessions"
                " (session_hash, employee_id, csrf_token, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    _digest(session.session_id),
                    employee_id,
                    session.csrf_token,
                    created.isoformat(),
                    session.expires_at.isoformat(),
                ),
            )
        return session

    def session(self, session_id: str, now: datetime | None = None) -> Session | None:
        """The live session of a cookie's value; None when unknown, ended or expired."""
        with self._transaction(write=False) as cursor:
            row = cursor.execute(
                "SELECT employee_id, csrf_token, created_at, expires_at FROM web_sessions"
                " WHERE session_hash = ?",
                (_digest(session_id),),
            ).fetchone()
        if row is None:
            return None
        employee_id, csrf_token, created_at, expires_at = row
        session = Session(
            session_id,
            employee_id,
            csrf_token,
            datetime.fromisoformat(created_at),
            datetime.fromisoformat(expires_at),
        )
        return session if (now or datetime.now(UTC)) < session.expires_at else None

    def end_session(self, session_id: str) -> None:
        with self._transaction() as cursor:
            cursor.execute(
                "DELETE FROM web_sessions WHERE session_hash = ?", (_digest(session_id),)
            )

    # -- failed sign-ins -------------------------------------------------------------

    def latest_failures(self, counts: Sequence[tuple[str, int]], since: float) -> list[list[float]]:
        """For each ``(counted_as, n)``: the instants (seconds since the epoch) of its
        ``n`` latest failures after ``since``, the latest first."""
        with self._transaction(write=False) as cursor:
            return [
                [
                    float(row[0])
                    for row in cursor.execute(
                        "SELECT failed_at FROM web_sign_in_failures"
                        " WHERE counted_as = ? AND failed_at > ? ORDER BY failed_at DESC LIMIT ?",
                        (counted_as, since, n),
                    ).fetchall()
                ]
                for counted_as, n in counts
            ]

    def count_failure(
        self, counted_as: Sequence[str], at: float, attempt: str, forget_before: float
    ) -> None:
        """Count the sign-in ``attempt`` as a failure at ``at`` towards each of
        ``counted_as``, and forget every failure from before ``forget_before``, so the
        table holds only those that count."""
        with self._transaction() as cursor:
            cursor.execute(
                "DELETE FROM web_sign_in_failures WHERE failed_at <= ?", (forget_before,)
            )
            cursor.executemany(
                "INSERT INTO web_sign_in_failures (counted_as, failed_at, attempt)"
                " VALUES (?, ?, ?)",
                [(name, at, attempt) for name in counted_as],
            )

    def forget_failures(self, attempt: str, counted_as: Sequence[str] = ()) -> None:
        """Forget the ``attempt`` (it did not fail), and every failure counted as one of
        ``counted_as``."""
        with self._transaction() as cursor:
            cursor.execute("DELETE FROM web_sign_in_failures WHERE attempt = ?", (attempt,))
            cursor.executemany(
                "DELETE FROM web_sign_in_failures WHERE counted_as = ?",
                [(name,) for name in counted_as],
            )
