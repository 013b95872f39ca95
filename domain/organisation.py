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


@dataclass(frozen=True)
class ChartProblem:
    """One rule a chart breaks, and the entry it concerns, so that whoever wrote the
    chart can be shown where: ``subject`` ``employee ID``, ``department ID``, ``role
    NAME``, ``limit HOLDER on PROCESS`` or ``delegation ID``; ``field`` the entry's field
    as the directory names it (``manager_id``, ``ends``...), a role's member, or None
    for the entry as a whole. The violation's message names the subject itself."""

    subject: str
    field: str | None
    violation: RuleViolation


class ChartRefused(RuleViolation):
    """Every rule a chart breaks, in ``problems``. Its own rule is the first problem's,
    and its message theirs, one a line, so a caller showing one error shows them all."""

    def __init__(self, problems: Sequence[ChartProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__(
            self.problems[0].violation.rule,
            "\n".join(problem.violation.message for problem in self.problems),
        )


def _refuse(problems: Sequence[ChartProblem]) -> None:
    if problems:
        raise ChartRefused(problems)


def check_chart(chart: OrganisationChart, recorded: Directory, today: date | None = None) -> None:
    """Refuse a chart breaking any rule :func:`check_organisation`,
    :func:`check_directory` and, given ``today``, :func:`check_delegations_on` hold it
    to, naming every problem at once (``chart``: with the last days it keeps as
    recorded)."""

    def recorded_manager_of(employee_id: str) -> str | bool | None:
        profile = recorded.employees.get(employee_id)
        return False if profile is None else profile.manager_id

    _refuse(
        [
            *organisation_problems(chart.employees, recorded_manager_of),
            *directory_problems(chart, recorded),
            *([] if today is None else delegation_problems(chart, recorded, today)),
        ]
    )


def check_directory(chart: OrganisationChart, recorded: Directory) -> None:
    """Refuse a chart whose departments, roles, limits or delegations name somebody
    or something that exists neither in the chart nor in the recorded directory,
    naming every such problem (:func:`directory_problems`)."""
    _refuse(directory_problems(chart, recorded))


def directory_problems(chart: OrganisationChart, recorded: Directory) -> list[ChartProblem]:
    """What in the chart's departments, roles, limits and delegations names somebody or
    something that exists neither in the chart nor in the recorded directory, or clashes
    with what is recorded. (The employees themselves: :func:`organisation_problems`.)"""
    problems: list[ChartProblem] = []

    def refuse(subject: str, field: str | None, rule: str, message: str) -> None:
        problems.append(ChartProblem(subject, field, RuleViolation(rule, message)))

    people = {profile.employee_id for profile in chart.employees} | set(recorded.employees)
    new_people = {p.employee_id for p in chart.employees} - set(recorded.employees)
    for employee_id, other in _ids_differing_only_in_case(new_people, people):
        refuse(
            f"employee {employee_id}",
            "employee_id",
            "id_differs_only_in_case",
            f"employees {other} and {employee_id}: ids that differ only in case would"
            " name two people; use the id recorded",
        )
    departments = set(recorded.departments)
    for department in chart.departments or ():
        departments.add(department.department_id)
    for kind, ids in (
        ("department", [d.department_id for d in chart.departments or ()]),
        ("delegation", [d.delegation_id for d in chart.delegations or ()]),
    ):
        for item, count in Counter(ids).items():
            if count > 1:
                refuse(f"{kind} {item}", None, f"duplicate_{kind}", f"{kind} {item} appears twice")
    for department in chart.departments or ():
        if department.head_id is not None and department.head_id not in people:
            refuse(
                f"department {department.department_id}",
                "head_id",
                "unknown_employee",
                f"department {department.department_id}: head {department.head_id} does not exist",
            )
    for profile in chart.employees:
        if profile.department_id is not None and profile.department_id not in departments:
            refuse(
                f"employee {profile.employee_id}",
                "department_id",
                "unknown_department",
                f"employee {profile.employee_id}: department {profile.department_id}"
                " does not exist",
            )
    for role, members in (chart.roles or {}).items():
        for member in members:
            if member not in people:
                refuse(
                    f"role {role}",
                    member,
                    "unknown_employee",
                    f"role {role}: member {member} does not exist",
                )
    holders = Counter((limit.process, limit.holder) for limit in chart.limits or ())
    for (process, holder), count in holders.items():
        subject = f"limit {holder} on {process}"
        kind, _, name = holder.partition(":")
        if kind == "employee" and name not in people:
            refuse(
                subject,
                None,
                "unknown_employee",
                f"limit on {process}: employee {name} does not exist",
            )
        if count > 1:
            refuse(
                subject,
                None,
                "duplicate_limit",
                f"limit for {holder} on {process} is given {count} times",
            )
    for terms in chart.delegations or ():
        subject = f"delegation {terms.delegation_id}"
        try:
            check_delegation(terms)
        except RuleViolation as error:
            problems.append(ChartProblem(subject, None, error))
        for role, person in (
            ("delegator_id", terms.delegator_id),
            ("delegate_id", terms.delegate_id),
        ):
            if person not in people:
                refuse(
                    subject,
                    role,
                    "unknown_employee",
                    f"delegation {terms.delegation_id}: employee {person} does not exist",
                )
        known = recorded.delegations.get(terms.delegation_id)
        known = known or recorded.revoked_delegations.get(terms.delegation_id)
        if known is not None and known.delegator_id != terms.delegator_id:
            # as the aggregate says it (Delegation.change): without naming whose it is
            refuse(
                subject,
                None,
                "delegation_id_taken",
                f"the delegation id {terms.delegation_id} is taken; choose another",
            )
    return problems


def _ids_differing_only_in_case(new: set[str], everyone: set[str]) -> list[tuple[str, str]]:
    """Each new employee whose id differs from another's only in case (``E-100`` beside
    ``e-100``), with that other: typed in another case, it is the same person to whoever
    typed it. (Only new ones: a store holding such a pair from before can still be
    changed.)"""
    by_folded: dict[str, list[str]] = {}
    for employee_id in sorted(everyone):
        by_folded.setdefault(employee_id.casefold(), []).append(employee_id)
    found = []
    for employee_id in sorted(new):
        others = [other for other in by_folded[employee_id.casefold()] if other != employee_id]
        if others:
            found.append((employee_id, others[0]))
    return found


def check_organisation(
    profiles: Sequence[EmployeeProfile],
    recorded_manager_of: Callable[[str], str | bool | None],
) -> None:
    """Refuse a set of employees that would break the organisation chart, naming every
    problem (:func:`organisation_problems`)."""
    _refuse(organisation_problems(profiles, recorded_manager_of))


def organisation_problems(
    profiles: Sequence[EmployeeProfile],
    recorded_manager_of: Callable[[str], str | bool | None],
) -> list[ChartProblem]:
    """What in a set of employees would break the organisation chart: an id twice, an
    unknown country or region, an end before the start, an unknown manager, a cycle of
    managers (once, on the first of its members listed).

    ``recorded_manager_of(employee_id)`` looks up an employee already recorded
    and not in ``profiles``: their manager id, ``None`` for the top of the
    tree, or ``False`` when there is no such employee.
    """
    problems: list[ChartProblem] = []

    def refuse(employee_id: str, field: str | None, rule: str, message: str) -> None:
        violation = RuleViolation(rule, f"employee {employee_id}{message}")
        problems.append(ChartProblem(f"employee {employee_id}", field, violation))

    counts = Counter(profile.employee_id for profile in profiles)
    for employee_id, count in counts.items():
        if count > 1:
            refuse(employee_id, None, "duplicate_employee", " appears twice")
    given = {profile.employee_id: profile for profile in profiles}

    def manager_of(employee_id: str) -> str | bool | None:
        if employee_id in given:
            return given[employee_id].manager_id
        return recorded_manager_of(employee_id)

    regions: dict[tuple[str, str | None], RuleViolation | None] = {}
    cycles: set[frozenset[str]] = set()
    for profile in profiles:
        employee_id = profile.employee_id
        region = (profile.country, profile.subdivision)
        if region not in regions:  # the holiday tables take a while to answer
            regions[region] = _region_refused(*region)
        if (refusal := regions[region]) is not None:
            where = "country" if refusal.rule == "unknown_country" else "subdivision"
            refuse(employee_id, where, refusal.rule, f": {refusal.message}")
        if profile.end_date is not None and profile.end_date < profile.start_date:
            refuse(
                employee_id,
                "end_date",
                "end_before_start",
                f": their end date {profile.end_date.isoformat()}"
                f" is before their start date {profile.start_date.isoformat()}",
            )
        if profile.manager_id is not None and manager_of(profile.manager_id) is False:
            refuse(
                employee_id,
                "manager_id",
                "unknown_manager",
                f": manager {profile.manager_id} does not exist",
            )
        if profile.manager_id == employee_id:
            refuse(employee_id, "manager_id", "manager_cycle", " is their own manager")
            continue
        chain = [employee_id]
        current: str | bool | None = profile.manager_id
        while isinstance(current, str) and current not in chain:
            chain.append(current)
            current = manager_of(current)
        # A cycle is told by its members only: one above somebody is told by its own.
        if current == employee_id and frozenset(chain) not in cycles:
            cycles.add(frozenset(chain))
            cycle = " -> ".join([*chain, employee_id])
            refuse(employee_id, "manager_id", "manager_cycle", f": manager cycle {cycle}")
    return problems


def _region_refused(country: str, subdivision: str | None) -> RuleViolation | None:
    try:
        check_region(country, subdivision)
    except RuleViolation as refusal:
        return refusal
    return None


def check_delegations_on(chart: OrganisationChart, recorded: Directory, today: date) -> None:
    """Refuse a chart giving or changing delegations that can never be used, naming
    each (:func:`delegation_problems`)."""
    _refuse(delegation_problems(chart, recorded, today))


def delegation_problems(
    chart: OrganisationChart, recorded: Directory, today: date
) -> list[ChartProblem]:
    """Each delegation the chart gives or changes that can never be used: one that
    ended before ``today``, or one whose delegate or delegator has left before it could
    start (the last days the chart gives count). A delegation recorded with the same
    terms is let be: a file may go on listing it after it ended or after someone left
    (:func:`directory_warnings` says so), and after it was revoked
    (:func:`delegations_left_revoked`)."""
    people = _people(chart, recorded)
    left_revoked = delegations_left_revoked(chart, recorded, today)
    problems = []
    for terms in chart.delegations or ():
        delegation_id = terms.delegation_id
        if recorded.delegations.get(delegation_id) == terms or delegation_id in left_revoked:
            continue
        name = f"delegation {delegation_id}"
        if chart.from_file and delegation_id in recorded.revoked_delegations:
            name += " (revoked; these terms would grant it again)"
        refusal = _never_used(name, terms, people, today)
        if refusal is not None:
            where = {"delegation_in_the_past": "ends", "delegate_has_left": "delegate_id"}
            problems.append(
                ChartProblem(
                    f"delegation {delegation_id}", where.get(refusal.rule, "delegator_id"), refusal
                )
            )
    return problems


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
