"""Changing the directory through the API: what a body leaves out, what the answer
says changed and warns about, what is refused, and reading it as of an instant.

Grace (e-1) manages Ada (e-2), who manages Linus (e-3) and Margaret (e-4); Ken (e-5)
reports to Grace. Dennis (e-8) is the administrator, Barbara (e-7) the auditor.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from domain.meta import Meta
from domain.organisation import OrganisationChart
from tests.integration.api_conftest import Api
from tests.integration.conftest import ORGANISATION, profile

TODAY = datetime.now(UTC).date()
LAST_DAY = (TODAY - timedelta(days=10)).isoformat()
LINUS = {
    "name": "Linus",
    "email": "linus@example.com",
    "manager": "e-2",
    "country": "DE",
    "annual_leave_days": 30,
    "start_date": "2020-01-01",
}


@pytest.fixture
def admin(api: Api) -> Api:
    chart = OrganisationChart(
        employees=[
            *ORGANISATION,
            profile("e-7", "Barbara", "e-1"),
            profile("e-8", "Dennis", "e-1"),
        ],
        roles={"admin": ["e-8"], "auditor": ["e-7"]},
    )
    api.context.application.load_directory(chart, Meta("test", "admin", "tests"))
    return api


async def put_linus(api: Api, body: dict[str, Any], path_id: str = "e-3") -> httpx.Response:
    return await api.http.put(
        f"/api/directory/employees/{path_id}", json=body, headers=api.headers("e-8")
    )


def recorded(api: Api) -> int:
    return api.context.application.recorder.max_notification_id() or 0


@pytest.mark.parametrize("api_store_url", ["sqlite", "postgres"], indirect=True)
async def test_a_body_without_end_date_keeps_the_last_day_and_null_clears_it_saying_so(
    admin: Api,
) -> None:
    left = await put_linus(admin, {"id": "e-3", **LINUS, "end_date": LAST_DAY})

    kept = await put_linus(admin, {"id": "e-3", **LINUS, "name": "Linus T."})
    cleared = await put_linus(admin, {"id": "e-3", **LINUS, "name": "Linus T.", "end_date": None})

    assert left.json()["changes"] == [f"employee e-3: end_date (none) -> {LAST_DAY}"]
    assert kept.json()["changes"] == ["employee e-3: name Linus -> Linus T."]
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["changes"] == [f"employee e-3: end_date {LAST_DAY} -> (none)"]
    assert admin.context.application.profile("e-3").end_date is None


async def test_the_employee_id_is_taken_from_the_path(admin: Api) -> None:
    response = await put_linus(admin, {**LINUS, "name": "Linus T."})

    assert response.status_code == 200, response.text
    assert response.json()["changes"] == ["employee e-3: name Linus -> Linus T."]


async def test_a_department_id_is_taken_from_the_path(admin: Api) -> None:
    body = {"name": "Operations", "cost_centre": "CC-9"}

    response = await admin.http.put(
        "/api/directory/departments/d-ops", json=body, headers=admin.headers("e-8")
    )

    assert response.status_code == 201, response.text
    assert response.json()["changes"] == ["department d-ops: new"]


async def test_a_new_entry_answers_201_with_where_it_is_and_a_change_to_it_200(
    admin: Api,
) -> None:
    body = {"id": "e-42", **LINUS, "name": "Grace H."}

    created = await put_linus(admin, body, "e-42")
    changed = await put_linus(admin, {**body, "name": "Grace Hopper"}, "e-42")
    unchanged = await put_linus(admin, {**body, "name": "Grace Hopper"}, "e-42")

    assert created.status_code == 201, created.text
    assert created.headers["Location"] == "/api/directory/employees/e-42"
    assert created.json()["changes"] == ["employee e-42: new"]
    assert (changed.status_code, unchanged.status_code) == (200, 200)
    assert "Location" not in changed.headers


async def test_a_body_naming_another_employee_than_the_path_is_refused_naming_both(
    admin: Api,
) -> None:
    before = recorded(admin)

    response = await put_linus(admin, {"id": "e-4", **LINUS})

    assert response.status_code == 422
    assert response.json() == {
        "detail": "the body's id e-4 is not the path's e-3",
        "rule": "id_mismatch",
    }
    assert recorded(admin) == before


@pytest.mark.parametrize(
    ("path_id", "detail"),
    [
        ("e-3%20", "the id in the address must not begin or end with blanks"),
        ("e-9%0A", "the id in the address must not begin or end with blanks"),
        ("e%099", "id: must not contain control characters"),
        (
            "e%203",
            "id: must not contain blanks or invisible characters: an id is typed, and compared",
        ),
        (
            "%E2%80%8Be-3",
            "id: must not contain blanks or invisible characters: an id is typed, and compared",
        ),
        ("e" * 201, "id: String should have at most 200 characters"),
    ],
)
async def test_an_id_in_the_address_is_held_to_the_rules_of_an_id_and_nothing_recorded(
    admin: Api, path_id: str, detail: str
) -> None:
    before = recorded(admin)

    employee = await put_linus(admin, LINUS, path_id)
    department = await admin.http.put(
        f"/api/directory/departments/{path_id}",
        json={"name": "Operations", "cost_centre": "CC-9"},
        headers=admin.headers("e-8"),
    )

    assert (employee.status_code, employee.json()["detail"]) == (422, detail)
    assert (department.status_code, department.json()["detail"]) == (422, detail)
    assert recorded(admin) == before


async def test_a_manager_leaving_is_recorded_with_a_warning(admin: Api) -> None:
    leaves = (TODAY + timedelta(days=30)).isoformat()
    ada = {**LINUS, "name": "Ada", "email": "ada@example.com", "manager": "e-1"}

    response = await put_linus(admin, {"id": "e-2", **ada, "end_date": leaves}, "e-2")

    assert response.status_code == 200, response.text
    assert response.json()["warnings"] == [f"e-2 leaves on {leaves} and still manages e-3, e-4"]


def away(name: str, delegate: str, start: int, end: int) -> dict[str, str]:
    """Grace's delegation to ``delegate`` from ``start`` to ``end`` days from today."""
    return {
        "id": name,
        "from": "e-1",
        "to": delegate,
        "start": (TODAY + timedelta(days=start)).isoformat(),
        "end": (TODAY + timedelta(days=end)).isoformat(),
    }


