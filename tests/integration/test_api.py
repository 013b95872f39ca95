"""The HTTP API end to end: a Temporal dev server, a worker, a real store and the
projection runner, with the FastAPI app driven in-process."""

from __future__ import annotations

import asyncio
import gc
import re
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import closing
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import jwt
import psycopg
import pytest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleSpec,
    ScheduleState,
)

from api.app import create_app
from api.auth import issue_token
from api.leave_requests import submission_case_id
from backoffice.schedules import SWEEP_TIMEOUT, ensure_schedules, sweep_schedule_id
from backoffice.settings import Settings
from domain.meta import Meta
from projections.queries import ReadModels
from services.application import Saved
from services.store import StoreLocation
from tests.integration.api_conftest import Api, temporal_behind_relay, weeks_ahead, working_days
from workflows.messages import DATA_CONVERTER
from workflows.sweep import LeaversTasksSweepWorkflow

TODAY = datetime.now(UTC).date()

# -- authentication ------------------------------------------------------------------------


async def test_a_request_without_a_token_is_refused_with_a_bearer_challenge(api: Api) -> None:
    response = await api.http.get("/api/tasks")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {
        "detail": "send an 'Authorization: Bearer <token>' header",
        "rule": "token_missing",
    }


BAD_TOKENS: dict[str, Callable[[Settings], str]] = {
    "garbage": lambda settings: "not-a-token",
    "signed with another secret": lambda settings: jwt.encode(
        {"sub": "e-3", "iss": settings.jwt_issuer, "exp": datetime.now(UTC) + timedelta(hours=1)},
        "another-secret-that-is-long-enough-for-hs256",
        algorithm="HS256",
    ),
    "expired": lambda settings: issue_token(
        settings, "e-3", now=datetime.now(UTC) - timedelta(hours=settings.token_ttl_hours + 1)
    ),
    "from another issuer": lambda settings: issue_token(
        settings.model_copy(update={"jwt_issuer": "elsewhere"}), "e-3"
    ),
    "for nobody we employ": lambda settings: issue_token(settings, "e-999"),
}


