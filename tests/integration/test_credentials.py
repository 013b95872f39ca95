"""Passwords and sessions in the store's database, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from projections.database import Database
from services.credentials import Credentials, WeakPassword
from services.store import StoreLocation

QUICK = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
STRONGER = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
PASSWORD = "a long enough password"
NOON = datetime(2030, 5, 6, 12, 0, tzinfo=UTC)


@pytest.fixture
def credentials(store_url: str) -> Credentials:
    return Credentials(StoreLocation(store_url), session_lifetime=timedelta(hours=8), hasher=QUICK)


def stored_hash(credentials: Credentials, employee_id: str) -> str | None:
    with Database(credentials.location) as database, database.transaction() as cursor:
        row = cursor.execute(
            "SELECT password_hash FROM web_credentials WHERE employee_id = ?", (employee_id,)
        ).fetchone()
    return None if row is None else str(row[0])


def test_the_stored_hash_is_a_salted_argon2_hash_not_the_password(
    credentials: Credentials,
) -> None:
    credentials.set_password("e-1", PASSWORD)
    credentials.set_password("e-2", PASSWORD)

    first, second = stored_hash(credentials, "e-1"), stored_hash(credentials, "e-2")
    assert first is not None and second is not None
    assert first.startswith("$argon2id$")
    assert PASSWORD not in first
    assert first != second  # salted: the same password, two hashes


def test_the_right_password_verifies_and_a_wrong_one_or_a_stranger_does_not(
    credentials: Credentials,
) -> None:
    credentials.set_password("e-1", PASSWORD)

    assert credentials.verify("e-1", PASSWORD)
    assert not credentials.verify("e-1", PASSWORD + "!")
    assert not credentials.verify("e-1", "")
    assert not credentials.verify("e-2", PASSWORD)  # has no password


def test_a_short_password_is_refused_and_the_old_one_kept(credentials: Credentials) -> None:
    credentials.set_password("e-1", PASSWORD)

    with pytest.raises(WeakPassword, match="at least 12 characters"):
        credentials.set_password("e-1", "short")

    assert credentials.verify("e-1", PASSWORD)


def test_a_password_of_spaces_only_is_refused(credentials: Credentials) -> None:
    with pytest.raises(WeakPassword, match="more than spaces"):
        credentials.set_password("e-1", " " * 12)

    assert not credentials.has_password("e-1")


def test_a_hash_made_with_weaker_parameters_is_replaced_on_sign_in(store_url: str) -> None:
    location = StoreLocation(store_url)
    Credentials(location, hasher=QUICK).set_password("e-1", PASSWORD)
    stronger = Credentials(location, hasher=STRONGER)
    old = stored_hash(stronger, "e-1")

    assert stronger.verify("e-1", PASSWORD)

    new = stored_hash(stronger, "e-1")
    assert old is not None and new is not None
    assert QUICK.check_needs_rehash(old) is False and STRONGER.check_needs_rehash(old)
    assert new != old and not STRONGER.check_needs_rehash(new)
    assert stronger.verify("e-1", PASSWORD)


def test_a_session_lives_until_it_expires(credentials: Credentials) -> None:
    session = credentials.start_session("e-1", now=NOON)

    found = credentials.session(session.session_id, now=NOON + timedelta(hours=7, minutes=59))
    expired = credentials.session(session.session_id, now=NOON + timedelta(hours=8))

    assert found == session
    assert session.employee_id == "e-1"
    assert len(session.session_id) >= 43  # 32 random bytes, url-safe
    assert expired is None


def test_only_a_digest_of_the_session_id_is_stored(credentials: Credentials) -> None:
    session = credentials.start_session("e-1")

    with Database(credentials.location) as database, database.transaction() as cursor:
        rows = cursor.execute("SELECT session_hash, csrf_token FROM web_sessions").fetchall()

    assert len(rows) == 1
    assert rows[0][0] != session.session_id
    assert rows[0][1] == session.csrf_token


def test_signing_out_ends_the_session_and_no_other(credentials: Credentials) -> None:
    mine = credentials.start_session("e-1")
    other = credentials.start_session("e-1")

    credentials.end_session(mine.session_id)

    assert credentials.session(mine.session_id) is None
    assert credentials.session(other.session_id) == other
    assert credentials.session("made-up") is None


def test_a_new_password_ends_every_session_of_that_employee(credentials: Credentials) -> None:
    credentials.set_password("e-1", PASSWORD)
    mine = credentials.start_session("e-1")
    theirs = credentials.start_session("e-2")

    credentials.set_password("e-1", "another long password")

    assert credentials.session(mine.session_id) is None
    assert credentials.session(theirs.session_id) == theirs


def test_a_session_accepts_its_own_csrf_token_only(credentials: Credentials) -> None:
    session = credentials.start_session("e-1")
    other = credentials.start_session("e-1")

    assert session.is_valid_csrf(session.csrf_token)
    assert not session.is_valid_csrf(other.csrf_token)
    assert not session.is_valid_csrf(None)
    assert not session.is_valid_csrf("")
    assert session.csrf_token != session.session_id
