"""The directory: departments, roles, limits and delegations as events; the directory
as of any instant; who may approve how much."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.directory import DelegationTerms, DepartmentDetails, Directory, Limit
from domain.errors import RuleViolation
from domain.organisation import OrganisationChart
from services.application import BackofficeApplication
from tests.unit.factories import meta, organisation, profile, refused

ENGINEERING = DepartmentDetails("d-eng", "Engineering", "mia", "CC-200")


def chart(**sections: object) -> OrganisationChart:
    values: dict[str, object] = {
        "employees": organisation(),
        "departments": [ENGINEERING],
        "roles": {"hr": ["ben"], "auditor": ["chloe"]},
        "limits": [
            Limit("procurement", Limit.role_holder("cfo"), Decimal(100000), "EUR"),
            Limit("procurement", Limit.employee_holder("mia"), Decimal(5000), "EUR"),
        ],
        "delegations": [
            DelegationTerms("mia-away", "mia", "carl", date(2027, 7, 1), date(2027, 7, 9))
        ],
    }
    values.update(sections)
    return OrganisationChart(**values)  # type: ignore[arg-type]


def stored_events(app: BackofficeApplication) -> int:
    return app.recorder.max_notification_id() or 0


def test_a_chart_records_each_section_and_the_directory_folds_it(
    blank_app: BackofficeApplication,
) -> None:
    changed = blank_app.load_directory(chart(roles={"hr": ["ben"], "cfo": ["carl"]}), meta("hr"))

    directory = blank_app.directory.current()
    assert "department d-eng" in changed and "delegation mia-away" in changed
    assert directory.departments["d-eng"] == ENGINEERING
    assert directory.roles_of("ben") == {"hr"}
    assert directory.has_role("carl", "cfo")
    assert directory.managers_of("ada") == ["mia", "carl"]
    assert directory.approval_limit("carl", "procurement", "EUR") == Limit(
        "procurement", "role:cfo", Decimal(100000), "EUR"
    )
    assert directory.approval_limit("ada", "procurement", "EUR") is None
    assert directory.acting_for("carl", date(2027, 7, 1)) == ["mia"]
    assert directory.acting_for("carl", date(2027, 7, 10)) == []


def test_loading_the_same_chart_again_records_nothing(blank_app: BackofficeApplication) -> None:
    blank_app.load_directory(chart(), meta())
    before = stored_events(blank_app)

    assert blank_app.load_directory(chart(), meta()) == []
    assert stored_events(blank_app) == before


def test_a_section_given_is_the_whole_truth_and_a_section_left_out_changes_nothing(
    blank_app: BackofficeApplication,
) -> None:
    blank_app.load_directory(chart(), meta())

    changed = blank_app.load_directory(
        chart(roles={"hr": ["ada"]}, limits=[], delegations=None), meta()
    )

    directory = blank_app.directory.current()
    assert changed == ["role hr", "limits procurement"]
    assert directory.roles["hr"] == {"ada"}
    assert directory.roles["auditor"] == {"chloe"}  # not listed: left as it was
    assert directory.limits == {}
    assert "mia-away" in directory.delegations


def test_a_delegation_left_out_of_the_delegations_section_is_revoked(
    blank_app: BackofficeApplication,
) -> None:
    blank_app.load_directory(chart(), meta())

    changed = blank_app.load_directory(chart(delegations=[]), meta())

    assert changed == ["delegation mia-away"]
    assert blank_app.directory.current().acting_for("carl", date(2027, 7, 2)) == []


def test_only_the_changed_limit_is_recorded(blank_app: BackofficeApplication) -> None:
    blank_app.load_directory(chart(), meta())
    before = stored_events(blank_app)
    raised = Limit("procurement", Limit.employee_holder("mia"), Decimal(7500), "EUR")

    blank_app.load_directory(chart(limits=[chart().limits[0], raised]), meta())  # type: ignore[index]

    assert stored_events(blank_app) == before + 1
    assert blank_app.directory.current().approval_limit("mia", "procurement", "EUR") == raised


@pytest.mark.parametrize(
    ("sections", "rule"),
    [
        ({"departments": [DepartmentDetails("d-x", "X", "nobody", "CC")]}, "unknown_employee"),
        (
            {"employees": [*organisation(), profile("zoe", "mia", department_id="d-none")]},
            "unknown_department",
        ),
        ({"roles": {"hr": ["nobody"]}}, "unknown_employee"),
        (
            {"limits": [Limit("invoices", Limit.employee_holder("nobody"), Decimal(1), "EUR")]},
            "unknown_employee",
        ),
        (
            {
                "delegations": [
                    DelegationTerms("x", "mia", "nobody", date(2027, 1, 1), date(2027, 1, 2))
                ]
            },
            "unknown_employee",
        ),
        (
            {
                "delegations": [
                    DelegationTerms("x", "mia", "mia", date(2027, 1, 1), date(2027, 1, 2))
                ]
            },
            "delegation_to_self",
        ),
        (
            {
                "delegations": [
                    DelegationTerms("x", "mia", "carl", date(2027, 1, 2), date(2027, 1, 1))
                ]
            },
            "delegation_ends_before_start",
        ),
        (
            {"departments": [ENGINEERING, ENGINEERING]},
            "duplicate_department",
        ),
    ],
)
def test_a_chart_naming_what_does_not_exist_is_refused_whole(
    blank_app: BackofficeApplication, sections: dict[str, object], rule: str
) -> None:
    with refused(RuleViolation, rule):
        blank_app.load_directory(chart(**sections), meta())

    assert stored_events(blank_app) == 0


def test_the_directory_as_of_an_instant_is_what_was_recorded_by_then(
    blank_app: BackofficeApplication,
) -> None:
    blank_app.load_directory(chart(), meta())
    time.sleep(0.01)
    before_the_change = datetime.now(UTC)
    time.sleep(0.01)
    blank_app.load_directory(
        chart(
            roles={"hr": ["ada"]},
            employees=[*organisation()[:2], profile("ada", "carl"), *organisation()[3:]],
        ),
        meta(),
    )

    then = blank_app.directory.as_of(before_the_change)
    now = blank_app.directory.current()
    assert then.roles["hr"] == {"ben"} and now.roles["hr"] == {"ada"}
    assert then.employees["ada"].manager_id == "mia"
    assert now.employees["ada"].manager_id == "carl"
    assert blank_app.directory.as_of(datetime(2000, 1, 1, tzinfo=UTC)) == Directory()


def test_the_approver_is_the_first_manager_whose_limit_covers_the_amount() -> None:
    directory = Directory()
    for employee in organisation():
        directory.employees[employee.employee_id] = employee
    directory.roles["cfo"] = {"carl"}
    for limit in chart().limits or ():
        directory.limits[limit.process, limit.holder] = limit

    assert directory.approver_for("ada", "procurement", Decimal(5000), "EUR") == "mia"
    assert directory.approver_for("ada", "procurement", Decimal(5001), "EUR") == "carl"
    assert directory.approver_for("ada", "procurement", Decimal(100001), "EUR") is None
    assert directory.approver_for("ada", "procurement", Decimal(10), "USD") is None


def test_limits_in_another_currency_do_not_hide_the_one_asked_for() -> None:
    directory = Directory()
    for employee in organisation():
        directory.employees[employee.employee_id] = employee
    directory.roles["cfo"] = {"mia"}
    euros = Limit("procurement", Limit.employee_holder("mia"), Decimal(5000), "EUR")
    dollars = Limit("procurement", Limit.role_holder("cfo"), Decimal(9000), "USD")
    directory.limits = {(limit.process, limit.holder): limit for limit in (euros, dollars)}

    assert directory.approval_limit("mia", "procurement", "EUR") == euros
    assert directory.approver_for("ada", "procurement", Decimal(100), "EUR") == "mia"
    assert directory.approver_for("ada", "procurement", Decimal(9000), "USD") == "mia"


def test_loading_the_file_revokes_only_the_delegations_the_file_made(
    blank_app: BackofficeApplication,
) -> None:
    blank_app.load_directory(chart(), meta())
    own = DelegationTerms("ben-away", "ben", "ada", date(2027, 8, 1), date(2027, 8, 9))
    blank_app.grant_delegation(own, meta("ben"))

    changed = blank_app.load_directory(chart(delegations=[]), meta())

    assert changed == ["delegation mia-away"]
    assert set(blank_app.directory.current().delegations) == {"ben-away"}


def test_a_delegation_id_taken_by_another_delegator_is_refused_without_naming_them(
    blank_app: BackofficeApplication,
) -> None:
    blank_app.load_directory(chart(), meta())
    own = DelegationTerms("away", "ben", "ada", date(2027, 8, 1), date(2027, 8, 9))
    blank_app.grant_delegation(own, meta("ben"))
    theirs = DelegationTerms("away", "ada", "mia", date(2027, 8, 1), date(2027, 8, 9))

    with pytest.raises(RuleViolation) as caught:
        blank_app.grant_delegation(theirs, meta("ada"))

    assert caught.value.rule == "delegation_id_taken"
    assert caught.value.message == "the delegation id away is taken; choose another"
    assert blank_app.directory.current().delegations["away"].delegator_id == "ben"


def test_a_delegator_who_has_left_lends_no_authority(blank_app: BackofficeApplication) -> None:
    blank_app.load_directory(chart(), meta())
    blank_app.put_employee(profile("mia", "carl", end_date=date(2027, 7, 3)), meta())

    directory = blank_app.directory.current()

    assert directory.acting_for("carl", date(2027, 7, 3)) == ["mia"]
    assert directory.acting_for("carl", date(2027, 7, 4)) == []
    assert directory.delegation_for("mia", "carl", date(2027, 7, 4)) is None


def test_authority_asked_for_a_little_earlier_than_the_last_is_not_read_from_the_log_again(
    blank_app: BackofficeApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An export reads the log in the order events were stored; two decisions saved
    at about the same time can come in the other order of their instants. Reading the
    whole log again for each made an export of a big store take hours."""
    blank_app.load_directory(chart(roles={"hr": ["ben"]}), meta())
    changed = datetime.now(UTC)
    authorities = blank_app.directory.authorities()
    reads: list[object] = []
    select = blank_app.directory.recorder.select_notifications

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(args)
        return select(*args, **kwargs)

    monkeypatch.setattr(blank_app.directory.recorder, "select_notifications", counted)

    later = authorities.of(changed + timedelta(seconds=2), "ben", None, "leave")
    reads_ahead = len(reads)
    earlier = authorities.of(changed + timedelta(seconds=1), "ben", None, "leave")
    before = authorities.of(datetime(2000, 1, 1, tzinfo=UTC), "ben", None, "leave")

    assert later["roles"] == earlier["roles"] == ["hr"]
    assert len(reads) == reads_ahead == 0  # the events were read when it was made
    assert before["roles"] == []


