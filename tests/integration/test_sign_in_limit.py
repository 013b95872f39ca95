"""The sign-in rate limit, counted in the store's database (on SQLite and PostgreSQL),
with a clock the tests move: shared by every API process, and kept across restarts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from argon2 import PasswordHasher

from projections.database import Database
from services.credentials import Credentials
from services.store import StoreLocation
from web.security import SignInLimiter

QUICK = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


Limit = Callable[..., SignInLimiter]


@pytest.fixture
def limit(store_url: str) -> Limit:
    """A limiter over the test's store, as an API process makes one (each call: another
    process, or the same one started again)."""

    def limiter(clock: Clock, **limits: Any) -> SignInLimiter:
        return SignInLimiter(
            Credentials(StoreLocation(store_url), hasher=QUICK), clock=clock, **limits
        )

    return limiter


def test_five_failures_from_one_address_lock_that_employee_until_the_first_ages_out(
    limit: Limit,
) -> None:
    clock = Clock()
    limiter = limit(clock)
    for _ in range(4):
        limiter.attempt("e-1", "10.0.0.7")
        clock.now += 60
    assert limiter.retry_after("e-1", "10.0.0.7") is None

    limiter.attempt("e-1", "10.0.0.7")

    assert limiter.retry_after("e-1", "10.0.0.7") == 900 - 4 * 60 + 1
    clock.now = 1000.0 + 900  # the first failure is now fifteen minutes old
    assert limiter.retry_after("e-1", "10.0.0.7") is None


def test_one_persons_wrong_passwords_do_not_lock_out_the_others_at_their_address(
    limit: Limit,
) -> None:
    """Behind an office NAT or proxy everyone shares one address."""
    limiter = limit(Clock())
    for _ in range(6):
        limiter.attempt("e-1", "127.0.0.1")

    assert limiter.retry_after("e-1", "127.0.0.1") is not None
    assert limiter.retry_after("e-2", "127.0.0.1") is None


def test_one_address_alone_cannot_lock_an_employee_out_from_everywhere(limit: Limit) -> None:
    limiter = limit(Clock())
    for _ in range(5):
        limiter.attempt("e-1", "10.0.0.7")

    assert limiter.retry_after("e-1", "10.0.0.7") is not None
    assert limiter.retry_after("e-1", "10.0.0.8") is None


def test_an_employee_is_limited_across_addresses_after_ten_failures(limit: Limit) -> None:
    """Guessing one account's password from many addresses is still slowed."""
    limiter = limit(Clock())
    for number in range(9):
        limiter.attempt("e-1", f"10.0.0.{number}")
    assert limiter.retry_after("e-1", "10.0.1.1") is None

    limiter.attempt("e-1", "10.0.0.9")

    assert limiter.retry_after("e-1", "10.0.1.1") is not None
    assert limiter.retry_after("e-2", "10.0.1.1") is None


def test_an_address_is_limited_across_employee_ids_after_fifty_failures(limit: Limit) -> None:
    limiter = limit(Clock())
    for number in range(49):
        limiter.attempt(f"e-{number}", "10.0.0.7")
    assert limiter.retry_after("e-99", "10.0.0.7") is None

    limiter.attempt("e-49", "10.0.0.7")

    assert limiter.retry_after("e-99", "10.0.0.7") is not None
    assert limiter.retry_after("e-99", "10.0.0.8") is None


def test_the_kinds_of_key_do_not_collide_whatever_the_employee_id(limit: Limit) -> None:
    limiter = limit(Clock(), per_pair=1, per_employee=1, per_address=1)
    limiter.attempt("address:10.0.0.7", "10.0.0.9")

    assert limiter.retry_after("e-1", "10.0.0.7") is None


def test_a_success_forgets_the_employees_failures_but_not_the_addresss(limit: Limit) -> None:
    limiter = limit(Clock(), per_pair=2, per_employee=3, per_address=4)
    limiter.attempt("e-1", "10.0.0.7")
    limiter.attempt("e-1", "10.0.0.7")

    limiter.succeeded("e-1", "10.0.0.7", limiter.attempt("e-1", "10.0.0.7"))

    assert limiter.retry_after("e-1", "10.0.0.7") is None
    limiter.attempt("e-1", "10.0.0.8")
    assert limiter.retry_after("e-1", "10.0.0.9") is None  # the employee's count began again
    limiter.attempt("e-2", "10.0.0.7")
    limiter.attempt("e-3", "10.0.0.7")
    assert limiter.retry_after("e-4", "10.0.0.7") is not None  # the address's did not


def test_an_attempt_counts_as_failed_from_its_start_so_attempts_at_once_count_each_other(
    limit: Limit,
) -> None:
    limiter = limit(Clock())
    for _ in range(5):
        limiter.attempt("e-1", "10.0.0.7")  # their passwords still being checked

    assert limiter.retry_after("e-1", "10.0.0.7") is not None


def test_an_attempt_withdrawn_counts_for_nothing(limit: Limit) -> None:
    limiter = limit(Clock(), per_pair=1, per_employee=1, per_address=1)

    limiter.withdraw(limiter.attempt("e-1", "10.0.0.7"))

    assert limiter.retry_after("e-1", "10.0.0.7") is None


def test_every_api_process_counts_the_same_failures(limit: Limit) -> None:
    clock = Clock()
    one, other = limit(clock), limit(clock)
    for _ in range(3):
        one.attempt("e-1", "10.0.0.7")
        other.attempt("e-1", "10.0.0.7")

    assert one.retry_after("e-1", "10.0.0.7") is not None
    assert other.retry_after("e-1", "10.0.0.7") is not None


def test_failures_are_still_counted_after_a_restart(limit: Limit) -> None:
    clock = Clock()
    before = limit(clock)
    for _ in range(5):
        before.attempt("e-1", "10.0.0.7")

    assert limit(clock).retry_after("e-1", "10.0.0.7") is not None


def test_failures_older_than_the_window_are_deleted_when_new_ones_come(
    limit: Limit, store_url: str
) -> None:
    clock = Clock()
    limiter = limit(clock)
    for number in range(3):
        limiter.attempt(f"e-{number}", "10.0.0.7")
    clock.now += 901

    limiter.attempt("e-9", "10.0.0.8")

    assert stored_failures(store_url) == 3  # the new failure's three counts only


def stored_failures(store_url: str) -> int:
    with Database(StoreLocation(store_url)) as database, database.transaction() as cursor:
        row = cursor.execute("SELECT COUNT(*) FROM web_sign_in_failures").fetchone()
    assert row is not None
    return int(row[0])


def test_a_failure_takes_the_same_room_in_the_table_however_long_the_id_sent(
    limit: Limit, store_url: str
) -> None:
    """Anyone may send a sign-in form: a megabyte typed as the employee id must not be
    kept, twice a failure, in the store's database."""
    limiter = limit(Clock(), per_pair=2)
    huge = "e" * 1_000_000
    limiter.attempt(huge, "10.0.0.7")
    assert limiter.retry_after(huge, "10.0.0.7") is None

    limiter.attempt(huge, "10.0.0.7")

    assert limiter.retry_after(huge, "10.0.0.7") is not None  # still counted as itself
    assert limiter.retry_after(huge[:-1], "10.0.0.7") is None
    with Database(StoreLocation(store_url)) as database, database.transaction() as cursor:
        row = cursor.execute("SELECT MAX(LENGTH(counted_as)) FROM web_sign_in_failures").fetchone()
    assert row is not None and int(row[0]) <= 64
