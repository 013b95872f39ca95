"""Paging the lists other systems follow: leave requests and the inbox, read a page at a
time with `limit` and `after` (a page's `next_after`) until `next_after` is null, with no
request or task missed or repeated, on SQLite and on PostgreSQL; and the requests changed
after a log position, read until caught up and again later from the last position seen.

The cases are recorded through the application, several in one instant, so that many
share a `submitted_at` (or a task's `due_at`) and the cursor must tell them apart.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.base import one_instant
from domain.case import Decision
from domain.directory import DelegationTerms
from domain.leave import LeavePeriod, LeaveType
from domain.meta import Meta
from domain.organisation import OrganisationChart
from services.application import approval_task_id
from tests.integration.api_conftest import Api, weeks_ahead
from tests.integration.conftest import ORGANISATION

pytestmark = pytest.mark.parametrize("api_store_url", ["sqlite", "postgres"], indirect=True)

TODAY = datetime.now(UTC).date()
_weeks = count(2)


def meta(actor: str, case_id: UUID) -> Meta:
    return Meta(actor=actor, command_id=uuid4().hex, correlation_id=f"leave-{case_id}")


def submitted_at_once(api: Api, requesters: list[str]) -> list[UUID]:
    """One one-day request of each of ``requesters`` (in order), all submitted in one
    instant; each on a day of its own, so none overlaps another."""
    application = api.context.application
    cases = []
    with one_instant():
        for requester in requesters:
            case_id = uuid4()
            period = LeavePeriod(*weeks_ahead(next(_weeks), days=1))
            application.submit_leave_request(
                case_id, requester, LeaveType.ANNUAL, period, None, meta(requester, case_id)
            )
            cases.append(case_id)
    return cases


def caught_up(api: Api) -> None:
    application = api.context.application
    position = application.recorder.max_notification_id() or 0
    assert api.context.read_models.wait_for(position, 5)


async def every_page(
    api: Api, caller: str, path: str, limit: int, **params: str
) -> list[list[dict[str, Any]]]:
    """The list read from its first page, following `next_after` until it is null."""
    pages: list[list[dict[str, Any]]] = []
    after: str | None = None
    while True:
        query = {**params, "limit": str(limit)} | ({} if after is None else {"after": after})
        response = await api.get(caller, path, query)
        assert response.status_code == 200, response.text
        pages.append(response.json()["items"])
        after = response.json()["next_after"]
        if after is None:
            return pages
        assert len(pages) < 20, "next_after never became null"


def ids(pages: list[list[dict[str, Any]]]) -> list[str]:
    return [item["id"] for page in pages for item in page]


# -- leave requests --------------------------------------------------------------------


async def test_ones_own_requests_are_read_page_by_page_without_gaps_or_repeats(
    api: Api,
) -> None:
    earlier = submitted_at_once(api, ["e-3"] * 4)
    later = submitted_at_once(api, ["e-3"] * 5)
    caught_up(api)

    pages = await every_page(api, "e-3", "/api/leave-requests", limit=3)

    # Newest first; those submitted at one instant by id, so a page ends among them.
    expected = sorted(map(str, later)) + sorted(map(str, earlier))
    assert ids(pages) == expected
    assert [len(page) for page in pages] == [3, 3, 3]  # a full last page says it is last
    everything = await api.get("e-3", "/api/leave-requests")
    assert [item["id"] for item in everything.json()["items"]] == expected
    assert everything.json()["next_after"] is None


async def test_the_requests_one_may_see_are_read_page_by_page(api: Api) -> None:
    reports = submitted_at_once(api, ["e-3", "e-4", "e-3", "e-4", "e-3"])
    submitted_at_once(api, ["e-5"])  # Ken reports to Grace: not Ada's to see
    caught_up(api)

    pages = await every_page(api, "e-2", "/api/leave-requests", limit=2, mine="false")

    assert ids(pages) == sorted(map(str, reports))
    assert [len(page) for page in pages] == [2, 2, 1]
    assert {item["requester_id"] for page in pages for item in page} == {"e-3", "e-4"}


async def test_a_page_shorter_than_the_limit_is_the_last(api: Api) -> None:
    submitted_at_once(api, ["e-3", "e-3"])
    caught_up(api)

    response = await api.get("e-3", "/api/leave-requests", {"limit": "5"})

    assert len(response.json()["items"]) == 2
    assert response.json()["next_after"] is None


async def changes(api: Api, caller: str, after: int, limit: int = 200, **params: str) -> Any:
    query = {"after": str(after), "limit": str(limit), **params}
    response = await api.get(caller, "/api/leave-requests/changes", query)
    assert response.status_code == 200, response.text
    return response.json()


async def follow(api: Api, caller: str, after: int, limit: int, **params: str) -> list[Any]:
    """The pages of changes after ``after``, until one says it is caught up."""
    pages = []
    while True:
        page = await changes(api, caller, after, limit, **params)
        pages.append(page)
        after = page["next_after"]
        if page["caught_up"]:
            return pages
        assert len(pages) < 20, "never caught up"


async def test_a_follower_reads_each_request_changed_after_the_last_position_it_saw(
    api: Api,
) -> None:
    """Grace's system follows every request she may see (her reports' down the chain): a
    page at a time until caught up, then later from where it stopped, getting each request
    changed meanwhile once, as it stands, in the order of their latest changes."""
    application = api.context.application
    first, second, third = submitted_at_once(api, ["e-3", "e-4", "e-5"])
    caught_up(api)
    pages = await follow(api, "e-1", after=0, limit=2, mine="false")

    assert [[item["id"] for item in page["items"]] for page in pages] == [
        [str(first), str(second)],
        [str(third)],
    ]
    assert [page["caught_up"] for page in pages] == [False, True]
    seen = pages[-1]["next_after"]
    assert seen == pages[-1]["items"][-1]["position"]

    application.open_approval_task(second, datetime.now(UTC), meta("system", second))
    application.decide_leave_request(
        second, approval_task_id(second), Decision.REJECT, "no", meta("e-2", second)
    )
    application.withdraw_leave_request(first, meta("e-3", first))
    caught_up(api)
    later = await changes(api, "e-1", after=seen, mine="false")

    assert [(item["id"], item["status"]) for item in later["items"]] == [
        (str(second), "rejected"),
        (str(first), "withdrawn"),
    ]
    assert later["caught_up"] is True
    assert later["next_after"] == later["items"][-1]["position"] > seen
    nothing_new = await changes(api, "e-1", after=later["next_after"], mine="false")
    assert nothing_new == {"items": [], "next_after": later["next_after"], "caught_up": True}


async def test_a_page_holding_the_last_changes_says_it_is_caught_up(api: Api) -> None:
    """Exactly ``limit`` changes left: the page says so, rather than sending the follower
    to ask again for nothing."""
    submitted_at_once(api, ["e-3", "e-3"])
    caught_up(api)

    page = await changes(api, "e-3", after=0, limit=2)

    assert (len(page["items"]), page["caught_up"]) == (2, True)


async def test_changes_are_those_of_the_requests_the_caller_may_see(api: Api) -> None:
    cases = submitted_at_once(api, ["e-3", "e-5", "e-2"])
    caught_up(api)

    def requesters(page: Any) -> list[str]:
        return [item["requester_id"] for item in page["items"]]

    assert requesters(await changes(api, "e-2", after=0)) == ["e-2"]  # mine, by default
    assert requesters(await changes(api, "e-2", after=0, mine="false")) == ["e-3", "e-2"]
    assert requesters(await changes(api, "e-5", after=0, mine="false")) == ["e-5"]
    assert len(cases) == 3


@pytest.mark.parametrize("after", ["-1", "yesterday", "1.5", str(2**63)])
async def test_a_position_that_is_not_one_is_refused_saying_what_to_pass(
    api: Api, after: str
) -> None:
    response = await api.get("e-2", "/api/leave-requests/changes", {"after": after})

    assert response.status_code == 422
    assert response.json()["rule"] == "invalid_request"
    assert "after" in response.json()["detail"]


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


MALFORMED = {
    "not base64": "not a cursor!",
    "not JSON": cursor_of("2030-05-06|x"),
    "not a pair": cursor_of('["2030-05-06T09:00:00.000000+00:00"]'),
    "not an instant": cursor_of('["yesterday", "6f1c3a52-53a4-4f7e-9d0b-3c6a2f1e8b47"]'),
    "no UTC offset": cursor_of('["2030-05-06T09:00:00", "6f1c3a52-53a4-4f7e-9d0b-3c6a2f1e8b47"]'),
    "not a case id": cursor_of('["2030-05-06T09:00:00.000000+00:00", "case-1"]'),
}


@pytest.mark.parametrize("after", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("path", ["/api/leave-requests", "/api/tasks"])
async def test_a_malformed_cursor_is_refused_saying_what_to_pass(
    api: Api, path: str, after: str
) -> None:
    response = await api.get("e-2", path, {"after": after})

    assert response.status_code == 422
    assert response.json() == {
        "detail": "after: not a cursor this list gave; pass a page's `next_after` as it"
        " is, or leave `after` out for the first page",
        "rule": "invalid_cursor",
    }


async def test_the_inbox_refuses_a_cursor_of_the_leave_requests(api: Api) -> None:
    a_case = '["2030-05-06T09:00:00.000000+00:00", "6f1c3a52-53a4-4f7e-9d0b-3c6a2f1e8b47"]'

    response = await api.get("e-2", "/api/tasks", {"after": cursor_of(a_case)})

    assert response.status_code == 422
    assert response.json()["rule"] == "invalid_cursor"


# -- the inbox ---------------------------------------------------------------------------


def tasks_opened_at_once(api: Api, cases: list[UUID]) -> None:
    """The approval task of each case, opened at one instant: all due at one instant."""
    application = api.context.application
    now = datetime.now(UTC)
    for case_id in cases:
        application.open_approval_task(case_id, now, meta("system", case_id))


async def test_the_inbox_is_read_page_by_page_with_the_tasks_one_decides_as_a_delegate(
    api: Api,
) -> None:
    away = DelegationTerms(
        "grace-away", "e-1", "e-2", TODAY - timedelta(days=1), TODAY + timedelta(days=30)
    )
    chart = OrganisationChart(employees=ORGANISATION, roles={}, delegations=[away])
    application = api.context.application
    application.load_directory(chart, Meta("test", "away", "tests"))
    adas = submitted_at_once(api, ["e-3", "e-4", "e-3", "e-4", "e-3"])
    graces = submitted_at_once(api, ["e-5", "e-5", "e-2"])  # Ada's own: never hers to decide
    tasks_opened_at_once(api, adas + graces)
    # Passed up to Grace as well: in Ada's inbox once, as her own.
    application.escalate_approval_task(
        adas[0], approval_task_id(adas[0]), datetime.now(UTC), meta("system", adas[0])
    )
    caught_up(api)

    pages = await every_page(api, "e-2", "/api/tasks", limit=2)

    acting_for = {item["case_id"]: item["acting_for"] for page in pages for item in page}
    assert acting_for == {str(case): None for case in adas} | {
        str(case): "e-1" for case in graces[:2]
    }
    assert ids(pages) == sorted(approval_task_id(case) for case in adas + graces[:2])
    assert [len(page) for page in pages] == [2, 2, 2, 1]
    everything = await api.get("e-2", "/api/tasks")
    assert [item["id"] for item in everything.json()["items"]] == ids(pages)
    assert everything.json()["next_after"] is None
