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
""":data:`CONNECTION_LOST`, and SQLite's lock held past its timeout (PostgreSQL
restarting, a backend terminated, a long writer): the API answers 503 and activities
are tried again."""
