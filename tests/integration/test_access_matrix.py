"""Who may do what, through the real API: every endpoint, every kind of caller, on their
own object and on someone else's, against the expected answer of each cell.

The cast, around one leave request of Linus (e-3):

    requester  e-3  Linus, whose case it is
    colleague  e-4  Margaret, Linus's peer: a foreign object for her
    manager    e-2  Ada, Linus's manager: the task is hers
    senior     e-1  Grace, Ada's manager: sees the case up the chain, does not decide
    delegate   e-5  Ken, Ada's active out-of-office delegate
    hr         e-6  role hr: every leave case
    auditor    e-7  role auditor: reads everything, changes nothing
    admin      e-8  role admin: the directory, nothing else by virtue of the role
    finance    e-9  roles finance, procurement and cfo: nothing in leave by virtue of them

Each test fills one row per endpoint and compares the whole row, so a failure shows
every cell that differs at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

import httpx
import pytest

from api.app import create_app
from domain.directory import DelegationTerms
from domain.meta import Meta
from domain.organisation import OrganisationChart
from tests.integration.api_conftest import Api, weeks_ahead
from tests.integration.conftest import ORGANISATION, profile
from web.security import SESSION_COOKIE

PERSONAS = {
    "requester": "e-3",
    "colleague": "e-4",
    "manager": "e-2",
    "senior": "e-1",
    "delegate": "e-5",
    "hr": "e-6",
    "auditor": "e-7",
    "admin": "e-8",
    "finance": "e-9",
}
TODAY = datetime.now(UTC).date()
_weeks = count(2)


@pytest.fixture
def cast(api: Api) -> Api:
    """The API with the cast's roles and Ada's delegation to Ken recorded."""
    chart = OrganisationChart(
        employees=[
            *ORGANISATION,
            profile("e-6", "Frances", "e-1"),
            profile("e-7", "Barbara", "e-1"),
            profile("e-8", "Dennis", "e-1"),
            profile("e-9", "Fran", "e-1"),
        ],
        roles={
            "hr": ["e-6"],
            "auditor": ["e-7"],
            "admin": ["e-8"],
            "finance": ["e-9"],
            "procurement": ["e-9"],
            "cfo": ["e-9"],
        },
        delegations=[
            DelegationTerms(
                "ada-away", "e-2", "e-5", TODAY - timedelta(days=1), TODAY + timedelta(days=30)
            )
        ],
    )
    application = api.context.application
    application.load_directory(chart, Meta("test", "cast", "tests"))
    assert api.context.read_models.wait_for(application.recorder.max_notification_id() or 0, 5)
    return api


def next_day() -> tuple[date, date]:
    """A one-working-day period of its own, so cases never overlap."""
    return weeks_ahead(next(_weeks), days=1)


async def pending_case(api: Api) -> tuple[str, str]:
    """A fresh pending request of Linus: (case id, task id)."""
    case = await api.pending("e-3", next_day())
    task = await api.task_for("e-2", case["id"])
    return case["id"], task["id"]


async def row(cell: Callable[[str], Awaitable[Any]]) -> dict[str, Any]:
    return {persona: await cell(employee) for persona, employee in PERSONAS.items()}


def expect(**cells: Any) -> dict[str, Any]:
    """A row: ``default`` for every persona not named."""
    default = cells.pop("default")
    return {persona: cells.get(persona, default) for persona in PERSONAS}


# -- reading a case ------------------------------------------------------------------------

SEES_THE_CASE = expect(default=200, colleague=404, admin=404, finance=404)


async def test_reading_a_case(cast: Api) -> None:
    case_id, _ = await pending_case(cast)

    async def cell(employee: str) -> int:
        return (await cast.get(employee, f"/api/leave-requests/{case_id}")).status_code

    assert await row(cell) == SEES_THE_CASE


async def test_reading_a_cases_history(cast: Api) -> None:
    case_id, _ = await pending_case(cast)

    async def cell(employee: str) -> int:
        return (await cast.get(employee, f"/api/leave-requests/{case_id}/history")).status_code

    assert await row(cell) == SEES_THE_CASE


async def test_listing_the_cases_one_may_see(cast: Api) -> None:
    case_id, _ = await pending_case(cast)

    async def cell(employee: str) -> bool:
        response = await cast.get(employee, "/api/leave-requests", {"mine": "false"})
        assert response.status_code == 200
        return case_id in {item["id"] for item in response.json()["items"]}

    # The delegate finds the case through the task in the inbox, not in this list.
    assert await row(cell) == expect(
        default=True, colleague=False, delegate=False, admin=False, finance=False
    )


async def test_following_the_cases_one_may_see(cast: Api) -> None:
    case_id, _ = await pending_case(cast)

    async def cell(employee: str) -> bool:
        response = await cast.get(employee, "/api/leave-requests/changes", {"mine": "false"})
        assert response.status_code == 200
        return case_id in {item["id"] for item in response.json()["items"]}

    assert await row(cell) == expect(
        default=True, colleague=False, delegate=False, admin=False, finance=False
    )


async def test_reading_a_leave_balance(cast: Api) -> None:
    async def cell(employee: str) -> int:
        return (await cast.get(employee, "/api/employees/e-3/leave-balance")).status_code

    assert await row(cell) == expect(
        default=200, colleague=404, delegate=404, admin=404, finance=404
    )


# -- tasks -------------------------------------------------------------------------------------


async def test_the_inbox_shows_a_task_to_its_approver_and_their_delegate(cast: Api) -> None:
    _, task_id = await pending_case(cast)

    async def cell(employee: str) -> str | None:
        response = await cast.get(employee, "/api/tasks")
        assert response.status_code == 200
        found = [item for item in response.json()["items"] if item["id"] == task_id]
        return None if not found else f"acting_for={found[0]['acting_for']}"

    assert await row(cell) == expect(
        default=None, manager="acting_for=None", delegate="acting_for=e-2"
    )


DECIDES = expect(default=404, requester=403, manager=200, delegate=200)
"""The requester is told the rule (they see their case); the rest do not see the task."""


async def test_deciding_a_task(cast: Api) -> None:
    async def cell(employee: str) -> int:
        _, task_id = await pending_case(cast)  # a fresh task, as a decision ends one
        return (await cast.decide(employee, task_id, "reject")).status_code

    assert await row(cell) == DECIDES


async def test_deciding_a_task_in_bulk_checks_each_task_the_same_way(cast: Api) -> None:
    async def cell(employee: str) -> int:
        _, task_id = await pending_case(cast)
        body = {"decisions": [{"task_id": task_id, "decision": "reject"}]}
        response = await cast.post(employee, "/api/tasks/decisions", body)
        assert response.status_code == 200, response.text
        status: int = response.json()["results"][0]["status"]
        return status

    assert await row(cell) == DECIDES


# -- changing a case -----------------------------------------------------------------------


async def test_withdrawing_a_request(cast: Api) -> None:
    async def cell(employee: str) -> int:
        case_id, _ = await pending_case(cast)
        path = f"/api/leave-requests/{case_id}/withdraw"
        return (await cast.post(employee, path, {"reason": "the matrix"})).status_code

    # Whoever sees the case is told the rule (only the requester, or HR, withdraws).
    assert await row(cell) == expect(
        default=403, requester=200, hr=200, colleague=404, admin=404, finance=404
    )


async def test_cancelling_approved_leave(cast: Api) -> None:
    async def cell(employee: str) -> int:
        case = await cast.approved("e-3", next_day())
        path = f"/api/leave-requests/{case['id']}/cancel"
        return (await cast.post(employee, path, {"reason": "the matrix"})).status_code

    # HR cancels anyone's, with a reason.
    assert await row(cell) == expect(
        default=403, requester=200, hr=200, colleague=404, admin=404, finance=404
    )


async def test_ending_approved_leave_early(cast: Api) -> None:
    async def cell(employee: str) -> int:
        case = await cast.approved("e-3", weeks_ahead(next(_weeks), days=2))
        path = f"/api/leave-requests/{case['id']}/shorten"
        body = {"last_day": case["start"], "reason": "the matrix"}
        return (await cast.post(employee, path, body)).status_code

    # HR ends anyone's early, with a reason.
    assert await row(cell) == expect(
        default=403, requester=200, hr=200, colleague=404, admin=404, finance=404
    )


async def test_asking_for_leave_for_oneself_and_for_someone_else(cast: Api) -> None:
    async def own(employee: str) -> int:
        return (await cast.submit(employee, next_day(), employee_id=employee)).status_code

    async def foreign(employee: str) -> int:
        other = "e-4" if employee != "e-4" else "e-3"
        body = {"employee_id": other, "reason": "agreed"}
        return (await cast.submit(employee, next_day(), **body)).status_code

    # Grace has no manager to approve annual leave: the rule is named (422).
    assert await row(own) == expect(default=201, senior=422)
    # HR asks for someone else's, saying why.
    assert await row(foreign) == expect(default=403, hr=201)


# -- the directory ---------------------------------------------------------------------------


async def test_reading_the_directory_now_and_as_of_an_instant(cast: Api) -> None:
    async def now(employee: str) -> int:
        return (await cast.get(employee, "/api/directory")).status_code

    async def then(employee: str) -> int:
        at = datetime.now(UTC).isoformat()
        return (await cast.get(employee, "/api/directory", {"at": at})).status_code

    assert await row(now) == expect(default=200)
    assert await row(then) == expect(default=403, auditor=200, admin=200)


async def test_changing_the_directory(cast: Api) -> None:
    async def role(employee: str) -> int:
        body = {"members": ["e-4"]}
        return (
            await cast.http.put(
                "/api/directory/roles/finance", json=body, headers=cast.headers(employee)
            )
        ).status_code

    async def department(employee: str) -> int:
        body = {"id": "d-1", "name": "Engineering", "cost_centre": "CC-1"}
        return (
            await cast.http.put(
                "/api/directory/departments/d-1", json=body, headers=cast.headers(employee)
            )
        ).status_code

    async def own_record(employee: str) -> int:
        body = {
            "id": employee,
            "name": "New Name",
            "email": f"{employee}@example.com",
            "manager": "e-1" if employee != "e-1" else None,
            "country": "DE",
            "annual_leave_days": 40,
            "start_date": "2020-01-01",
        }
        return (
            await cast.http.put(
                f"/api/directory/employees/{employee}", json=body, headers=cast.headers(employee)
            )
        ).status_code

    async def limits(employee: str) -> int:
        body = {
            "limits": [{"process": "procurement", "role": "cfo", "up_to": 1, "currency": "EUR"}]
        }
        return (
            await cast.http.put(
                "/api/directory/limits/procurement", json=body, headers=cast.headers(employee)
            )
        ).status_code

    admin_only = expect(default=403, admin=200)
    assert await row(role) == admin_only
    assert await row(department) == expect(default=403, admin=201)  # a new department
    assert await row(own_record) == expect(default=403)  # nobody raises their own leave days
    assert await row(limits) == admin_only


_delegations = count(1)


async def test_delegating_ones_own_tasks_and_someone_elses(cast: Api) -> None:
    def terms(delegator: str, delegate: str) -> dict[str, str]:
        return {
            "id": f"d-{next(_delegations)}",
            "from": delegator,
            "to": delegate,
            "start": (TODAY + timedelta(days=60)).isoformat(),
            "end": (TODAY + timedelta(days=70)).isoformat(),
        }

    async def own(employee: str) -> int:
        delegate = "e-4" if employee != "e-4" else "e-3"
        body = terms(employee, delegate)
        return (await cast.post(employee, "/api/directory/delegations", body)).status_code

    async def foreign(employee: str) -> int:
        delegator = "e-4" if employee != "e-4" else "e-3"
        body = terms(delegator, "e-1" if employee != "e-1" else "e-2")
        return (await cast.post(employee, "/api/directory/delegations", body)).status_code

    async def revoke(employee: str) -> int:
        body = terms("e-2", "e-4")  # Ada's, fresh for each caller
        created = await cast.post("e-2", "/api/directory/delegations", body)
        assert created.status_code == 201, created.text
        path = f"/api/directory/delegations/{body['id']}"
        return (await cast.http.delete(path, headers=cast.headers(employee))).status_code

    assert await row(own) == expect(default=201)
    assert await row(foreign) == expect(default=403, admin=201)
    assert await row(revoke) == expect(default=404, manager=204, admin=204)


# -- beyond the matrix ----------------------------------------------------------------------


async def test_an_administrator_gives_themselves_no_authority(cast: Api) -> None:
    """The admin role manages the directory; it never makes its holder an approver."""

    async def put(path: str, body: object, caller: str = "e-8") -> tuple[int, str | None]:
        response = await cast.http.put(path, json=body, headers=cast.headers(caller))
        return response.status_code, response.json().get("rule")

    to_self = await cast.post(
        "e-8",
        "/api/directory/delegations",
        {"id": "grab", "from": "e-2", "to": "e-8", "start": str(TODAY), "end": str(TODAY)},
    )
    own_role = await put("/api/directory/roles/hr", {"members": ["e-6", "e-8"]})
    manager = {
        "id": "e-3", "name": "Linus", "email": "linus@example.com", "manager": "e-8",
        "country": "DE", "annual_leave_days": 30, "start_date": "2020-01-01",
    }  # fmt: skip
    manage = await put("/api/directory/employees/e-3", manager)
    limit = {"limits": [{"process": "leave", "role": "admin", "up_to": 1, "currency": "EUR"}]}
    own_limit = await put("/api/directory/limits/leave", limit)

    assert to_self.status_code == 403
    no_self = (403, "no_self_administration")
    assert [own_role, manage, own_limit] == [no_self, no_self, no_self]
    # Another administrator may do what concerns the first one.
    cast.context.application.set_role_members("admin", ["e-8", "e-6"], Meta("t", "2", "t"))
    assert (await put("/api/directory/roles/hr", {"members": ["e-6", "e-8"]}, "e-6"))[0] == 200


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        pytest.param({"end_date": "2019-12-31"}, "end_before_start", id="leaving-before-starting"),
        pytest.param({"annual_leave_days": 1e308}, "invalid_request", id="days-beyond-a-year"),
    ],
)
async def test_an_employee_who_cannot_exist_is_refused_and_nothing_recorded(
    cast: Api, change: dict[str, object], rule: str
) -> None:
    newcomer = {
        "id": "e-50", "name": "Newcomer", "email": "new@example.com", "manager": "e-3",
        "country": "DE", "annual_leave_days": 30, "start_date": "2020-01-01", **change,
    }  # fmt: skip
    before = cast.context.application.recorder.max_notification_id()

    response = await cast.http.put(
        "/api/directory/employees/e-50", json=newcomer, headers=cast.headers("e-8")
    )

    assert response.status_code == 422, response.text
    assert response.json()["rule"] == rule
    assert cast.context.application.recorder.max_notification_id() == before


async def test_a_delegation_id_longer_than_any_field_may_be_is_refused(cast: Api) -> None:
    before = cast.context.application.recorder.max_notification_id()
    terms = {"from": "e-2", "to": "e-1", "start": str(TODAY), "end": str(TODAY)}

    response = await cast.post("e-8", "/api/directory/delegations", {"id": "x" * 100_000, **terms})

    assert response.status_code == 422
    assert "at most 200 characters" in response.json()["detail"]
    assert cast.context.application.recorder.max_notification_id() == before


async def test_the_directory_gives_days_of_leave_as_numbers(cast: Api) -> None:
    response = await cast.get("e-8", "/api/directory")

    days = {person["id"]: person["annual_leave_days"] for person in response.json()["employees"]}
    assert days and all(isinstance(value, int | float) for value in days.values()), days


async def test_the_directory_shows_people_recorded_before_todays_input_rules(cast: Api) -> None:
    """A tab in a name, or 400 days of leave, were accepted once: they must still show."""
    earlier = replace(profile("e-60", "Old\tTimer", "e-1"), annual_leave_days=Decimal(400))
    cast.context.application.put_employee(earlier, Meta("hr", "before-the-rules", "tests"))

    response = await cast.get("e-8", "/api/directory")

    assert response.status_code == 200, response.text
    [shown] = [person for person in response.json()["employees"] if person["id"] == "e-60"]
    assert (shown["name"], shown["annual_leave_days"]) == ("Old\tTimer", 400)


async def test_a_delegate_may_not_decide_their_own_case_for_the_approver(cast: Api) -> None:
    """Ada's own request goes to Grace; with Ada acting for Grace, Ada still may not
    decide it: nobody decides their own case, neither directly nor as a delegate."""
    application = cast.context.application
    application.grant_delegation(
        DelegationTerms("grace-away", "e-1", "e-2", TODAY, TODAY + timedelta(days=5)),
        Meta("e-1", "grace-away", "tests"),
    )
    case = await cast.pending("e-2", next_day())
    task = await cast.task_for("e-1", case["id"])

    inbox = (await cast.get("e-2", "/api/tasks")).json()["items"]
    response = await cast.decide("e-2", task["id"], "approve")

    assert task["id"] not in {item["id"] for item in inbox}
    assert response.status_code == 403
    assert response.json()["rule"] == "no_self_approval"


async def test_a_delegates_decision_is_recorded_as_acting_for_the_approver(cast: Api) -> None:
    case_id, task_id = await pending_case(cast)

    response = await cast.decide("e-5", task_id, "approve")

    assert response.status_code == 200, response.text
    [decision] = response.json()["decisions"]
    assert (decision["actor"], decision["on_behalf_of"]) == ("e-5", "e-2")
    history = (await cast.get("e-3", f"/api/leave-requests/{case_id}/history")).json()
    recorded = next(item for item in history["items"] if item["type"] == "TaskDecided")
    assert (recorded["actor"], recorded["on_behalf_of"]) == ("e-5", "e-2")


async def test_a_revoked_delegation_no_longer_lets_the_delegate_decide(cast: Api) -> None:
    _, task_id = await pending_case(cast)

    revoked = await cast.http.delete(
        "/api/directory/delegations/ada-away", headers=cast.headers("e-2")
    )
    response = await cast.decide("e-5", task_id, "approve")

    assert revoked.status_code == 204
    assert response.status_code == 404


async def test_fields_a_caller_may_not_set_are_refused_and_nothing_is_recorded(
    cast: Api,
) -> None:
    before = cast.context.application.recorder.max_notification_id()

    status = await cast.submit("e-3", next_day(), status="approved")
    approver = await cast.submit("e-3", next_day(), approver="e-3")
    case_id = await cast.submit("e-3", next_day(), id="00000000-0000-0000-0000-000000000001")

    assert [status.status_code, approver.status_code, case_id.status_code] == [422, 422, 422]
    assert cast.context.application.recorder.max_notification_id() == before


async def test_someone_who_has_left_is_refused_even_with_a_valid_token(cast: Api) -> None:
    leaver = profile("e-4", "Margaret", "e-2")
    application = cast.context.application
    application.put_employee(
        type(leaver)(**{**leaver.__dict__, "end_date": TODAY - timedelta(days=1)}),
        Meta("e-8", "margaret-leaves", "tests"),
    )

    response = await cast.get("e-4", "/api/tasks")

    assert response.status_code == 401
    assert response.json()["rule"] == "employment_ended"


async def test_the_audit_views(cast: Api) -> None:
    case_id, _ = await pending_case(cast)
    paths = [
        "/api/audit/events",
        "/api/audit/export",
        f"/api/audit/aggregates/{case_id}",
        f"/api/audit/cases/{case_id}/timeline",
    ]

    for path in paths:

        async def cell(employee: str, path: str = path) -> int:
            return (await cast.get(employee, path)).status_code

        assert await row(cell) == expect(default=403, auditor=200), path


async def test_health_needs_no_token(cast: Api) -> None:
    assert (await cast.http.get("/api/health")).status_code == 200
    assert (await cast.http.get("/api/tasks")).status_code == 401


MATRIX = {
    ("GET", "/api/leave-requests"),
    ("GET", "/api/leave-requests/changes"),
    ("POST", "/api/leave-requests"),
    ("GET", "/api/leave-requests/{case_id}"),
    ("GET", "/api/leave-requests/{case_id}/history"),
    ("POST", "/api/leave-requests/{case_id}/withdraw"),
    ("POST", "/api/leave-requests/{case_id}/cancel"),
    ("POST", "/api/leave-requests/{case_id}/shorten"),
    ("GET", "/api/tasks"),
    ("POST", "/api/tasks/{task_id}/decision"),
    ("POST", "/api/tasks/decisions"),
    ("GET", "/api/employees/{employee_id}/leave-balance"),
    ("GET", "/api/directory"),
    ("PUT", "/api/directory/employees/{employee_id}"),
    ("PUT", "/api/directory/departments/{department_id}"),
    ("PUT", "/api/directory/roles/{role}"),
    ("PUT", "/api/directory/limits/{process}"),
    ("POST", "/api/directory/delegations"),
    ("DELETE", "/api/directory/delegations/{delegation_id}"),
    ("GET", "/api/audit/events"),
    ("GET", "/api/audit/export"),
    ("GET", "/api/audit/aggregates/{aggregate_id}"),
    ("GET", "/api/audit/cases/{case_id}/timeline"),
    ("GET", "/api/health"),
}
"""Every route the tests above drive as every kind of caller."""


def test_the_matrix_covers_every_route_of_the_api(cast: Api) -> None:
    document = create_app(cast.context).openapi()
    routes = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }

    assert routes == MATRIX, "a route was added or removed: give it its row in the matrix"


# -- the pages ------------------------------------------------------------------------------


async def test_the_pages_answer_every_kind_of_caller_as_the_policy_says(cast: Api) -> None:
    """The pages call the API's routes, so they hold no rules of their own; this checks
    the few places where a page decides what to show."""
    case_id, task_id = await pending_case(cast)
    app = create_app(cast.context)
    credentials = app.state.web.credentials
    transport = httpx.ASGITransport(app=app)

    async def get(employee: str, path: str) -> httpx.Response:
        session = credentials.start_session(employee)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://test",
            cookies={SESSION_COOKIE: session.session_id},
        ) as browser:
            return await browser.get(path)

    async def page(employee: str, path: str) -> int:
        return (await get(employee, path)).status_code

    async def decision_form(employee: str) -> bool:
        return 'value="approve"' in (await get(employee, f"/tasks/{task_id}")).text

    rows = {}
    for path in [
        "/tasks",
        "/requests",
        f"/tasks/{task_id}",
        "/team",
        "/audit",
        f"/audit/cases/{case_id}",
    ]:

        async def cell(employee: str, path: str = path) -> int:
            return await page(employee, path)

        rows[path] = await row(cell)

    assert rows == {
        "/tasks": expect(default=200),
        "/requests": expect(default=200),
        f"/tasks/{task_id}": SEES_THE_CASE,  # its case; the decision form: its deciders
        "/team": expect(default=404, manager=200, senior=200),
        "/audit": expect(default=403, auditor=200),
        f"/audit/cases/{case_id}": expect(default=403, auditor=200),
    }
    assert await row(decision_form) == expect(default=False, manager=True, delegate=True)

    async def asks_for_others(employee: str) -> bool:
        return 'id="employee_id"' in (await get(employee, "/requests")).text

    async def counts_for_linus(employee: str) -> int:
        start, end = next_day()
        query = f"start={start}&end={end}&employee_id=e-3"
        return (await get(employee, f"/requests/working-days?{query}")).status_code

    # Only HR is offered to ask for someone else's leave, counted on their calendar.
    assert await row(asks_for_others) == expect(default=False, hr=True)
    assert await row(counts_for_linus) == expect(default=403, requester=200, hr=200)


async def test_a_role_or_limits_body_with_a_field_it_does_not_have_is_refused(cast: Api) -> None:
    before = cast.context.application.recorder.max_notification_id()
    limits = [{"process": "leave", "role": "hr", "up_to": 1, "currency": "EUR"}]

    answers = [
        await cast.http.put(path, json=body, headers=cast.headers("e-8"))
        for path, body in (
            ("/api/directory/roles/travel", {"members": ["e-6"], "extra": 1}),
            ("/api/directory/limits/leave", {"limits": limits, "x": 1}),
        )
    ]

    assert [answer.status_code for answer in answers] == [422, 422]
    assert "extra: Extra inputs are not permitted" in answers[0].json()["detail"]
    assert cast.context.application.recorder.max_notification_id() == before
