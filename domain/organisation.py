"""Rules over the whole organisation chart: every manager exists, no cycles."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from domain.calendar import check_region
from domain.employee import EmployeeProfile
from domain.errors import RuleViolation


def check_organisation(
    profiles: Sequence[EmployeeProfile],
    recorded_manager_of: Callable[[str], str | bool | None],
) -> None:
    """Refuse a set of employees that would break the organisation chart.

    ``recorded_manager_of(employee_id)`` looks up an employee already recorded
    and not in ``profiles``: their manager id, ``None`` for the top of the
    tree, or ``False`` when there is no such employee.
    """
    counts = Counter(profile.employee_id for profile in profiles)
    for employee_id, count in counts.items():
        if count > 1:
            raise RuleViolation("duplicate_employee", f"employee {employee_id} appears twice")
    given = {profile.employee_id: profile for profile in profiles}

    def manager_of(employee_id: str) -> str | bool | None:
        if employee_id in given:
            return given[employee_id].manager_id
        return recorded_manager_of(employee_id)

    for profile in profiles:
        check_region(profile.country, profile.subdivision)
        if profile.manager_id is not None and manager_of(profile.manager_id) is False:
            raise RuleViolation(
                "unknown_manager",
                f"employee {profile.employee_id}: manager {profile.manager_id} does not exist",
            )
        if profile.manager_id == profile.employee_id:
            raise RuleViolation(
                "manager_cycle", f"employee {profile.employee_id} is their own manager"
            )
        chain = [profile.employee_id]
        current: str | bool | None = profile.manager_id
        while isinstance(current, str):
            if current in chain:
                cycle = " -> ".join([*chain[chain.index(current) :], current])
                raise RuleViolation(
                    "manager_cycle", f"employee {profile.employee_id}: manager cycle {cycle}"
                )
            chain.append(current)
            current = manager_of(current)
