"""Changing the directory as the organisation file and the API do, on SQLite and on
PostgreSQL: what a file leaves out, what each change reports, what it warns about."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from backoffice.org_file import describe, parse_org_text, read_org_text
from domain.errors import RuleViolation
from domain.meta import Meta
from domain.organisation import ChartRefused
from services.application import BackofficeApplication
from services.directory import DirectoryChange

ORG = """\
employees:
  - id: e-001
    name: Grace Hopper
    email: grace@example.com
    country: DE
    annual_leave_days: 30
    start_date: 2015-04-01
  - id: e-100
    name: Ada Lovelace
    email: ada@example.com
    manager: e-001
    country: DE
    annual_leave_days: 30
    start_date: 2020-01-01
"""
ADA_LEAVES = ORG + "    end_date: 2021-06-30\n"
TODAY = datetime.now(UTC).date()


def load(application: BackofficeApplication, text: str) -> list[str]:
    return application.load_directory(
        parse_org_text(text, "org.yaml"), Meta("hr", uuid4().hex, "tests")
    )


def test_a_file_leaving_end_date_out_keeps_the_recorded_last_day(
    application: BackofficeApplication,
) -> None:
    load(application, ADA_LEAVES)

    changed = load(application, ORG)

    assert changed == []
    assert application.profile("e-100").end_date == date(2021, 6, 30)


def test_a_file_giving_end_date_as_null_clears_the_recorded_last_day(
    application: BackofficeApplication,
) -> None:
    load(application, ADA_LEAVES)

    changed = load(application, ORG + "    end_date: null\n")

    assert changed == ["employee e-100"]
    assert application.profile("e-100").end_date is None


def test_a_change_names_each_field_it_changed_with_its_old_and_new_value(
    application: BackofficeApplication,
) -> None:
    load(application, ADA_LEAVES)
    renamed_and_back = ORG.replace("Ada Lovelace", "Ada King") + "    end_date: null\n"
    hired = "  - id: e-101\n    name: Edsger\n    email: e@example.com\n    manager: e-001\n"
    hired += "    country: NL\n    annual_leave_days: 25\n    start_date: 2026-07-01\n"
    chart = parse_org_text(renamed_and_back + hired + "roles:\n  hr: [e-001]\n", "org.yaml")
    meta = Meta("hr", uuid4().hex, "tests")

    change = application.directory.change(
        chart, TODAY, lambda chart: application.load_directory(chart, meta)
    )

    assert [describe(item) for item in change.changes] == [
        "employee e-100: name Ada Lovelace -> Ada King; end_date 2021-06-30 -> (none)",
        "employee e-101: new",
        "role hr: members (none) -> e-001",
    ]


def change(application: BackofficeApplication, text: str) -> DirectoryChange:
    meta = Meta("hr", uuid4().hex, "tests")
    chart = parse_org_text(text, "org.yaml")
    return application.directory.change(
        chart, TODAY, lambda chart: application.load_directory(chart, meta)
    )


def delegations(*entries: tuple[str, str, date, date]) -> str:
    return "delegations:\n" + "".join(
        f"  - {{id: {name}, from: e-001, to: {to}, start: {start}, end: {end}}}\n"
        for name, to, start, end in entries
    )


def test_a_delegation_to_someone_who_has_left_is_refused_and_nothing_recorded(
    application: BackofficeApplication,
) -> None:
    load(application, ADA_LEAVES)
    before = application.recorder.max_notification_id()
    to_ada = delegations(("away", "e-100", TODAY, TODAY + timedelta(days=5)))

    with pytest.raises(RuleViolation) as caught:
        change(application, ORG.replace("Grace Hopper", "Grace M. Hopper") + to_ada)

    assert (
        caught.value.message == "delegation away: e-100 left on 2021-06-30 and can act for nobody"
    )
    assert application.recorder.max_notification_id() == before


def test_a_change_warns_of_what_it_leaves_to_look_at_and_only_of_that(
    application: BackofficeApplication,
) -> None:
    leaves = (TODAY + timedelta(days=30)).isoformat()
    grace_leaves = ORG.replace("2015-04-01\n", f"2015-04-01\n    end_date: {leaves}\n")

    first = change(application, grace_leaves)
    again = change(application, grace_leaves.replace("Grace Hopper", "Grace M. Hopper"))

    assert first.warnings == [f"e-001 leaves on {leaves} and still manages e-100"]
    assert again.warnings == []


def leave(text: str, employee_start: str, last_day: date) -> str:
    """``text`` with an end_date after the employee's ``start_date: ...`` line."""
    line = f"    start_date: {employee_start}\n"
    return text.replace(line, f"{line}    end_date: {last_day}\n")