@pytest.mark.parametrize("make_token", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
async def test_a_bad_expired_or_foreign_token_is_refused(
    api: Api, make_token: Callable[[Settings], str]
) -> None:
    token = make_token(api.context.settings)

    response = await api.http.get("/api/tasks", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["rule"] in {"invalid_token", "token_expired", "unknown_employee"}


# -- submitting ----------------------------------------------------------------------------


async def test_an_employee_submits_leave_and_finds_it_among_their_own(api: Api) -> None:
    start, end = weeks_ahead(4)

    response = await api.submit("e-3", (start, end), reason="family visit")

    assert response.status_code == 201, response.text
    case = response.json()
    assert response.headers["Location"] == f"/api/leave-requests/{case['id']}"
    assert (case["status"], case["requester_id"], case["type"]) == ("pending", "e-3", "annual")
    assert (case["start"], case["end"]) == (start.isoformat(), end.isoformat())
    assert (case["working_days"], case["reason"], case["decisions"]) == (3, "family visit", [])
    read = await api.get("e-3", f"/api/leave-requests/{case['id']}")
    assert read.status_code == 200
    assert read.json()["status"] == "pending"
    mine = await api.get("e-3", "/api/leave-requests", {"mine": "true"})
    assert [(item["id"], item["status"]) for item in mine.json()["items"]] == [
        (case["id"], "pending")
    ]


async def test_sick_leave_is_recorded_without_waiting_for_anyone(api: Api) -> None:
    response = await api.submit("e-3", weeks_ahead(2, days=2), type="sick")

    assert response.status_code == 201
    assert (response.json()["status"], response.json()["tasks"]) == ("recorded", [])


async def test_the_same_idempotency_key_returns_the_same_case_and_never_a_second(
    api: Api,
) -> None:
    period = weeks_ahead(5)

    first = await api.submit("e-3", period, key="holiday-2030")
    again = await api.submit("e-3", period, key="holiday-2030")

    assert (first.status_code, again.status_code) == (201, 201)
    assert (
        first.json()["id"] == again.json()["id"] == str(submission_case_id("e-3", "holiday-2030"))
    )
    mine = await api.get("e-3", "/api/leave-requests")
    assert len(mine.json()["items"]) == 1
    balance = await api.get("e-3", "/api/employees/e-3/leave-balance", {"year": period[0].year})
    assert balance.json()["pending"] == 3


async def test_an_idempotency_key_reused_for_another_request_is_refused(api: Api) -> None:
    await api.submit("e-3", weeks_ahead(5), key="k-1")

    response = await api.submit("e-3", weeks_ahead(8), key="k-1")

    assert response.status_code == 422
    assert response.json()["rule"] == "idempotency_key_reused"


async def test_a_request_with_two_different_idempotency_keys_is_refused_and_records_nothing(
    api: Api,
) -> None:
    start, end = weeks_ahead(5)
    body = {"type": "annual", "start": start.isoformat(), "end": end.isoformat()}
    case = await api.pending("e-3", weeks_ahead(9))
    task = await api.task_for("e-2", case["id"])
    before = api.context.application.recorder.max_notification_id()

    def two_keys(employee_id: str) -> list[tuple[str, str]]:
        (authorization,) = api.headers(employee_id).items()
        keys = [("Idempotency-Key", "two-keys-a"), ("Idempotency-Key", "two-keys-b")]
        return [authorization, *keys]

    answers = [
        await api.http.post("/api/leave-requests", json=body, headers=two_keys("e-3")),
        await api.http.post(
            f"/api/tasks/{task['id']}/decision",
            json={"decision": "approve"},
            headers=two_keys("e-2"),
        ),
        await api.http.post(
            f"/api/leave-requests/{case['id']}/withdraw", json={}, headers=two_keys("e-3")
        ),
    ]

    for answer in answers:
        assert (answer.status_code, answer.json()) == (
            422,
            {
                "detail": "header Idempotency-Key given 2 times with different values: send"
                " one key (the same value given twice counts as one)",
                "rule": "repeated_header",
            },
        ), answer.request.url
    assert api.context.application.recorder.max_notification_id() == before


async def test_an_idempotency_key_given_twice_with_one_value_counts_as_one(api: Api) -> None:
    start, end = weeks_ahead(5)
    body = {"type": "annual", "start": start.isoformat(), "end": end.isoformat()}
    (authorization,) = api.headers("e-3").items()
    key = ("Idempotency-Key", "one-key-twice")
    twice = [authorization, key, key]

    response = await api.http.post("/api/leave-requests", json=body, headers=twice)

    assert response.status_code == 201, response.text
    assert response.json()["id"] == str(submission_case_id("e-3", "one-key-twice"))


async def test_requests_racing_with_one_idempotency_key_for_different_leave_are_not_both_taken(
    api: Api,
) -> None:
    asked = {"first": weeks_ahead(5), "second": weeks_ahead(8)}

    answers = await asyncio.gather(
        *(api.submit("e-3", period, key="raced") for period in asked.values())
    )

    assert sorted(answer.status_code for answer in answers) == [201, 422], [
        answer.text for answer in answers
    ]
    (taken, period), (refused, _) = sorted(
        zip(answers, asked.values(), strict=True), key=lambda pair: pair[0].status_code
    )
    assert (taken.json()["start"], taken.json()["end"]) == tuple(day.isoformat() for day in period)
    assert refused.json()["rule"] == "idempotency_key_reused"
    mine = await api.get("e-3", "/api/leave-requests")
    assert [item["id"] for item in mine.json()["items"]] == [taken.json()["id"]]


@pytest.mark.parametrize("streamed", [False, True], ids=["its length given", "streamed"])
@pytest.mark.parametrize("signed", [True, False], ids=["with a token", "without one"])
async def test_a_body_over_a_megabyte_is_refused_before_it_is_read(
    api: Api, signed: bool, streamed: bool
) -> None:
    headers = {"Content-Type": "application/json"}
    if signed:
        headers.update(api.headers("e-3"))
    body = b'{"type": "annual", "reason": "' + b"a" * 2_000_000 + b'"}'

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    content = chunks() if streamed else body
    response = await api.http.post("/api/leave-requests", content=content, headers=headers)

    assert response.status_code == 413
    assert response.json() == {
        "detail": "the request body is larger than 1 MB, the most any request here needs",
        "rule": "body_too_large",
    }


async def test_a_reason_with_control_characters_is_refused_and_nothing_recorded(api: Api) -> None:
    before = api.context.application.recorder.max_notification_id()

    response = await api.submit("e-3", weeks_ahead(5), reason="family\u0000visit")

    assert response.status_code == 422
    assert response.json()["rule"] == "invalid_request"
    # our own rule's words, without pydantic's "Value error, " before them
    assert response.json()["detail"].startswith("reason: must not contain control characters")
    assert api.context.application.recorder.max_notification_id() == before


async def test_a_reason_may_have_several_lines(api: Api) -> None:
    response = await api.submit("e-3", weeks_ahead(5), reason="family visit\r\n\tin Lyon")

    assert response.status_code == 201, response.text
    assert response.json()["reason"] == "family visit\r\n\tin Lyon"


async def test_a_body_nested_too_deeply_to_read_is_refused_as_invalid_json(api: Api) -> None:
    response = await api.http.post(
        "/api/leave-requests",
        content="[" * 100_000 + "]" * 100_000,
        headers={**api.headers("e-3"), "Content-Type": "application/json"},
    )

    assert response.status_code == 422
    assert response.json() == {
        "detail": "the request body could not be read as JSON",
        "rule": "invalid_request",
    }


async def test_a_date_that_is_not_one_is_refused_saying_what_a_date_looks_like(api: Api) -> None:
    body = {"type": "annual", "start": 5, "end": "13/01/2030"}

    response = await api.post("e-3", "/api/leave-requests", body)

    assert response.status_code == 422
    assert response.json()["detail"] == (
        "start: must be a date such as 2027-07-05; end: must be a date such as 2027-07-05"
    )


async def test_a_day_the_calendar_does_not_have_is_refused_saying_so(api: Api) -> None:
    body = {"type": "annual", "start": "2027-02-30", "end": "2027-13-01"}

    response = await api.post("e-3", "/api/leave-requests", body)

    assert response.status_code == 422
    assert response.json()["detail"] == (
        "start: there is no day 2027-02-30 in the calendar (February 2027 has 28 days);"
        " end: there is no day 2027-13-01 in the calendar (a year has 12 months)"
    )
    assert (await api.get("e-3", "/api/leave-requests")).json()["items"] == []


async def test_a_date_given_as_an_instant_or_a_number_is_refused_and_nothing_recorded(
    api: Api,
) -> None:
    start, end = weeks_ahead(4)
    midnight = datetime.combine(start, datetime.min.time()).isoformat()  # 2027-09-06T00:00:00
    seconds = int(datetime.combine(end, datetime.min.time(), UTC).timestamp())

    response = await api.submit("e-3", (start, end), start=midnight, end=seconds)

    assert response.status_code == 422
    assert response.json() == {
        "detail": "start: must be a date such as 2027-07-05;"
        " end: must be a date such as 2027-07-05",
        "rule": "invalid_request",
    }
    assert (await api.get("e-3", "/api/leave-requests")).json()["items"] == []


async def test_a_half_day_given_as_anything_but_true_or_false_is_refused_and_nothing_recorded(
    api: Api,
) -> None:
    response = await api.submit("e-3", weeks_ahead(4), half_day_start="yes", half_day_end=1)

    assert response.status_code == 422
    assert response.json() == {
        "detail": "half_day_start: must be true or false; half_day_end: must be true or false",
        "rule": "invalid_request",
    }
    assert (await api.get("e-3", "/api/leave-requests")).json()["items"] == []


async def test_a_body_sent_as_plain_text_is_refused_naming_the_content_type(api: Api) -> None:
    response = await api.http.post(
        "/api/leave-requests",
        content='{"type": "annual", "start": "2030-01-07", "end": "2030-01-07"}',
        headers={**api.headers("e-3"), "Content-Type": "text/plain"},
    )

    assert response.status_code == 422
    assert response.json()["detail"] == (
        "request body: must be a JSON object, sent as Content-Type: application/json"
    )


async def test_a_request_racing_a_refused_one_under_its_key_is_never_given_that_refusal(
    api: Api,
) -> None:
    await api.pending("e-3", weeks_ahead(5))
    wanted = weeks_ahead(8)

    overlapping, other = await asyncio.gather(
        api.submit("e-3", weeks_ahead(5), key="raced-refusal"),
        api.submit("e-3", wanted, key="raced-refusal"),
    )

    # The overlapping one is refused, or finds the other's case under its key.
    assert (overlapping.status_code, overlapping.json()["rule"]) in [
        (409, "overlap"),
        (422, "idempotency_key_reused"),
    ]
    # The other is taken, or finds the refused request under its key: never that refusal.
    if other.status_code == 201:
        assert (other.json()["start"], other.json()["end"]) == tuple(d.isoformat() for d in wanted)
    else:
        assert (other.status_code, other.json()["rule"]) == (422, "idempotency_key_reused")


def next_weekend() -> tuple[date, date]:
    saturday = TODAY + timedelta(weeks=3)
    while saturday.weekday() != 5:
        saturday += timedelta(days=1)
    return saturday, saturday + timedelta(days=1)


REFUSALS: dict[str, tuple[str, tuple[date, date], str]] = {
    "end before start": ("e-3", weeks_ahead(4)[::-1], "end_before_start"),
    "only a weekend": ("e-3", next_weekend(), "zero_working_days"),
    "more than the balance": (
        "e-3",
        working_days(TODAY + timedelta(weeks=4), 31),
        "insufficient_balance",
    ),
    "nobody to approve": ("e-1", weeks_ahead(4), "no_approver"),
}


@pytest.mark.parametrize(("employee_id", "period", "rule"), REFUSALS.values(), ids=REFUSALS.keys())
async def test_a_refused_request_names_the_rule_and_records_nothing(
    api: Api, employee_id: str, period: tuple[date, date], rule: str
) -> None:
    key = f"try-{rule}"  # the tests share one Temporal, where a key's workflow stays
    response = await api.submit(employee_id, period, key=key)

    assert response.status_code == 422
    assert response.json()["rule"] == rule
    assert response.json()["detail"]
    case_id = submission_case_id(employee_id, key)
    assert (await api.get(employee_id, f"/api/leave-requests/{case_id}")).status_code == 404
    assert (await api.get(employee_id, "/api/leave-requests")).json()["items"] == []
    retried = await api.submit(employee_id, period, key=key)
    assert (retried.status_code, retried.json()["rule"]) == (422, rule)


async def test_a_request_overlapping_another_is_refused_with_409(api: Api) -> None:
    start, end = weeks_ahead(4, days=5)
    await api.pending("e-3", (start, end))

    response = await api.submit("e-3", (end, end + timedelta(days=7)))

    assert response.status_code == 409
    assert response.json()["rule"] == "overlap"
    assert len((await api.get("e-3", "/api/leave-requests")).json()["items"]) == 1


INVALID_BODIES: dict[str, tuple[dict[str, Any], str]] = {
    "no type": ({"start": "2031-03-03", "end": "2031-03-04"}, "type: Field required"),
    "unknown type": ({"type": "party", "start": "2031-03-03", "end": "2031-03-04"}, "type:"),
    "not a date": ({"type": "annual", "start": "soon", "end": "2031-03-04"}, "start:"),
    "unknown field": (
        {"type": "annual", "start": "2031-03-03", "end": "2031-03-04", "colour": "blue"},
        "colour:",
    ),
}


@pytest.mark.parametrize(("body", "says"), INVALID_BODIES.values(), ids=INVALID_BODIES.keys())
async def test_invalid_input_is_answered_422_with_a_readable_detail(
    api: Api, body: dict[str, Any], says: str
) -> None:
    response = await api.post("e-3", "/api/leave-requests", body)

    assert response.status_code == 422
    assert response.json()["rule"] == "invalid_request"
    assert says in response.json()["detail"]


async def test_a_body_that_is_not_json_is_answered_422(api: Api) -> None:
    response = await api.http.post(
        "/api/leave-requests",
        content=b"{not json",
        headers={**api.headers("e-3"), "Content-Type": "application/json"},
    )

    assert response.status_code == 422
    assert response.json()["detail"].startswith("request body")


async def test_asking_leave_for_someone_else_is_refused_but_naming_yourself_is_fine(
    api: Api,
) -> None:
    for_someone_else = await api.submit("e-3", weeks_ahead(4), employee_id="e-4")
    for_yourself = await api.submit("e-3", weeks_ahead(4), employee_id="e-3")

    assert for_someone_else.status_code == 403
    assert for_someone_else.json()["rule"] == "only_for_yourself"
    assert (await api.get("e-4", "/api/leave-requests")).json()["items"] == []
    assert for_yourself.status_code == 201


def hr_is_ken(api: Api) -> None:
    api.context.application.set_role_members("hr", ["e-5"], Meta("e-1", "hr-is-ken", "tests"))


async def test_hr_asks_for_someones_leave_saying_why_and_it_is_theirs(api: Api) -> None:
    """Ken (hr) asks for leave agreed with Linus: the case is Linus's, decided by his
    manager as any other; the history says Ken asked."""
    hr_is_ken(api)

    response = await api.submit("e-5", weeks_ahead(4), employee_id="e-3", reason="agreed")

    assert response.status_code == 201, response.text
    case = response.json()
    assert (case["requester_id"], case["status"], case["reason"]) == ("e-3", "pending", "agreed")
    linus = await api.get("e-3", "/api/leave-requests")
    assert [item["id"] for item in linus.json()["items"]] == [case["id"]]
    assert (await api.get("e-5", "/api/leave-requests")).json()["items"] == []  # not Ken's
    assert (await api.task_for("e-2", case["id"]))["case_id"] == case["id"]
    history = await api.get("e-3", f"/api/leave-requests/{case['id']}/history")
    assert [(i["type"], i["actor"]) for i in history.json()["items"]][:1] == [("Submitted", "e-5")]


async def test_hr_must_say_why_they_ask_for_someones_leave_and_nothing_is_recorded(
    api: Api,
) -> None:
    hr_is_ken(api)

    response = await api.submit("e-5", weeks_ahead(4), employee_id="e-3")

    assert response.status_code == 422
    assert response.json() == {
        "detail": "say why you ask for leave on behalf of e-3: the reason is recorded and"
        " shown to them",
        "rule": "reason_required",
    }
    assert (await api.get("e-3", "/api/leave-requests")).json()["items"] == []


async def test_leave_asked_for_someone_the_directory_does_not_know_is_refused_naming_them(
    api: Api,
) -> None:
    hr_is_ken(api)

    response = await api.submit("e-5", weeks_ahead(4), employee_id="e-99", reason="agreed")

    assert response.status_code == 422
    assert response.json() == {
        "detail": "employee_id: the directory has no employee e-99",
        "rule": "unknown_employee",
    }


async def test_a_request_hr_asked_for_sent_again_after_losing_the_role_answers_its_case(
    api: Api,
) -> None:
    """The key's answer is the case recorded, whoever holds hr when it is sent again."""
    hr_is_ken(api)
    period = weeks_ahead(4)
    first = await api.submit("e-5", period, key="hr-lost-role", employee_id="e-3", reason="agreed")
    api.context.application.set_role_members("hr", [], Meta("e-1", "hr-is-nobody", "tests"))

    again = await api.submit("e-5", period, key="hr-lost-role", employee_id="e-3", reason="agreed")
    new = await api.submit(
        "e-5", period, key="hr-lost-role-new", employee_id="e-3", reason="agreed"
    )

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert (new.status_code, new.json()["rule"]) == (403, "only_for_yourself")


async def test_an_employee_id_longer_than_any_id_is_refused_before_anything_is_kept(
    api: Api,
) -> None:
    hr_is_ken(api)

    response = await api.submit("e-5", weeks_ahead(4), employee_id="e" * 201, reason="agreed")

    assert (response.status_code, response.json()["rule"]) == (422, "invalid_request")
    assert "employee_id" in response.json()["detail"]
    assert (await api.get("e-5", "/api/leave-requests")).json()["items"] == []


async def test_hr_sending_again_asks_once_and_the_key_holds_the_employee_too(api: Api) -> None:
    hr_is_ken(api)
    period = weeks_ahead(4)

    first = await api.submit("e-5", period, key="hr-asks", employee_id="e-3", reason="agreed")
    again = await api.submit("e-5", period, key="hr-asks", employee_id="e-3", reason="agreed")
    other = await api.submit("e-5", period, key="hr-asks", employee_id="e-4", reason="agreed")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert (other.status_code, other.json()["rule"]) == (422, "idempotency_key_reused")
    assert (await api.get("e-4", "/api/leave-requests")).json()["items"] == []


async def test_hr_who_asked_for_someones_leave_may_not_also_approve_it(api: Api) -> None:
    """Ada holds hr and manages Linus: leave she asks for him needs another's eyes (her
    manager Grace's), as no one approves what they asked for themselves."""
    api.context.application.set_role_members("hr", ["e-2"], Meta("e-1", "hr-is-ada", "tests"))
    asked = await api.submit("e-2", weeks_ahead(4), employee_id="e-3", reason="agreed")
    assert asked.status_code == 201, asked.text
    task = await api.task_for("e-1", asked.json()["id"])

    by_ada = await api.decide("e-2", task["id"], "approve")
    by_grace = await api.decide("e-1", task["id"], "approve")

    assert by_ada.status_code == 404  # not hers to decide: not in her inbox either
    assert (await api.get("e-2", "/api/tasks")).json()["items"] == []
    assert by_grace.status_code == 200, by_grace.text
    assert [d["actor"] for d in by_grace.json()["decisions"]] == ["e-1"]


# -- reading -------------------------------------------------------------------------------


async def test_a_case_is_visible_to_requester_approver_and_superiors_only(api: Api) -> None:
    case = await api.pending("e-3", weeks_ahead(4))
    await api.task_for("e-2", case["id"])

    seen_by = {
        employee_id: (await api.get(employee_id, f"/api/leave-requests/{case['id']}")).status_code
        for employee_id in ("e-1", "e-2", "e-3", "e-4", "e-5")
    }

    assert seen_by == {"e-1": 200, "e-2": 200, "e-3": 200, "e-4": 404, "e-5": 404}


UNKNOWN_CASE = "7d3c1e2a-0000-4000-8000-000000000000"
CASE_ROUTES = ["GET {}", "GET {}/history", "POST {}/withdraw", "POST {}/cancel"]


async def _ask(api: Api, route: str, case_id: str) -> httpx.Response:
    method, path = route.split(" ")
    address = "/api/leave-requests/" + path.format(quote(case_id, safe=""))
    if method == "GET":
        return await api.get("e-3", address)
    return await api.post("e-3", address)


@pytest.mark.parametrize("route", CASE_ROUTES)
async def test_a_well_formed_case_id_that_does_not_exist_is_not_found(api: Api, route: str) -> None:
    response = await _ask(api, route, UNKNOWN_CASE)

    assert response.status_code == 404
    assert response.json()["rule"] == "not_found"


@pytest.mark.parametrize("route", CASE_ROUTES)
@pytest.mark.parametrize("case_id", ["not-a-uuid", f" {UNKNOWN_CASE} ", f"{UNKNOWN_CASE}\n"])
async def test_a_malformed_case_id_is_refused_naming_what_a_case_id_looks_like(
    api: Api, route: str, case_id: str
) -> None:
    response = await _ask(api, route, case_id)

    assert response.status_code == 422
    assert response.json() == {
        "detail": "case_id: must be a UUID such as 6f1c3a52-53a4-4f7e-9d0b-3c6a2f1e8b47",
        "rule": "invalid_request",
    }


# -- deciding ------------------------------------------------------------------------------


async def test_the_manager_approves_from_the_inbox_and_the_read_models_follow_at_once(
    api: Api,
) -> None:
    period = weeks_ahead(6, days=4)
    case = await api.pending("e-3", period)
    task = await api.task_for("e-2", case["id"])
    assert (task["id"], task["process"], task["escalated"]) == (
        f"{case['id']}.approval",
        "leave",
        False,
    )
    assert task["title"].startswith("Linus: annual leave")

    response = await api.decide("e-2", task["id"], "approve", comment="enjoy")

    assert response.status_code == 200, response.text
    decided = response.json()
    assert decided["status"] == "approved"
    assert decided["decisions"] == [
        {
            "task_id": task["id"],
            "decision": "approve",
            "actor": "e-2",
            "on_behalf_of": None,
            "comment": "enjoy",
        }
    ]
    assert (await api.get("e-2", "/api/tasks")).json()["items"] == []
    balance = await api.get("e-3", "/api/employees/e-3/leave-balance", {"year": period[0].year})
    assert balance.json() == {
        "employee_id": "e-3",
        "year": period[0].year,
        "entitled": 30,
        "approved": 4,
        "pending": 0,
        "remaining": 26,
    }
    [mine] = (await api.get("e-3", "/api/leave-requests")).json()["items"]
    assert mine["status"] == "approved"


async def test_nobody_decides_their_own_request(api: Api) -> None:
    case = await api.pending("e-3", weeks_ahead(4))
    task = await api.task_for("e-2", case["id"])

    response = await api.decide("e-3", task["id"], "approve")

    assert response.status_code == 403
    assert response.json()["rule"] == "no_self_approval"


async def test_a_stranger_finds_neither_the_task_nor_the_case(api: Api) -> None:
    case = await api.pending("e-3", weeks_ahead(4))
    task = await api.task_for("e-2", case["id"])

    decision = await api.decide("e-4", task["id"], "approve")
    read = await api.get("e-4", f"/api/leave-requests/{case['id']}")
    withdrawal = await api.post("e-4", f"/api/leave-requests/{case['id']}/withdraw")
    superior = await api.decide("e-1", task["id"], "approve")

    assert (decision.status_code, read.status_code, withdrawal.status_code) == (404, 404, 404)
    assert superior.status_code == 404
    assert (await api.get("e-3", f"/api/leave-requests/{case['id']}")).json()["status"] == "pending"


async def test_a_well_formed_task_id_that_does_not_exist_is_not_found(api: Api) -> None:
    response = await api.decide("e-2", f"{UNKNOWN_CASE}.approval", "approve")

    assert response.status_code == 404
    assert response.json()["rule"] == "not_found"


TASK_ID_FORM = (
    "must be a task id such as 6f1c3a52-53a4-4f7e-9d0b-3c6a2f1e8b47.approval"
    " (its case id, a dot and the step)"
)
MALFORMED_TASK_IDS = [
    "not-a-task",
    UNKNOWN_CASE,
    f" {UNKNOWN_CASE}.approval",
    f"{UNKNOWN_CASE}.approval ",
    f"{UNKNOWN_CASE}.",
]


@pytest.mark.parametrize("task_id", MALFORMED_TASK_IDS)
async def test_a_malformed_task_id_is_refused_naming_what_a_task_id_looks_like(
    api: Api, task_id: str
) -> None:
    response = await api.decide("e-2", quote(task_id, safe=""), "approve")

    assert response.status_code == 422
    assert response.json() == {"detail": f"task_id: {TASK_ID_FORM}", "rule": "invalid_request"}


async def test_a_task_id_whose_case_id_is_written_otherwise_names_the_same_task(api: Api) -> None:
    case = await api.pending("e-3", weeks_ahead(3, days=1))
    task = await api.task_for("e-2", case["id"])
    case_id, _, step = task["id"].partition(".")

    response = await api.decide("e-2", f"{case_id.upper()}.{step}", "approve")

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "approved"


async def test_a_malformed_task_id_among_several_decisions_refuses_them_all(api: Api) -> None:
    case = await api.pending("e-3", weeks_ahead(3, days=1))
    task = await api.task_for("e-2", case["id"])
    body = {
        "decisions": [
            {"task_id": task["id"], "decision": "approve"},
            {"task_id": f" {task['id']}", "decision": "approve"},
        ]
    }

    response = await api.post("e-2", "/api/tasks/decisions", body)

    assert response.status_code == 422
    assert response.json() == {
        "detail": f"decisions.1.task_id: {TASK_ID_FORM}",
        "rule": "invalid_request",
    }
    assert (await api.task_for("e-2", case["id"]))["id"] == task["id"]  # still open


async def test_a_decision_on_a_task_recorded_before_its_workflow_heard_of_it_succeeds(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    application = api.context.application
    open_task = application.open_approval_task

    def slowly_reporting_open_task(*args: Any, **kwargs: Any) -> Saved:
        saved = open_task(*args, **kwargs)
        time.sleep(0.5)  # the task is in the store and the inbox; the workflow waits
        return saved

    monkeypatch.setattr(application, "open_approval_task", slowly_reporting_open_task)
    case = await api.pending("e-3", weeks_ahead(4))
    task = await api.task_for("e-2", case["id"])

    response = await api.decide("e-2", task["id"], "approve", key="at-once")

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "approved"


@pytest.mark.parametrize("first", ["approve", "reject"])
async def test_a_task_already_decided_is_refused_with_409(api: Api, first: str) -> None:
    case = await api.pending("e-3", weeks_ahead(4))
    task = await api.task_for("e-2", case["id"])
    assert (await api.decide("e-2", task["id"], first)).status_code == 200
    if first == "reject":
        await api.process_ended(case["id"])  # answered from the recorded case, not Temporal

    response = await api.decide("e-2", task["id"], "approve", key="another-try")

    assert response.status_code == 409
    assert response.json()["rule"] == "task_already_decided"


@pytest.mark.parametrize("decision", ["approve", "reject"])
async def test_a_decision_retried_with_its_idempotency_key_answers_the_same(
    api: Api, decision: str
) -> None:
    case = await api.pending("e-3", weeks_ahead(4))
    task = await api.task_for("e-2", case["id"])

    first = await api.decide("e-2", task["id"], decision, key="decision-1")
    if decision == "reject":
        await api.process_ended(case["id"])  # Temporal still knows the update's outcome
    again = await api.decide("e-2", task["id"], decision, key="decision-1")

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    read = await api.get("e-3", f"/api/leave-requests/{case['id']}")
    assert [each["decision"] for each in read.json()["decisions"]] == [decision]


async def test_an_idempotency_key_reused_for_a_different_decision_is_refused(api: Api) -> None:
    case = await api.pending("e-3", weeks_ahead(4))
    task = await api.task_for("e-2", case["id"])
    first = await api.decide("e-2", task["id"], "reject", key="decision-1")

    reused = await api.decide("e-2", task["id"], "approve", key="decision-1")

    assert first.status_code == 200
    assert reused.status_code == 422
    assert reused.json()["rule"] == "idempotency_key_reused"
    read = await api.get("e-3", f"/api/leave-requests/{case['id']}")
    assert read.json()["status"] == "rejected"


@pytest.mark.parametrize(
    ("start", "end"), [("9999-12-31", "9999-12-31"), ("2000-01-03", "2000-01-04")]
)
async def test_dates_far_from_today_are_refused_and_nothing_is_recorded(
    api: Api, start: str, end: str
) -> None:
    before = api.context.application.recorder.max_notification_id()

    response = await api.post(
        "e-3", "/api/leave-requests", {"type": "sick", "start": start, "end": end}
    )

    assert response.status_code == 422
    assert f"{start} is out of range: leave can be asked for from" in response.json()["detail"]
    assert api.context.application.recorder.max_notification_id() == before


async def test_a_decision_that_is_neither_approve_nor_reject_is_invalid(api: Api) -> None:
    case = await api.pending("e-3", weeks_ahead(4))
    task = await api.task_for("e-2", case["id"])

    response = await api.decide("e-2", task["id"], "maybe")

    assert response.status_code == 422
    assert "decision:" in response.json()["detail"]


# -- the end of employment ----------------------------------------------------------------


def set_last_day(api: Api, employee_id: str, last_day: date) -> None:
    application = api.context.application
    leaving = replace(application.profile(employee_id), end_date=last_day)
    application.put_employee(leaving, Meta("e-1", f"{employee_id}-leaves", "tests"))


async def test_leave_after_the_last_day_of_employment_is_refused_naming_that_day(
    api: Api,
) -> None:
    start, end = weeks_ahead(4)
    set_last_day(api, "e-3", start)

    response = await api.submit("e-3", (start, end))

    assert response.status_code == 422
    assert response.json()["rule"] == "after_employment_ends"
    assert f"last day of employment is {start.isoformat()}" in response.json()["detail"]
    assert (await api.get("e-3", "/api/leave-requests")).json()["items"] == []


async def test_approving_leave_past_a_last_day_set_while_it_was_pending_is_refused(
    api: Api,
) -> None:
    start, end = weeks_ahead(4)
    case = await api.pending("e-3", (start, end))
    task = await api.task_for("e-2", case["id"])
    set_last_day(api, "e-3", start)

    approval = await api.decide("e-2", task["id"], "approve")
    rejection = await api.decide("e-2", task["id"], "reject", comment="leaving before then")

    assert approval.status_code == 422
    assert approval.json()["rule"] == "after_employment_ends"
    assert "only rejected" in approval.json()["detail"]
    assert rejection.status_code == 200, rejection.text
    assert rejection.json()["status"] == "rejected"


async def test_the_task_skips_a_manager_who_has_left_and_reaches_their_manager(
    api: Api,
) -> None:
    set_last_day(api, "e-2", TODAY - timedelta(days=1))

    case = await api.pending("e-3", weeks_ahead(4))

    task = await api.task_for("e-1", case["id"])
    assert (task["escalated"], task["acting_for"]) == (False, None)
    [opened] = (await api.get("e-3", f"/api/leave-requests/{case['id']}")).json()["tasks"]
    assert opened["assignees"] == ["e-1"]
    approval = await api.decide("e-1", task["id"], "approve")
    assert approval.status_code == 200, approval.text


async def test_leave_is_refused_when_every_manager_up_the_chain_has_left(api: Api) -> None:
    set_last_day(api, "e-2", TODAY - timedelta(days=1))
    set_last_day(api, "e-1", TODAY - timedelta(days=1))

    response = await api.submit("e-3", weeks_ahead(4))

    assert response.status_code == 422
    assert response.json()["rule"] == "no_approver"
    assert (await api.get("e-3", "/api/leave-requests")).json()["items"] == []


async def test_the_daily_sweep_sends_the_task_of_a_manager_who_has_left_up_the_chain(
    api: Api,
) -> None:
    case = await api.pending("e-3", weeks_ahead(4))
    await api.task_for("e-2", case["id"])
    set_last_day(api, "e-2", TODAY - timedelta(days=1))
    task_queue = api.context.settings.task_queue
    schedule = await ensure_schedules(api.context.client, task_queue)
    try:
        again = await ensure_schedules(api.context.client, task_queue)  # a restart
        await schedule.trigger()
        task = await api.task_for("e-1", case["id"])
        decided = await api.decide("e-1", task["id"], "approve")
    finally:
        await schedule.delete()

    assert again.id == schedule.id
    assert task["escalated"] is True
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "approved"


# -- withdrawing and cancelling ------------------------------------------------------------


async def test_the_requester_withdraws_a_pending_request_and_gets_the_days_back(
    api: Api,
) -> None:
    period = weeks_ahead(4)
    case = await api.pending("e-3", period)
    await api.task_for("e-2", case["id"])
    path = f"/api/leave-requests/{case['id']}/withdraw"

    by_manager = await api.post("e-2", path)
    withdrawn = await api.post("e-3", path, key="withdraw-1")
    await api.process_ended(case["id"])
    retried = await api.post("e-3", path, key="withdraw-1")
    again = await api.post("e-3", path)

    assert (by_manager.status_code, by_manager.json()["rule"]) == (403, "only_requester")
    assert withdrawn.status_code == 200
    assert withdrawn.json()["status"] == "withdrawn"
    assert [task["open"] for task in withdrawn.json()["tasks"]] == [False]
    assert retried.json() == withdrawn.json()
    assert (again.status_code, again.json()["rule"]) == (409, "not_pending")
    assert (await api.get("e-2", "/api/tasks")).json()["items"] == []
    balance = await api.get("e-3", "/api/employees/e-3/leave-balance", {"year": period[0].year})
    assert balance.json()["pending"] == 0


async def test_hr_withdraws_someones_pending_request_saying_why_and_its_task_goes(
    api: Api,
) -> None:
    period = weeks_ahead(4)
    case = await api.pending("e-3", period)
    await api.task_for("e-2", case["id"])
    api.context.application.set_role_members("hr", ["e-5"], Meta("e-1", "hr-is-ken", "tests"))
    path = f"/api/leave-requests/{case['id']}/withdraw"

    without_reason = await api.post("e-5", path)
    response = await api.post("e-5", path, {"reason": "nobody is left to decide it"})

    assert (without_reason.status_code, without_reason.json()["rule"]) == (422, "reason_required")
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["closing_reason"]) == (
        "withdrawn",
        "nobody is left to decide it",
    )
    assert (await api.get("e-2", "/api/tasks")).json()["items"] == []
    balance = await api.get("e-3", "/api/employees/e-3/leave-balance", {"year": period[0].year})
    assert balance.json()["pending"] == 0


async def test_deciding_the_task_of_a_withdrawn_request_says_it_was_cancelled(api: Api) -> None:
    case = await api.pending("e-3", weeks_ahead(4))
    task = await api.task_for("e-2", case["id"])
    await api.post("e-3", f"/api/leave-requests/{case['id']}/withdraw")
    await api.process_ended(case["id"])

    response = await api.post("e-2", f"/api/tasks/{task['id']}/decision", {"decision": "approve"})

    assert response.status_code == 409
    assert response.json() == {
        "detail": "this task was cancelled when its request was withdrawn",
        "rule": "task_cancelled",
    }


async def test_the_requester_cancels_approved_leave_before_it_starts(api: Api) -> None:
    period = weeks_ahead(4)
    case = await api.approved("e-3", period)

    response = await api.post("e-3", f"/api/leave-requests/{case['id']}/cancel")

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    balance = await api.get("e-3", "/api/employees/e-3/leave-balance", {"year": period[0].year})
    assert (balance.json()["approved"], balance.json()["pending"]) == (0, 0)


async def test_hr_cancels_someones_approved_leave_saying_why_and_nobody_else_may(
    api: Api,
) -> None:
    period = weeks_ahead(4)
    case = await api.approved("e-3", period)
    api.context.application.set_role_members("hr", ["e-5"], Meta("e-1", "hr-is-ken", "tests"))
    path = f"/api/leave-requests/{case['id']}/cancel"

    by_manager = await api.post("e-2", path, {"reason": "busy"})
    without_reason = await api.post("e-5", path)
    response = await api.post("e-5", path, {"reason": "leaves the company before then"})

    assert (by_manager.status_code, by_manager.json()["rule"]) == (403, "only_requester")
    assert (without_reason.status_code, without_reason.json()["rule"]) == (422, "reason_required")
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["closing_reason"]) == (
        "cancelled",
        "leaves the company before then",
    )
    seen = await api.get("e-3", f"/api/leave-requests/{case['id']}")
    assert seen.json()["closing_reason"] == "leaves the company before then"
    balance = await api.get("e-3", "/api/employees/e-3/leave-balance", {"year": period[0].year})
    assert balance.json()["approved"] == 0


async def test_a_cancellation_sent_again_under_its_key_with_another_reason_is_refused(
    api: Api,
) -> None:
    case = await api.approved("e-3", weeks_ahead(4))
    api.context.application.set_role_members("hr", ["e-5"], Meta("e-1", "hr-is-ken", "tests"))
    path = f"/api/leave-requests/{case['id']}/cancel"

    first = await api.post("e-5", path, {"reason": "leaves"}, key="hr-cancel-1")
    again = await api.post("e-5", path, {"reason": "leaves"}, key="hr-cancel-1")
    changed = await api.post("e-5", path, {"reason": "another reason"}, key="hr-cancel-1")

    assert first.status_code == again.status_code == 200
    assert (changed.status_code, changed.json()["rule"]) == (422, "idempotency_key_reused")
    assert first.json()["closing_reason"] == "leaves"


async def test_a_pending_request_cannot_be_cancelled_only_withdrawn(api: Api) -> None:
    case = await api.pending("e-3", weeks_ahead(4))

    response = await api.post("e-3", f"/api/leave-requests/{case['id']}/cancel")

    assert (response.status_code, response.json()["rule"]) == (409, "not_approved")


async def test_leave_that_has_started_cannot_be_cancelled(api: Api) -> None:
    case = await api.approved("e-3", (TODAY, TODAY + timedelta(days=14)))

    response = await api.post("e-3", f"/api/leave-requests/{case['id']}/cancel")

    assert (response.status_code, response.json()["rule"]) == (422, "already_started")


async def test_the_requester_ends_started_leave_early_and_gets_the_days_after_back(
    api: Api,
) -> None:
    case = await api.approved("e-3", (TODAY, TODAY + timedelta(days=14)))
    path = f"/api/leave-requests/{case['id']}/shorten"
    today = {"last_day": TODAY.isoformat()}

    before_it = await api.post("e-3", path, {"last_day": (TODAY - timedelta(days=2)).isoformat()})
    no_day = await api.post("e-3", path, {})
    response = await api.post("e-3", path, today, key="back-early")
    again = await api.post("e-3", path, today, key="back-early")
    other = await api.post("e-3", path, {"last_day": str(TODAY + timedelta(days=1))}, "back-early")

    assert (before_it.status_code, before_it.json()["rule"]) == (422, "before_start")
    assert no_day.status_code == 422 and "last_day" in no_day.json()["detail"]
    assert response.status_code == 200, response.text
    ended = response.json()
    assert (ended["status"], ended["end"]) == ("approved", TODAY.isoformat())
    assert again.json() == ended
    assert (other.status_code, other.json()["rule"]) == (422, "idempotency_key_reused")
    [listed] = (await api.get("e-3", "/api/leave-requests")).json()["items"]
    assert (listed["end"], listed["working_days"]) == (ended["end"], ended["working_days"])
    balance = await api.get("e-3", "/api/employees/e-3/leave-balance", {"year": TODAY.year})
    assert balance.json()["approved"] == ended["working_days"] <= 1


async def test_a_request_sent_again_with_its_key_after_it_was_ended_early_answers_its_case(
    api: Api,
) -> None:
    """The key compares the request with what was asked, not with the leave as it stands."""
    period = (TODAY, TODAY + timedelta(days=14))
    first = await api.submit("e-3", period, key="asked-then-ended-early")
    task = await api.task_for("e-2", first.json()["id"])
    assert (await api.decide("e-2", task["id"], "approve")).status_code == 200
    path = f"/api/leave-requests/{first.json()['id']}/shorten"
    assert (await api.post("e-3", path, {"last_day": TODAY.isoformat()})).status_code == 200

    again = await api.submit("e-3", period, key="asked-then-ended-early")

    assert again.status_code == 201, again.text
    assert (again.json()["id"], again.json()["end"]) == (first.json()["id"], TODAY.isoformat())


async def test_a_last_day_given_as_an_instant_a_number_or_no_day_is_refused_and_nothing_recorded(
    api: Api,
) -> None:
    case = await api.approved("e-3", weeks_ahead(4, days=5))
    path = f"/api/leave-requests/{case['id']}/shorten"
    start = date.fromisoformat(case["start"])
    midnight = datetime.combine(start, datetime.min.time()).isoformat()  # 2027-09-06T00:00:00
    seconds = int(datetime.combine(start, datetime.min.time(), UTC).timestamp())

    answers = [
        await api.post("e-3", path, {"last_day": last_day})
        for last_day in (midnight, seconds, "2027-02-30")
    ]

    assert [(answer.status_code, answer.json().get("detail")) for answer in answers] == [
        (422, "last_day: must be a date such as 2027-07-05"),
        (422, "last_day: must be a date such as 2027-07-05"),
        (422, "last_day: there is no day 2027-02-30 in the calendar (February 2027 has 28 days)"),
    ]
    got = (await api.get("e-3", f"/api/leave-requests/{case['id']}")).json()
    assert (got["end"], got["working_days"]) == (case["end"], case["working_days"])


async def test_hr_ends_someones_leave_early_saying_why_and_nobody_else_may(api: Api) -> None:
    case = await api.approved("e-3", weeks_ahead(4, days=5))
    api.context.application.set_role_members("hr", ["e-5"], Meta("e-1", "hr-is-ken", "tests"))
    path = f"/api/leave-requests/{case['id']}/shorten"
    first_day = {"last_day": case["start"]}

    by_manager = await api.post("e-2", path, {**first_day, "reason": "busy"})
    without_reason = await api.post("e-5", path, first_day)
    response = await api.post("e-5", path, {**first_day, "reason": "leaves after that day"})

    assert (by_manager.status_code, by_manager.json()["rule"]) == (403, "only_requester")
    assert (without_reason.status_code, without_reason.json()["rule"]) == (422, "reason_required")
    assert response.status_code == 200, response.text
    assert (response.json()["end"], response.json()["working_days"]) == (case["start"], 1)


async def test_an_ending_early_sent_again_under_its_key_with_another_reason_is_refused(
    api: Api,
) -> None:
    case = await api.approved("e-3", weeks_ahead(4, days=3))
    api.context.application.set_role_members("hr", ["e-5"], Meta("e-1", "hr-is-ken", "tests"))
    path = f"/api/leave-requests/{case['id']}/shorten"
    first_day = {"last_day": case["start"]}

    first = await api.post("e-5", path, {**first_day, "reason": "leaves"}, key="hr-end-1")
    again = await api.post("e-5", path, {**first_day, "reason": "leaves"}, key="hr-end-1")
    changed = await api.post("e-5", path, {**first_day, "reason": "another"}, key="hr-end-1")

    assert first.status_code == again.status_code == 200, first.text
    assert (changed.status_code, changed.json()["rule"]) == (422, "idempotency_key_reused")
    assert "another reason" in changed.json()["detail"]


async def test_the_requester_ends_leave_at_noon_and_its_key_sent_with_a_whole_day_is_refused(
    api: Api,
) -> None:
    case = await api.approved("e-3", weeks_ahead(4, days=3))
    path = f"/api/leave-requests/{case['id']}/shorten"
    at_noon = {"last_day": case["start"], "half_day_end": True}

    as_text = await api.post("e-3", path, {"last_day": case["start"], "half_day_end": "yes"})
    response = await api.post("e-3", path, at_noon, key="end-at-noon-api-1")
    again = await api.post("e-3", path, at_noon, key="end-at-noon-api-1")
    whole_day = await api.post("e-3", path, {"last_day": case["start"]}, key="end-at-noon-api-1")
    once_more = await api.post("e-3", path, at_noon)

    assert as_text.status_code == 422 and "half_day_end" in as_text.json()["detail"]
    assert response.status_code == 200, response.text
    ended = response.json()
    assert (ended["end"], ended["half_day_end"], ended["working_days"]) == (
        case["start"],
        True,
        0.5,
    )
    assert again.json() == ended
    assert (whole_day.status_code, whole_day.json()["rule"]) == (422, "idempotency_key_reused")
    assert "`half_day_end` true" in whole_day.json()["detail"]
    assert (once_more.status_code, once_more.json()["rule"]) == (422, "not_shorter")
    assert once_more.json()["detail"] == (
        f"the leave ends at noon on {case['start']} already: give a last day before it"
    )
    [listed] = (await api.get("e-3", "/api/leave-requests")).json()["items"]
    assert (listed["end"], listed["half_day_end"], listed["working_days"]) == (
        case["start"],
        True,
        0.5,
    )
    year = date.fromisoformat(case["start"]).year
    balance = await api.get("e-3", "/api/employees/e-3/leave-balance", {"year": year})
    assert balance.json()["approved"] == 0.5


async def test_the_openapi_document_says_what_ending_at_noon_does(api: Api) -> None:
    document = (await api.http.get("/api/openapi.json")).json()

    field = document["components"]["schemas"]["ShortenIn"]["properties"]["half_day_end"]
    assert (field["type"], field["default"]) == ("boolean", False)
    assert "Back at noon on `last_day`" in field["description"]


async def test_an_event_the_store_can_no_longer_read_answers_500_naming_it(api: Api) -> None:
    """A stored event edited outside Backoffice (by hand in a SQLite shell) cannot be
    decoded: the answer names it and the command that finds every event altered,
    rather than a bare internal error."""
    case = await api.approved("e-3", weeks_ahead(4))
    store = StoreLocation(api.context.settings.store_url).sqlite_path
    with closing(sqlite3.connect(store)) as database, database:
        database.execute(
            "UPDATE stored_events SET state = CAST(state AS TEXT)"
            " WHERE originator_id = ? AND originator_version = 1",
            [uuid.UUID(case["id"]).hex],
        )
    api.context.application.repository.forget([uuid.UUID(case["id"])])  # read it anew

    response = await api.get("e-3", f"/api/leave-requests/{case['id']}")

    assert response.status_code == 500
    assert response.json() == {
        "detail": f"the event of {case['id']} at version 1 cannot be read from the store:"
        " it was changed outside Backoffice; `backoffice audit verify` names every event"
        " altered",
        "rule": "unreadable_event",
    }


# -- balances ------------------------------------------------------------------------------


async def test_a_balance_is_visible_to_the_employee_and_their_managers_only(api: Api) -> None:
    path = "/api/employees/e-3/leave-balance"

    seen_by = {
        employee_id: (await api.get(employee_id, path)).status_code
        for employee_id in ("e-1", "e-2", "e-3", "e-4", "e-5")
    }

    assert seen_by == {"e-1": 200, "e-2": 200, "e-3": 200, "e-4": 404, "e-5": 404}
    own = (await api.get("e-3", path)).json()
    assert (own["year"], own["entitled"], own["remaining"]) == (TODAY.year, 30, 30)
    assert (await api.get("e-3", "/api/employees/e-999/leave-balance")).status_code == 404
    assert (await api.get("e-3", path, {"year": "soon"})).status_code == 422


# -- health and documentation --------------------------------------------------------------


async def test_health_reports_temporal_and_the_database_without_a_token(api: Api) -> None:
    response = await api.http.get("/api/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "temporal": True, "database": True}


@pytest.mark.parametrize("path", ["/api", "/api/"])
async def test_the_api_address_up_prints_answers_where_to_look_without_a_token(
    api: Api, path: str
) -> None:
    response = await api.http.get(path)

    assert response.status_code == 200, response.text
    index = response.json()
    assert {key: index[key] for key in ("docs", "openapi", "health")} == {
        "docs": "/docs",
        "openapi": "/api/openapi.json",
        "health": "/api/health",
    }
    assert set(index["collections"].values()) >= {
        "/api/leave-requests",
        "/api/tasks",
        "/api/directory",
        "/api/audit/events",
    }
    assert "Authorization: Bearer" in index["authentication"]
    for collection in index["collections"].values():  # each names a route that answers
        answer = await api.get("e-1", collection)
        assert answer.json().get("rule") != "no_such_route", collection


async def test_health_answers_degraded_when_temporal_is_unreachable(api: Api) -> None:
    unreachable = await Client.connect("127.0.0.1:1", lazy=True, data_converter=DATA_CONVERTER)
    app = create_app(replace(api.context, client=unreachable))
    transport = httpx.ASGITransport(app=app)

    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/api/health")

    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "temporal": False, "database": True}


async def test_the_openapi_document_lists_every_route(api: Api) -> None:
    document = (await api.http.get("/api/openapi.json")).json()

    assert set(document["paths"]) == {
        "/api/leave-requests",
        "/api/leave-requests/changes",
        "/api/leave-requests/{case_id}",
        "/api/leave-requests/{case_id}/withdraw",
        "/api/leave-requests/{case_id}/cancel",
        "/api/leave-requests/{case_id}/shorten",
        "/api/leave-requests/{case_id}/history",
        "/api/tasks",
        "/api/tasks/{task_id}/decision",
        "/api/tasks/decisions",
        "/api/employees/{employee_id}/leave-balance",
        "/api/directory",
        "/api/directory/employees/{employee_id}",
        "/api/directory/departments/{department_id}",
        "/api/directory/roles/{role}",
        "/api/directory/limits/{process}",
        "/api/directory/delegations",
        "/api/directory/delegations/{delegation_id}",
        "/api/audit/events",
        "/api/audit/export",
        "/api/audit/aggregates/{aggregate_id}",
        "/api/audit/cases/{case_id}/timeline",
        "/api/health",
    }
    docs = await api.http.get("/docs")
    assert docs.status_code == 200
    assert "cdn" not in docs.text  # works without internet access
    assert (await api.http.get("/docs/static/swagger-ui-bundle.js")).status_code == 200


# -- PostgreSQL ----------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("api_store_url", ["postgres"], indirect=True)
async def test_leave_is_submitted_approved_and_balanced_on_postgresql(api: Api) -> None:
    period = weeks_ahead(4)

    case = await api.approved("e-3", period)

    assert case["status"] == "approved"
    assert (await api.get("e-2", "/api/tasks")).json()["items"] == []
    balance = await api.get("e-3", "/api/employees/e-3/leave-balance", {"year": period[0].year})
    assert (balance.json()["approved"], balance.json()["pending"]) == (3, 0)
    health = await api.http.get("/api/health")
    assert health.json()["status"] == "ok"


class CutOffReadModels(ReadModels):
    """Read models whose connection PostgreSQL closes (a restart, its backend terminated)
    while a command waits for them to show it: the wait fails as psycopg says so."""

    def wait_for(self, position: int, timeout: float = 5.0) -> bool:
        raise psycopg.errors.AdminShutdown("terminating connection due to administrator command")


@pytest.mark.postgres
@pytest.mark.parametrize("api_store_url", ["postgres"], indirect=True)
async def test_a_decision_whose_wait_for_the_read_models_fails_answers_it_was_taken(
    api: Api,
) -> None:
    """The decision is recorded: the read models' connection closing while the command
    waits for them must not answer 500 (a client would think it failed, and send it
    again without a key as a second decision); it answers as when they lag."""
    case = await api.pending("e-3", weeks_ahead(3))
    task = await api.task_for("e-2", case["id"])
    response = await with_read_models(
        api,
        CutOffReadModels,
        "POST",
        f"/api/tasks/{task['id']}/decision",
        json={"decision": "approve"},
        headers=api.headers("e-2", key="cut-off"),
    )

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "approved"


async def with_read_models(
    api: Api, kind: type[ReadModels], method: str, url: str, **request: Any
) -> httpx.Response:
    """The answer to one request to the API wired with read models of ``kind``."""
    read_models = kind(api.context.settings.store_url)
    app = create_app(replace(api.context, read_models=read_models))
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as http:
            return await http.request(method, url, **request)
    finally:
        read_models.close()


class UnreachableReadModels(ReadModels):
    """Read models whose database does not answer (PostgreSQL restarting, its backends
    terminated while a burst of requests is under way)."""

    def open_tasks(self, *args: Any, **kwargs: Any) -> Any:
        raise psycopg.OperationalError("connection failed: server closed the connection")


async def test_a_database_that_does_not_answer_is_named_and_worth_trying_again(
    api: Api,
) -> None:
    """503 with Retry-After, as when Temporal does not answer (a client sends it again),
    rather than 500 internal error."""
    response = await with_read_models(
        api, UnreachableReadModels, "GET", "/api/tasks", headers=api.headers("e-2")
    )

    assert response.status_code == 503, response.text
    assert response.json() == {
        "detail": "the database did not answer; try again shortly",
        "rule": "database_unavailable",
    }
    assert response.headers["Retry-After"] == "5"


@pytest.mark.parametrize(
    ("key", "advice"),
    [
        (
            "bulk-unconfirmed",
            " send the same request again, with the same Idempotency-Key, to find out"
            " (nothing is decided twice)",
        ),
        (None, " look at the task before sending it again (sent without an Idempotency-Key)"),
    ],
    ids=["with a key", "without one"],
)
async def test_a_bulk_decision_reports_a_task_it_could_not_confirm_and_goes_on(
    api: Api, key: str | None, advice: str
) -> None:
    case = await api.pending("e-3", weeks_ahead(3, days=1))
    task = await api.task_for("e-2", case["id"])
    unreachable = await Client.connect("127.0.0.1:1", lazy=True, data_converter=DATA_CONVERTER)
    app = create_app(replace(api.context, client=unreachable))
    body = {
        "decisions": [
            {"task_id": task["id"], "decision": "approve"},
            {"task_id": f"{UNKNOWN_CASE}.approval", "decision": "approve"},
        ]
    }

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        response = await http.post(
            "/api/tasks/decisions", json=body, headers=api.headers("e-2", key=key)
        )

    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["outcome"], r["status"]) for r in results] == [("failed", 503), ("refused", 404)]
    # It may have reached the workflow before the answer was lost: never "not recorded".
    assert results[0]["detail"] == (
        "the decision could not be confirmed now, and may or may not have been recorded;" + advice
    )


