"""A small Python client for other systems: the HTTP API, typed by the API's own schemas.

    from backoffice.client import BackofficeClient

    with BackofficeClient("http://127.0.0.1:8000", token) as backoffice:
        case = backoffice.submit_leave(
            "annual", date(2027, 7, 5), date(2027, 7, 9), key="hr-system-4711", reason="summer"
        )
        for task in backoffice.tasks():
            ...

Every command takes an idempotency key (``key``): the API applies a command once per
key, so the client sends a command again, with the same key, when the answer did not
arrive (the connection failed or timed out) or the API answered 502, 503 or 504 (the
workflow service, or the case's workflow, did not answer in time), up to ``attempts``
times in all, waiting 1, 2, 4... seconds or as the answer's ``Retry-After`` asks (at
most ``max_wait`` seconds). A refusal (4xx) is never sent again: it raises
:class:`BackofficeError` with the rule and the message the API gave; status 0 when no
answer came at all.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator, Mapping
from datetime import date
from types import TracebackType
from typing import Any, Self, TypeVar
from uuid import UUID

import httpx
from pydantic import BaseModel

from api.history import HistoryOut
from api.schemas import (
    BulkDecisionOut,
    BulkResultOut,
    HealthOut,
    InboxTaskOut,
    LeaveBalanceOut,
    LeaveRequestChanges,
    LeaveRequestOut,
    LeaveRequestSummary,
)

Model = TypeVar("Model", bound=BaseModel)

RETRIED_STATUSES = {502, 503, 504}
"""Answers that mean the command may not have been applied: sent again, same key."""
RETRIED_FAILURES = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
"""Failures to hear an answer that may pass: the request is sent again. Others (an
address that is not one, a proxy refusing) fail the same way each time."""
BEARER_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
"""What a bearer token may hold (RFC 6750): anything else would be sent mangled, or
shown in an error about the header."""


class BackofficeError(Exception):
    """The API refused a request, or kept failing: ``status``, ``rule`` (the API's name
    for the rule that refused it, if one did) and ``detail`` (its message)."""

    def __init__(self, status: int, detail: str, rule: str | None = None) -> None:
        super().__init__(f"{status} {rule or 'error'}: {detail}")
        self.status = status
        self.detail = detail
        self.rule = rule


class BackofficeClient:
    """The API at ``base_url`` (``http://host:port``) as the holder of ``token``."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 60.0,
        attempts: int = 4,
        max_wait: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        if not BEARER_TOKEN.fullmatch(token):
            # Never echoed: a token is a credential.
            raise ValueError(
                "token: empty, or holding spaces, line breaks or other characters a bearer"
                " token cannot hold; pass it bare, as `backoffice token` prints it"
            )
        if httpx.URL(base_url).scheme not in ("http", "https"):
            raise ValueError(f"base_url: {base_url!r} is not an http:// or https:// address")
        self.attempts = attempts
        self.max_wait = max_wait
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- leave requests ----------------------------------------------------------------

    def submit_leave(
        self,
        leave_type: str,
        start: date,
        end: date,
        *,
        key: str,
        reason: str | None = None,
        half_day_start: bool = False,
        half_day_end: bool = False,
        employee_id: str | None = None,
    ) -> LeaveRequestOut:
        """Ask for leave (``annual``, ``unpaid``, ``sick``): the new case. The same
        ``key`` with the same request answers the same case; with another, a refusal.
        ``employee_id``: whose leave it is, for ``hr`` (with a ``reason``); yours if None."""
        body = {
            "type": leave_type,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "half_day_start": half_day_start,
            "half_day_end": half_day_end,
            "reason": reason,
        }
        if employee_id is not None:
            body["employee_id"] = employee_id
        return self._command("/api/leave-requests", body, key, LeaveRequestOut)

    def leave_request(self, case_id: UUID | str) -> LeaveRequestOut:
        return self._read(f"/api/leave-requests/{case_id}", LeaveRequestOut)

    def leave_requests(
        self, *, mine: bool = True, page: int = 200
    ) -> Iterator[LeaveRequestSummary]:
        """Your requests (``mine=False``: every one you may see), newest first, read
        ``page`` at a time as the iteration goes."""
        params: dict[str, Any] = {"mine": "true" if mine else "false", "limit": page}
        for items in self._pages("/api/leave-requests", params):
            yield from (LeaveRequestSummary.model_validate(item) for item in items)

    def changes(
        self, *, after: int = 0, mine: bool = True, page: int = 200
    ) -> Iterator[LeaveRequestSummary]:
        """The requests changed after log position ``after`` (yours; ``mine=False``: every
        one you may see), the earliest change first, each once as it stands now, read
        ``page`` at a time until caught up. To follow requests, keep the ``position`` of
        the last one you have processed and pass it as ``after`` next time."""
        params: dict[str, Any] = {"mine": "true" if mine else "false", "limit": page}
        while True:
            query = {**params, "after": after}
            answer = self._read("/api/leave-requests/changes", LeaveRequestChanges, query)
            yield from answer.items
            if answer.caught_up:
                return
            after = answer.next_after

    def withdraw(
        self, case_id: UUID | str, *, key: str, reason: str | None = None
    ) -> LeaveRequestOut:
        """Withdraw a pending request (``reason``: required when ``hr`` withdraws another's)."""
        body = None if reason is None else {"reason": reason}
        return self._command(f"/api/leave-requests/{case_id}/withdraw", body, key, LeaveRequestOut)

    def cancel(
        self, case_id: UUID | str, *, key: str, reason: str | None = None
    ) -> LeaveRequestOut:
        """Cancel approved leave before it starts (``reason`` as for :meth:`withdraw`)."""
        body = None if reason is None else {"reason": reason}
        return self._command(f"/api/leave-requests/{case_id}/cancel", body, key, LeaveRequestOut)

    def shorten(
        self,
        case_id: UUID | str,
        last_day: date,
        *,
        key: str,
        reason: str | None = None,
        half_day_end: bool = False,
    ) -> LeaveRequestOut:
        """End approved leave early on ``last_day`` (from yesterday on; ``reason``: required
        when ``hr`` ends another's, on any of its days); the days after it are given back.
        ``half_day_end``: back at noon on ``last_day``, which keeps only its morning."""
        body: dict[str, object] = {"last_day": last_day.isoformat(), "reason": reason}
        if half_day_end:  # left out otherwise, as an API before it would refuse it
            body["half_day_end"] = True
        return self._command(f"/api/leave-requests/{case_id}/shorten", body, key, LeaveRequestOut)

    def leave_balance(self, employee_id: str, year: int | None = None) -> LeaveBalanceOut:
        params = {} if year is None else {"year": year}
        return self._read(f"/api/employees/{employee_id}/leave-balance", LeaveBalanceOut, params)

    # -- tasks -------------------------------------------------------------------------

    def tasks(self, *, page: int = 200) -> Iterator[InboxTaskOut]:
        """Your open tasks (and those you may decide as a delegate), read ``page`` at a
        time as the iteration goes."""
        for items in self._pages("/api/tasks", {"limit": page}):
            yield from (InboxTaskOut.model_validate(item) for item in items)

    def decide(
        self, task_id: str, decision: str, *, key: str, comment: str | None = None
    ) -> LeaveRequestOut:
        """Decide a task (``approve`` or ``reject``): the case as it stands after it."""
        body = {"decision": decision, "comment": comment}
        return self._command(f"/api/tasks/{task_id}/decision", body, key, LeaveRequestOut)

    def decide_many(
        self, decisions: Mapping[str, str], *, key: str, comment: str | None = None
    ) -> list[BulkResultOut]:
        """Decide several tasks at once (``{task id: "approve" or "reject"}``, at most
        100), each checked as :meth:`decide` would: one result per task, in the order
        given, whose ``outcome`` is ``decided``, ``refused`` (with the rule), or
        ``failed`` (not confirmed: call again with the same ``key``, nothing is decided
        twice)."""
        body = {
            "decisions": [
                {"task_id": task_id, "decision": decision, "comment": comment}
                for task_id, decision in decisions.items()
            ]
        }
        return self._command("/api/tasks/decisions", body, key, BulkDecisionOut).results

    # -- following and auditing ----------------------------------------------------------

    def history(self, case_id: UUID | str) -> HistoryOut:
        """Every event recorded on the case, oldest first, with who and when."""
        return self._read(f"/api/leave-requests/{case_id}/history", HistoryOut)

    def health(self) -> HealthOut:
        """Whether the API reaches Temporal and the event store."""
        return self._read("/api/health", HealthOut)

    # -- the wire ----------------------------------------------------------------------

    def _read(
        self, path: str, model: type[Model], params: Mapping[str, Any] | None = None
    ) -> Model:
        return model.model_validate(self._send("GET", path, params=params).json())

    def _command(self, path: str, body: object, key: str, model: type[Model]) -> Model:
        if not key:
            raise ValueError("a command needs an idempotency key, so that it can be sent again")
        response = self._send("POST", path, json=body, headers={"Idempotency-Key": key})
        return model.model_validate(response.json())

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[list[Any]]:
        after: str | None = None
        while True:
            answer = self._send("GET", path, params={**params, **_after(after)}).json()
            yield answer["items"]
            after = answer.get("next_after")
            if after is None:
                return

    def _send(self, method: str, path: str, **request: Any) -> httpx.Response:
        """The answer to the request, sent again (the same, key included) while it may
        not have arrived or been applied; :class:`BackofficeError` for a refusal."""
        for attempt in range(1, self.attempts + 1):
            last = attempt == self.attempts
            try:
                response = self._http.request(method, path, **request)
            except RETRIED_FAILURES as error:
                if last:
                    raise BackofficeError(
                        0, f"no answer from the API after {self.attempts} attempts: {error}"
                    ) from error
                time.sleep(min(self.max_wait, _backoff(attempt)))
                continue
            except httpx.TransportError as error:
                raise BackofficeError(0, f"the request could not be sent: {error}") from error
            if response.status_code in RETRIED_STATUSES and not last:
                time.sleep(min(self.max_wait, _retry_after(response, _backoff(attempt))))
                continue
            if response.is_success:
                return response
            raise _refusal(response)
        raise AssertionError("unreachable")  # pragma: no cover


def _backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt ``attempt``: 1, 2, 4..."""
    return float(2 ** (attempt - 1))


def _after(cursor: str | None) -> dict[str, str]:
    return {} if cursor is None else {"after": cursor}


def _retry_after(response: httpx.Response, default: float) -> float:
    """The seconds the answer's ``Retry-After`` asks for, else ``default``."""
    try:
        seconds = float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return default
    return seconds if math.isfinite(seconds) and seconds >= 0 else default


def _refusal(response: httpx.Response) -> BackofficeError:
    try:
        body = response.json()
        return BackofficeError(response.status_code, str(body["detail"]), body.get("rule"))
    except (ValueError, KeyError, TypeError):
        return BackofficeError(response.status_code, response.text[:500] or response.reason_phrase)
