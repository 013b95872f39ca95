"""Read the organisation file (YAML) into the directory's facts.

``employees`` is required; the other sections are optional::

    departments:
      - id: d-eng
        name: Engineering
        head: e-010             # optional
        cost_centre: CC-100
    employees:
      - id: e-100
        name: Ada Lovelace
        email: ada@example.com
        manager: e-001          # absent for the top of the tree
        department: d-eng       # optional
        country: DE             # ISO 3166 country, for public holidays
        subdivision: BY         # optional region (state, province)
        annual_leave_days: 30
        start_date: 2020-01-01
        end_date: 2027-12-31    # the last day of employment; left out: as recorded,
                                # `end_date: null` (or blank): none
    roles:                      # role -> its members; a role not listed keeps its members
      hr: [e-200]
      auditor: [e-300]
    limits:                     # the delegation-of-authority matrix
      - process: procurement
        role: cfo               # or `employee: e-001`
        up_to: 100000
        currency: EUR
    delegations:                # out of office: `to` acts for `from`, start to end
      - id: alan-summer-2027
        from: e-010
        to: e-001
        start: 2027-07-01
        end: 2027-07-14

A section that is present is the whole truth about what it lists: a role member,
a limit or a delegation no longer in the file is revoked when the file is
loaded; employees and departments are never removed (an ``end_date`` ends
employment). A section left out changes nothing.

Loading refuses a delegation it would record (new, or with changed terms) that could
never be used: one that ended before today, or whose delegate or delegator has left by
its start. A delegation revoked since it was given (through the API, or by a file that
left it out) and listed with the terms it had is given again if it can still be used;
if it cannot, it stays revoked and the load says so, so a file that loaded once still
loads. What still works today but will not (a manager, a department head, a role
member or a delegate who leaves; delegations of one person that overlap) is reported
as a warning, since a file must be able to say that someone leaves next month.

Every problem is reported with the file, the line and the entry it is about
(``org.yaml line 12 (employee e-100): annual_leave_days: must be >= 0``), all of
them at once in one :class:`OrgFileError`. Rules over the whole directory
(managers exist, no cycles, known regions, known members, delegations that can be
used) are the domain's, checked when the file is loaded into the application
(``domain.organisation.check_chart``), which names every problem at once and records
nothing if there is one; :meth:`OrgFile.refusal` puts each on the line of the entry,
or of the field, it is about (``org.yaml line 14: employee e-100: manager e-999 does
not exist``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from api.days import Days
from api.text import CONTROL
from domain.directory import DelegationTerms, DepartmentDetails, Limit
from domain.directory_changes import NEW, Change
from domain.employee import EmployeeProfile
from domain.organisation import ChartRefused, OrganisationChart

SECTIONS = ("departments", "employees", "roles", "limits", "delegations")
"""The top-level sections the file may have."""

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_COUNTRY = re.compile(r"[A-Za-z]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_ROLE = re.compile(r"[a-z][a-z0-9_-]*")
_NULL_TAG = "tag:yaml.org,2002:null"


@dataclass(frozen=True)
class OrgProblem:
    """One thing wrong in the file, with where it is."""

    source: str
    line: int | None
    message: str
    subject: str | None = None
    """What the problem is about, such as ``employee e-100``."""

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source} line {self.line}"
        about = f" ({self.subject})" if self.subject else ""
        return f"{where}{about}: {self.message}"


class OrgFileError(ValueError):
    """The organisation file cannot be read; ``problems`` lists each thing wrong."""

    def __init__(self, problems: Sequence[OrgProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


MAX_FIELD_LENGTH = 200
"""Characters a field may have (an e-mail address 254): ids and names are far shorter."""


class Entry(BaseModel):
    """One entry of a list section, as written in the file."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        str_strip_whitespace=True,
        str_max_length=MAX_FIELD_LENGTH,
        populate_by_name=True,
    )
    kind: ClassVar[str]
    """What an entry is called in messages: ``employee``, ``department``..."""

    @property
    def subject(self) -> str:
        """The entry as the directory's rules name it (``ChartProblem.subject``)."""
        return f"{self.kind} {getattr(self, 'id', '')}"

    @field_validator("*")
    @classmethod
    def _one_line_of_text(cls, value: object) -> object:
        if isinstance(value, str) and CONTROL.search(value):
            raise ValueError("must not contain control characters")
        return value


