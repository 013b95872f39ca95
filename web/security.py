"""What guards the pages: the session cookie, CSRF tokens, and the sign-in rate limit."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from services.credentials import Credentials

SESSION_COOKIE = "backoffice_session"
SIGN_IN_COOKIE = "backoffice_sign_in"
"""Holds the sign-in form's token before there is a session (against login CSRF)."""


def same_token(expected: str | None, given: str | None) -> bool:
    """Whether a form's token matches, compared in constant time."""
    if not expected or not given:
        return False
    return secrets.compare_digest(expected.encode(), given.encode())


def set_cookie(
    response: Response,
    request: Request,
    name: str,
    value: str,
    *,
    max_age: int | None,
    always_secure: bool,
) -> None:
    """A cookie scripts cannot read, sent on top-level navigation only (SameSite=Lax),
    and only over https when the page came over https or the settings say so."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=always_secure or request.url.scheme == "https",
    )


class SignInLimiter:
    """Failed sign-ins in a sliding window, counted three ways: per employee id from one
    address (a low limit: someone's own typos, or one address guessing one password), per
    employee id from any address (guessing one account's password from many addresses),
    and per address for any employee id (one address trying many accounts; high enough that
    the ordinary typos of an office behind one NAT or proxy never reach it).

    An attempt refused for being over a limit is not counted, so one address alone puts at
    most ``per_pair`` failures towards an employee's count: it cannot lock them out from
    everywhere.

    Counted in the store's database (``Credentials``), so every API process counts the
    same failures and a restart forgets none; ``clock`` is wall-clock time, which those
    processes share.
    """

    def __init__(
        self,
        store: Credentials,
        per_pair: int = 5,
        per_employee: int = 10,
        per_address: int = 50,
        window_seconds: float = 15 * 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.per_pair = per_pair
        self.per_employee = per_employee
        self.per_address = per_address
        self.window = window_seconds
        self._clock = clock

    def _limits(self, employee_id: str, address: str) -> list[tuple[str, int]]:
        """What a failure counts as, and how many such failures are allowed. Kept as the
        SHA-256 of JSON (no employee id can pass for an address): whatever anyone types
        as the employee id takes 64 characters in the table, and fits its index."""
        return [
            (_counted_as("pair", address, employee_id), self.per_pair),
            (_counted_as("employee", employee_id), self.per_employee),
            (_counted_as("address", address), self.per_address),
        ]

    def retry_after(self, employee_id: str, address: str) -> int | None:
        """Seconds until ``employee_id`` may try again from ``address``; None when now."""
        now = self._clock()
        limits = self._limits(employee_id, address)
        latest = self.store.latest_failures(limits, since=now - self.window)
        waits = [
            failures[-1] + self.window - now
            for failures, (_, limit) in zip(latest, limits, strict=True)
            if len(failures) >= limit
        ]
        return max(1, int(max(waits)) + 1) if waits else None

    def attempt(self, employee_id: str, address: str) -> str:
        """Count a sign-in as failed from the moment its password is checked, so that
        attempts made at once count each other (counted only once checked, each of
        them would find the others' failures not yet written); the attempt's id, for
        :meth:`succeeded` or :meth:`withdraw` when it did not fail."""
        now = self._clock()
        attempt = secrets.token_hex(16)
        counted_as = [name for name, _ in self._limits(employee_id, address)]
        self.store.count_failure(counted_as, now, attempt, forget_before=now - self.window)
        return attempt

    def succeeded(self, employee_id: str, address: str, attempt: str) -> None:
        """Forget the ``attempt``, and the employee's failures (from this address and
        from any), not the address's: one good password must not reset an address that
        tries many ids."""
        pair, employee, _ = self._limits(employee_id, address)
        self.store.forget_failures(attempt, [pair[0], employee[0]])

    def withdraw(self, attempt: str) -> None:
        """Forget the ``attempt``: it did not fail (the right password of someone who may
        no longer sign in), or it could not be checked."""
        self.store.forget_failures(attempt)


def _counted_as(*key: str) -> str:
    return hashlib.sha256(json.dumps(key).encode()).hexdigest()