def test_authority_asked_again_reads_only_what_the_log_recorded_since(
    blank_app: BackofficeApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit log's page, newest first, asks for the authority of its latest entries:
    each page folded the directory's events again from the start of the log, so a page
    cost the whole log (0.76 s at 100,000 events). The directory's events are read once;
    a later page reads only what was recorded since, and the answers are as before."""
    blank_app.load_directory(chart(roles={"hr": ["ben"]}), meta())
    time.sleep(0.01)
    before_the_change = datetime.now(UTC)
    time.sleep(0.01)
    blank_app.set_role_members("hr", ["ben", "ada"], meta())
    blank_app.directory.authorities().of(datetime.now(UTC), "ben", None, "leave")  # a page
    read_up_to = stored_events(blank_app)
    blank_app.set_role_members("hr", ["ada"], meta())
    starts: list[int] = []
    select = blank_app.directory.recorder.select_notifications

    def counted(start: int, *args: Any, **kwargs: Any) -> Any:
        starts.append(start)
        return select(start, *args, **kwargs)

    monkeypatch.setattr(blank_app.directory.recorder, "select_notifications", counted)

    authorities = blank_app.directory.authorities()  # the next page
    now = authorities.of(datetime.now(UTC), "ben", None, "leave")
    in_between = authorities.of(before_the_change + timedelta(seconds=0.005), "ben", None, "leave")
    then = authorities.of(before_the_change, "ada", None, "leave")  # earlier than the last
    as_of = blank_app.directory.as_of(before_the_change)

    assert starts == [read_up_to]  # the one change recorded since
    assert now["roles"] == [] and then["roles"] == [] and in_between["roles"] == ["hr"]
    assert as_of.roles["hr"] == {"ben"}