_NOT_IN_IDS = re.compile(r"[\s\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]")
"""Blanks and characters that show as nothing: an id holding one looks like another."""


def _an_id(value: str) -> str:
    if _NOT_IN_IDS.search(value):
        raise ValueError(
            "must not contain blanks or invisible characters: an id is typed, and compared"
        )
    return value


def _blank_is_absent(value: object) -> object:
    """An optional field written blank is absent."""
    return None if isinstance(value, str) and not value.strip() else value


class DepartmentEntry(Entry):
    kind = "department"

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    head: str | None = None

    _id = field_validator("id")(_an_id)
    cost_centre: str = Field(min_length=1)

    _optional = field_validator("head", mode="before")(_blank_is_absent)

    def to_details(self) -> DepartmentDetails:
        return DepartmentDetails(self.id, self.name, self.head, self.cost_centre)


class LimitEntry(Entry):
    kind = "limit"

    process: str = Field(min_length=1)
    role: str | None = None
    employee: str | None = None
    up_to: Decimal = Field(ge=0)
    currency: str

    @field_validator("currency")
    @classmethod
    def _currency_code(cls, value: str) -> str:
        if not _CURRENCY.fullmatch(value):
            raise ValueError(f"{value!r} is not a three-letter ISO 4217 currency code, such as EUR")
        return value

    _optional = field_validator("role", "employee", mode="before")(_blank_is_absent)

    @model_validator(mode="after")
    def _one_holder(self) -> LimitEntry:
        if (self.role is None) == (self.employee is None):
            raise ValueError("give either `role` or `employee`, not both or neither")
        return self

    @property
    def subject(self) -> str:
        limit = self.to_limit()
        return f"limit {limit.holder} on {limit.process}"

    def to_limit(self) -> Limit:
        holder = (
            Limit.role_holder(self.role)
            if self.role is not None
            else Limit.employee_holder(str(self.employee))
        )
        return Limit(self.process, holder, self.up_to, self.currency)


class DelegationEntry(Entry):
    kind = "delegation"

    id: str = Field(min_length=1)
    delegator: str = Field(alias="from", min_length=1)
    delegate: str = Field(alias="to", min_length=1)
    start: date
    end: date

    _id = field_validator("id")(_an_id)

    def to_terms(self) -> DelegationTerms:
        return DelegationTerms(self.id, self.delegator, self.delegate, self.start, self.end)


MAX_ANNUAL_LEAVE_DAYS = 366
"""More days of leave a year than a year has days is a typing error."""


class EmployeeEntry(Entry):
    """One employee as written in the file, before it becomes an :class:`EmployeeProfile`."""

    kind = "employee"

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    email: str = Field(max_length=254)  # the longest address there may be
    manager: str | None = None
    department: str | None = None
    country: str
    subdivision: str | None = None
    annual_leave_days: Days
    """Whole or half days; in JSON a number (``30``, ``27.5``), as the API gives all days."""
    start_date: date
    end_date: date | None = None

    _id = field_validator("id")(_an_id)
    _optional = field_validator("manager", "department", "subdivision", "end_date", mode="before")(
        _blank_is_absent
    )

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
        if value > MAX_ANNUAL_LEAVE_DAYS:
            raise ValueError(f"must be at most {MAX_ANNUAL_LEAVE_DAYS}")
        if (value * 2) % 1:
            raise ValueError(f"{value} is not a whole or half number of days")
        return Decimal(format(value, "f"))  # 3e1 is recorded as 30, not 3E+1

    @property
    def states_end_date(self) -> bool:
        """Whether the entry gives ``end_date`` (a null or blank one clears it); without
        it, loading keeps the last day recorded, so a file written without the field
        never gives someone who has left their sign-in back."""
        return "end_date" in self.model_fields_set

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
            department_id=self.department,
            end_date=self.end_date,
        )


FILE_NAMES = {
    "employee_id": "id",
    "manager_id": "manager",
    "department_id": "department",
    "head_id": "head",
    "delegate_id": "to",
    "delegator_id": "from",
    "starts": "start",
    "ends": "end",
}
"""The file's name of each field the directory names otherwise."""


def describe(change: Change) -> str:
    """One line of a load's report, in the file's words:
    ``employee e-100: end_date 2027-12-31 -> (none)``, ``department d-ops: new``."""
    if not change.fields:
        return f"{change.subject}: {change.status}"
    fields = "; ".join(
        f"{FILE_NAMES.get(field.name, field.name)} {_shown(field.old)} -> {_shown(field.new)}"
        for field in change.fields
    )
    return f"{change.subject}: {'new, ' if change.status == NEW else ''}{fields}"


