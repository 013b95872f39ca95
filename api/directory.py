"""The directory: read by every employee, changed by ``admin`` (people set their own
out-of-office delegations), and read as of a past instant by ``auditor`` and ``admin``.

Bodies are the organisation file's entries (``backoffice/org_file.py``), so the
API and the file accept exactly the same things.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from api.access import policy
from api.auth import Caller
from api.cases import caught_up
from api.context import ApiContext
from api.dependencies import Context
from api.errors import ApiError, error_responses, not_found
from api.instants import Instant, known_up_to_now
from backoffice.org_file import (
    DelegationEntry,
    DepartmentEntry,
    EmployeeEntry,
    LimitEntry,
    describe,
)
from domain.directory import Directory, Limit
from domain.directory_changes import NEW, Change
from domain.meta import Meta
from domain.organisation import OrganisationChart
from services.directory import DirectoryChange

router = APIRouter(prefix="/directory", tags=["directory"], responses=error_responses(401, 422))


class LimitOut(BaseModel):
    process: str
    holder: str = Field(description="`role:NAME` or `employee:ID`")
    up_to: Decimal
    currency: str


class DelegationOut(BaseModel):
    id: str
    delegator: str = Field(serialization_alias="from")
    delegate: str = Field(serialization_alias="to")
    start: str
    end: str


class DirectoryOut(BaseModel):
    at: datetime | None = Field(description="The instant it is as of; null: now")
    departments: list[DepartmentEntry]
    employees: list[EmployeeEntry]
    roles: dict[str, list[str]]
    limits: list[LimitOut]
    delegations: list[DelegationOut] = Field(description="Delegations not revoked")

    @classmethod
    def of(cls, directory: Directory, at: datetime | None) -> DirectoryOut:
        # The entries are made as recorded, not checked again: what was accepted when it
        # was recorded shows as it is, whatever rules for new input came since.
        return cls(
            at=at,
            departments=[
                DepartmentEntry.model_construct(
                    id=d.department_id, name=d.name, head=d.head_id, cost_centre=d.cost_centre
                )
                for d in sorted(directory.departments.values(), key=lambda d: d.department_id)
            ],
            employees=[
                EmployeeEntry.model_construct(
                    id=p.employee_id,
                    name=p.name,
                    email=p.email,
                    manager=p.manager_id,
                    department=p.department_id,
                    country=p.country,
                    subdivision=p.subdivision,
                    annual_leave_days=p.annual_leave_days,
                    start_date=p.start_date,
                    end_date=p.end_date,
                )
                for p in sorted(directory.employees.values(), key=lambda p: p.employee_id)
            ],
            roles={role: sorted(members) for role, members in sorted(directory.roles.items())},
            limits=[
                LimitOut(
                    process=limit.process,
                    holder=limit.holder,
                    up_to=limit.amount,
                    currency=limit.currency,
                )
                for _key, limit in sorted(directory.limits.items())
            ],
            delegations=[
                DelegationOut(
                    id=terms.delegation_id,
                    delegator=terms.delegator_id,
                    delegate=terms.delegate_id,
                    start=terms.starts.isoformat(),
                    end=terms.ends.isoformat(),
                )
                for _id, terms in sorted(directory.delegations.items())
            ],
        )


class DirectoryChangedOut(DirectoryOut):
    """The directory after a change, with what the change changed and what it leaves
    to look at."""

    changes: list[str] = Field(
        description="Each thing changed, with the fields it changed, old -> new"
        " (`employee e-100: end_date 2027-12-31 -> (none)`); empty when nothing changed"
    )
    warnings: list[str] = Field(
        description="What the change leaves that works today but will not (a manager or"
        " delegate who leaves, delegations of one person that overlap)"
    )

    @classmethod
    def after(cls, directory: Directory, change: DirectoryChange) -> DirectoryChangedOut:
        return cls(
            **dict(DirectoryOut.of(directory, None)),
            changes=[describe(item) for item in change.changes],
            warnings=change.warnings,
        )


def _today() -> date:
    return datetime.now(UTC).date()


_ID_FROM_PATH = "Optional: the path names it; if given, it must be the path's"


class EmployeeIn(EmployeeEntry):
    """An employee's entry of the organisation file; the path gives its id."""

    id: str = Field(default="", description=_ID_FROM_PATH)


class DepartmentIn(DepartmentEntry):
    """A department's entry of the organisation file; the path gives its id."""

    id: str = Field(default="", description=_ID_FROM_PATH)


