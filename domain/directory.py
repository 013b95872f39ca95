"""The directory: who works where, who holds which role, who may approve how much,
and who acts for whom while someone is away.

Employees are :class:`~domain.employee.Employee` aggregates. Beside them:

- :class:`Department`: a name, a head and a cost centre;
- :class:`Role`: the members of a role (``hr``, ``finance``, ``auditor``, ...);
- :class:`ApprovalLimits`: one process's delegation-of-authority matrix, the amount
  up to which a role or a person may approve;
- :class:`Delegation`: out of office, someone's tasks may be decided by a delegate
  between two dates.

Every change is an event. :class:`Directory` is the fold of all of them: the
directory now, or as it was at any instant (fold the events up to it).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.base import IdempotentAggregate, changed_fields
from domain.employee import Employee, EmployeeProfile
from domain.errors import RuleViolation
from domain.meta import Meta

KNOWN_ROLES = ("hr", "finance", "procurement", "cfo", "auditor", "admin")
"""The roles the product gives meaning to; a directory may name others."""


@dataclass(frozen=True)
class DepartmentDetails:
    department_id: str
    name: str
    head_id: str | None
    cost_centre: str

    def to_event_data(self) -> dict[str, Any]:
        return {"name": self.name, "head_id": self.head_id, "cost_centre": self.cost_centre}


@dataclass(frozen=True)
class Limit:
    """Up to ``amount`` in ``currency`` for ``process``, held by a role or by one person.
    ``holder`` is ``role:NAME`` or ``employee:ID``."""

    process: str
    holder: str
    amount: Decimal
    currency: str

    @staticmethod
    def role_holder(role: str) -> str:
        return f"role:{role}"

    @staticmethod
    def employee_holder(employee_id: str) -> str:
        return f"employee:{employee_id}"


@dataclass(frozen=True)
class DelegationTerms:
    """While ``starts <= day <= ends``, ``delegate_id`` may act for ``delegator_id``."""

    delegation_id: str
    delegator_id: str
    delegate_id: str
    starts: date
    ends: date

    def active_on(self, day: date) -> bool:
        return self.starts <= day <= self.ends


class Department(IdempotentAggregate):
    """A department, identified by the organisation's code (``d-eng``)."""

    class Registered(IdempotentAggregate.Created):
        department_id: str
        details: dict[str, Any]

    class DetailsChanged(IdempotentAggregate.Event):
        changes: dict[str, Any]

    @staticmethod
    def create_id(department_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/departments/{department_id}")

    @event(Registered)
    def __init__(self, department_id: str, details: dict[str, Any], meta: Meta) -> None:
        super().__init__(meta)
        self.department_id = department_id
        self.details = dict(details)  # the event keeps its own (kept events are shared)

    def update(self, details: DepartmentDetails, meta: Meta) -> None:
        changes = changed_fields(self.details, details.to_event_data())
        if changes and not self.has_applied(meta):
            self._changed(changes=changes, meta=meta)

    @event(DetailsChanged)
    def _changed(self, changes: dict[str, Any], meta: Meta) -> None:
        self.details = {**self.details, **changes}


class Role(IdempotentAggregate):
    """Who holds a role."""

    class Defined(IdempotentAggregate.Created):
        name: str

    class MembersChanged(IdempotentAggregate.Event):
        granted: list[str]
        revoked: list[str]

    @staticmethod
    def create_id(name: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/roles/{name}")

    @event(Defined)
    def __init__(self, name: str, meta: Meta) -> None:
        super().__init__(meta)
        self.name = name
        self.members: list[str] = []

    def set_members(self, members: Iterable[str], meta: Meta) -> None:
        """Grant the role to the new members and take it from the ones not listed."""
        wanted = sorted(set(members))
        granted = [member for member in wanted if member not in self.members]
        revoked = [member for member in self.members if member not in wanted]
        if (granted or revoked) and not self.has_applied(meta):
            self._members_changed(granted=granted, revoked=revoked, meta=meta)

    @event(MembersChanged)
    def _members_changed(self, granted: list[str], revoked: list[str], meta: Meta) -> None:
        self.members = sorted({*self.members, *granted} - set(revoked))


class ApprovalLimits(IdempotentAggregate):
    """One process's delegation-of-authority matrix: holder -> (amount, currency)."""

    class Started(IdempotentAggregate.Created):
        process: str

    class LimitSet(IdempotentAggregate.Event):
        holder: str
        amount: Decimal
        currency: str

    class LimitRemoved(IdempotentAggregate.Event):
        holder: str

    @staticmethod
    def create_id(process: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/approval-limits/{process}")

    @event(Started)
    def __init__(self, process: str, meta: Meta) -> None:
        super().__init__(meta)
        self.process = process
        self.limits: dict[str, tuple[Decimal, str]] = {}

    def set_limits(self, limits: Iterable[Limit], meta: Meta) -> None:
        """Make the matrix exactly ``limits``: set the new and changed, remove the rest."""
        wanted = {limit.holder: (limit.amount, limit.currency) for limit in limits}
        if self.has_applied(meta):
            return
        for holder, (amount, currency) in wanted.items():
            if self.limits.get(holder) != (amount, currency):
                self._limit_set(holder=holder, amount=amount, currency=currency, meta=meta)
        for holder in [holder for holder in self.limits if holder not in wanted]:
            self._limit_removed(holder=holder, meta=meta)

    @event(LimitSet)
    def _limit_set(self, holder: str, amount: Decimal, currency: str, meta: Meta) -> None:
        self.limits[holder] = (amount, currency)

    @event(LimitRemoved)
    def _limit_removed(self, holder: str, meta: Meta) -> None:
        del self.limits[holder]


FROM_FILE = "file"
FROM_API = "api"
"""Where a delegation was made: loading the organisation file revokes only the
delegations the file made, never those people made for themselves through the API."""


class Delegation(IdempotentAggregate):
    """An out-of-office delegation; revoked, it no longer lets the delegate act."""

    class Granted(IdempotentAggregate.Created):
        delegation_id: str
        delegator_id: str
        delegate_id: str
        starts: date
        ends: date
        source: str

    class Changed(IdempotentAggregate.Event):
        delegate_id: str
        starts: date
        ends: date

    class Revoked(IdempotentAggregate.Event):
        pass

    @staticmethod
    def create_id(delegation_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/delegations/{delegation_id}")

    @event(Granted)
    def __init__(
        self,
        delegation_id: str,
        delegator_id: str,
        delegate_id: str,
        starts: date,
        ends: date,
        meta: Meta,
        source: str = FROM_FILE,
    ) -> None:
        super().__init__(meta)
        self.terms = DelegationTerms(delegation_id, delegator_id, delegate_id, starts, ends)
        self.revoked = False
        self.source = source

    def change(self, terms: DelegationTerms, meta: Meta) -> None:
        """New dates or a new delegate for the same delegation id (a delegator is fixed)."""
        if terms.delegator_id != self.terms.delegator_id:
            raise RuleViolation(  # without naming whose it is: ids reveal nothing
                "delegation_id_taken",
                f"the delegation id {terms.delegation_id} is taken; choose another",
            )
        if (terms != self.terms or self.revoked) and not self.has_applied(meta):
            self._changed(
                delegate_id=terms.delegate_id, starts=terms.starts, ends=terms.ends, meta=meta
            )

    @event(Changed)
    def _changed(self, delegate_id: str, starts: date, ends: date, meta: Meta) -> None:
        self.terms = replace(self.terms, delegate_id=delegate_id, starts=starts, ends=ends)
        self.revoked = False

    def revoke(self, meta: Meta) -> None:
        if not self.revoked and not self.has_applied(meta):
            self._revoked(meta=meta)

    @event(Revoked)
    def _revoked(self, meta: Meta) -> None:
        self.revoked = True


def check_delegation(terms: DelegationTerms) -> None:
    if terms.delegator_id == terms.delegate_id:
        raise RuleViolation(
            "delegation_to_self",
            f"delegation {terms.delegation_id}: nobody delegates to themselves",
        )
    if terms.ends < terms.starts:
        raise RuleViolation(
            "delegation_ends_before_start",
            f"delegation {terms.delegation_id}: it ends before it starts",
        )


@dataclass
class Directory:
    """The whole directory, as folded from its events (see :meth:`apply`).

    Pure: give it the events up to an instant and it is the directory as of that
    instant. Everything the policy asks (roles, managers, limits, delegations) is here.
    """

    employees: dict[str, EmployeeProfile] = field(default_factory=dict)
    departments: dict[str, DepartmentDetails] = field(default_factory=dict)
    roles: dict[str, set[str]] = field(default_factory=dict)
    limits: dict[tuple[str, str], Limit] = field(default_factory=dict)
    delegations: dict[str, DelegationTerms] = field(default_factory=dict)
    """Delegations in force (not revoked), by id; whether active on a day: ``active_on``."""
    delegation_sources: dict[str, str] = field(default_factory=dict)
    """Where each delegation was made: ``file`` or ``api``."""
    _department_ids: dict[UUID, str] = field(default_factory=dict, repr=False)
    _employee_ids: dict[UUID, str] = field(default_factory=dict, repr=False)
    _role_names: dict[UUID, str] = field(default_factory=dict, repr=False)
    _processes: dict[UUID, str] = field(default_factory=dict, repr=False)
    revoked_delegations: dict[str, DelegationTerms] = field(default_factory=dict)
    """Delegations revoked and not given again, by id, with the terms they had."""
    _delegation_ids: dict[UUID, str] = field(default_factory=dict, repr=False)

    # -- folding -----------------------------------------------------------------

    def apply(self, event: object) -> None:
        """Change the directory as ``event`` says; events of other aggregates are ignored."""
        match event:
            case Employee.Registered():
                self._employee_ids[event.originator_id] = event.employee_id
                self.employees[event.employee_id] = EmployeeProfile.from_event_data(event.profile)
            case Employee.DetailsChanged():
                employee_id = self._employee_ids[event.originator_id]
                data = {**self.employees[employee_id].to_event_data(), **event.changes}
                self.employees[employee_id] = EmployeeProfile.from_event_data(data)
            case Department.Registered():
                self._department_ids[event.originator_id] = event.department_id
                self.departments[event.department_id] = DepartmentDetails(
                    event.department_id, **event.details
                )
            case Department.DetailsChanged():
                department_id = self._department_ids[event.originator_id]
                self.departments[department_id] = replace(
                    self.departments[department_id], **event.changes
                )
            case Role.Defined():
                self._role_names[event.originator_id] = event.name
                self.roles[event.name] = set()
            case Role.MembersChanged():
                members = self.roles[self._role_names[event.originator_id]]
                members.update(event.granted)
                members.difference_update(event.revoked)
            case ApprovalLimits.Started():
                self._processes[event.originator_id] = event.process
            case ApprovalLimits.LimitSet():
                process = self._processes[event.originator_id]
                self.limits[process, event.holder] = Limit(
                    process, event.holder, event.amount, event.currency
                )
            case ApprovalLimits.LimitRemoved():
                self.limits.pop((self._processes[event.originator_id], event.holder), None)
            case Delegation.Granted():
                terms = DelegationTerms(
                    event.delegation_id,
                    event.delegator_id,
                    event.delegate_id,
                    event.starts,
                    event.ends,
                )
                self._delegation_ids[event.originator_id] = terms.delegation_id
                self.delegations[terms.delegation_id] = terms
                self.delegation_sources[terms.delegation_id] = getattr(event, "source", FROM_FILE)
            case Delegation.Changed():
                delegation_id = self._delegation_ids[event.originator_id]
                before = self.delegations.get(delegation_id)
                before = before or self.revoked_delegations.pop(delegation_id)
                self.delegations[delegation_id] = replace(
                    before, delegate_id=event.delegate_id, starts=event.starts, ends=event.ends
                )
            case Delegation.Revoked():
                delegation_id = self._delegation_ids[event.originator_id]
                self.revoked_delegations[delegation_id] = self.delegations.pop(delegation_id)

    # -- questions -------------------------------------------------------------------

    def knows(self, employee_id: str) -> bool:
        return employee_id in self.employees

    def roles_of(self, employee_id: str) -> set[str]:
        return {role for role, members in self.roles.items() if employee_id in members}

    def has_role(self, employee_id: str, role: str) -> bool:
        return employee_id in self.roles.get(role, ())

    def managers_of(self, employee_id: str) -> list[str]:
        """The employee's manager, their manager, and so on to the top."""
        chain: list[str] = []
        profile = self.employees.get(employee_id)
        manager = None if profile is None else profile.manager_id
        while manager is not None and manager not in chain:
            chain.append(manager)
            above = self.employees.get(manager)
            manager = None if above is None else above.manager_id
        return chain

    def nearest_manager_still_here(self, employee_id: str, day: date) -> str | None:
        """The nearest manager up the chain who has not left by ``day``; None if none."""
        return next((m for m in self.managers_of(employee_id) if not self._has_left(m, day)), None)

    def escalation_targets(
        self,
        people: Iterable[str],
        deciders: Collection[str],
        requester_id: str,
        day: date,
        *,
        asked_by: str | None = None,
    ) -> list[str]:
        """Whom a task goes up to: above each of ``people``, the nearest manager still here
        on ``day``; where that gives nobody, the requester's nearest (their chain may have
        changed since the task was given). Never the requester, nor whoever asked for the
        case for them (``asked_by``), nor one of ``deciders`` (who may decide it already)."""

        def fits(manager: str | None) -> bool:
            return (
                manager is not None
                and manager not in (requester_id, asked_by)
                and manager not in deciders
            )

        targets: list[str] = []
        for person in people:
            manager = self.nearest_manager_still_here(person, day)
            if manager is not None and fits(manager) and manager not in targets:
                targets.append(manager)
        fallback = self.nearest_manager_still_here(requester_id, day)
        if not targets and fallback is not None and fits(fallback):
            targets.append(fallback)
        return targets

    def has_reports(self, employee_id: str) -> bool:
        return any(profile.manager_id == employee_id for profile in self.employees.values())

    def acting_for(self, delegate_id: str, day: date) -> list[str]:
        """Whose tasks ``delegate_id`` may decide on ``day`` (active delegations to them)."""
        return sorted(
            {
                terms.delegator_id
                for terms in self.delegations.values()
                if terms.delegate_id == delegate_id
                and terms.active_on(day)
                and not self._has_left(terms.delegator_id, day)
            }
        )

    def _has_left(self, employee_id: str, day: date) -> bool:
        profile = self.employees.get(employee_id)
        return profile is None or profile.has_left_by(day)

    def delegation_for(self, delegator_id: str, delegate_id: str, day: date) -> str | None:
        """The id of a delegation letting ``delegate_id`` act for ``delegator_id`` on
        ``day``, or None."""
        for terms in sorted(self.delegations.values(), key=lambda terms: terms.delegation_id):
            if (
                terms.delegator_id == delegator_id
                and terms.delegate_id == delegate_id
                and terms.active_on(day)
                and not self._has_left(delegator_id, day)
            ):
                return terms.delegation_id
        return None

    def approval_limits(self, employee_id: str, process: str) -> list[Limit]:
        """Every limit ``employee_id`` holds for ``process``: their own and their roles'."""
        holders = [
            Limit.employee_holder(employee_id),
            *(Limit.role_holder(role) for role in sorted(self.roles_of(employee_id))),
        ]
        return [self.limits[process, key] for key in holders if (process, key) in self.limits]

    def approval_limit(self, employee_id: str, process: str, currency: str) -> Limit | None:
        """The highest amount in ``currency`` that ``employee_id`` may approve for
        ``process``: their own limit or their roles'. None when they hold none."""
        found = [
            limit
            for limit in self.approval_limits(employee_id, process)
            if limit.currency == currency
        ]
        return max(found, key=lambda limit: limit.amount, default=None)

    def approver_for(
        self, requester_id: str, process: str, amount: Decimal, currency: str
    ) -> str | None:
        """The first manager up the requester's chain whose limit for ``process`` covers
        ``amount`` in ``currency``; None when nobody in the chain may approve it."""
        for manager in self.managers_of(requester_id):
            limit = self.approval_limit(manager, process, currency)
            if limit is not None and limit.amount >= amount:
                return manager
        return None


DIRECTORY_AGGREGATES: tuple[type[IdempotentAggregate], ...] = (
    Employee,
    Department,
    Role,
    ApprovalLimits,
    Delegation,
)
"""The aggregates whose events make up the directory."""