def _shown(value: object) -> str:
    if value is None or value == []:
        return "(none)"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class Lines:
    """Where an entry is written: its first line, and each field's (``role`` entries:
    each member's)."""

    line: int
    fields: dict[str, int]


@dataclass(frozen=True)
class OrgFile:
    """An organisation file read: the chart it gives, and where each entry is written,
    so that what the directory's rules refuse is shown on its line."""

    source: str
    chart: OrganisationChart
    lines: dict[str, Lines]
    """By subject (``employee e-100``, ``limit role:cfo on procurement``)."""

    def refusal(self, refused: ChartRefused) -> OrgFileError:
        """Each problem of ``refused`` on the line of the entry (or field) it is about,
        in the order of the file."""
        problems = []
        for problem in refused.problems:
            where = self.lines.get(problem.subject)
            line = None
            if where is not None:
                field = FILE_NAMES.get(problem.field or "", problem.field or "")
                line = where.fields.get(field, where.line)
            problems.append(OrgProblem(self.source, line, problem.violation.message))
        return OrgFileError(sorted(problems, key=lambda problem: problem.line or 0))


def parse_org_file(path: Path) -> OrganisationChart:
    """The organisation file at ``path``; :class:`OrgFileError` if bad."""
    return read_org_file(path).chart


def parse_org_text(text: str, source: str) -> OrganisationChart:
    """The organisation in ``text``, a file named ``source`` in messages."""
    return read_org_text(text, source).chart