async def test_a_sweep_schedule_made_by_an_earlier_version_is_brought_up_to_date_kept_paused(
    api: Api,
) -> None:
    task_queue = api.context.settings.task_queue
    client = api.context.client
    earlier = Schedule(
        action=ScheduleActionStartWorkflow(
            LeaversTasksSweepWorkflow.run, id=f"sweep-{task_queue}", task_queue=task_queue
        ),
        spec=ScheduleSpec(cron_expressions=["0 3 * * *"]),
        state=ScheduleState(paused=True, note="paused by an operator"),
    )
    stale = await client.create_schedule(sweep_schedule_id(task_queue), earlier)
    try:
        await ensure_schedules(client, task_queue)
        described = await stale.describe()
    finally:
        await stale.delete()

    action = described.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.execution_timeout == SWEEP_TIMEOUT
    [calendar] = described.schedule.spec.calendars
    assert (calendar.hour[0].start, calendar.minute[0].start) == (0, 10)
    assert described.schedule.state.paused is True


@pytest.mark.parametrize("given", ["yes", "1", "on", "True "])
async def test_a_yes_or_no_in_a_query_is_true_or_false_as_in_a_body(api: Api, given: str) -> None:
    response = await api.get("e-3", "/api/leave-requests", {"mine": given})
    answered = await api.get("e-3", "/api/leave-requests", {"mine": "false"})

    assert (response.status_code, response.json()) == (
        422,
        {"detail": "mine: must be true or false", "rule": "invalid_request"},
    )
    assert answered.status_code == 200


