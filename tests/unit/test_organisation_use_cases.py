"""Loading the organisation into the application: all or nothing, only what changed."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from domain.employee import Employee, EmployeeProfile
from domain.errors import RuleViolation
from domain.organisation import OrganisationChart
from services.application import BackofficeApplication
from tests.unit.factories import LeaveDesk, data, meta, names, organisation, profile, refused


def test_loading_an_organisation_registers_every_employee(
    blank_app: BackofficeApplication,
) -> None:
    loaded = blank_app.load_organisation(organisation(), meta())

    assert loaded == ["carl", "mia", "ada", "ben", "chloe", "nina"]
    assert blank_app.profile("chloe") == organisation()[4]
    assert blank_app.managers_of("ada") == ["mia", "carl"]


def test_reloading_the_same_organisation_records_nothing(desk: LeaveDesk) -> None:
    before = desk.position

    assert desk.app.load_organisation(organisation(), meta()) == []
    assert desk.position == before


def test_reloading_with_one_changed_field_records_just_that_field(desk: LeaveDesk) -> None:
    changed = [
        replace(employee, annual_leave_days=Decimal(28))
        if employee.employee_id == "ben"
        else employee
        for employee in organisation()
    ]

    assert desk.app.load_organisation(changed, meta()) == ["ben"]

    ben = desk.app.find_employee("ben")
    assert ben is not None
    assert desk.event_names(ben.id) == ["Registered", "DetailsChanged"]
    (_, details_changed) = desk.app.events.get(ben.id)
    assert data(details_changed)["changes"] == {"annual_leave_days": Decimal(28)}
    assert desk.app.leave_balance("ben", 2025).entitled == 28


def test_a_new_employee_may_report_to_someone_loaded_earlier(desk: LeaveDesk) -> None:
    assert desk.app.load_organisation([profile("zoe", manager_id="ada")], meta()) == ["zoe"]

    assert desk.app.managers_of("zoe") == ["ada", "mia", "carl"]


@pytest.mark.parametrize(
    ("profiles", "rule"),
    [
        pytest.param([profile("zoe", manager_id="nobody")], "unknown_manager", id="manager"),
        pytest.param([profile("carl", manager_id="ada")], "manager_cycle", id="cycle"),
        pytest.param([profile("zoe"), profile("zoe")], "duplicate_employee", id="duplicate"),
        pytest.param([profile("zoe", country="XX")], "unknown_country", id="country"),
        pytest.param([profile("zoe", subdivision="XX")], "unknown_subdivision", id="region"),
    ],
)
def test_an_organisation_breaking_a_rule_is_refused_and_nothing_recorded(
    desk: LeaveDesk, profiles: list[EmployeeProfile], rule: str
) -> None:
    before = desk.position
    good_and_bad = [profile("yan"), replace(organisation()[2], name="Ada L."), *profiles]

    with refused(RuleViolation, rule):
        desk.app.load_organisation(good_and_bad, meta())

    assert desk.position == before
    assert desk.app.find_employee("yan") is None
    assert desk.app.profile("ada").name == "Ada"
    assert desk.app.profile("carl").manager_id is None


def test_load_events_carry_who_loaded_them(blank_app: BackofficeApplication) -> None:
    command = meta("hr-admin", "load-1")
    blank_app.load_organisation([profile("carl", manager_id=None)], command)

    recorded = list(blank_app.events.get(Employee.create_id("carl")))
    assert names(recorded) == ["Registered"]
    assert data(recorded[0])["meta"] == command


def test_a_last_day_recorded_meanwhile_is_kept_by_a_change_that_leaves_end_date_out(
    desk: LeaveDesk,
) -> None:
    app = desk.app
    ada = app.profile("ada")
    chart = OrganisationChart(
        employees=[replace(ada, name="Ada L.")], keeps_end_date=frozenset({"ada"})
    )

    def record(given: OrganisationChart) -> object:
        # Another administrator records Ada's last day between the read and the write.
        app.put_employee(replace(ada, end_date=date(2025, 6, 30)), meta("other-admin"))
        return app.load_directory(given, meta("admin"))

    app.directory.change(chart, date(2025, 6, 2), record)

    assert (app.profile("ada").name, app.profile("ada").end_date) == ("Ada L.", date(2025, 6, 30))


def test_a_new_employee_whose_id_differs_from_another_only_in_case_is_refused(
    desk: LeaveDesk,
) -> None:
    before = desk.position

    with refused(RuleViolation, "id_differs_only_in_case"):
        desk.app.put_employee(profile("ADA"), meta("admin"))

    assert desk.position == before
