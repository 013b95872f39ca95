"""The errors that say the store's database did not answer: nothing asked of it was
wrong, and the same thing asked again shortly is answered."""

from __future__ import annotations

import sqlite3

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError

CONNECTION_LOST = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)
"""What the store's PostgreSQL raises when it closed a connection (a restart, a backend
terminated): the runner tries again on new connections, and it is no fault of its own."""

DATABASE_UNAVAILABLE = (*CONNECTION_LOST, sqlite3.OperationalError)
"""The errors that may say the database did not answer (:data:`CONNECTION_LOST`, and
SQLite's lock held past its timeout); :func:`database_unavailable` tells whether one
does, and then the API answers 503 and activities are tried again."""

UNAVAILABLE_SQLSTATE_CLASSES = ("08", "40", "53", "57")
"""PostgreSQL's classes of errors that say it could not do it now, not that what was
asked is wrong: connection exception, transaction rollback (deadlock, serialization),
insufficient resources, operator intervention (shutting down, starting up)."""


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` (one of :data:`DATABASE_UNAVAILABLE`) says the database did not
    answer: a lost connection, SQLite's lock held past its timeout, PostgreSQL busy or
    restarting. Not a defect that answers the same every time (no such table or column,
    a value over an index's limit): that is no reason to try again quietly."""
    if not isinstance(error, DATABASE_UNAVAILABLE):
        return False
    cause = _database_error(error)
    if isinstance(cause, sqlite3.Error):
        words = str(cause).lower()
        return "locked" in words or "busy" in words
    if isinstance(cause, psycopg.Error):
        return (
            isinstance(cause, psycopg.InterfaceError)
            or cause.sqlstate is None  # raised by the client: no connection
            or cause.sqlstate[:2] in UNAVAILABLE_SQLSTATE_CLASSES
        )
    return True  # the library's own: its pool found no connection in time


def _database_error(error: BaseException) -> BaseException:
    """The driver's error under the library's (which raises its own ``from`` it)."""
    found: BaseException | None = error
    while found is not None:
        if isinstance(found, sqlite3.Error | psycopg.Error):
            return found
        found = found.__cause__
    return error