async def test_an_unknown_route_or_method_is_answered_with_a_rule_and_where_to_look(
    api: Api,
) -> None:
    unknown = await api.get("e-3", "/api/leave-request")
    wrong_method = await api.http.delete("/api/tasks", headers=api.headers("e-2"))

    assert unknown.status_code == 404
    assert unknown.json() == {
        "detail": "no route GET /api/leave-request; the API's routes are listed at /docs",
        "rule": "no_such_route",
    }
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {
        "detail": "DELETE is not offered on /api/tasks; it takes GET",
        "rule": "method_not_allowed",
    }
    assert wrong_method.headers["Allow"] == "GET"


async def test_a_request_for_leave_temporal_did_not_take_leaves_no_error_unheard(
    api: Api,
) -> None:
    """Temporal's client keeps the start's outcome for the caller of update-with-start;
    the API hears it, so nothing logs "Future exception was never retrieved"."""
    loop = asyncio.get_running_loop()
    unheard: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: unheard.append(context))
    try:
        async with temporal_behind_relay(api.context) as (client, temporal):
            await temporal.cut()
            app = create_app(replace(api.context, client=client))
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://test"
            ) as http:
                response = await api_submit(http, api, weeks_ahead(4))
            del app, http, client
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)

    assert response.status_code == 503, response.text
    assert [context["message"] for context in unheard] == []


