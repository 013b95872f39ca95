"""Rules over the whole organisation: every manager exists, no cycles, and every
department, role member, limit and delegation names someone who exists."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from domain.calendar import check_region
from domain.directory import (
    DelegationTerms,
    DepartmentDetails,
    Directory,
    Limit,
    check_delegation,
)
from domain.employee import EmployeeProfile
from domain.errors import RuleViolation


@dataclass(frozen=True)
class OrganisationChart:
    """What an organisation file says. ``None`` for a section the file leaves out,
    which changes nothing; a section given is the whole truth about what it lists."""

    employees: Sequence[EmployeeProfile]
    departments: Sequence[DepartmentDetails] | None = None
    roles: dict[str, list[str]] | None = field(default=None)
    limits: Sequence[Limit] | None = None
    delegations: Sequence[DelegationTerms] | None = None
    keeps_end_date: frozenset[str] = frozenset()
    """The employees whose entry leaves ``end_date`` out: their recorded last day stays
    (see :meth:`with_recorded_end_dates`). Clearing a last day takes an explicit null,
    as it gives the person back their sign-in."""
    from_file: bool = False
    """Whether the chart is an organisation file, which lists again at every load what it
    listed before, rather than a change asked for (the API's): a delegation revoked
    since, listed with its terms, stays revoked if nobody could use it now
    (:func:`delegations_left_revoked`), instead of the file being refused."""

    def with_recorded_end_dates(self, recorded: Directory) -> OrganisationChart:
        """The chart with the last day of each employee in :attr:`keeps_end_date` as
        ``recorded`` has it (none for someone not recorded yet)."""
        if not self.keeps_end_date:
            return self
        employees = [
            replace(profile, end_date=recorded.employees[profile.employee_id].end_date)
            if profile.employee_id in self.keeps_end_date
            and profile.employee_id in recorded.employees
            else profile
            for profile in self.employees
        ]
        return replace(self, employees=employees, keeps_end_date=frozenset())

    def without_delegations(self, delegation_ids: Collection[str]) -> OrganisationChart:
        """The chart without the delegations named, as if it did not list them."""
        if not delegation_ids or self.delegations is None:
            return self
        kept = [terms for terms in self.delegations if terms.delegation_id not in delegation_ids]
        return replace(self, delegations=kept)


def check_directory(chart: OrganisationChart, recorded: Directory) -> None:
    """Refuse a chart whose departments, roles, limits or delegations name somebody
    or something that exists neither in the chart nor in the recorded directory.
    (The employees themselves: :func:`check_organisation`.)"""
    people = {profile.employee_id for profile in chart.employees} | set(recorded.employees)
    _no_ids_differing_only_in_case(
        {p.employee_id for p in chart.employees} - set(recorded.employees), people
    )
    departments = set(recorded.departments)
    for department in chart.departments or ():
        departments.add(department.department_id)
    _no_duplicates("department", [d.department_id for d in chart.departments or ()])
    _no_duplicates("delegation", [d.delegation_id for d in chart.delegations or ()])
    for department in chart.departments or ():
        if department.head_id is not None and department.head_id not in people:
            raise RuleViolation(
                "unknown_employee",
                f"department {department.department_id}: head {department.head_id} does not exist",
            )
    for profile in chart.employees:
        if profile.department_id is not None and profile.department_id not in departments:
            raise RuleViolation(
                "unknown_department",
                f"employee {profile.employee_id}: department {profile.department_id}"
                " does not exist",
            )
    for role, members in (chart.roles or {}).items():
        for member in members:
            if member not in people:
                raise RuleViolation(
                    "unknown_employee", f"role {role}: member {member} does not exist"
                )
    holders = Counter((limit.process, limit.holder) for limit in chart.limits or ())
    for (process, holder), count in holders.items():
        if count > 1:
            raise RuleViolation(
                "duplicate_limit", f"limit for {holder} on {process} is given {count} times"
            )
        kind, _, name = holder.partition(":")
        if kind == "employee" and name not in people:
            raise RuleViolation(
                "unknown_employee", f"limit on {process}: employee {name} does not exist"
            )
    for terms in chart.delegations or ():
        check_delegation(terms)
        for person in (terms.delegator_id, terms.delegate_id):
            if person not in people:
                raise RuleViolation(
                    "unknown_employee",
                    f"delegation {terms.delegation_id}: employee {person} does not exist",
                )


def _no_ids_differing_only_in_case(new: set[str], everyone: set[str]) -> None:
    """Refuse a new employee whose id differs from another's only in case (``E-100``
    beside ``e-100``): typed in another case, it is the same person to whoever typed it.
    (Only new ones: a store holding such a pair from before can still be changed.)"""
    by_folded: dict[str, list[str]] = {}
    for employee_id in sorted(everyone):
        by_folded.setdefault(employee_id.casefold(), []).append(employee_id)
    for employee_id in sorted(new):
        others = [other for other in by_folded[employee_id.casefold()] if other != employee_id]
        if others:
            raise RuleViolation(
                "id_differs_only_in_case",
                f"employees {others[0]} and {employee_id}: ids that differ only in case would"
                " name two people; use the id recorded",
            )


def _no_duplicates(kind: str, ids: list[str]) -> None:
    for item, count in Counter(ids).items():
        if count > 1:
            raise RuleViolation(f"duplicate_{kind}", f"{kind} {item} appears twice")


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
        if profile.end_date is not None and profile.end_date < profile.start_date:
            raise RuleViolation(
                "end_before_start",
                f"employee {profile.employee_id}: their end date {profile.end_date.isoformat()}"
                f" is before their start date {profile.start_date.isoformat()}",
            )
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


def check_delegations_on(chart: OrganisationChart, recorded: Directory, today: date) -> None:
    """Refuse a delegation the chart gives or changes that can never be used: one that
    ended before ``today``, or one whose delegate or delegator has left before it could
    start (the last days the chart gives count). A delegation recorded with the same
    terms is let be: a file may go on listing it after it ended or after someone left
    (:func:`directory_warnings` says so), and after it was revoked
    (:func:`delegations_left_revoked`)."""
    people = _people(chart, recorded)
    left_revoked = delegations_left_revoked(chart, recorded, today)
    for terms in chart.delegations or ():
        delegation_id = terms.delegation_id
        if recorded.delegations.get(delegation_id) == terms or delegation_id in left_revoked:
            continue
        name = f"delegation {delegation_id}"
        if chart.from_file and delegation_id in recorded.revoked_delegations:
            name += " (revoked; these terms would grant it again)"
        refusal = _never_used(name, terms, people, today)
        if refusal is not None:
            raise refusal


def delegations_left_revoked(
    chart: OrganisationChart, recorded: Directory, today: date
) -> dict[str, str]:
    """Of a chart read from a file (:attr:`OrganisationChart.from_file`): each delegation
    it lists that is recorded as revoked, with the same terms, and can never be used now,
    with why. Loading leaves these revoked rather than refusing the file, which lists
    them as it did when they were given: granting one again would change nothing but
    the record, and undo a revocation for nothing."""
    if not chart.from_file:
        return {}
    people = _people(chart, recorded)
    left = {}
    for terms in chart.delegations or ():
        if recorded.revoked_delegations.get(terms.delegation_id) != terms:
            continue
        refusal = _never_used(f"delegation {terms.delegation_id}", terms, people, today)
        if refusal is not None:
            left[terms.delegation_id] = refusal.message
    return left


def _people(chart: OrganisationChart, recorded: Directory) -> dict[str, EmployeeProfile]:
    return {**recorded.employees, **{p.employee_id: p for p in chart.employees}}


def _never_used(
    name: str, terms: DelegationTerms, people: dict[str, EmployeeProfile], today: date
) -> RuleViolation | None:
    """Why ``terms`` can never be used from ``today`` on, or None if they can."""
    if terms.ends < today:
        return RuleViolation(
            "delegation_in_the_past",
            f"{name} ended on {terms.ends}, before today ({today}):"
            f" {terms.delegate_id} would never act for {terms.delegator_id}",
        )
    first_day = max(terms.starts, today)
    for role, person in (("delegate", terms.delegate_id), ("delegator", terms.delegator_id)):
        profile = people.get(person)
        last_day = None if profile is None else profile.end_date
        if last_day is None or last_day >= first_day:
            continue
        if last_day >= today:
            why = f"{person}'s last day, {last_day}, is before it starts on {terms.starts}"
        elif role == "delegate":
            why = f"{person} left on {last_day} and can act for nobody"
        else:
            why = f"{person} left on {last_day}; nobody acts for someone who has left"
        return RuleViolation(f"{role}_has_left", f"{name}: {why}")
    return None


def directory_warnings(directory: Directory, today: date) -> list[str]:
    """What works today but will not, or no longer does, because someone leaves or has
    left, and delegations of one person that overlap. Warnings rather than refusals:
    a manager who leaves next month is still the manager today, and a file that lists
    them so must load."""
    people = directory.employees

    def leaves(employee_id: str) -> str:
        last_day = people[employee_id].end_date
        return f"{'left' if last_day is not None and last_day < today else 'leaves'} on {last_day}"

    def last_day(employee_id: str | None) -> date | None:
        profile = None if employee_id is None else people.get(employee_id)
        return None if profile is None else profile.end_date

    reports_of: dict[str, list[EmployeeProfile]] = {}
    for profile in people.values():
        if profile.manager_id is not None:
            reports_of.setdefault(profile.manager_id, []).append(profile)
    warnings = []
    for employee_id in sorted(people):
        end = last_day(employee_id)
        if end is None:
            continue
        reports = sorted(
            other.employee_id
            for other in reports_of.get(employee_id, ())
            if other.end_date is None or other.end_date > end
        )
        if reports:
            warnings.append(
                f"{employee_id} {leaves(employee_id)} and still manages " + ", ".join(reports)
            )
    for department_id, department in sorted(directory.departments.items()):
        if last_day(department.head_id) is not None:
            warnings.append(
                f"department {department_id}: its head {department.head_id}"
                f" {leaves(str(department.head_id))}"
            )
    for role, members in sorted(directory.roles.items()):
        warnings.extend(
            f"role {role}: {member} {leaves(member)}"
            for member in sorted(members)
            if last_day(member) is not None
        )
    running = sorted(
        (terms for terms in directory.delegations.values() if terms.ends >= today),
        key=lambda terms: terms.delegation_id,
    )
    for terms in running:
        for role, person in (("delegate", terms.delegate_id), ("delegator", terms.delegator_id)):
            end = last_day(person)
            if end is not None and end < terms.ends:
                warnings.append(
                    f"delegation {terms.delegation_id}: its {role} {person} {leaves(person)},"
                    f" before it ends on {terms.ends}"
                )
    for index, first in enumerate(running):
        for second in running[index + 1 :]:
            starts, ends = max(first.starts, second.starts), min(first.ends, second.ends)
            if first.delegator_id == second.delegator_id and starts <= ends and ends >= today:
                warnings.append(
                    f"delegations {first.delegation_id} and {second.delegation_id} overlap"
                    f" from {starts} to {ends}: {first.delegate_id} and {second.delegate_id}"
                    f" may both act for {first.delegator_id} then"
                )
    return warnings
