"""The organisation chart: every manager exists, nobody manages themselves, no cycles;
delegations that can never be used; people who leave while holding a place."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest

from domain.directory import DelegationTerms, DepartmentDetails, Directory, Limit
from domain.employee import EmployeeProfile
from domain.errors import RuleViolation
from domain.organisation import (
    ChartRefused,
    OrganisationChart,
    check_chart,
    check_delegations_on,
    check_organisation,
    delegations_left_revoked,
    directory_warnings,
)
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


def test_a_cycle_is_reported_once_on_the_first_of_its_members_listed() -> None:
    with pytest.raises(ChartRefused) as caught:
        check_organisation(chart({"ken": "ada", "ada": "mia", "mia": "ada"}), nobody_recorded)

    assert [(p.subject, p.field, p.violation.message) for p in caught.value.problems] == [
        ("employee ada", "manager_id", "employee ada: manager cycle ada -> mia -> ada")
    ]


def test_an_employee_may_leave_on_the_day_they_start() -> None:
    one_day = profile("carl", None, start_date=date(2020, 1, 1), end_date=date(2020, 1, 1))

    check_organisation([one_day], nobody_recorded)


# -- people who leave: delegations that can never work, and what deserves a warning -------

TODAY = date(2027, 3, 15)
GONE = date(2027, 3, 1)  # before today
LEAVING = date(2027, 4, 30)  # next month


def directory_of(*people: EmployeeProfile, **delegations: DelegationTerms) -> Directory:
    directory = Directory()
    directory.employees = {person.employee_id: person for person in people}
    directory.delegations = dict(delegations)
    return directory


STAFF = (
    profile("carl", None),
    profile("mia", "carl"),
    profile("ada", "mia", end_date=GONE),
    profile("ben", "mia", end_date=LEAVING),
)


def delegation(
    delegator: str, delegate: str, starts: date, ends: date, name: str = "away"
) -> DelegationTerms:
    return DelegationTerms(name, delegator, delegate, starts, ends)


def given(*terms: DelegationTerms, people: tuple[EmployeeProfile, ...] = ()) -> OrganisationChart:
    return OrganisationChart(employees=people, delegations=terms)


@pytest.mark.parametrize(
    ("terms", "rule", "message"),
    [
        pytest.param(
            delegation("mia", "carl", date(2027, 3, 1), date(2027, 3, 14)),
            "delegation_in_the_past",
            "delegation away ended on 2027-03-14, before today (2027-03-15):"
            " carl would never act for mia",
            id="ended",
        ),
        pytest.param(
            delegation("mia", "ada", TODAY, date(2027, 3, 20)),
            "delegate_has_left",
            "delegation away: ada left on 2027-03-01 and can act for nobody",
            id="to-a-leaver",
        ),
        pytest.param(
            delegation("mia", "ben", date(2027, 5, 3), date(2027, 5, 7)),
            "delegate_has_left",
            "delegation away: ben's last day, 2027-04-30, is before it starts on 2027-05-03",
            id="to-someone-gone-by-its-start",
        ),
        pytest.param(
            delegation("ada", "mia", TODAY, date(2027, 3, 20)),
            "delegator_has_left",
            "delegation away: ada left on 2027-03-01; nobody acts for someone who has left",
            id="from-a-leaver",
        ),
    ],
)
def test_a_delegation_that_can_never_be_used_is_refused_naming_who_and_when(
    terms: DelegationTerms, rule: str, message: str
) -> None:
    with pytest.raises(RuleViolation) as caught:
        check_delegations_on(given(terms), directory_of(*STAFF), TODAY)

    assert (caught.value.rule, caught.value.message) == (rule, message)


def test_a_last_day_given_beside_the_delegation_counts() -> None:
    terms = delegation("mia", "carl", TODAY, date(2027, 3, 20))
    carl_left = profile("carl", None, end_date=GONE)

    with refused(RuleViolation, "delegate_has_left"):
        check_delegations_on(given(terms, people=(carl_left,)), directory_of(*STAFF), TODAY)


def test_a_delegation_recorded_with_the_same_terms_is_left_alone_after_it_ends() -> None:
    """A file keeps listing last summer's delegation: loading it again must still work."""
    ended = delegation("mia", "ada", date(2027, 2, 1), date(2027, 2, 14))

    check_delegations_on(given(ended), directory_of(*STAFF, away=ended), TODAY)


def revoked(terms: DelegationTerms) -> Directory:
    directory = directory_of(*STAFF)
    directory.revoked_delegations[terms.delegation_id] = terms
    return directory


def listed_in_file(*terms: DelegationTerms) -> OrganisationChart:
    return OrganisationChart(employees=(), delegations=terms, from_file=True)


def test_a_file_listing_a_revoked_delegation_nobody_could_use_leaves_it_revoked() -> None:
    """A file still lists a delegation an administrator deleted after its delegate left:
    it loads, and the delegation is not granted again."""
    to_ada = delegation("mia", "ada", date(2027, 2, 20), date(2027, 3, 20))

    check_delegations_on(listed_in_file(to_ada), revoked(to_ada), TODAY)

    assert delegations_left_revoked(listed_in_file(to_ada), revoked(to_ada), TODAY) == {
        "away": "delegation away: ada left on 2027-03-01 and can act for nobody"
    }


