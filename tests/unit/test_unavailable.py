"""Which database errors say the database did not answer (worth trying again shortly:
503 from the API, a quiet retry of an activity) and which are defects."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from eventsourcing.persistence import OperationalError

from services.unavailable import database_unavailable


def raised_from(error: Exception, cause: Exception) -> Exception:
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    "error",
    [
        sqlite3.OperationalError("database is locked"),
        raised_from(OperationalError("database is locked"), sqlite3.OperationalError("locked")),
        psycopg.OperationalError("connection failed: Connection refused"),
        raised_from(OperationalError("server closed"), psycopg.OperationalError("closed")),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.InterfaceError("the connection is closed"),
        OperationalError("timed out waiting for a connection from the pool"),
    ],
)
def test_the_database_not_answering_is_said_so(error: Exception) -> None:
    assert database_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        sqlite3.OperationalError("no such table: stored_events"),
        raised_from(OperationalError("no such column"), sqlite3.OperationalError("no such column")),
        psycopg.errors.ProgramLimitExceeded("index row size exceeds btree maximum"),
        ValueError("not a database error at all"),
    ],
)
def test_a_defect_is_not_taken_for_the_database_not_answering(error: Exception) -> None:
    assert not database_unavailable(error)
