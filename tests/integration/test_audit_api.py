"""The auditor's API: the audit log with each decision's authority as of then, exports,
time travel over any aggregate, and a case's timeline with its workflow's history."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote
from uuid import uuid4

import pytest

from domain.directory import DelegationTerms
from domain.meta import Meta
from domain.organisation import OrganisationChart
from tests.integration.api_conftest import Api, weeks_ahead
from tests.integration.conftest import ORGANISATION, profile

AUDITOR = "e-7"
TODAY = datetime.now(UTC).date()


@pytest.fixture
def audited(api: Api) -> Api:
    """Barbara (e-7) audits; Ken (e-5) acts for Ada (e-2) this month."""
    chart = OrganisationChart(
        employees=[*ORGANISATION, profile("e-7", "Barbara", "e-1")],
        roles={"auditor": ["e-7"], "finance": ["e-2"]},
        delegations=[
            DelegationTerms("away", "e-2", "e-5", TODAY - timedelta(days=1), TODAY + timedelta(30))
        ],
    )
    api.context.application.load_directory(chart, Meta("test", "audited", "tests"))
    return api


async def caught_up(api: Api) -> None:
    position = api.context.application.recorder.max_notification_id() or 0
    assert api.context.read_models.wait_for(position, 5)


async def events(api: Api, **params: Any) -> dict[str, Any]:
    response = await api.get(AUDITOR, "/api/audit/events", params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def test_only_auditors_read_the_audit_views(audited: Api) -> None:
    case = await audited.pending("e-3", weeks_ahead(3, days=1))
    paths = [
        "/api/audit/events",
        "/api/audit/export",
        f"/api/audit/aggregates/{case['id']}",
        f"/api/audit/cases/{case['id']}/timeline",
    ]

    statuses = [(await audited.get("e-2", path)).status_code for path in paths]

    assert statuses == [403, 403, 403, 403]


async def test_the_log_filters_by_case_and_pages_newest_first(audited: Api) -> None:
    first = await audited.approved("e-3", weeks_ahead(3, days=1))
    await audited.pending("e-4", weeks_ahead(4, days=1))
    await caught_up(audited)

    page_one = await events(audited, case=first["id"], limit=2)
    page_two = await events(audited, case=first["id"], limit=50, after=page_one["next_after"])
    everything = await events(audited, case=first["id"], order="oldest", limit=50)

    positions = [item["position"] for item in page_one["items"] + page_two["items"]]
    assert positions == sorted(positions, reverse=True)
    assert positions[::-1] == [item["position"] for item in everything["items"]]
    assert {item["case_id"] for item in everything["items"]} == {first["id"]}
    kinds = [item["event"] for item in everything["items"]]
    assert kinds[0] == "Submitted" and "TaskDecided" in kinds and "Confirmed" in kinds


async def test_a_full_last_page_says_that_no_more_remain(audited: Api) -> None:
    case = await audited.approved("e-3", weeks_ahead(3, days=1))
    await caught_up(audited)
    count = len((await events(audited, case=case["id"], limit=500))["items"])

    exact = await events(audited, case=case["id"], limit=count)
    short = await events(audited, case=case["id"], limit=count - 1)

    assert len(exact["items"]) == count
    assert exact["next_after"] is None
    assert short["next_after"] == short["items"][-1]["position"]


async def test_a_position_past_what_a_store_can_hold_is_refused_not_a_server_error(
    audited: Api,
) -> None:
    response = await audited.get(AUDITOR, "/api/audit/events", {"after": 2**64})

    assert response.status_code == 422, response.text
    assert response.json()["rule"] == "invalid_request"
    assert "after: Input should be less than or equal to" in response.json()["detail"]


async def test_filters_by_actor_event_type_and_time(audited: Api) -> None:
    before = datetime.now(UTC)
    case = await audited.approved("e-3", weeks_ahead(3, days=1))
    await caught_up(audited)

    by_actor = await events(audited, actor="e-2", type="TaskDecided")
    later = await events(audited, since=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    window = await events(audited, since=before.isoformat(), process="leave", limit=500)

    assert [item["case_id"] for item in by_actor["items"]] == [case["id"]]
    assert later["items"] == []
    assert {item["process"] for item in window["items"]} == {"leave"}


async def test_a_misspelt_filter_is_refused_rather_than_the_whole_log_answered(
    audited: Api,
) -> None:
    await audited.pending("e-3", weeks_ahead(3, days=1))

    response = await audited.get(AUDITOR, "/api/audit/events", {"Actor": "e-3", "colour": "red"})

    assert (response.status_code, response.json()) == (
        422,
        {
            "detail": "unknown query parameters 'Actor' (did you mean 'actor'?), 'colour':"
            " GET /api/audit/events takes order, after, limit, case, stream, actor, process,"
            " type, since, until",
            "rule": "unknown_parameter",
        },
    )


async def test_a_time_window_that_ends_before_it_starts_is_refused(audited: Api) -> None:
    window = {"since": "2027-03-02T00:00:00Z", "until": "2027-03-01T00:00:00Z"}

    answers = [
        await audited.get(AUDITOR, path, window)
        for path in ("/api/audit/events", "/api/audit/export")
    ]

    assert [answer.status_code for answer in answers] == [422, 422]
    assert answers[0].json() == {
        "detail": "`since` (2027-03-02T00:00:00+00:00) is after `until`"
        " (2027-03-01T00:00:00+00:00): no instant is in between",
        "rule": "since_after_until",
    }


async def test_an_event_type_may_be_named_as_the_pages_show_it_with_its_aggregate(
    audited: Api,
) -> None:
    await audited.approved("e-3", weeks_ahead(3, days=1))
    await caught_up(audited)

    qualified = await events(audited, type="LeaveAccount.Opened", limit=500)
    bare = await events(audited, type="Opened", limit=500)

    assert qualified["items"]
    assert qualified["items"] == [
        item for item in bare["items"] if item["aggregate"] == "LeaveAccount"
    ]


async def test_an_event_type_no_aggregate_has_is_refused_naming_the_forms_an_event_type_takes(
    audited: Api,
) -> None:
    answers = {
        name: [
            await audited.get(AUDITOR, path, {"type": name})
            for path in ("/api/audit/events", "/api/audit/export")
        ]
        for name in ("Submited", "LeaveAccount.Submitted", "Case.TaskDecided", "Created")
    }

    assert {name: [a.status_code for a in got] for name, got in answers.items()} == {
        name: [422, 422] for name in answers
    }
    assert [got[0].json() for got in answers.values()] == [
        {
            "detail": f"type: {name!r} is not an event type; give one such as Submitted or,"
            f" with its aggregate, LeaveRequest.Submitted{hint}",
            "rule": "unknown_event_type",
        }
        for name, hint in [
            ("Submited", " (did you mean Submitted?)"),
            ("LeaveAccount.Submitted", " (did you mean LeaveRequest.Submitted?)"),
            ("Case.TaskDecided", " (did you mean LeaveRequest.TaskDecided?)"),
            ("Created", ""),
        ]
    ]


async def test_every_event_type_of_every_aggregate_is_a_filter(audited: Api) -> None:
    known = ["Refused", "RefusalLog.Refused", "Employee.Registered", "Delegation.Granted"]

    answers = [await audited.get(AUDITOR, "/api/audit/events", {"type": name}) for name in known]

    assert [answer.status_code for answer in answers] == [200, 200, 200, 200]


async def test_a_decision_shows_the_deciders_authority_as_it_was_then(audited: Api) -> None:
    case = await audited.pending("e-3", weeks_ahead(3, days=1))
    task = await audited.task_for("e-5", case["id"])
    assert (await audited.decide("e-5", task["id"], "approve")).status_code == 200
    # Afterwards the delegation ends and Ada is no longer in finance: the log still
    # shows the authority Ken acted under at the time.
    audited.context.application.load_directory(
        OrganisationChart(employees=[], roles={"finance": []}, delegations=[]),
        Meta("test", "later", "tests"),
    )
    await caught_up(audited)

    [decision] = (await events(audited, case=case["id"], type="TaskDecided"))["items"]

    assert decision["actor"] == "e-5"
    assert decision["authority"] == {
        "acting_for": "e-2",
        "delegation": "away",
        "roles": [],
        "approval_limits": [],
    }


async def test_a_page_newest_first_reads_the_directory_only_where_it_left_off(
    audited: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The newest entries' authority was folded from the directory's events read again
    from the start of the log on each page (0.76 s a page at 100,000 events, growing
    with the log): a page now reads only the directory's events recorded since."""
    case = await audited.pending("e-3", weeks_ahead(3, days=1))
    task = await audited.task_for("e-5", case["id"])
    assert (await audited.decide("e-5", task["id"], "approve")).status_code == 200
    await caught_up(audited)
    await events(audited)  # a first page
    directory = audited.context.application.directory
    read_up_to = audited.context.application.recorder.max_notification_id() or 0
    starts: list[int] = []
    select = directory.recorder.select_notifications

    def counted(start: int, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("topics") == directory.topics:
            starts.append(start)
        return select(start, *args, **kwargs)

    monkeypatch.setattr(directory.recorder, "select_notifications", counted)

    page = await events(audited)

    assert all(start >= read_up_to for start in starts)
    [decision] = [entry for entry in page["items"] if entry["event"] == "TaskDecided"]
    assert decision["authority"]["acting_for"] == "e-2"


async def test_an_hr_closing_and_an_administrators_change_show_the_authority_acted_under(
    audited: Api,
) -> None:
    """Not only decisions: HR closing another's leave and an administrator changing the
    directory acted under a role, which the log shows as it was when they acted."""
    application = audited.context.application
    application.set_role_members("hr", ["e-5"], Meta("e-1", "hr-is-ken", "tests"))
    application.set_role_members("admin", ["e-4"], Meta("e-1", "admin-is-margaret", "tests"))
    case = await audited.approved("e-3", weeks_ahead(3, days=1))
    cancel = f"/api/leave-requests/{case['id']}/cancel"
    assert (await audited.post("e-5", cancel, {"reason": "leaves"})).status_code == 200
    change = await audited.http.put(
        "/api/directory/roles/hr", json={"members": ["e-5", "e-2"]}, headers=audited.headers("e-4")
    )
    assert change.status_code == 200, change.text
    await caught_up(audited)

    [cancelled] = (await events(audited, case=case["id"], type="Cancelled"))["items"]
    logged = (await events(audited, actor="e-4"))["items"]
    by_the_system = (await events(audited, actor="e-1"))["items"]

    assert cancelled["authority"]["roles"] == ["hr"]
    assert [entry["authority"]["roles"] for entry in logged] == [["admin"]]
    assert by_the_system and all(entry["authority"] is not None for entry in by_the_system)


async def test_hr_ending_someones_leave_early_shows_the_authority_acted_under(
    audited: Api,
) -> None:
    application = audited.context.application
    application.set_role_members("hr", ["e-5"], Meta("e-1", "hr-is-ken", "tests"))
    case = await audited.approved("e-3", weeks_ahead(3, days=2))
    shorten = f"/api/leave-requests/{case['id']}/shorten"
    body = {"last_day": case["start"], "reason": "leaves"}
    assert (await audited.post("e-5", shorten, body)).status_code == 200
    await caught_up(audited)

    logged = (await events(audited, case=case["id"], type="Shortened"))["items"]

    by_kind = {entry["aggregate"]: entry for entry in logged}
    assert by_kind["LeaveRequest"]["authority"]["roles"] == ["hr"]
    assert by_kind["LeaveRequest"]["data"]["by_hr"] is True
    assert by_kind["LeaveAccount"]["data"]["last_day"] == case["start"]


async def test_hr_asking_for_someones_leave_shows_the_authority_acted_under(
    audited: Api,
) -> None:
    application = audited.context.application
    application.set_role_members("hr", ["e-5"], Meta("e-1", "hr-is-ken", "tests"))
    asked = await audited.submit("e-5", weeks_ahead(3), employee_id="e-3", reason="agreed")
    assert asked.status_code == 201, asked.text
    own = await audited.pending("e-4", weeks_ahead(5))
    await caught_up(audited)

    [for_linus] = (await events(audited, case=asked.json()["id"], type="Submitted"))["items"]
    [margarets] = (await events(audited, case=own["id"], type="Submitted"))["items"]

    assert (for_linus["actor"], for_linus["data"]["requester_id"]) == ("e-5", "e-3")
    assert for_linus["authority"]["roles"] == ["hr"]
    assert margarets["authority"] is None


async def test_a_change_to_the_directory_shows_the_authority_as_it_was_before_it(
    audited: Api,
) -> None:
    """A change that gives or takes its author's own role (an org file loaded ``--by``
    them, say) shows what they held when they made it, not what it left them."""
    application = audited.context.application
    application.set_role_members("hr", ["e-1"], Meta("e-1", "grace-takes-hr", "tests"))
    application.set_role_members("hr", [], Meta("e-1", "grace-gives-hr-back", "tests"))
    await caught_up(audited)

    logged = (await events(audited, actor="e-1", order="oldest"))["items"]

    assert [(e["event"], e["authority"]["roles"]) for e in logged] == [
        ("Defined", []),
        ("MembersChanged", []),  # Grace's taking hr
        ("MembersChanged", ["hr"]),  # her giving it back
    ]


async def test_an_actor_the_directory_does_not_know_is_named_when_nothing_matches(
    audited: Api,
) -> None:
    """An actor filter with a typo answers nothing: the page says why, rather than
    leave an auditor to conclude that the person did nothing."""
    await audited.approved("e-3", weeks_ahead(3, days=1))
    await caught_up(audited)

    typo = await events(audited, actor="e-22")
    known_but_idle = await events(audited, actor="e-7")
    found = await events(audited, actor="e-3")

    assert typo["items"] == []
    assert typo["hint"] == (
        "the directory knows nobody with the id e-22: an actor is an employee's id,"
        " or system for what the product did itself"
    )
    assert known_but_idle == {"items": [], "next_after": None, "hint": None}
    assert found["items"] and found["hint"] is None


async def test_an_empty_actor_is_refused_as_the_other_filters_refuse_an_empty_value(
    audited: Api,
) -> None:
    """``?actor=`` answered no items and a hint about "nobody with the id " (the id of
    nobody); an empty case, type or process is refused, and so is an empty actor."""
    empty = await audited.get(AUDITOR, "/api/audit/events", {"actor": ""})
    blank = await audited.get(AUDITOR, "/api/audit/events", {"actor": " "})
    exported = await audited.get(AUDITOR, "/api/audit/export", {"actor": ""})
    others = [
        (await audited.get(AUDITOR, "/api/audit/events", {name: ""})).status_code
        for name in ("case", "type", "process")
    ]

    assert others == [422, 422, 422]
    assert (empty.status_code, empty.json()) == (
        422,
        {
            "detail": "actor: '' is not an actor; give an employee's id, or system for what"
            " the product did itself (leave actor out for everyone's)",
            "rule": "empty_actor",
        },
    )
    assert (blank.status_code, blank.json()["rule"]) == (422, "empty_actor")
    assert (exported.status_code, exported.json()) == (422, empty.json())


async def test_exports_stream_the_selection_as_json_lines_and_csv(audited: Api) -> None:
    case = await audited.approved("e-3", weeks_ahead(3, days=1))
    await caught_up(audited)
    logged = (await events(audited, case=case["id"], order="oldest", limit=500))["items"]

    jsonl = await audited.get(AUDITOR, "/api/audit/export", {"case": case["id"]})
    table = await audited.get(AUDITOR, "/api/audit/export", {"case": case["id"], "format": "csv"})

    lines = [json.loads(line) for line in jsonl.text.splitlines()]
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert jsonl.headers["content-type"] == "application/x-ndjson"
    assert [line["position"] for line in lines] == [item["position"] for item in logged]
    assert [int(row["position"]) for row in rows] == [item["position"] for item in logged]
    assert json.loads(rows[0]["data"]) == lines[0]["data"]
    decided = [line for line in lines if line["event"] == "TaskDecided"]
    assert [line["authority"]["roles"] for line in decided] == [["finance"]]  # Ada's, then
    assert all(line["authority"] is None for line in lines if line["event"] != "TaskDecided")
    assert [json.loads(row["authority"])["roles"] for row in rows if row["authority"]] == [
        ["finance"]
    ]


async def test_a_csv_export_for_a_spreadsheet_starts_with_a_byte_order_mark(
    audited: Api,
) -> None:
    """A spreadsheet (Excel) reads a CSV file as UTF-8 only when it starts with the
    byte order mark; without it, Zoë would read as ZoÃ«. ``bom`` adds it, CSV only."""
    await audited.approved("e-3", weeks_ahead(3, days=1))
    await caught_up(audited)
    plain = await audited.get(AUDITOR, "/api/audit/export", {"format": "csv"})

    marked = await audited.get(AUDITOR, "/api/audit/export", {"format": "csv", "bom": "true"})
    lines = await audited.get(AUDITOR, "/api/audit/export", {"bom": "true"})

    assert marked.status_code == 200
    assert marked.content == b"\xef\xbb\xbf" + plain.content
    assert not plain.content.startswith(b"\xef\xbb\xbf")
    assert lines.status_code == 422
    assert "bom: a byte order mark is for CSV; ask for format=csv" in lines.text


async def test_a_change_to_an_employee_names_them_in_the_log_and_its_exports(
    audited: Api,
) -> None:
    """The employee's id is only in their stream's first event: an auditor reading an
    end date changed sees whom it concerns."""
    application = audited.context.application
    last_day = TODAY + timedelta(days=60)
    leaves = replace(application.profile("e-4"), end_date=last_day)
    application.put_employee(leaves, Meta("e-1", "leaves", "tests"))
    await caught_up(audited)

    page = await events(audited, type="Employee.DetailsChanged")
    table = await audited.get(
        AUDITOR, "/api/audit/export", {"type": "Employee.DetailsChanged", "format": "csv"}
    )

    assert [(item["subject"], item["data"]) for item in page["items"]] == [
        ("employee e-4", {"changes": {"end_date": last_day.isoformat()}})
    ]
    assert [row["subject"] for row in csv.DictReader(io.StringIO(table.text))] == ["employee e-4"]


async def test_an_aggregate_at_a_version_and_at_an_instant(audited: Api) -> None:
    case = await audited.pending("e-3", weeks_ahead(3, days=1))  # answers once the task is open
    submitted_at = datetime.now(UTC)
    task = await audited.task_for("e-2", case["id"])
    await audited.decide("e-2", task["id"], "approve")
    path = f"/api/audit/aggregates/{case['id']}"

    first = (await audited.get(AUDITOR, path, {"version": 1})).json()
    then = (await audited.get(AUDITOR, path, {"at": submitted_at.isoformat()})).json()
    now = (await audited.get(AUDITOR, path)).json()
    before = await audited.get(AUDITOR, path, {"at": "2000-01-01T00:00:00Z"})
    beyond = await audited.get(AUDITOR, path, {"version": 99})
    unknown = await audited.get(AUDITOR, f"/api/audit/aggregates/{uuid4()}")

    assert (first["version"], first["state"]["status"], first["state"]["tasks"]) == (
        1,
        "pending",
        {},
    )
    assert (then["version"], then["state"]["status"]) == (2, "pending")  # submitted, task
    assert now["state"]["status"] == "approved" and now["version"] > 2
    assert [before.status_code, beyond.status_code, unknown.status_code] == [404, 404, 404]
    assert before.json()["detail"].startswith(
        f"{case['id']} was first recorded at {first['at'][:10]}"
    ), before.json()
    assert beyond.json()["detail"] == f"{case['id']} has versions 1 to {now['version']}, not 99"
    assert unknown.json()["detail"].startswith("no aggregate ")


async def test_a_version_beyond_what_a_store_can_hold_is_one_the_aggregate_does_not_have(
    audited: Api,
) -> None:
    case = await audited.pending("e-3", weeks_ahead(5, days=1))
    beyond = 2**64  # more than SQLite's and PostgreSQL's integers hold

    response = await audited.get(
        AUDITOR, f"/api/audit/aggregates/{case['id']}", {"version": beyond}
    )

    assert (response.status_code, response.json()["rule"]) == (404, "no_such_version")
    assert response.json()["detail"].endswith(f", not {beyond}")


@pytest.mark.parametrize(
    ("path", "name"),
    [("/api/audit/aggregates/{}", "aggregate_id"), ("/api/audit/cases/{}/timeline", "case_id")],
)
async def test_a_malformed_id_is_refused_naming_what_an_id_looks_like_and_an_unknown_one_not_found(
    audited: Api, path: str, name: str
) -> None:
    malformed = [
        await audited.get(AUDITOR, path.format(quote(case_id, safe="")))
        for case_id in ("not-a-uuid", f" {uuid4()} ")
    ]
    unknown = await audited.get(AUDITOR, path.format(uuid4()))

    assert [answer.json() for answer in malformed] == 2 * [
        {
            "detail": f"{name}: must be a UUID such as 6f1c3a52-53a4-4f7e-9d0b-3c6a2f1e8b47",
            "rule": "invalid_request",
        }
    ]
    assert [answer.status_code for answer in malformed] == [422, 422]
    assert unknown.status_code == 404


async def test_a_case_timeline_merges_its_events_with_its_workflows_history(
    audited: Api,
) -> None:
    case = await audited.approved("e-3", weeks_ahead(3, days=1))

    response = await audited.get(AUDITOR, f"/api/audit/cases/{case['id']}/timeline")

    assert response.status_code == 200, response.text
    items = response.json()["items"]
    workflow = [item["what"] for item in items if item["source"] == "workflow"]
    business = [item["what"] for item in items if item["source"] == "business"]
    assert workflow[0] == "workflow started"
    assert {"timer set", "activity scheduled", "activity completed", "update accepted"} <= set(
        workflow
    )
    updates = {item["details"].get("update") for item in items if item["what"] == "update accepted"}
    assert {"submission", "decide"} <= updates
    assert "LeaveRequest.Submitted" in business[:2]  # with the account's booking
    assert "LeaveRequest.TaskDecided" in business
    times = [item["at"] for item in items]
    assert times == sorted(times)


async def test_refused_commands_are_kept_and_shown_on_the_timeline(audited: Api) -> None:
    case = await audited.pending("e-3", weeks_ahead(3, days=1))
    task = await audited.task_for("e-2", case["id"])
    own = await audited.decide("e-3", task["id"], "approve")  # the policy refuses
    assert (await audited.decide("e-2", task["id"], "approve")).status_code == 200
    again = await audited.decide("e-2", task["id"], "reject")  # the validator refuses
    stranger = await audited.decide("e-4", task["id"], "reject")  # may not see it: not kept
    await caught_up(audited)

    timeline = (await audited.get(AUDITOR, f"/api/audit/cases/{case['id']}/timeline")).json()
    logged = (await events(audited, case=case["id"], type="Refused", order="oldest"))["items"]

    assert [own.status_code, again.status_code, stranger.status_code] == [403, 409, 404]
    refused = [item for item in timeline["items"] if item["source"] == "refused"]
    assert [(item["actor"], item["what"]) for item in refused] == [
        ("e-3", "decide refused (no_self_approval)"),
        ("e-2", "decide refused (task_already_decided)"),
    ]
    assert [(item["actor"], item["data"]["status"]) for item in logged] == [
        ("e-3", 403),
        ("e-2", 409),
    ]


async def test_a_refused_request_for_leave_is_kept_and_has_a_timeline(audited: Api) -> None:
    start, _end = weeks_ahead(3)
    too_long = (start, start + timedelta(days=60))

    refused = await audited.submit("e-3", too_long, key="too-much")
    await caught_up(audited)

    assert refused.status_code == 422
    [logged] = (await events(audited, type="Refused"))["items"]
    assert (logged["actor"], logged["process"]) == ("e-3", "leave")
    assert (logged["data"]["operation"], logged["data"]["rule"]) == (
        "submit",
        refused.json()["rule"],
    )
    timeline = await audited.get(AUDITOR, f"/api/audit/cases/{logged['case_id']}/timeline")
    assert timeline.status_code == 200, timeline.text
    whats = [item["what"] for item in timeline.json()["items"]]
    assert f"submit refused ({refused.json()['rule']})" in whats
    assert "workflow started" in whats
    assert (await audited.get("e-3", "/api/leave-requests")).json()["items"] == []


async def test_a_refused_request_for_leave_as_it_was_says_nothing_was_recorded_and_why(
    audited: Api,
) -> None:
    start, _end = weeks_ahead(3)
    refused = await audited.submit("e-3", (start, start + timedelta(days=60)), key="too-long")
    await caught_up(audited)
    [logged] = (await events(audited, type="Refused"))["items"]
    path = f"/api/audit/aggregates/{logged['case_id']}"

    answers = [
        await audited.get(AUDITOR, path, {"version": 1}),
        await audited.get(AUDITOR, path),
        await audited.get(AUDITOR, path, {"at": datetime.now(UTC).isoformat()}),
    ]

    rule, detail = refused.json()["rule"], refused.json()["detail"]
    for answer in answers:
        assert (answer.status_code, answer.json()) == (
            404,
            {
                "detail": f"nothing was recorded for case {logged['case_id']}: its submission"
                f" was refused ({rule}: {detail}); the refusal is on the case's timeline",
                "rule": "submission_refused",
            },
        )


async def test_a_refused_request_sent_again_under_its_key_gets_that_refusal_kept_once(
    audited: Api,
) -> None:
    """A retry of a refused request (same key, same details) is answered with the first
    attempt's refusal: the rules are not run again, and the auditors see one refusal."""
    start, _end = weeks_ahead(3)
    too_long = (start, start + timedelta(days=60))

    first = await audited.submit("e-3", too_long, key="too-much-again")
    again = await audited.submit("e-3", too_long, key="too-much-again")
    other = await audited.submit("e-3", weeks_ahead(6), key="too-much-again")
    await caught_up(audited)

    assert first.status_code == 422, first.text
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert (other.status_code, other.json()["rule"]) == (422, "idempotency_key_reused")
    logged = (await events(audited, type="Refused"))["items"]
    assert [item["data"]["rule"] for item in logged] == [first.json()["rule"]]
    case_id = logged[0]["case_id"]
    timeline = (await audited.get(AUDITOR, f"/api/audit/cases/{case_id}/timeline")).json()
    started = [item for item in timeline["items"] if item["what"] == "workflow started"]
    assert len(started) == 1


async def test_a_request_for_someone_elses_leave_refused_before_it_starts_is_kept(
    audited: Api,
) -> None:
    """The API refuses some requests for another's leave itself, before any workflow: a
    non-HR caller naming someone else, HR without a reason or naming an employee the
    directory does not know. Those refusals are kept as any other, once per key."""
    application = audited.context.application
    application.set_role_members("hr", ["e-5"], Meta("e-1", "hr-is-ken", "tests"))
    period = weeks_ahead(3)

    stranger = await audited.submit("e-4", period, key="for-linus", employee_id="e-3")
    unsaid = await audited.submit("e-5", period, key="no-reason", employee_id="e-3")
    again = await audited.submit("e-5", period, key="no-reason", employee_id="e-3")
    unknown = await audited.submit("e-5", period, employee_id="e-99", reason="agreed")
    await caught_up(audited)

    assert [stranger.status_code, unsaid.status_code, again.status_code] == [403, 422, 422]
    assert unknown.status_code == 422
    logged = (await events(audited, type="Refused", order="oldest"))["items"]
    kept = [(item["actor"], item["data"]["operation"], item["data"]["rule"]) for item in logged]
    assert kept == [
        ("e-4", "submit", "only_for_yourself"),
        ("e-5", "submit", "reason_required"),
        ("e-5", "submit", "unknown_employee"),
    ]
    timeline = await audited.get(AUDITOR, f"/api/audit/cases/{logged[1]['case_id']}/timeline")
    assert timeline.status_code == 200, timeline.text
    whats = [item["what"] for item in timeline.json()["items"]]
    assert "submit refused (reason_required)" in whats


async def test_a_key_refused_before_its_workflow_then_refused_by_another_rule_keeps_both(
    audited: Api,
) -> None:
    """HR sends a request for Linus without a reason (refused by the API, the key not
    used up), then the same key with a reason for a period too long: the auditors see
    both refusals, each once however often it is sent."""
    application = audited.context.application
    application.set_role_members("hr", ["e-5"], Meta("e-1", "hr-is-ken", "tests"))
    start, _end = weeks_ahead(3)
    too_long = (start, start + timedelta(days=60))

    unsaid = await audited.submit("e-5", too_long, key="k-9", employee_id="e-3")
    said = await audited.submit("e-5", too_long, key="k-9", employee_id="e-3", reason="agreed")
    again = await audited.submit("e-5", too_long, key="k-9", employee_id="e-3", reason="agreed")
    await caught_up(audited)

    assert (unsaid.status_code, unsaid.json()["rule"]) == (422, "reason_required")
    assert (said.status_code, again.json()) == (422, said.json())
    logged = (await events(audited, type="Refused", order="oldest"))["items"]
    assert [item["data"]["rule"] for item in logged] == ["reason_required", said.json()["rule"]]


async def test_the_same_refused_request_sent_twice_at_once_is_kept_once(audited: Api) -> None:
    start, _end = weeks_ahead(3)
    too_long = (start, start + timedelta(days=60))

    answers = await asyncio.gather(
        *(audited.submit("e-3", too_long, key="too-much-twice") for _ in range(2))
    )
    await caught_up(audited)

    assert [answer.status_code for answer in answers] == [422, 422]
    logged = (await events(audited, type="Refused"))["items"]
    assert len(logged) == 1


async def test_a_delegates_refused_decision_is_kept_as_acting_for_the_approver(
    audited: Api,
) -> None:
    start, end = weeks_ahead(3, days=1)
    case = await audited.pending("e-3", (start, end))
    task = await audited.task_for("e-2", case["id"])
    application = audited.context.application
    application.put_employee(  # Linus leaves before the leave: it can only be rejected
        replace(application.profile("e-3"), end_date=start - timedelta(days=1)),
        Meta("e-1", "linus-leaves", "tests"),
    )

    refused = await audited.decide("e-5", task["id"], "approve")
    await caught_up(audited)

    assert (refused.status_code, refused.json()["rule"]) == (422, "after_employment_ends")
    [logged] = (await events(audited, case=case["id"], type="Refused"))["items"]
    assert (logged["actor"], logged["on_behalf_of"]) == ("e-5", "e-2")


async def test_a_process_the_engine_does_not_run_is_refused_naming_those_it_does(
    audited: Api,
) -> None:
    answers = [
        await audited.get(AUDITOR, path, {"process": "leeve"})
        for path in ("/api/audit/events", "/api/audit/export")
    ]
    known = await audited.get(AUDITOR, "/api/audit/events", {"process": "directory"})

    assert [answer.status_code for answer in answers] == [422, 422]
    assert answers[0].json() == {
        "detail": "process: 'leeve' is not a process; give one of directory, leave"
        " (did you mean leave?)",
        "rule": "unknown_process",
    }
    assert known.status_code == 200


@pytest.mark.parametrize("given", ["1900000000", "0", "soon", "2027-03-01"])
async def test_an_instant_must_be_written_as_one_not_as_a_number_of_seconds(
    audited: Api, given: str
) -> None:
    answers = [
        await audited.get(AUDITOR, "/api/audit/events", {"since": given}),
        await audited.get(AUDITOR, "/api/directory", {"at": given}),
        await audited.get(AUDITOR, f"/api/audit/aggregates/{uuid4()}", {"at": given}),
    ]

    assert [answer.status_code for answer in answers] == [422, 422, 422]
    assert [answer.json()["detail"] for answer in answers] == [
        f"{name}: must be an instant with its UTC offset, such as 2027-03-01T12:00:00Z"
        for name in ("since", "at", "at")
    ]


async def test_an_aggregate_is_not_told_as_of_an_instant_after_now(audited: Api) -> None:
    case = await audited.pending("e-3", weeks_ahead(4))

    response = await audited.get(
        AUDITOR, f"/api/audit/aggregates/{case['id']}", {"at": "2099-01-01T00:00:00Z"}
    )

    assert (response.status_code, response.json()["rule"]) == (422, "instant_in_the_future")