def test_a_delegation_revoked_since_that_can_still_be_used_is_granted_again_by_the_file() -> None:
    to_carl = delegation("mia", "carl", TODAY, date(2027, 3, 20))

    check_delegations_on(listed_in_file(to_carl), revoked(to_carl), TODAY)

    assert delegations_left_revoked(listed_in_file(to_carl), revoked(to_carl), TODAY) == {}


def test_a_revoked_delegation_given_again_through_the_api_is_judged_as_new() -> None:
    """Through the API one asks for the delegation: nobody could use it, so it is refused."""
    to_ada = delegation("mia", "ada", date(2027, 2, 20), date(2027, 3, 20))

    with refused(RuleViolation, "delegate_has_left"):
        check_delegations_on(given(to_ada), revoked(to_ada), TODAY)
    assert delegations_left_revoked(given(to_ada), revoked(to_ada), TODAY) == {}


def test_a_delegation_to_someone_who_leaves_during_it_is_accepted() -> None:
    check_delegations_on(
        given(delegation("mia", "ben", date(2027, 4, 26), date(2027, 5, 7))),
        directory_of(*STAFF),
        TODAY,
    )


def test_leavers_who_still_hold_a_place_are_warned_about() -> None:
    directory = directory_of(
        *STAFF,
        profile("dan", "ben"),
        profile("eve", "ben", end_date=date(2027, 4, 1)),  # leaves before ben: no matter
        away=delegation("carl", "ben", date(2027, 4, 26), date(2027, 5, 7)),
    )
    directory.departments["d-eng"] = DepartmentDetails("d-eng", "Engineering", "ben", "CC-1")
    directory.roles["hr"] = {"ada", "mia"}

    assert directory_warnings(directory, TODAY) == [
        "ben leaves on 2027-04-30 and still manages dan",
        "department d-eng: its head ben leaves on 2027-04-30",
        "role hr: ada left on 2027-03-01",
        "delegation away: its delegate ben leaves on 2027-04-30, before it ends on 2027-05-07",
    ]


def test_delegations_of_one_person_overlapping_are_warned_about_until_the_overlap_ends() -> None:
    directory = directory_of(
        *STAFF,
        first=delegation("mia", "carl", date(2027, 3, 10), date(2027, 3, 20), "first"),
        second=delegation("mia", "ben", date(2027, 3, 18), date(2027, 3, 25), "second"),
        over=delegation("carl", "mia", date(2027, 3, 1), date(2027, 3, 5), "over"),
        again=delegation("carl", "ben", date(2027, 3, 4), date(2027, 3, 9), "again"),
    )

    assert directory_warnings(directory, TODAY) == [
        "delegations first and second overlap from 2027-03-18 to 2027-03-20:"
        " carl and ben may both act for mia then",
    ]


def test_every_rule_a_chart_breaks_is_reported_at_once_naming_its_entry_and_field() -> None:
    """An administrator fixing a large file sees every problem in one run."""
    taken = delegation("carl", "mia", date(2027, 4, 1), date(2027, 4, 9), "taken")
    chart = OrganisationChart(
        employees=[
            profile("eve", "zed"),
            profile("fay", "carl", country="XX", subdivision=None),
            profile("gus", "carl", department_id="d-none", end_date=date(2019, 12, 31)),
        ],
        departments=[DepartmentDetails("d-x", "X", "nobody", "CC-1")],
        roles={"hr": ["carl", "ghost"]},
        limits=[
            Limit("procurement", "employee:ghost", Decimal(10), "EUR"),
            Limit("procurement", "role:cfo", Decimal(10), "EUR"),
            Limit("procurement", "role:cfo", Decimal(20), "EUR"),
        ],
        delegations=[
            delegation("mia", "mia", TODAY, date(2027, 3, 20), "self"),
            delegation("mia", "carl", date(2027, 3, 1), date(2027, 3, 14), "ended"),
            delegation("mia", "carl", date(2027, 4, 1), date(2027, 4, 9), "taken"),
        ],
    )

    with pytest.raises(ChartRefused) as caught:
        check_chart(chart, directory_of(*STAFF, taken=taken), TODAY)

    problems = caught.value.problems
    assert [(p.subject, p.field, p.violation.rule) for p in problems] == [
        ("employee eve", "manager_id", "unknown_manager"),
        ("employee fay", "country", "unknown_country"),
        ("employee gus", "end_date", "end_before_start"),
        ("department d-x", "head_id", "unknown_employee"),
        ("employee gus", "department_id", "unknown_department"),
        ("role hr", "ghost", "unknown_employee"),
        ("limit employee:ghost on procurement", None, "unknown_employee"),
        ("limit role:cfo on procurement", None, "duplicate_limit"),
        ("delegation self", None, "delegation_to_self"),
        ("delegation taken", None, "delegation_id_taken"),
        ("delegation ended", "ends", "delegation_in_the_past"),
    ]
    assert problems[1].violation.message == "employee fay: unknown country 'XX'"
    assert (caught.value.rule, caught.value.message.splitlines()) == (
        "unknown_manager",
        [problem.violation.message for problem in problems],
    )
