"""The organisation chart: every manager exists, nobody manages themselves, no cycles."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from domain.employee import EmployeeProfile
from domain.errors import RuleViolation
from domain.organisation import check_organisation
from tests.unit.factories import profile, refused


def chart(managers: dict[str, str | None]) -> list[EmployeeProfile]:
    """Profiles of employees, each with their manager (``None`` at the top)."""
    return [profile(employee, manager) for employee, manager in managers.items()]


def recorded(managers: dict[str, str | None]) -> Callable[[str], str | bool | None]:
    """Look up employees recorded earlier: their manager, or ``False`` if unknown."""
    return lambda employee_id: managers.get(employee_id, False)


nobody_recorded = recorded({})


def test_a_tree_with_one_top_is_accepted() -> None:
    check_organisation(chart({"carl": None, "mia": "carl", "ada": "mia"}), nobody_recorded)


def test_a_manager_may_be_someone_recorded_earlier() -> None:
    check_organisation(chart({"ada": "mia"}), recorded({"mia": None}))


def test_a_manager_who_exists_nowhere_is_refused() -> None:
    with refused(RuleViolation, "unknown_manager"):
        check_organisation(chart({"carl": None, "ada": "mia"}), nobody_recorded)


def test_an_employee_managing_themselves_is_refused() -> None:
    with refused(RuleViolation, "manager_cycle"):
        check_organisation(chart({"ada": "ada"}), nobody_recorded)


def test_a_cycle_of_managers_is_refused() -> None:
    with pytest.raises(RuleViolation, match="ada -> mia -> carl -> ada") as caught:
        check_organisation(chart({"ada": "mia", "mia": "carl", "carl": "ada"}), nobody_recorded)

    assert caught.value.rule == "manager_cycle"


def test_a_cycle_closed_through_someone_recorded_earlier_is_refused() -> None:
    # Recorded: Ada reports to Mia, who reports to Carl; the file now puts Carl under Ada.
    earlier = recorded({"ada": "mia", "mia": "carl", "carl": None})

    with refused(RuleViolation, "manager_cycle"):
        check_organisation(chart({"carl": "ada"}), earlier)


def test_the_same_employee_id_twice_is_refused() -> None:
    with refused(RuleViolation, "duplicate_employee"):
        check_organisation(chart({"carl": None}) * 2, nobody_recorded)


def test_an_unknown_country_is_refused() -> None:
    with refused(RuleViolation, "unknown_country"):
        check_organisation([profile("carl", None, country="XX")], nobody_recorded)


def test_an_unknown_subdivision_is_refused() -> None:
    with refused(RuleViolation, "unknown_subdivision"):
        check_organisation([profile("carl", None, subdivision="XX")], nobody_recorded)


def test_an_employee_leaving_before_they_start_is_refused() -> None:
    leaves_early = profile("carl", None, start_date=date(2020, 1, 1), end_date=date(2019, 12, 31))

    with pytest.raises(RuleViolation, match="2019-12-31 is before their start date") as caught:
        check_organisation([leaves_early], nobody_recorded)

    assert caught.value.rule == "end_before_start"


def test_an_employee_may_leave_on_the_day_they_start() -> None:
    one_day = profile("carl", None, start_date=date(2020, 1, 1), end_date=date(2020, 1, 1))

    check_organisation([one_day], nobody_recorded)