async def test_a_delegation_to_someone_who_has_left_is_refused_naming_them_and_the_day(
    admin: Api,
) -> None:
    await put_linus(admin, {"id": "e-3", **LINUS, "end_date": LAST_DAY})
    before = recorded(admin)

    response = await admin.post("e-1", "/api/directory/delegations", away("x", "e-3", 0, 5))

    assert response.status_code == 422
    assert response.json() == {
        "detail": f"delegation x: e-3 left on {LAST_DAY} and can act for nobody",
        "rule": "delegate_has_left",
    }
    assert recorded(admin) == before


async def test_a_delegation_that_has_ended_is_refused_naming_its_last_day(admin: Api) -> None:
    before = recorded(admin)

    response = await admin.post("e-1", "/api/directory/delegations", away("x", "e-5", -9, -2))

    assert response.status_code == 422
    assert response.json()["rule"] == "delegation_in_the_past"
    assert (TODAY - timedelta(days=2)).isoformat() in response.json()["detail"]
    assert recorded(admin) == before


async def test_an_overlapping_delegation_is_recorded_with_a_warning(admin: Api) -> None:
    await admin.post("e-1", "/api/directory/delegations", away("first", "e-5", 0, 10))

    response = await admin.post("e-1", "/api/directory/delegations", away("second", "e-2", 5, 20))

    assert response.status_code == 201, response.text
    assert response.json()["changes"] == ["delegation second: new"]
    [warning] = response.json()["warnings"]
    assert warning.startswith("delegations first and second overlap from ")


async def test_the_directory_is_not_told_ahead_of_now(admin: Api) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()

    response = await admin.get("e-7", "/api/directory", {"at": tomorrow})

    assert response.status_code == 422
    assert response.json()["rule"] == "instant_in_the_future"


async def test_a_body_id_left_at_its_default_is_taken_from_the_path(admin: Api) -> None:
    response = await put_linus(admin, {"id": "", **LINUS, "name": "Linus T."})

    assert response.status_code == 200, response.text
    assert response.json()["changes"] == ["employee e-3: name Linus -> Linus T."]
