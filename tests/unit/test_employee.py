"""The employee aggregate: registered once, then only the fields that change."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from domain.calendar import WorkingCalendar
from domain.employee import Employee, EmployeeProfile
from tests.unit.factories import data, meta, names, profile

ADA = profile("ada")


def registered(who: EmployeeProfile = ADA) -> Employee:
    employee = Employee(who.employee_id, who.to_event_data(), meta())
    employee.collect_events()
    return employee


def test_an_employee_is_registered_under_an_id_derived_from_the_employee_id() -> None:
    employee = Employee("ada", ADA.to_event_data(), meta())

    assert names(employee.collect_events()) == ["Registered"]
    assert employee.id == Employee.create_id("ada")
    assert Employee.create_id("ada") != Employee.create_id("ben")
    assert employee.profile == ADA


def test_the_profile_gives_the_employees_working_calendar() -> None:
    assert profile(country="FR", subdivision=None).calendar == WorkingCalendar("FR", None)


def test_the_profile_survives_its_event_form() -> None:
    assert EmployeeProfile.from_event_data(ADA.to_event_data()) == ADA


def test_updating_with_the_same_profile_records_nothing() -> None:
    employee = registered()

    employee.update(ADA, meta())

    assert employee.collect_events() == []


def test_a_changed_field_is_recorded_alone() -> None:
    employee = registered()

    employee.update(replace(ADA, annual_leave_days=Decimal("27.5")), meta())

    events = employee.collect_events()
    assert names(events) == ["DetailsChanged"]
    assert data(events[0])["changes"] == {"annual_leave_days": Decimal("27.5")}
    assert employee.profile.annual_leave_days == Decimal("27.5")


def test_a_new_manager_and_a_removed_region_are_recorded_together() -> None:
    employee = registered()

    employee.update(replace(ADA, manager_id="carl", subdivision=None), meta())

    (changed,) = employee.collect_events()
    assert data(changed)["changes"] == {"manager_id": "carl", "subdivision": None}
    assert employee.profile == replace(ADA, manager_id="carl", subdivision=None)


def test_a_changed_start_date_is_recorded_as_an_iso_date() -> None:
    employee = registered()

    employee.update(replace(ADA, start_date=date(2021, 3, 1)), meta())

    (changed,) = employee.collect_events()
    assert data(changed)["changes"] == {"start_date": "2021-03-01"}
    assert employee.profile.start_date == date(2021, 3, 1)


def test_repeating_an_update_command_records_it_once() -> None:
    employee = registered()
    command = meta()

    employee.update(replace(ADA, name="Ada L."), command)
    employee.update(replace(ADA, name="Ada Lovelace"), command)

    assert names(employee.collect_events()) == ["DetailsChanged"]
    assert employee.profile.name == "Ada L."