def read_org_file(path: Path) -> OrgFile:
    """The organisation file at ``path``, with its lines; :class:`OrgFileError` if bad."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        problem = OrgProblem(str(path), None, f"not UTF-8 text ({error.reason})")
        raise OrgFileError([problem]) from None
    except OSError as error:
        problem = OrgProblem(str(path), None, f"cannot read the file: {error.strerror}")
        raise OrgFileError([problem]) from None
    return read_org_text(text, str(path))


def read_org_text(text: str, source: str) -> OrgFile:
    """The organisation in ``text``, a file named ``source`` in messages, with its lines."""
    reader = _Reader(source)
    sections = reader.sections(_compose(text, source))
    employees = reader.entries(sections["employees"], EmployeeEntry)
    departments = reader.optional(sections, "departments", DepartmentEntry)
    limits = reader.optional(sections, "limits", LimitEntry)
    delegations = reader.optional(sections, "delegations", DelegationEntry)
    roles = None if "roles" not in sections else reader.roles(sections["roles"])
    if reader.problems:
        raise reader.error()
    chart = OrganisationChart(
        employees=[entry.to_profile() for entry in employees],
        keeps_end_date=frozenset(entry.id for entry in employees if not entry.states_end_date),
        departments=None if departments is None else [e.to_details() for e in departments],
        roles=roles,
        limits=None if limits is None else [entry.to_limit() for entry in limits],
        delegations=None if delegations is None else [e.to_terms() for e in delegations],
        from_file=True,
    )
    return OrgFile(source, chart, reader.lines)


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


E = TypeVar("E", bound=Entry)


class _Reader:
    """Walks the node tree, collecting every problem rather than stopping at the first."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[OrgProblem] = []
        self.lines: dict[str, Lines] = {}

    def fail(self, line: int | None, message: str, subject: str | None = None) -> None:
        self.problems.append(OrgProblem(self.source, line, message, subject))

    def error(self) -> OrgFileError:
        return OrgFileError(sorted(self.problems, key=lambda problem: problem.line or 0))

    def stop(self, line: int | None, message: str) -> OrgFileError:
        self.fail(line, message)
        return self.error()

    def sections(self, root: yaml.Node | None) -> dict[str, yaml.Node]:
        """The top-level sections by name; ``employees`` is checked to be a non-empty list."""
        if root is None:
            raise self.stop(None, "the file is empty; it needs an `employees:` list")
        if not isinstance(root, yaml.MappingNode):
            raise self.stop(_line(root), "expected sections such as `employees:` at the top")
        found: dict[str, yaml.Node] = {}
        for name, key, value in _pairs(root):
            if name in found:
                self.fail(_line(key), f"section `{name}` given twice")
            elif name in SECTIONS:
                found[name] = value
            else:
                expected = ", ".join(SECTIONS)
                self.fail(_line(key), f"unknown section `{name}` (known sections: {expected})")
        employees = found.get("employees")
        if employees is None:
            raise self.stop(None, "no `employees:` section")
        if not isinstance(employees, yaml.SequenceNode) or not employees.value:
            raise self.stop(_line(employees), "`employees` must be a non-empty list")
        return found

    def optional(self, sections: dict[str, yaml.Node], name: str, model: type[E]) -> list[E] | None:
        """The entries of an optional list section (an empty one: ``[]``), None if absent."""
        if name not in sections:
            return None
        node = sections[name]
        if _is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.fail(_line(node), f"`{name}` must be a list")
            return []
        return self.entries(node, model)

    def entries(self, node: yaml.Node, model: type[E]) -> list[E]:
        """Each valid entry; a problem recorded for each invalid one."""
        assert isinstance(node, yaml.SequenceNode)
        entries = []
        ids: dict[str, int] = {}
        for number, item in enumerate(node.value, start=1):
            if not isinstance(item, yaml.MappingNode):
                self.fail(_line(item), f"{model.kind} #{number} must be a mapping of fields")
            elif (entry := self.entry(item, number, model, ids)) is not None:
                entries.append(entry)
        return entries

    def entry(
        self, node: yaml.MappingNode, number: int, model: type[E], ids: dict[str, int]
    ) -> E | None:
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
        subject = f"{model.kind} {label}"
        for name, line in repeated:
            self.fail(line, f"{name}: given twice (first on line {lines[name]})", subject)
        if label in ids:
            self.fail(lines["id"], f"id: already used on line {ids[label]}", subject)
        elif "id" in lines:
            ids[label] = lines["id"]
        try:
            entry = model.model_validate(fields)
        except ValidationError as error:
            for detail in error.errors():
                field = str(detail["loc"][0]) if detail["loc"] else ""
                where = lines.get(field, _line(node))
                message = (
                    f"{field}: {_describe(detail, model)}" if field else _describe(detail, model)
                )
                self.fail(where, message, subject)
            return None
        if repeated:
            return None
        self.lines.setdefault(entry.subject, Lines(_line(node), lines))
        return entry

    def roles(self, node: yaml.Node) -> dict[str, list[str]]:
        """``role: [employee ids]`` for each role listed."""
        if _is_null(node):
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.fail(_line(node), "`roles` must map each role to a list of employee ids")
            return {}
        roles: dict[str, list[str]] = {}
        for name, key, value in _pairs(node):
            if not _ROLE.fullmatch(name):
                self.fail(
                    _line(key),
                    f"`{name}` is not a role name"
                    " (a lowercase letter, then letters, digits, - or _)",
                )
            elif name in roles:
                self.fail(_line(key), f"role `{name}` given twice")
            elif _is_null(value):
                roles[name] = []
            elif isinstance(value, yaml.SequenceNode) and all(
                isinstance(item, yaml.ScalarNode) and str(item.value).strip()
                for item in value.value
            ):
                roles[name] = [str(item.value).strip() for item in value.value]
                members = {str(item.value).strip(): _line(item) for item in value.value}
                self.lines[f"role {name}"] = Lines(_line(key), members)
            else:
                self.fail(_line(value), f"role `{name}`: expected a list of employee ids")
        return roles


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG


class _Nested:
    """A list or mapping where a single value belongs, so it gets a clear message."""


def _field_value(node: yaml.Node) -> object:
    """A field's value as written: the text of a scalar, so that ``NO`` (Norway) or
    ``ON`` (Ontario) stay text and ``30.5`` stays an exact decimal; ``None`` if null."""
    if not isinstance(node, yaml.ScalarNode):
        return _Nested()
    return None if node.tag == _NULL_TAG else str(node.value)


def _describe(detail: ErrorDetails, model: type[Entry]) -> str:
    kind = detail["type"]
    if isinstance(detail.get("input"), _Nested):
        return "must be a single value, not a list or mapping"
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        known = [info.alias or name for name, info in model.model_fields.items()]
        return f"unknown field (known fields: {', '.join(known)})"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "value_error":
        return str(detail.get("ctx", {}).get("error", detail["msg"]))
    if kind.startswith("date_"):
        return f"must be a date such as 2020-01-31 ({detail['msg'].lower()})"
    if kind.startswith(("decimal_", "finite_")):
        return "must be a number of days, such as 30 or 27.5"
    return str(detail["msg"])
