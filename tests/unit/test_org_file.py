"""Reading the organisation file: profiles out, or every problem with its line."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from backoffice.org_file import OrgFileError, parse_org_file, parse_org_text, read_org_text
from domain.directory import DelegationTerms, DepartmentDetails, Limit
from domain.employee import EmployeeProfile
from domain.errors import RuleViolation
from domain.organisation import ChartProblem, ChartRefused
from services.application import BackofficeApplication
from tests.unit.factories import meta

ORG = """\
employees:
  - id: e-100
    name: Ada Lovelace
    email: ada@example.com
    manager: e-001          # absent for the top of the tree
    country: DE
    subdivision: BY
    annual_leave_days: 30
    start_date: 2020-01-01
  - id: e-001
    name: Charles Babbage
    email: charles@example.com
    country: gb
    annual_leave_days: 27.5
    start_date: 2019-09-01
"""


def edited(old: str, new: str, text: str = ORG) -> str:
    assert text.count(old) == 1, f"{old!r} must appear once"
    return text.replace(old, new)


def problems(text: str) -> list[str]:
    with pytest.raises(OrgFileError) as caught:
        parse_org_text(text, "org.yaml")
    return str(caught.value).splitlines()


def test_a_valid_file_gives_one_profile_per_employee() -> None:
    ada, charles = parse_org_text(ORG, "org.yaml").employees

    assert ada == EmployeeProfile(
        employee_id="e-100",
        name="Ada Lovelace",
        email="ada@example.com",
        manager_id="e-001",
        country="DE",
        subdivision="BY",
        annual_leave_days=Decimal(30),
        start_date=date(2020, 1, 1),
    )
    assert (charles.manager_id, charles.subdivision) == (None, None)
    assert charles.country == "GB"
    assert charles.annual_leave_days == Decimal("27.5")


def test_the_profiles_of_a_file_load_into_the_application(
    blank_app: BackofficeApplication,
) -> None:
    loaded = blank_app.load_organisation(parse_org_text(ORG, "org.yaml").employees, meta())

    assert loaded == ["e-100", "e-001"]
    assert blank_app.managers_of("e-100") == ["e-001"]


def test_values_yaml_would_read_as_booleans_or_numbers_stay_text() -> None:
    text = edited("id: e-100", "id: 0100")
    text = edited("country: DE", "country: CA", text)
    text = edited("subdivision: BY", "subdivision: ON", text)  # Ontario, not True
    text = edited("country: gb", "country: NO", text)  # Norway, not False

    ada, charles = parse_org_text(text, "org.yaml").employees

    assert (ada.employee_id, ada.country, ada.subdivision) == ("0100", "CA", "ON")
    assert charles.country == "NO"


@pytest.mark.parametrize("absent", ["manager: ~", "manager:", 'manager: ""'])
def test_a_null_or_blank_manager_means_the_top_of_the_tree(absent: str) -> None:
    ada, _ = parse_org_text(edited("manager: e-001", absent), "org.yaml").employees

    assert ada.manager_id is None


def test_an_entry_without_end_date_asks_to_keep_the_recorded_last_day() -> None:
    chart = parse_org_text(
        edited(
            "    start_date: 2019-09-01\n", "    start_date: 2019-09-01\n    end_date: 2027-12-31\n"
        ),
        "org.yaml",
    )

    assert chart.keeps_end_date == {"e-100"}
    assert chart.employees[1].end_date == date(2027, 12, 31)


@pytest.mark.parametrize("cleared", ["end_date: null", "end_date: ~", "end_date:", 'end_date: ""'])
def test_an_end_date_written_null_or_blank_clears_the_last_day(cleared: str) -> None:
    text = edited("    start_date: 2020-01-01\n", f"    start_date: 2020-01-01\n    {cleared}\n")

    chart = parse_org_text(text, "org.yaml")

    assert chart.employees[0].end_date is None
    assert "e-100" not in chart.keeps_end_date


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        pytest.param(
            "annual_leave_days: 30",
            "annual_leave_days: -1",
            "org.yaml line 8 (employee e-100): annual_leave_days: must be >= 0",
            id="negative-days",
        ),
        pytest.param(
            "annual_leave_days: 30",
            "annual_leave_days: 20.25",
            "org.yaml line 8 (employee e-100): annual_leave_days: "
            "20.25 is not a whole or half number of days",
            id="quarter-days",
        ),
        pytest.param(
            "annual_leave_days: 30",
            "annual_leave_days: 1e30",
            "org.yaml line 8 (employee e-100): annual_leave_days: must be at most 366",
            id="more-days-than-a-year",
        ),
        pytest.param(
            "annual_leave_days: 30",
            "annual_leave_days: plenty",
            "org.yaml line 8 (employee e-100): annual_leave_days: "
            "must be a number of days, such as 30 or 27.5",
            id="not-a-number",
        ),
        pytest.param(
            "email: ada@example.com",
            "email: ada-at-example",
            "org.yaml line 4 (employee e-100): email: 'ada-at-example' is not an email address",
            id="email",
        ),
        pytest.param(
            "country: DE",
            "country: DEU",
            "org.yaml line 6 (employee e-100): country: "
            "'DEU' is not a two-letter ISO 3166 country code, such as DE",
            id="country",
        ),
        pytest.param(
            "name: Ada Lovelace",
            'name: "Ada\\aLovelace"',
            "org.yaml line 3 (employee e-100): name: must not contain control characters",
            id="control-character",
        ),
        pytest.param(
            "manager: e-001",
            "manager: " + "m" * 201,
            "org.yaml line 5 (employee e-100): manager: String should have at most 200 characters",
            id="too-long",
        ),
        pytest.param(
            "name: Ada Lovelace",
            'name: ""',
            "org.yaml line 3 (employee e-100): name: must not be empty",
            id="empty-name",
        ),
        pytest.param(
            "    email: ada@example.com\n",
            "",
            "org.yaml line 2 (employee e-100): email: required",
            id="missing-field",
        ),
        pytest.param(
            "    subdivision: BY\n",
            "    subdivision: BY\n    nickname: Ada\n",
            "org.yaml line 8 (employee e-100): nickname: unknown field (known fields: "
            "id, name, email, manager, department, country, subdivision, annual_leave_days,"
            " start_date, end_date)",
            id="unknown-field",
        ),
        pytest.param(
            "    subdivision: BY\n",
            "    subdivision: BY\n    country: FR\n",
            "org.yaml line 8 (employee e-100): country: given twice (first on line 6)",
            id="field-twice",
        ),
        pytest.param(
            "manager: e-001",
            "manager: [e-001, e-002]",
            "org.yaml line 5 (employee e-100): manager: "
            "must be a single value, not a list or mapping",
            id="list-value",
        ),
    ],
)
def test_a_bad_field_is_reported_with_its_line_and_employee(
    old: str, new: str, problem: str
) -> None:
    assert problems(edited(old, new)) == [problem]


@pytest.mark.parametrize("written", ['"e 100"', '"\u200be-100"', '"e-100\u00a0x"'])
def test_an_id_with_a_blank_or_an_invisible_character_is_refused(written: str) -> None:
    (problem,) = problems(edited("id: e-100", f"id: {written}"))

    assert problem.endswith(
        "id: must not contain blanks or invisible characters: an id is typed, and compared"
    )


def test_days_written_with_an_exponent_are_recorded_as_people_write_them() -> None:
    chart = parse_org_text(edited("annual_leave_days: 30", "annual_leave_days: 3e1"), "org.yaml")

    assert str(chart.employees[0].annual_leave_days) == "30"


def test_a_bad_date_is_reported_with_its_line_and_employee() -> None:
    (problem,) = problems(edited("start_date: 2020-01-01", "start_date: 2020-02-30"))

    assert problem.startswith("org.yaml line 9 (employee e-100): start_date: must be a date")


def test_an_employee_without_an_id_is_named_by_its_place_in_the_list() -> None:
    assert problems(edited("  - id: e-001\n    name:", "  - name:")) == [
        "org.yaml line 10 (employee #2): id: required"
    ]


def test_an_id_used_twice_is_reported_on_the_second_line_naming_the_first() -> None:
    assert problems(edited("id: e-001", "id: e-100")) == [
        "org.yaml line 10 (employee e-100): id: already used on line 2"
    ]


def test_every_problem_is_reported_at_once_in_line_order() -> None:
    text = edited("annual_leave_days: 30", "annual_leave_days: -1")
    text = edited("email: ada@example.com", "email: nope", text)
    text = edited("country: gb", "country: Britain", text)

    assert [line.split(":")[0] for line in problems(text)] == [
        "org.yaml line 4 (employee e-100)",
        "org.yaml line 8 (employee e-100)",
        "org.yaml line 13 (employee e-001)",
    ]


def test_unknown_top_level_sections_are_refused_naming_each() -> None:
    text = ORG + "teams:\n  - id: d-1\nbudgets: {}\n"
    known = "known sections: departments, employees, roles, limits, delegations"

    assert problems(text) == [
        f"org.yaml line 16: unknown section `teams` ({known})",
        f"org.yaml line 18: unknown section `budgets` ({known})",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("", "org.yaml: the file is empty; it needs an `employees:` list", id="empty"),
        pytest.param(
            "# just a comment\n",
            "org.yaml: the file is empty; it needs an `employees:` list",
            id="comment-only",
        ),
        pytest.param("staff: []\n", "org.yaml: no `employees:` section", id="no-employees"),
        pytest.param(
            "employees:\n", "org.yaml line 1: `employees` must be a non-empty list", id="null"
        ),
        pytest.param(
            "employees: []\n", "org.yaml line 1: `employees` must be a non-empty list", id="none"
        ),
        pytest.param(
            "employees:\n  e-100: Ada\n",
            "org.yaml line 2: `employees` must be a non-empty list",
            id="mapping",
        ),
        pytest.param(
            "- id: e-100\n",
            "org.yaml line 1: expected sections such as `employees:` at the top",
            id="top-level-list",
        ),
        pytest.param(
            "employees:\n  - e-100\n",
            "org.yaml line 2: employee #1 must be a mapping of fields",
            id="employee-not-a-mapping",
        ),
    ],
)
def test_a_file_without_a_list_of_employees_is_refused(text: str, problem: str) -> None:
    assert problem in problems(text)


def test_malformed_yaml_is_reported_with_the_line_of_the_error() -> None:
    (problem,) = problems(edited("name: Charles Babbage", "name: [Charles"))

    assert problem.startswith("org.yaml line 12: malformed YAML:")


def test_a_file_is_read_from_its_path_and_named_in_messages(tmp_path: Path) -> None:
    path = tmp_path / "org.yaml"
    path.write_text(ORG, encoding="utf-8")
    assert [p.employee_id for p in parse_org_file(path).employees] == ["e-100", "e-001"]

    path.write_text(edited("annual_leave_days: 30", "annual_leave_days: -1"), encoding="utf-8")
    with pytest.raises(OrgFileError, match=rf"^{re.escape(str(path))} line 8 \(employee e-100\)"):
        parse_org_file(path)


def test_a_missing_file_is_refused_as_an_org_file_error(tmp_path: Path) -> None:
    with pytest.raises(OrgFileError, match="cannot read the file") as caught:
        parse_org_file(tmp_path / "missing.yaml")

    assert isinstance(caught.value, ValueError)
    assert caught.value.problems[0].line is None


SECTIONS = """\
departments:
  - id: d-eng
    name: Engineering
    head: e-001
    cost_centre: CC-200
