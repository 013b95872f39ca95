"""Read the organisation file (YAML) into employee profiles.

The file has one section, ``employees``, a list of mappings::

    employees:
      - id: e-100
        name: Ada Lovelace
        email: ada@example.com
        manager: e-001          # absent for the top of the tree
        country: DE             # ISO 3166 country, for public holidays
        subdivision: BY         # optional region (state, province)
        annual_leave_days: 30
        start_date: 2020-01-01

Every problem is reported with the file, the line and the employee it is about
(``org.yaml line 12 (employee e-100): annual_leave_days: must be >= 0``), all of
them at once in one :class:`OrgFileError`. Rules over the whole chart (managers
exist, no cycles, known regions) are the domain's, checked when the profiles
are loaded into the application (``domain.organisation.check_organisation``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

from domain.employee import EmployeeProfile

SECTIONS = ("employees",)
"""The top-level sections the file may have (more will come: departments, roles...)."""

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_COUNTRY = re.compile(r"[A-Za-z]{2}")
_NULL_TAG = "tag:yaml.org,2002:null"


@dataclass(frozen=True)
class OrgProblem:
    """One thing wrong in the file, with where it is."""

    source: str
    line: int | None
    message: str
    employee: str | None = None

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source} line {self.line}"
        who = f" (employee {self.employee})" if self.employee else ""
        return f"{where}{who}: {self.message}"


class OrgFileError(ValueError):
    """The organisation file cannot be read; ``problems`` lists each thing wrong."""

    def __init__(self, problems: Sequence[OrgProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


class EmployeeEntry(BaseModel):
    """One employee as written in the file, before it becomes an :class:`EmployeeProfile`."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    email: str
    manager: str | None = None
    country: str
    subdivision: str | None = None
    annual_leave_days: Decimal
    start_date: date

    @field_validator("manager", "subdivision", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("email")
    @classmethod
    def _looks_like_an_email(cls, value: str) -> str:
        if not _EMAIL.fullmatch(value):
            raise ValueError(f"{value!r} is not an email address")
        return value

    @field_validator("country")
    @classmethod
    def _two_letter_country(cls, value: str) -> str:
        if not _COUNTRY.fullmatch(value):
            raise ValueError(f"{value!r} is not a two-letter ISO 3166 country code, such as DE")
        return value.upper()

    @field_validator("annual_leave_days")
    @classmethod
    def _whole_or_half_days(cls, value: Decimal) -> Decimal:
        if value < 0:
            raise ValueError("must be >= 0")
        if (value * 2) % 1:
            raise ValueError(f"{value} is not a whole or half number of days")
        return value

    def to_profile(self) -> EmployeeProfile:
        return EmployeeProfile(
            employee_id=self.id,
            name=self.name,
            email=self.email,
            manager_id=self.manager,
            country=self.country,
            subdivision=self.subdivision,
            annual_leave_days=self.annual_leave_days,
            start_date=self.start_date,
        )


def parse_org_file(path: Path) -> list[EmployeeProfile]:
    """The employees of the organisation file at ``path``; :class:`OrgFileError` if bad."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        problem = OrgProblem(str(path), None, f"not UTF-8 text ({error.reason})")
        raise OrgFileError([problem]) from None
    except OSError as error:
        problem = OrgProblem(str(path), None, f"cannot read the file: {error.strerror}")
        raise OrgFileError([problem]) from None
    return parse_org_text(text, str(path))


def parse_org_text(text: str, source: str) -> list[EmployeeProfile]:
    """The employees in ``text``, an organisation file named ``source`` in messages."""
    reader = _Reader(source)
    entries = reader.employees(reader.employee_list(_compose(text, source)))
    if reader.problems:
        raise reader.error()
    return [entry.to_profile() for entry in entries]


def _compose(text: str, source: str) -> yaml.Node | None:
    """The YAML node tree: values stay text and nodes keep their line numbers."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        what = ", ".join(part for part in (error.context, error.problem) if part)
        line = None if mark is None else mark.line + 1
        raise OrgFileError([OrgProblem(source, line, f"malformed YAML: {what}")]) from None
    except yaml.YAMLError as error:
        raise OrgFileError([OrgProblem(source, None, f"malformed YAML: {error}")]) from None


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _pairs(node: yaml.MappingNode) -> Iterator[tuple[str, yaml.Node, yaml.Node]]:
    """The mapping's entries as (key text, key node, value node)."""
    for key, value in node.value:
        yield (key.value if isinstance(key, yaml.ScalarNode) else "?"), key, value


class _Reader:
    """Walks the node tree, collecting every problem rather than stopping at the first."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[OrgProblem] = []
        self.id_lines: dict[str, int] = {}

    def fail(self, line: int | None, message: str, employee: str | None = None) -> None:
        self.problems.append(OrgProblem(self.source, line, message, employee))

    def error(self) -> OrgFileError:
        return OrgFileError(sorted(self.problems, key=lambda problem: problem.line or 0))

    def stop(self, line: int | None, message: str) -> OrgFileError:
        self.fail(line, message)
        return self.error()

    def employee_list(self, root: yaml.Node | None) -> yaml.SequenceNode:
        if root is None:
            raise self.stop(None, "the file is empty; it needs an `employees:` list")
        if not isinstance(root, yaml.MappingNode):
            raise self.stop(_line(root), "expected sections such as `employees:` at the top")
        employees: yaml.Node | None = None
        for name, key, value in _pairs(root):
            if name in SECTIONS and employees is not None:
                self.fail(_line(key), f"section `{name}` given twice")
            elif name in SECTIONS:
                employees = value
            else:
                expected = ", ".join(SECTIONS)
                self.fail(_line(key), f"unknown section `{name}` (known sections: {expected})")
        if employees is None:
            raise self.stop(None, "no `employees:` section")
        if not isinstance(employees, yaml.SequenceNode) or not employees.value:
            raise self.stop(_line(employees), "`employees` must be a non-empty list")
        return employees

    def employees(self, employees: yaml.SequenceNode) -> list[EmployeeEntry]:
        """Each valid employee; a problem recorded for each invalid one."""
        entries = []
        for number, node in enumerate(employees.value, start=1):
            if not isinstance(node, yaml.MappingNode):
                self.fail(_line(node), f"employee #{number} must be a mapping of fields")
            elif (entry := self.employee(node, number)) is not None:
                entries.append(entry)
        return entries

    def employee(self, node: yaml.MappingNode, number: int) -> EmployeeEntry | None:
        fields: dict[str, Any] = {}
        lines: dict[str, int] = {}
        repeated: list[tuple[str, int]] = []
        for name, key, value in _pairs(node):
            if name in fields:
                repeated.append((name, _line(key)))
            else:
                fields[name], lines[name] = _field_value(value), _line(key)
        raw_id = fields.get("id")
        label = raw_id.strip() if isinstance(raw_id, str) and raw_id.strip() else f"#{number}"
        for name, line in repeated:
            self.fail(line, f"{name}: given twice (first on line {lines[name]})", label)
        if label in self.id_lines:
            self.fail(lines["id"], f"id: already used on line {self.id_lines[label]}", label)
        elif "id" in lines:
            self.id_lines[label] = lines["id"]
        try:
            entry = EmployeeEntry.model_validate(fields)
        except ValidationError as error:
            for detail in error.errors():
                field = str(detail["loc"][0]) if detail["loc"] else ""
                self.fail(lines.get(field, _line(node)), f"{field}: {_describe(detail)}", label)
            return None
        return None if repeated else entry


class _Nested:
    """A list or mapping where a single value belongs, so it gets a clear message."""


def _field_value(node: yaml.Node) -> object:
    """A field's value as written: the text of a scalar, so that ``NO`` (Norway) or
    ``ON`` (Ontario) stay text and ``30.5`` stays an exact decimal; ``None`` if null."""
    if not isinstance(node, yaml.ScalarNode):
        return _Nested()
    return None if node.tag == _NULL_TAG else str(node.value)


def _describe(detail: ErrorDetails) -> str:
    kind = detail["type"]
    if isinstance(detail.get("input"), _Nested):
        return "must be a single value, not a list or mapping"
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return f"unknown field (known fields: {', '.join(EmployeeEntry.model_fields)})"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "value_error":
        return str(detail.get("ctx", {}).get("error", detail["msg"]))
    if kind.startswith("date_"):
        return f"must be a date such as 2020-01-31 ({detail['msg'].lower()})"
    if kind.startswith(("decimal_", "finite_")):
        return "must be a number of days, such as 30 or 27.5"
    return str(detail["msg"])