async def api_submit(
    http: httpx.AsyncClient, api: Api, period: tuple[date, date]
) -> httpx.Response:
    start, end = period
    body = {"type": "annual", "start": start.isoformat(), "end": end.isoformat()}
    return await http.post("/api/leave-requests", json=body, headers=api.headers("e-3"))


# -- query parameters ----------------------------------------------------------------------


async def test_a_misspelt_query_parameter_is_refused_naming_the_likely_one_and_those_taken(
    api: Api,
) -> None:
    response = await api.get("e-3", "/api/leave-requests", {"limt": 5})

    assert (response.status_code, response.json()) == (
        422,
        {
            "detail": "unknown query parameter 'limt' (did you mean 'limit'?):"
            " GET /api/leave-requests takes mine, limit, after",
            "rule": "unknown_parameter",
        },
    )


async def test_a_query_parameter_given_twice_is_refused_rather_than_one_value_taken(
    api: Api,
) -> None:
    response = await api.http.get(
        "/api/leave-requests",
        params=[("limit", "5"), ("mine", "false"), ("limit", "7")],
        headers=api.headers("e-3"),
    )

    assert (response.status_code, response.json()) == (
        422,
        {
            "detail": "query parameter 'limit' given 2 times: GET /api/leave-requests takes"
            " one value of it",
            "rule": "repeated_parameter",
        },
    )


