"""The sign-in rate limit and the token comparison, with a clock the tests move."""

from __future__ import annotations

import pytest

from web.security import SignInLimiter, same_token
from web.sign_in import safe_next


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_five_failures_from_one_address_lock_that_employee_until_the_first_ages_out() -> None:
    clock = Clock()
    limiter = SignInLimiter(clock=clock)
    for _ in range(4):
        limiter.failed("e-1", "10.0.0.7")
        clock.now += 60
    assert limiter.retry_after("e-1", "10.0.0.7") is None

    limiter.failed("e-1", "10.0.0.7")

    assert limiter.retry_after("e-1", "10.0.0.7") == 900 - 4 * 60 + 1
    clock.now = 1000.0 + 900  # the first failure is now fifteen minutes old
    assert limiter.retry_after("e-1", "10.0.0.7") is None


def test_one_persons_wrong_passwords_do_not_lock_out_the_others_at_their_address() -> None:
    """Behind an office NAT or proxy everyone shares one address."""
    limiter = SignInLimiter(clock=Clock())
    for _ in range(6):
        limiter.failed("e-1", "127.0.0.1")

    assert limiter.retry_after("e-1", "127.0.0.1") is not None
    assert limiter.retry_after("e-2", "127.0.0.1") is None


def test_one_address_alone_cannot_lock_an_employee_out_from_everywhere() -> None:
    limiter = SignInLimiter(clock=Clock())
    for _ in range(5):
        limiter.failed("e-1", "10.0.0.7")

    assert limiter.retry_after("e-1", "10.0.0.7") is not None
    assert limiter.retry_after("e-1", "10.0.0.8") is None


def test_an_employee_is_limited_across_addresses_after_ten_failures() -> None:
    """Guessing one account's password from many addresses is still slowed."""
    limiter = SignInLimiter(clock=Clock())
    for number in range(9):
        limiter.failed("e-1", f"10.0.0.{number}")
    assert limiter.retry_after("e-1", "10.0.1.1") is None

    limiter.failed("e-1", "10.0.0.9")

    assert limiter.retry_after("e-1", "10.0.1.1") is not None
    assert limiter.retry_after("e-2", "10.0.1.1") is None


def test_an_address_is_limited_across_employee_ids_after_fifty_failures() -> None:
    limiter = SignInLimiter(clock=Clock())
    for number in range(49):
        limiter.failed(f"e-{number}", "10.0.0.7")
    assert limiter.retry_after("e-99", "10.0.0.7") is None

    limiter.failed("e-49", "10.0.0.7")

    assert limiter.retry_after("e-99", "10.0.0.7") is not None
    assert limiter.retry_after("e-99", "10.0.0.8") is None


def test_the_kinds_of_key_do_not_collide_whatever_the_employee_id() -> None:
    limiter = SignInLimiter(per_pair=1, per_employee=1, per_address=1, clock=Clock())
    limiter.failed("address:10.0.0.7", "10.0.0.9")

    assert limiter.retry_after("e-1", "10.0.0.7") is None


def test_a_success_forgets_the_employees_failures_but_not_the_addresss() -> None:
    limiter = SignInLimiter(per_pair=2, per_employee=3, per_address=4, clock=Clock())
    limiter.failed("e-1", "10.0.0.7")
    limiter.failed("e-1", "10.0.0.7")

    limiter.succeeded("e-1", "10.0.0.7")

    assert limiter.retry_after("e-1", "10.0.0.7") is None
    limiter.failed("e-1", "10.0.0.8")
    assert limiter.retry_after("e-1", "10.0.0.9") is None  # the employee's count began again
    limiter.failed("e-2", "10.0.0.7")
    limiter.failed("e-3", "10.0.0.7")
    assert limiter.retry_after("e-4", "10.0.0.7") is not None  # the address's did not


def test_tokens_match_only_when_both_are_present_and_equal() -> None:
    assert same_token("abc", "abc")
    assert not same_token("abc", "abd")
    assert not same_token("abc", None)
    assert not same_token(None, None)
    assert not same_token("", "")


@pytest.mark.parametrize(
    ("asked", "goes_to"),
    [
        ("/tasks/abc.approval", "/tasks/abc.approval"),
        ("/requests?x=1", "/requests?x=1"),
        ("https://elsewhere.example/", "/tasks"),
        ("//elsewhere.example/", "/tasks"),
        ("/\\elsewhere.example/", "/tasks"),
        (None, "/tasks"),
    ],
)
def test_after_sign_in_only_a_path_on_this_site_is_followed(
    asked: str | None, goes_to: str
) -> None:
    assert safe_next(asked) == goes_to
