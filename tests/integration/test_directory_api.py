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


def away(name: str, delegate: str, start: int, end: int) -> dict[str, str]:
    """Grace's delegation to ``delegate`` from ``start`` to ``end`` days from today."""
    return {
        "id": name,
        "from": "e-1",
        "to": delegate,
        "start": (TODAY + timedelta(days=start)).isoformat(),
        "end": (TODAY + timedelta(days=end)).isoformat(),
    }