def test_a_file_still_listing_a_delegation_deleted_since_loads_and_leaves_it_deleted(
    application: BackofficeApplication,
) -> None:
    """The reported sequence: a delegation given by the file, both people leave, an
    administrator deletes the delegation (DELETE /api/directory/delegations/away), and
    the file, which still lists it, is loaded again: it used to be refused as granting
    a delegation nobody could use."""
    away = delegations(("away", "e-100", TODAY + timedelta(days=1), TODAY + timedelta(days=5)))
    change(application, ORG + away)
    gone = TODAY - timedelta(days=1)
    both_left = leave(leave(ORG, "2015-04-01", gone), "2020-01-01", gone) + away
    change(application, both_left)
    application.revoke_delegation("away", Meta("admin", uuid4().hex, "tests"))
    recorded = application.recorder.max_notification_id() or 0

    again = change(application, both_left)
    renamed = change(application, both_left.replace("Grace Hopper", "Grace M. Hopper"))

    assert again.changes == []
    assert again.warnings == [
        f"delegation away: e-100 left on {gone} and can act for nobody; it was revoked"
        " and stays so (the file may leave it out)"
    ]
    assert [describe(item) for item in renamed.changes] == [
        "employee e-001: name Grace Hopper -> Grace M. Hopper"
    ]
    assert "away" not in application.directory.current().delegations
    assert application.recorder.max_notification_id() == recorded + 1


def test_a_delegation_revoked_since_listed_with_new_terms_nobody_could_use_is_refused_saying_so(
    application: BackofficeApplication,
) -> None:
    away = delegations(("away", "e-100", TODAY + timedelta(days=1), TODAY + timedelta(days=5)))
    change(application, ORG + away)
    change(application, ORG + "delegations: []\n")
    longer = delegations(("away", "e-100", TODAY + timedelta(days=1), TODAY + timedelta(days=9)))
    ada_left = leave(ORG, "2020-01-01", TODAY - timedelta(days=1))

    with pytest.raises(RuleViolation) as caught:
        change(application, ada_left + longer)

    assert caught.value.message == (
        "delegation away (revoked; these terms would grant it again):"
        f" e-100 left on {TODAY - timedelta(days=1)} and can act for nobody"
    )


def test_a_file_breaking_several_rules_is_refused_naming_each_with_its_line(
    application: BackofficeApplication,
) -> None:
    load(application, ORG)
    recorded = application.recorder.max_notification_id()
    ended = TODAY - timedelta(days=2)
    text = ORG.replace("manager: e-001", "manager: e-999") + "roles:\n  hr: [e-001, e-404]\n"
    text += "delegations:\n  - id: away\n    from: e-001\n    to: e-100\n"
    text += f"    start: {TODAY - timedelta(days=9)}\n    end: {ended}\n"
    org = read_org_text(text, "org.yaml")
    meta = Meta("hr", uuid4().hex, "tests")

    with pytest.raises(ChartRefused) as caught:
        application.change_directory(
            org.chart, TODAY, lambda chart: application.load_directory(chart, meta)
        )

    assert str(org.refusal(caught.value)).splitlines() == [
        "org.yaml line 11: employee e-100: manager e-999 does not exist",
        "org.yaml line 16: role hr: member e-404 does not exist",
        f"org.yaml line 22: delegation away ended on {ended}, before today ({TODAY}):"
        " e-100 would never act for e-001",
    ]
    assert application.recorder.max_notification_id() == recorded
