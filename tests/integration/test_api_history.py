"""GET /api/leave-requests/{id}/history: the case's events, for those who may see the case."""

from __future__ import annotations

from tests.integration.api_conftest import Api, weeks_ahead


async def test_the_history_lists_every_event_in_order_with_who_did_it_and_why(api: Api) -> None:
    start, end = weeks_ahead(5)
    case = await api.pending("e-3", (start, end))
    task = await api.task_for("e-2", case["id"])
    await api.decide("e-2", task["id"], "reject", comment="team offsite that week")

    response = await api.get("e-3", f"/api/leave-requests/{case['id']}/history")

    assert response.status_code == 200, response.text
    history = response.json()
    assert history["case_id"] == case["id"]
    entries = history["items"]
    assert [entry["type"] for entry in entries] == [
        "Submitted",
        "TaskOpened",
        "TaskDecided",
        "Rejected",
    ]
    assert [entry["version"] for entry in entries] == [1, 2, 3, 4]
    assert [entry["actor"] for entry in entries] == ["e-3", "system", "e-2", "e-2"]
    assert all(entry["on_behalf_of"] is None for entry in entries)
    submitted, opened, decided, rejected = (entry["data"] for entry in entries)
    assert (submitted["requester_id"], submitted["start"], submitted["end"]) == (
        "e-3",
        start.isoformat(),
        end.isoformat(),
    )
    assert opened["assignees"] == ["e-2"]
    assert decided == {
        "task_id": task["id"],
        "decision": "reject",
        "comment": "team offsite that week",
    }
    assert rejected == {"reason": "team offsite that week"}
    assert entries[0]["at"] <= entries[-1]["at"]


async def test_the_history_is_visible_to_exactly_those_who_may_see_the_case(api: Api) -> None:
    case = await api.pending("e-3", weeks_ahead(4))
    await api.task_for("e-2", case["id"])

    seen_by = {
        employee_id: (
            await api.get(employee_id, f"/api/leave-requests/{case['id']}/history")
        ).status_code
        for employee_id in ("e-1", "e-2", "e-3", "e-4", "e-5")
    }

    assert seen_by == {"e-1": 200, "e-2": 200, "e-3": 200, "e-4": 404, "e-5": 404}


async def test_the_history_of_an_unknown_case_is_not_found(api: Api) -> None:
    response = await api.get(
        "e-3", "/api/leave-requests/7d3c1e2a-0000-4000-8000-000000000000/history"
    )

    assert response.status_code == 404
    assert response.json()["rule"] == "not_found"


async def test_the_history_needs_a_token(api: Api) -> None:
    response = await api.http.get(
        "/api/leave-requests/7d3c1e2a-0000-4000-8000-000000000000/history"
    )

    assert response.status_code == 401
