"""What guards the pages: the session cookie, CSRF tokens, and the sign-in rate limit."""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

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


class SignInLimiter:
    """Failed sign-ins per key (an employee id, a client address) in a sliding window.

    Kept in this process's memory: each API process counts on its own, and a restart
    forgets. Enough for the embedded default; a shared limit needs a shared store.
    """

    def __init__(
        self,
        attempts: int = 5,
        window_seconds: float = 15 * 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.attempts = attempts
        self.window = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, keys: Iterable[str]) -> int | None:
        """Seconds until any of ``keys`` may try again; None when none is limited."""
        now = self._clock()
        waits = []
        with self._lock:
            for key in keys:
                failures = self._recent(key, now)
                if len(failures) >= self.attempts:
                    waits.append(failures[-self.attempts] + self.window - now)
        return max(1, int(max(waits)) + 1) if waits else None

    def failed(self, keys: Iterable[str]) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, key: str) -> None:
        """Forget ``key``'s failures (the employee's, not the address's: one good password
        must not reset an address that tries many employee ids)."""
        with self._lock:
            self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if len(self._failures) > MAX_KEYS:  # memory stays bounded under a spray of ids
            cutoff = now - self.window
            self._failures = {
                k: v for k, v in self._failures.items() if k == key or (v and v[-1] > cutoff)
            }
        return failures
