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


def test_five_failures_in_fifteen_minutes_lock_the_key_until_the_first_ages_out() -> None:
    clock = Clock()
    limiter = SignInLimiter(attempts=5, window_seconds=900, clock=clock)
    for _ in range(4):
        limiter.failed(["employee:e-1"])
        clock.now += 60
    assert limiter.retry_after(["employee:e-1"]) is None

    limiter.failed(["employee:e-1"])

    assert limiter.retry_after(["employee:e-1"]) == 900 - 4 * 60 + 1
    clock.now = 1000.0 + 900  # the first failure is now fifteen minutes old
    assert limiter.retry_after(["employee:e-1"]) is None


def test_an_address_is_limited_across_employee_ids() -> None:
    limiter = SignInLimiter(attempts=5, window_seconds=900, clock=Clock())
    for number in range(5):
        limiter.failed([f"employee:e-{number}", "address:10.0.0.7"])

    assert limiter.retry_after(["employee:e-9", "address:10.0.0.7"]) is not None
    assert limiter.retry_after(["employee:e-9", "address:10.0.0.8"]) is None


def test_a_success_forgets_the_employees_failures_but_not_the_addresss() -> None:
    limiter = SignInLimiter(attempts=2, window_seconds=900, clock=Clock())
    limiter.failed(["employee:e-1", "address:10.0.0.7"])
    limiter.failed(["employee:e-1", "address:10.0.0.7"])

    limiter.succeeded("employee:e-1")

    assert limiter.retry_after(["employee:e-1"]) is None
    assert limiter.retry_after(["address:10.0.0.7"]) is not None


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
