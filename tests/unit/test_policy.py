"""The policy's rules, on a directory built in memory."""

from __future__ import annotations

from datetime import date

import pytest

from domain.directory import DelegationTerms, Directory
from domain.errors import NotAllowed, NotFound
from domain.policy import CaseView, Policy, check_acting_for
from tests.unit.factories import organisation, profile, refused

AWAY = DelegationTerms("away", "mia", "ben", date(2027, 7, 1), date(2027, 7, 9))


def directory() -> Directory:
    found = Directory()
    for employee in [*organisation(), profile("leo", "carl", end_date=date(2027, 6, 30))]:
        found.employees[employee.employee_id] = employee
    found.roles = {"hr": {"chloe"}, "auditor": {"nina"}, "admin": {"leo"}}
    found.delegations = {"away": AWAY}
    return found


def on(day: date) -> Policy:
    return Policy(directory(), day)


@pytest.mark.parametrize(
    ("day", "acting"),
    [
        (date(2027, 6, 30), []),
        (date(2027, 7, 1), ["mia"]),
        (date(2027, 7, 9), ["mia"]),
        (date(2027, 7, 10), []),
    ],
)
def test_a_delegation_counts_from_its_first_to_its_last_day(day: date, acting: list[str]) -> None:
    assert on(day).acting_for("ben") == acting


def test_a_delegate_decides_for_the_assignee_only_while_the_delegation_is_active() -> None:
    assert on(date(2027, 7, 2)).decision_authority("ben", "ada", ["mia"]) == "mia"
    with refused(NotFound, "task_not_found"):
        on(date(2027, 7, 10)).decision_authority("ben", "ada", ["mia"])
    with pytest.raises(NotAllowed):
        check_acting_for(directory(), "ben", "mia", date(2027, 7, 10))


def test_nobody_decides_their_own_case_even_as_a_delegate() -> None:
    with refused(NotAllowed, "no_self_approval"):
        on(date(2027, 7, 2)).decision_authority("ben", "ben", ["mia"])


def test_an_assignee_decides_for_themselves() -> None:
    assert on(date(2027, 7, 2)).decision_authority("mia", "ada", ["mia"]) is None


def test_who_sees_a_leave_case() -> None:
    case = CaseView("leave", "ada", ["mia"])
    policy = on(date(2027, 7, 2))

    seen = {
        person: policy.may_see_case(person, case)
        for person in ["ada", "mia", "carl", "ben", "chloe", "nina", "leo"]
    }

    # requester, assignee, manager up the chain, delegate, hr, auditor; not admin
    assert seen == {
        "ada": True,
        "mia": True,
        "carl": True,
        "ben": True,
        "chloe": True,
        "nina": True,
        "leo": False,
    }


def test_hr_sees_every_leave_case_but_not_another_process() -> None:
    policy = on(date(2027, 7, 2))

    assert policy.may_see_case("chloe", CaseView("leave", "ada", ["mia"]))
    assert not policy.may_see_case("chloe", CaseView("procurement", "ada", ["mia"]))
    assert policy.may_see_case("nina", CaseView("procurement", "ada", ["mia"]))


def test_someone_who_has_left_is_no_longer_a_caller() -> None:
    on(date(2027, 6, 30)).check_caller("leo")
    with refused(NotAllowed, "employment_ended"):
        on(date(2027, 7, 1)).check_caller("leo")
    with refused(NotFound, "unknown_employee"):
        on(date(2027, 7, 1)).check_caller("nobody")


def test_only_admin_changes_the_directory_and_people_delegate_their_own_tasks() -> None:
    policy = on(date(2027, 6, 1))

    assert [policy.may_change_directory(p) for p in ["leo", "chloe", "nina"]] == [
        True,
        False,
        False,
    ]
    assert policy.may_delegate("mia", "mia", "ben") and policy.may_delegate("leo", "mia", "ben")
    assert not policy.may_delegate("ben", "mia", "ben")
    assert not policy.may_delegate("leo", "mia", "leo")  # an admin never to themselves