E = TypeVar("E", EmployeeIn, DepartmentIn)


def _with_path_id(body: E, path_id: str) -> E:
    """The body with the path's id, held to the rules of an id as a body's is (validated
    again, not copied in); 422 naming both when the body gives another."""
    if body.id and body.id != path_id:  # "" is the id's default: not given
        raise ApiError(422, f"the body's id {body.id} is not the path's {path_id}", "id_mismatch")
    given = body.model_dump(exclude_unset=True, by_alias=True)
    try:
        checked = type(body).model_validate({**given, "id": path_id})
    except ValidationError as error:
        raise RequestValidationError(error.errors()) from None
    if checked.id != path_id:  # stripped: one id would have two spellings
        raise ApiError(
            422, "the id in the address must not begin or end with blanks", "invalid_request"
        )
    return checked


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    members: list[str] = Field(description="Employee ids: the role's members from now on")


class LimitsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limits: list[LimitEntry] = Field(
        description="The process's whole matrix from now on; `process` must be the path's"
    )


@router.get(
    "",
    response_model_by_alias=True,
    responses=error_responses(403, 422),
    summary="The directory, now or as of an instant",
)
def get_directory(
    caller: Caller,
    context: Context,
    at: Annotated[
        Instant | None,
        Query(
            description="An instant up to now (ISO 8601 with offset): the directory as it was then."
        ),
    ] = None,
) -> DirectoryOut:
    """Departments, employees, roles, approval limits and delegations. Any employee reads
    the directory as it is; only `auditor` and `admin` read it as of a past instant (one
    after now is refused, 422 `instant_in_the_future`: changes recorded until then would
    make the answer wrong)."""
    application = context.application
    if at is None:
        return DirectoryOut.of(application.directory.current(), None)
    if at.tzinfo is None:
        raise ApiError(
            422, "give `at` with its UTC offset, such as 2027-03-01T12:00:00Z", "naive_instant"
        )
    if not policy(context).may_read_directory_history(caller):
        raise ApiError(
            403, "the directory's history is for auditors and administrators", "auditor_only"
        )
    known_up_to_now(at, "the directory", "leave `at` out for the directory now")
    return DirectoryOut.of(application.directory.as_of(at), at)


async def _changed(
    context: ApiContext, chart: OrganisationChart, record: Callable[[OrganisationChart], object]
) -> DirectoryChange:
    """``record`` the chart, and what it changed (``BackofficeApplication.change_directory``)."""
    return await run_in_threadpool(context.application.change_directory, chart, _today(), record)


def _command(caller: str, what: str) -> Meta:
    return Meta(actor=caller, command_id=f"directory/{uuid.uuid4()}", correlation_id=f"api:{what}")


def _admin_only(context: ApiContext, caller: str) -> None:
    if not policy(context).may_change_directory(caller):
        raise ApiError(
            403, "only an administrator (role admin) changes the directory", "admin_only"
        )


CREATED: dict[int | str, dict[str, Any]] = {
    201: {"model": DirectoryChangedOut, "description": "A new entry: made, and where it is"}
}


@router.put(
    "/employees/{employee_id}",
    responses={**error_responses(403), **CREATED},
    summary="Register or change an employee",
)
async def put_employee(
    employee_id: str, body: EmployeeIn, caller: Caller, context: Context, response: Response
) -> DirectoryChangedOut:
    """`admin` only, and not for their own record or to become someone's manager
    (another administrator does that). The body is the employee's entry of the
    organisation file (its `id` may be left out: the path names the employee), read as
    the file reads it: every field but `end_date` is the
    whole truth; `end_date` left out keeps the last day recorded, and `null` clears it
    (which lets someone who has left sign in again). Records only the fields that
    change, and the answer names them (`changes`)."""
    _admin_only(context, caller)
    body = _with_path_id(body, employee_id)
    application = context.application
    chart = OrganisationChart(
        employees=[body.to_profile()],
        keeps_end_date=frozenset() if body.states_end_date else frozenset([employee_id]),
    )
    access = policy(context)
    [profile] = chart.with_recorded_end_dates(access.directory).employees
    access.check_no_self_administration(caller, employee=profile)
    meta = _command(caller, "employee")
    change = await _changed(context, chart, lambda chart: application.load_directory(chart, meta))
    await caught_up(context, application.recorder.max_notification_id() or 0)
    _created(response, change, "employee", "employees", employee_id)
    return DirectoryChangedOut.after(application.directory.current(), change)