roles:
  hr: [e-100]
  auditor: []
limits:
  - process: procurement
    role: cfo
    up_to: 100000
    currency: EUR
  - process: procurement
    employee: e-001
    up_to: 2500.50
    currency: EUR
delegations:
  - id: away
    from: e-001
    to: e-100
    start: 2027-07-01
    end: 2027-07-09
"""


def test_departments_roles_limits_and_delegations_are_read_beside_the_employees() -> None:
    chart = parse_org_text(ORG + SECTIONS, "org.yaml")

    assert chart.departments == [DepartmentDetails("d-eng", "Engineering", "e-001", "CC-200")]
    assert chart.roles == {"hr": ["e-100"], "auditor": []}
    assert chart.limits == [
        Limit("procurement", "role:cfo", Decimal(100000), "EUR"),
        Limit("procurement", "employee:e-001", Decimal("2500.50"), "EUR"),
    ]
    assert chart.delegations == [
        DelegationTerms("away", "e-001", "e-100", date(2027, 7, 1), date(2027, 7, 9))
    ]


def test_sections_left_out_are_none_so_loading_changes_nothing_there() -> None:
    chart = parse_org_text(ORG, "org.yaml")

    assert (chart.departments, chart.roles, chart.limits, chart.delegations) == (
        None,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        pytest.param(
            "    role: cfo\n",
            "    role: cfo\n    employee: e-001\n",
            "org.yaml line 10 (limit #1): give either `role` or `employee`, not both or neither",
            id="limit-two-holders",
        ),
        pytest.param(
            "    currency: EUR\n  - process",
            "    currency: euro\n  - process",
            "org.yaml line 13 (limit #1): currency: 'euro' is not a three-letter ISO 4217"
            " currency code, such as EUR",
            id="limit-currency",
        ),
        pytest.param(
            "  hr: [e-100]\n",
            "  hr: e-100\n",
            "org.yaml line 7: role `hr`: expected a list of employee ids",
            id="role-not-a-list",
        ),
        pytest.param(
            "    start: 2027-07-01\n",
            "    start: first of July\n",
            "org.yaml line 22 (delegation away): start: must be a date such as 2020-01-31"
            " (input should be a valid date or datetime, invalid character in year)",
            id="delegation-date",
        ),
    ],
)
def test_a_bad_entry_in_a_section_is_reported_with_its_line(
    old: str, new: str, problem: str
) -> None:
    assert problems(edited(old, new, SECTIONS) + ORG) == [problem]


def test_what_the_directory_refuses_is_shown_on_the_line_of_its_entry_or_field() -> None:
    org = read_org_text(SECTIONS + ORG, "org.yaml")

    def problem(subject: str, field: str | None) -> ChartProblem:
        return ChartProblem(subject, field, RuleViolation("rule", f"{subject}: {field}"))

    refused = ChartRefused(
        [
            problem("employee e-100", "subdivision"),
            problem("limit employee:e-001 on procurement", None),
            problem("delegation away", "delegate_id"),
            problem("role auditor", None),
            problem("employee e-404", None),
        ]
    )

    assert str(org.refusal(refused)).splitlines() == [
        "org.yaml: employee e-404: None",
        "org.yaml line 8: role auditor: None",
        "org.yaml line 14: limit employee:e-001 on procurement: None",
        "org.yaml line 21: delegation away: delegate_id",
        "org.yaml line 30: employee e-100: subdivision",
    ]
