"""Who may do what: the one place that decides every access.

Routes and pages ask a :class:`Policy` (the directory at an instant, and that
instant's date); they never re-implement a rule. The rules:

- a requester sees their own cases; whoever a task is given or escalated to sees
  that case, and so does an active delegate of theirs; managers see their reports'
  cases up the chain; ``hr`` sees every leave case; ``auditor`` reads everything
  and changes nothing; ``admin`` manages the directory and nothing else by virtue
  of the role;
- nobody decides a task on their own case, neither directly nor as a delegate;
- a task is decided by an assignee, an escalation assignee, or an active delegate
  of one of them (the decision is then recorded as "by X acting for Y");
- what a caller may not see does not exist for them: the API answers 404.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from domain.directory import Directory, Limit
from domain.employee import EmployeeProfile
from domain.errors import NotAllowed, NotFound

HR = "hr"
AUDITOR = "auditor"
ADMIN = "admin"

PROCESS_ROLES = {"leave": HR}
"""The role that sees every case of a process."""


@dataclass(frozen=True)
class CaseView:
    """What the policy needs to know of a case."""

    process: str
    requester_id: str
    task_people: Sequence[str]
    """Everyone any of its tasks was given or escalated to."""


@dataclass(frozen=True)
class Policy:
    directory: Directory
    today: date

    # -- who is asking -----------------------------------------------------------------

    def check_caller(self, employee_id: str) -> None:
        """Refuse a caller who is not (or no longer) an employee."""
        profile = self.directory.employees.get(employee_id)
        if profile is None:
            raise NotFound("unknown_employee", f"{employee_id} is not in the directory")
        if profile.has_left_by(self.today):
            raise NotAllowed("employment_ended", f"{employee_id} left on {profile.end_date}")

    def has_role(self, employee_id: str, role: str) -> bool:
        return self.directory.has_role(employee_id, role)

    def acting_for(self, employee_id: str) -> list[str]:
        """Whose tasks ``employee_id`` may decide today, as their delegate."""
        return self.directory.acting_for(employee_id, self.today)

    # -- cases -----------------------------------------------------------------------------

    def may_see_case(self, employee_id: str, case: CaseView) -> bool:
        if employee_id == case.requester_id or self.has_role(employee_id, AUDITOR):
            return True
        role = PROCESS_ROLES.get(case.process)
        if role is not None and self.has_role(employee_id, role):
            return True
        for person in (employee_id, *self.acting_for(employee_id)):
            if person in case.task_people:
                return True
        return employee_id in self.directory.managers_of(case.requester_id)

    def requesters_visible_to(self, employee_id: str, process: str) -> set[str] | None:
        """Whose cases of ``process`` the caller may list: None for everyone's, else
        themselves and their reports down the chain (tasks are listed in the inbox)."""
        role = PROCESS_ROLES.get(process)
        if self.has_role(employee_id, AUDITOR) or (
            role is not None and self.has_role(employee_id, role)
        ):
            return None
        return {
            other
            for other in self.directory.employees
            if other == employee_id or employee_id in self.directory.managers_of(other)
        }

    def decision_authority(
        self, employee_id: str, requester_id: str, eligible: Sequence[str]
    ) -> str | None:
        """Whom ``employee_id`` decides a task for: None when it is their own task, the
        delegator when they act as a delegate. Refuses their own case (NotAllowed) and
        a task that is not theirs (NotFound: they do not see it)."""
        if employee_id == requester_id:
            raise NotAllowed("no_self_approval", "nobody may decide a task on their own case")
        if employee_id in eligible:
            return None
        for delegator in self.acting_for(employee_id):
            if delegator in eligible and delegator != requester_id:
                return delegator
        raise NotFound("task_not_found", "no such task")

    # -- people and the directory ------------------------------------------------------

    def may_see_balance(self, employee_id: str, of: str) -> bool:
        return (
            employee_id == of
            or self.has_role(employee_id, HR)
            or self.has_role(employee_id, AUDITOR)
            or employee_id in self.directory.managers_of(of)
        )

    def may_see_team(self, employee_id: str) -> bool:
        return self.directory.has_reports(employee_id)

    def may_read_directory_history(self, employee_id: str) -> bool:
        """The directory as of a past instant: for auditors and administrators."""
        return self.has_role(employee_id, AUDITOR) or self.has_role(employee_id, ADMIN)

    def may_change_directory(self, employee_id: str) -> bool:
        return self.has_role(employee_id, ADMIN)

    def may_delegate(self, employee_id: str, delegator_id: str, delegate_id: str) -> bool:
        """Out of office: people delegate their own tasks; administrators anyone's, but
        never to themselves (the role gives no authority to decide)."""
        if employee_id == delegator_id:
            return True
        return self.may_change_directory(employee_id) and delegate_id != employee_id

    def may_revoke_delegation(self, employee_id: str, delegator_id: str) -> bool:
        return employee_id == delegator_id or self.may_change_directory(employee_id)

    def check_no_self_administration(
        self,
        admin_id: str,
        *,
        employee: EmployeeProfile | None = None,
        role: tuple[str, list[str]] | None = None,
        limits: Sequence[Limit] = (),
    ) -> None:
        """An administrator changes the directory, never their own authority: not their
        own record, not a reporting line to themselves, not their own roles, not a limit
        they would hold. (Another administrator may.)"""
        directory = self.directory
        if employee is not None:
            recorded = directory.employees.get(employee.employee_id)
            already = recorded is not None and recorded.manager_id == admin_id
            if employee.employee_id == admin_id or (
                employee.manager_id == admin_id and not already
            ):
                raise NotAllowed(
                    "no_self_administration",
                    "an administrator may not change their own record or make themselves"
                    " someone's manager; another administrator may",
                )
        if role is not None:
            name, members = role
            if (admin_id in members) != directory.has_role(admin_id, name):
                raise NotAllowed(
                    "no_self_administration",
                    f"an administrator may not grant or take their own role {name};"
                    " another administrator may",
                )
        held = {Limit.employee_holder(admin_id)} | {
            Limit.role_holder(role) for role in directory.roles_of(admin_id)
        }
        for limit in limits:
            if (
                limit.holder in held
                and directory.limits.get((limit.process, limit.holder)) != limit
            ):
                raise NotAllowed(
                    "no_self_administration",
                    f"an administrator may not set a limit they hold ({limit.holder});"
                    " another administrator may",
                )


def authority_of(
    directory: Directory, actor: str, on_behalf_of: str | None, process: str, day: date
) -> dict[str, object]:
    """Under which authority ``actor`` acted on ``day``, from the directory as of then:
    the delegation they acted under, their roles, and the approval limits for
    ``process`` they acted with (for a delegate: the delegator's)."""
    whose = on_behalf_of or actor
    return {
        "acting_for": on_behalf_of,
        "delegation": None
        if on_behalf_of is None
        else directory.delegation_for(on_behalf_of, actor, day),
        "roles": sorted(directory.roles_of(actor)),
        "approval_limits": [
            {"holder": limit.holder, "up_to": str(limit.amount), "currency": limit.currency}
            for limit in directory.approval_limits(whose, process)
        ],
    }


def check_acting_for(directory: Directory, actor: str, on_behalf_of: str, day: date) -> str:
    """The id of the delegation that lets ``actor`` act for ``on_behalf_of`` on ``day``;
    NotAllowed when none does (checked again when a decision is recorded)."""
    delegation = directory.delegation_for(on_behalf_of, actor, day)
    if delegation is None:
        raise NotAllowed(
            "no_delegation", f"{actor} has no delegation to act for {on_behalf_of} on {day}"
        )
    return delegation
