"""What guards the pages: the session cookie, CSRF tokens, and the sign-in rate limit."""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "backoffice_session"
MAX_KEYS = 10_000
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


Key = tuple[str, ...]


class SignInLimiter:
    """Failed sign-ins in a sliding window, counted three ways: per employee id from one
    address (a low limit: someone's own typos, or one address guessing one password), per
    employee id from any address (guessing one account's password from many addresses),
    and per address for any employee id (one address trying many accounts; high enough that
    the ordinary typos of an office behind one NAT or proxy never reach it).

    An attempt refused for being over a limit is not counted, so one address alone puts at
    most ``per_pair`` failures towards an employee's count: it cannot lock them out from
    everywhere.

    Kept in this process's memory: each API process counts on its own, and a restart
    forgets. Enough for the embedded default; a shared limit needs a shared store.
    """

    def __init__(
        self,
        per_pair: int = 5,
        per_employee: int = 10,
        per_address: int = 50,
        window_seconds: float = 15 * 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_pair = per_pair
        self.per_employee = per_employee
        self.per_address = per_address
        self.window = window_seconds
        self._clock = clock
        self._failures: dict[Key, deque[float]] = {}
        self._lock = threading.Lock()

    def _limits(self, employee_id: str, address: str) -> list[tuple[Key, int]]:
        return [
            (("pair", address, employee_id), self.per_pair),
            (("employee", employee_id), self.per_employee),
            (("address", address), self.per_address),
        ]

    def retry_after(self, employee_id: str, address: str) -> int | None:
        """Seconds until ``employee_id`` may try again from ``address``; None when now."""
        now = self._clock()
        waits = []
        with self._lock:
            for key, limit in self._limits(employee_id, address):
                failures = self._recent(key, now)
                if len(failures) >= limit:
                    waits.append(failures[-limit] + self.window - now)
        return max(1, int(max(waits)) + 1) if waits else None

    def failed(self, employee_id: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            for key, _ in self._limits(employee_id, address):
                self._recent(key, now).append(now)

    def succeeded(self, employee_id: str, address: str) -> None:
        """Forget the employee's failures (from this address and from any), not the
        address's: one good password must not reset an address that tries many ids."""
        pair, employee, _ = self._limits(employee_id, address)
        with self._lock:
            self._failures.pop(pair[0], None)
            self._failures.pop(employee[0], None)

    def _recent(self, key: Key, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if len(self._failures) > MAX_KEYS:  # memory stays bounded under a spray of ids
            cutoff = now - self.window
            self._failures = {
                k: v for k, v in self._failures.items() if k == key or (v and v[-1] > cutoff)
            }
        return failures