async def test_a_command_given_a_query_parameter_is_refused_and_records_nothing(
    api: Api,
) -> None:
    start, end = weeks_ahead(4)
    body = {"type": "annual", "start": start.isoformat(), "end": end.isoformat()}

    response = await api.http.post(
        "/api/leave-requests", params={"dry_run": "true"}, json=body, headers=api.headers("e-3")
    )

    assert (response.status_code, response.json()) == (
        422,
        {
            "detail": "unknown query parameter 'dry_run':"
            " POST /api/leave-requests takes no query parameters",
            "rule": "unknown_parameter",
        },
    )
    assert (await api.get("e-3", "/api/leave-requests")).json()["items"] == []


async def test_every_route_of_the_api_refuses_a_query_parameter_it_does_not_take(
    api: Api,
) -> None:
    document = (await api.http.get("/api/openapi.json")).json()
    answers = {}  # the parameters are checked first: whoever asks, the answer is the same

    for path, operations in document["paths"].items():
        url = re.sub(r"\{\w+\}", UNKNOWN_CASE, path)
        for method in operations:
            response = await api.http.request(
                method, url, params={"nonsense": "1"}, headers=api.headers("e-3")
            )
            answers[method.upper(), path] = (response.status_code, response.json().get("rule"))

    assert len(answers) == 24
    assert answers == dict.fromkeys(answers, (422, "unknown_parameter"))


async def test_a_page_opens_with_a_query_parameter_it_does_not_read(api: Api) -> None:
    response = await api.http.get("/sign-in", params={"next": "/requests", "utm_source": "mail"})

    assert response.status_code == 200
    assert 'name="next" value="/requests"' in response.text