@router.put(
    "/departments/{department_id}",
    responses={**error_responses(403), **CREATED},
    summary="Register or change a department",
)
async def put_department(
    department_id: str, body: DepartmentIn, caller: Caller, context: Context, response: Response
) -> DirectoryChangedOut:
    """`admin` only. The body is the department's entry of the organisation file."""
    _admin_only(context, caller)
    body = _with_path_id(body, department_id)
    meta = _command(caller, "department")
    details = body.to_details()
    application = context.application
    chart = OrganisationChart(employees=[], departments=[details])
    change = await _changed(context, chart, lambda _: application.put_department(details, meta))
    _created(response, change, "department", "departments", department_id)
    return DirectoryChangedOut.after(application.directory.current(), change)


def _created(
    response: Response, change: DirectoryChange, kind: str, collection: str, entry_id: str
) -> None:
    """201 and where it is, when the PUT made the entry rather than changed it."""
    if Change(f"{kind} {entry_id}", NEW) in change.changes:
        response.status_code = 201
        response.headers["Location"] = f"/api/directory/{collection}/{quote(entry_id, safe='')}"


@router.put("/roles/{role}", responses=error_responses(403), summary="Set a role's members")
async def put_role(
    role: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]*$", max_length=50)],
    body: RoleIn,
    caller: Caller,
    context: Context,
) -> DirectoryChangedOut:
    """`admin` only, and not to grant or take their own role. The members given hold
    the role from now on; others lose it."""
    _admin_only(context, caller)
    policy(context).check_no_self_administration(caller, role=(role, body.members))
    meta = _command(caller, "role")
    application = context.application
    chart = OrganisationChart(employees=[], roles={role: body.members})
    change = await _changed(
        context, chart, lambda _: application.set_role_members(role, body.members, meta)
    )
    return DirectoryChangedOut.after(application.directory.current(), change)


@router.put(
    "/limits/{process}", responses=error_responses(403), summary="Set a process's approval limits"
)
async def put_limits(
    process: str, body: LimitsIn, caller: Caller, context: Context
) -> DirectoryChangedOut:
    """`admin` only, and not to set a limit they hold. The delegation-of-authority
    matrix of one process, whole."""
    _admin_only(context, caller)
    limits: list[Limit] = []
    for entry in body.limits:
        if entry.process != process:
            raise ApiError(
                422, f"a limit for {entry.process} in the matrix of {process}", "process_mismatch"
            )
        limits.append(entry.to_limit())
    policy(context).check_no_self_administration(caller, limits=limits)
    meta = _command(caller, "limits")
    application = context.application
    chart = OrganisationChart(employees=[], limits=limits)
    change = await _changed(
        context, chart, lambda _: application.set_process_limits(process, limits, meta)
    )
    return DirectoryChangedOut.after(application.directory.current(), change)


@router.post(
    "/delegations", status_code=201, responses=error_responses(403), summary="Delegate while away"
)
async def post_delegation(
    body: DelegationEntry, caller: Caller, context: Context
) -> DirectoryChangedOut:
    """While away, let a colleague decide your tasks between two dates (the same id again
    changes its dates or delegate). People delegate their own tasks; `admin` anyone's,
    never to themselves. A delegation that could never be used is refused (422): one that
    ended before today (`delegation_in_the_past`), or whose delegate or delegator has left
    by its start (`delegate_has_left`, `delegator_has_left`). The answer warns of one that
    overlaps another of the same person, or whose delegate leaves before it ends."""
    if not policy(context).may_delegate(caller, body.delegator, body.delegate):
        raise ApiError(403, "you may only delegate your own tasks", "own_delegations_only")
    meta = _command(caller, "delegation")
    terms = body.to_terms()
    application = context.application
    chart = OrganisationChart(employees=[], delegations=[terms])
    change = await _changed(context, chart, lambda _: application.grant_delegation(terms, meta))
    return DirectoryChangedOut.after(application.directory.current(), change)


@router.delete(
    "/delegations/{delegation_id}",
    status_code=204,
    responses=error_responses(404),
    summary="End a delegation",
)
async def delete_delegation(delegation_id: str, caller: Caller, context: Context) -> Response:
    """The delegator or `admin` revokes a delegation; 404 to anybody else."""
    terms = context.application.directory.current().delegations.get(delegation_id)
    if terms is None or not policy(context).may_revoke_delegation(caller, terms.delegator_id):
        raise not_found("delegation")
    meta = _command(caller, "delegation")
    await run_in_threadpool(context.application.revoke_delegation, delegation_id, meta)
    return Response(status_code=204)
