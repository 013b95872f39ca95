"""The Backoffice event-sourced application: every use case that records events.

Each use case loads aggregates, calls one command on them and saves them in
one ``save()`` so they commit together. Commands carry :class:`Meta`, whose
``command_id`` makes a retried use case record nothing new.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Concatenate, ParamSpec, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Recording

from domain.base import one_instant
from domain.case import DECIDERS_LEFT, OVERDUE, Decision, TaskDeciders
from domain.directory import (
    FROM_API,
    FROM_FILE,
    ApprovalLimits,
    Delegation,
    DelegationTerms,
    Department,
    DepartmentDetails,
    Directory,
    Limit,
    Role,
)
from domain.employee import Employee, EmployeeProfile
from domain.errors import NotAllowed, NotFound, RuleViolation
from domain.leave import ZERO, LeavePeriod, LeaveType
from domain.leave_account import Balance, LeaveAccount
from domain.leave_request import LeaveRequest, check_submission
from domain.meta import Meta
from domain.organisation import OrganisationChart, check_chart, check_directory
from domain.policy import HR, check_acting_for
from domain.refusals import Refusal
from services.aggregate_cache import CachingRepository
from services.directory import DirectoryChange, DirectoryReader
from services.transcodings import DateAsISO, MetaAsDict

A = TypeVar("A", bound=Aggregate)
P = ParamSpec("P")
R = TypeVar("R")
K = TypeVar("K", bound=Hashable)


def approval_task_id(case_id: UUID) -> str:
    """Task ids are unique across cases and name their case: ``{case_id}.approval``."""
    return f"{case_id}.approval"


def case_id_of_task(task_id: str) -> UUID | None:
    """The case a task id belongs to, or None for an id that is not a task's (a case's
    id alone names no task)."""
    case_part, _, step = task_id.partition(".")
    if not step:
        return None
    try:
        return UUID(case_part)
    except ValueError:
        return None


ESCALATION_BUSINESS_DAYS = 2


def at_one_instant(
    use_case: Callable[Concatenate[BackofficeApplication, P], R],
) -> Callable[Concatenate[BackofficeApplication, P], R]:
    """A use case whose events all carry one instant (``domain.base.one_instant``)."""

    @functools.wraps(use_case)
    def run(app: BackofficeApplication, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with one_instant():
            return use_case(app, *args, **kwargs)

    return run


SAVE_ATTEMPTS = 10
"""How often a use case is made at most when other processes keep saving the same
aggregate first (each attempt after a short, random wait, so that they spread)."""


def made_again_on_conflict(
    use_case: Callable[Concatenate[BackofficeApplication, P], R],
) -> Callable[Concatenate[BackofficeApplication, P], R]:
    """A use case that reads what is stored, not kept events (the directory's), made
    again, at a new instant, on what the store holds when another process saved one of
    its aggregates between its reading and its saving (the stream's version is taken)."""
    return functools.wraps(use_case)(_again_on_conflict(at_one_instant(use_case)))


def _again_on_conflict(
    attempt: Callable[Concatenate[BackofficeApplication, P], R],
) -> Callable[Concatenate[BackofficeApplication, P], R]:
    """``attempt`` made again, up to :data:`SAVE_ATTEMPTS` in all, while its save finds
    a stream's version taken by another save."""

    def run(app: BackofficeApplication, /, *args: P.args, **kwargs: P.kwargs) -> R:
        for tried in range(1, SAVE_ATTEMPTS):
            try:
                return attempt(app, *args, **kwargs)
            except IntegrityError:
                time.sleep(random.uniform(0, 0.005 * tried))
        return attempt(app, *args, **kwargs)

    return run


def command(
    use_case: Callable[Concatenate[BackofficeApplication, P], R],
) -> Callable[Concatenate[BackofficeApplication, P], R]:
    """A use case that trusts the aggregates it saves as kept in memory, and runs
    again on what the store holds if that fails (``CachingRepository.optimistically``),
    and again while other saves (other threads' or processes' commands on the same
    account) keep taking its stream's version first; the events of each run carry that
    run's instant (a later run follows what another saved meanwhile, in time as in the
    log)."""
    attempt = at_one_instant(use_case)

    def optimistically(app: BackofficeApplication, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return app.repository.optimistically(lambda: attempt(app, *args, **kwargs))

    return functools.wraps(use_case)(_again_on_conflict(optimistically))


@dataclass(frozen=True)
class Saved:
    """What a use case returns: the case after the command, and the log position
    a reader must reach to see it (for read-your-writes). The case is exactly as the
    log up to that position leaves it, so a later position never comes with an older
    case."""

    case: LeaveRequest
    position: int


class BackofficeApplication(Application[UUID]):
    """All aggregates of the engine, in one event store with one notification log."""

    name = "Backoffice"

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__(env)
        self.directory = DirectoryReader(self.recorder, self.mapper)
        """The directory now (``current()``) or as of an instant (``as_of(t)``)."""
        self._saved_listeners: list[Callable[[int], None]] = []

    def on_saved(self, listener: Callable[[int], None]) -> Callable[[], None]:
        """Call ``listener(position)`` after each save of this application (a projection
        runner in this process wakes at once instead of at its next poll); returns the
        function that stops it."""
        self._saved_listeners.append(listener)
        return lambda: self._saved_listeners.remove(listener)

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        if recordings and self._saved_listeners:
            position = max(recording.notification.id for recording in recordings)
            for listener in list(self._saved_listeners):
                listener(position)

    repository: CachingRepository

    def construct_repository(self) -> CachingRepository:
        return CachingRepository(self.events)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        transcoder.register(MetaAsDict())

    # -- saving ------------------------------------------------------------------

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        try:
            recordings = super()._record(processing_event)
        except Exception:
            self.repository.forget(processing_event.aggregates)
            raise
        self.repository.remember(processing_event.events)
        return recordings

    def _save(self, *aggregates: Aggregate) -> int:
        self.repository.check_saved(a.id for a in aggregates if a.pending_events)
        # The library's save(), without ProcessingEvent.collect_events' runtime-protocol
        # isinstance checks (two per aggregate, a twentieth of a command's time): these
        # are always the library's aggregates.
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for aggregate in aggregates:
            processing_event.events.extend(aggregate.collect_events())
            processing_event.aggregates[aggregate.id] = aggregate
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        if recordings:
            return max(recording.notification.id for recording in recordings)
        return self.recorder.max_notification_id() or 0

    def _save_case(self, case: LeaveRequest, *others: Aggregate) -> Saved:
        """Save a command on ``case`` (and ``others``, in one transaction): the case and
        the position of its events; for a command already applied, which saves nothing,
        the case as stored now (:meth:`_as_stored`)."""
        if any(aggregate.pending_events for aggregate in (case, *others)):
            return Saved(case, self._save(case, *others))
        self.repository.check_saved(())  # kept events trusted, no version checked
        return self._as_stored(case)

    def _as_stored(self, case: LeaveRequest) -> Saved:
        """``case``, just read, with a log position that shows exactly it: each of its
        events up to the position, none after. A workflow keeps the answer with the
        latest position (``ApprovalWorkflow.adopt``), so the end of the log read after
        the case was read will not do: another process may have saved a later event of
        it (a withdrawal) in between. Each round that reads again follows a new event of
        the case, which has few."""
        while True:
            position = self.recorder.max_notification_id() or 0
            stored = self.leave_request(case.id)  # the events kept, and any newer
            if stored.version == case.version:
                return Saved(case, position)
            case = stored

    def _get(self, aggregate_id: UUID, kind: type[A], what: str, *, for_update: bool = False) -> A:
        try:
            aggregate: Aggregate | None = self.repository.get(aggregate_id, for_update=for_update)
        except AggregateNotFoundError:
            raise NotFound(
                f"{what}_not_found", f"no {what.replace('_', ' ')} {aggregate_id}"
            ) from None
        if not isinstance(aggregate, kind):
            raise NotFound(f"{what}_not_found", f"no {what.replace('_', ' ')} {aggregate_id}")
        return aggregate

    # -- the organisation ----------------------------------------------------------

    def find_employee(self, employee_id: str) -> Employee | None:
        try:
            employee: Aggregate = self.repository.get(Employee.create_id(employee_id))
        except AggregateNotFoundError:
            return None
        return employee if isinstance(employee, Employee) else None

    def profile(self, employee_id: str) -> EmployeeProfile:
        employee = self.find_employee(employee_id)
        if employee is None:
            raise NotFound("employee_not_found", f"no employee {employee_id}")
        return employee.profile

    def managers_of(self, employee_id: str) -> list[str]:
        """The employee's manager, their manager, and so on to the top."""
        chain: list[str] = []
        manager = self.profile(employee_id).manager_id
        while manager is not None and manager not in chain:
            chain.append(manager)
            manager = self.profile(manager).manager_id
        return chain

    def approver_of(
        self, profile: EmployeeProfile, day: date, *, asked_by: str | None = None
    ) -> str | None:
        """The nearest manager up ``profile``'s chain still employed on ``day`` (those who
        have left are skipped: they can no longer sign in to decide) and not ``asked_by``
        (who asked for the case for them: nobody decides what they asked for); None if
        nobody. Reads each manager's profile only as far up as it must go."""
        seen = {profile.employee_id}
        manager = profile.manager_id
        while manager is not None and manager not in seen:
            above = self.profile(manager)
            if not above.has_left_by(day) and manager != asked_by:
                return manager
            seen.add(manager)
            manager = above.manager_id
        return None

    def load_organisation(self, profiles: Sequence[EmployeeProfile], meta: Meta) -> list[str]:
        """Record new employees and changed fields; all or nothing. Returns changed ids."""
        changes = self.load_directory(OrganisationChart(employees=profiles), meta)
        return [name.removeprefix("employee ") for name in changes]

    @made_again_on_conflict
    def load_directory(self, chart: OrganisationChart, meta: Meta) -> list[str]:
        """Record what ``chart`` changes in the directory, all in one transaction or
        nothing; returns what changed, such as ``employee e-100`` or ``role hr``."""

        kept = chart.keeps_end_date
        recorded = self.directory.current()
        chart = chart.with_recorded_end_dates(recorded)  # for the checks
        check_chart(chart, recorded)
        touched: list[tuple[str, Aggregate]] = []

        def keep(name: str, aggregate: Aggregate) -> None:
            if aggregate.pending_events:
                touched.append((name, aggregate))

        for details in chart.departments or ():
            keep(f"department {details.department_id}", self._department(details, meta))
        for profile in chart.employees:
            employee = self._employee(profile, meta, keep_end_date=profile.employee_id in kept)
            keep(f"employee {profile.employee_id}", employee)
        for role, members in sorted((chart.roles or {}).items()):
            keep(f"role {role}", self._role(role, members, meta))
        if chart.limits is not None:
            for process, limits in _by_process(chart.limits, self.directory.current()).items():
                keep(f"limits {process}", self._limits(process, limits, meta))
        if chart.delegations is not None:
            given = {terms.delegation_id for terms in chart.delegations}
            for terms in chart.delegations:
                keep(f"delegation {terms.delegation_id}", self._delegation(terms, meta))
            recorded = self.directory.current()
            made_by_file = {
                delegation_id
                for delegation_id in recorded.delegations
                if recorded.delegation_sources.get(delegation_id) == FROM_FILE
            }
            for delegation_id in sorted(made_by_file - given):
                delegation = self._get(
                    Delegation.create_id(delegation_id), Delegation, "delegation"
                )
                delegation.revoke(meta)
                keep(f"delegation {delegation_id}", delegation)
        self._save(*(aggregate for _name, aggregate in touched))
        return [name for name, _aggregate in touched]

    def change_directory(
        self,
        chart: OrganisationChart,
        today: date,
        record: Callable[[OrganisationChart], object],
    ) -> DirectoryChange:
        """:meth:`DirectoryReader.change`, warning too of what a last day it records
        leaves of its employee's own leave: days held after it, which only HR can now
        give back."""
        change = self.directory.change(chart, today, record)
        people = self.directory.current().employees
        leaving = [
            people[subject.partition(" ")[2]]
            for item in change.changes
            if (subject := item.subject).startswith("employee ")
            and any(field.name == "end_date" for field in item.fields)
            and subject.partition(" ")[2] in people
        ]
        warnings = [w for p in leaving if p.end_date for w in self._leave_after(p, today)]
        return replace(change, warnings=[*change.warnings, *warnings])

    def _leave_after(self, profile: EmployeeProfile, today: date) -> list[str]:
        """Each request of ``profile``'s holding days after their last day, and what can
        still be done about it."""
        account = self.leave_account(profile.employee_id)
        last_day = profile.end_date
        if account is None or last_day is None:
            return []
        warnings = []
        by_first_day = sorted(account.bookings.items(), key=lambda held: min(held[1].days))
        for case_id, booking in by_first_day:
            after = sorted(day for day in booking.days if day > last_day)
            if not after:
                continue
            days = _days(sum((booking.days[day] for day in after), Decimal(0)))
            held = f"after their last day ({last_day}), from {after[0]}"
            first = min(booking.days)
            who = profile.employee_id
            if not booking.approved:
                warnings.append(
                    f"{who}'s pending request {case_id} asks for {days} {held}; it can now"
                    " only be rejected, or withdrawn (hr may, saying why)"
                )
            elif first > today:
                end_it = f"end it early on {last_day}, or " if last_day >= first else ""
                warnings.append(
                    f"{who}'s approved leave {case_id} holds {days} {held}; hr may {end_it}"
                    f"cancel it before it starts on {first}"
                )
            else:
                warnings.append(
                    f"{who}'s approved leave {case_id} holds {days} {held}, and has started:"
                    f" hr may end it early on {max(last_day, first)}, giving the days after back"
                )
        return warnings

    def _employee(
        self, profile: EmployeeProfile, meta: Meta, *, keep_end_date: bool = False
    ) -> Employee:
        """``keep_end_date``: the last day as this employee's stream holds it, so that one
        recorded since the directory was read is kept (the save's version check covers
        the stream from here on)."""
        employee = self.find_employee(profile.employee_id)
        if employee is None:
            return Employee(profile.employee_id, profile.to_event_data(), meta)
        if keep_end_date:
            profile = replace(profile, end_date=employee.profile.end_date)
        employee.update(profile, meta)
        return employee

    def _department(self, details: DepartmentDetails, meta: Meta) -> Department:
        department = self._find(Department.create_id(details.department_id), Department)
        if department is None:
            return Department(details.department_id, details.to_event_data(), meta)
        department.update(details, meta)
        return department

    def _role(self, name: str, members: Iterable[str], meta: Meta) -> Role:
        role = self._find(Role.create_id(name), Role) or Role(name, meta)
        role.set_members(members, meta)
        return role

    def _limits(self, process: str, limits: Iterable[Limit], meta: Meta) -> ApprovalLimits:
        matrix = self._find(ApprovalLimits.create_id(process), ApprovalLimits)
        matrix = matrix or ApprovalLimits(process, meta)
        matrix.set_limits(limits, meta)
        return matrix

    def _delegation(
        self, terms: DelegationTerms, meta: Meta, source: str = FROM_FILE
    ) -> Delegation:
        delegation = self._find(Delegation.create_id(terms.delegation_id), Delegation)
        if delegation is None:
            return Delegation(
                terms.delegation_id,
                terms.delegator_id,
                terms.delegate_id,
                terms.starts,
                terms.ends,
                meta,
                source,
            )
        delegation.change(terms, meta)
        return delegation

    def _find(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, kind) else None

    # -- the directory, one change at a time (the API's admin routes) ---------------

    def put_employee(self, profile: EmployeeProfile, meta: Meta) -> int:
        """Register or change one employee; returns the log position to wait for."""
        self.load_directory(OrganisationChart(employees=[profile]), meta)
        return self.recorder.max_notification_id() or 0

    def put_department(self, details: DepartmentDetails, meta: Meta) -> int:
        self.load_directory(OrganisationChart(employees=[], departments=[details]), meta)
        return self.recorder.max_notification_id() or 0

    def set_role_members(self, role: str, members: list[str], meta: Meta) -> int:
        self.load_directory(OrganisationChart(employees=[], roles={role: members}), meta)
        return self.recorder.max_notification_id() or 0

    @made_again_on_conflict
    def set_process_limits(self, process: str, limits: list[Limit], meta: Meta) -> int:
        """Make one process's matrix exactly ``limits`` (each of them for ``process``)."""
        check_directory(OrganisationChart(employees=[], limits=limits), self.directory.current())
        return self._save(self._limits(process, limits, meta))

    @made_again_on_conflict
    def grant_delegation(self, terms: DelegationTerms, meta: Meta) -> int:
        """Record a delegation made through the API (loading the organisation file leaves
        it), or new terms for one with the same id."""
        chart = OrganisationChart(employees=[], delegations=[terms])
        check_directory(chart, self.directory.current())
        return self._save(self._delegation(terms, meta, FROM_API))

    @made_again_on_conflict
    def revoke_delegation(self, delegation_id: str, meta: Meta) -> int:
        delegation = self._get(Delegation.create_id(delegation_id), Delegation, "delegation")
        delegation.revoke(meta)
        return self._save(delegation)

    # -- leave -------------------------------------------------------------------------

    def leave_request(self, case_id: UUID, *, for_update: bool = False) -> LeaveRequest:
        """The case now; ``for_update``: a command's, which saves it (see ``command``)."""
        return self._get(case_id, LeaveRequest, "leave_request", for_update=for_update)

    def leave_account(self, employee_id: str, *, for_update: bool = False) -> LeaveAccount | None:
        try:
            account: Aggregate = self.repository.get(
                LeaveAccount.create_id(employee_id), for_update=for_update
            )
        except AggregateNotFoundError:
            return None
        return account if isinstance(account, LeaveAccount) else None

    def leave_balance(self, employee_id: str, year: int) -> Balance:
        profile = self.profile(employee_id)
        account = self.leave_account(employee_id)
        if account is None:  # nothing asked for yet
            return Balance(profile.entitlement_in(year), ZERO, ZERO)
        return account.balance(profile, year)

    @command
    def submit_leave_request(
        self,
        case_id: UUID,
        employee_id: str,
        leave_type: LeaveType,
        period: LeavePeriod,
        reason: str | None,
        meta: Meta,
        *,
        by_hr: bool = False,
    ) -> Saved:
        """Record a new leave request and hold its days, or refuse it naming the rule.
        The actor asks for their own leave, or (``by_hr``: holding the role) anyone's."""
        try:
            existing: Aggregate | None = self.repository.get(case_id)
        except AggregateNotFoundError:
            existing = None
        if isinstance(existing, LeaveRequest):
            return self._as_stored(existing)
        check_submission(employee_id, meta.actor, reason, by_hr=by_hr)
        if employee_id != meta.actor:
            self._check_hr(meta, by_hr)
        profile = self.profile(employee_id)
        today = datetime.now(UTC).date()
        if leave_type.needs_approval and profile.manager_id is None:
            raise RuleViolation(
                "no_approver",
                f"{employee_id} has no manager to approve {leave_type} leave; only leave that"
                " needs no approval (sick) can be recorded for them",
            )
        if leave_type.needs_approval and self.approver_of(profile, today) is None:
            raise RuleViolation(
                "no_approver",
                f"every manager above {employee_id} has left: nobody can approve {leave_type}"
                " leave until the directory names a manager for them",
            )
        asked_for = meta.actor != employee_id
        if (
            leave_type.needs_approval
            and asked_for
            and not self.approver_of(profile, today, asked_by=meta.actor)
        ):
            raise RuleViolation(
                "no_approver",
                f"nobody but you could approve {employee_id}'s {leave_type} leave, and nobody"
                " decides what they asked for: let another member of hr, or"
                f" {employee_id}, ask for it",
            )
        fractions = period.day_fractions(profile.calendar)
        account = self.leave_account(employee_id, for_update=True)
        account = account or LeaveAccount(employee_id, meta)
        account.reserve(
            str(case_id), leave_type, fractions, profile, meta, halves=period.half_days()
        )
        request = LeaveRequest(
            id=case_id,
            requester_id=employee_id,
            leave_type=leave_type,
            start=period.start,
            end=period.end,
            half_day_start=period.half_day_start,
            half_day_end=period.half_day_end,
            days={day.isoformat(): share for day, share in sorted(fractions.items())},
            reason=reason,
            meta=meta,
        )
        if not leave_type.needs_approval:
            informed = self.approver_of(profile, today)  # a manager who has left is not told
            if informed is not None:
                request.inform_manager(informed, meta)
        return self._save_case(request, account)

    @command
    def open_approval_task(self, case_id: UUID, now: datetime, meta: Meta) -> Saved:
        """Ask the requester's manager to decide (or the nearest one above who has not
        left by ``now`` and did not ask for the case for the requester; if there is none,
        still the requester's manager), due two business days from ``now``."""
        request = self.leave_request(case_id, for_update=True)
        if request.has_applied(meta):  # the same answer, whoever has left since
            return self._save_case(request)
        profile = self.profile(request.requester_id)
        # With every manager gone since the submission, the requester's own manager: a
        # refusal here would fail the workflow and strand the request with its days held.
        approver = (
            self.approver_of(profile, now.date(), asked_by=request.asked_by) or profile.manager_id
        )
        if approver is None:
            raise RuleViolation("no_approver", f"{request.requester_id} has no manager")
        due_at = profile.calendar.add_business_days(now, ESCALATION_BUSINESS_DAYS)
        title = (
            f"{profile.name}: {request.leave_type} leave {request.period.text()}"
            f" ({_days(request.working_days)})"
        )
        request.open_task(approval_task_id(case_id), title, [approver], due_at, meta)
        return self._save_case(request)

    @command
    def escalate_approval_task(
        self, case_id: UUID, task_id: str, now: datetime, meta: Meta
    ) -> Saved:
        """Add the assignees' managers (the nearest above each who has not left by
        ``now``) to an overdue task; nothing if there is nobody above."""
        request = self.leave_request(case_id, for_update=True)
        task = request.task(task_id)
        if task.is_open:  # not decided (or withdrawn) while it fell due
            self._escalate(request, task_id, task.assignees, now, meta, OVERDUE)
        return self._save_case(request)

    @command
    def reroute_approval_task(
        self, case_id: UUID, task_id: str, now: datetime, meta: Meta
    ) -> Saved:
        """If everyone who may decide the task has left by ``now``, send it up as
        :meth:`tasks_to_send_up` would choose it; nothing otherwise."""
        request = self.leave_request(case_id, for_update=True)
        task = request.task(task_id)
        directory = self.directory.current()
        if task.is_open and all(_gone(directory, p, now.date()) for p in task.eligible):
            self._escalate(request, task_id, task.eligible, now, meta, DECIDERS_LEFT)
        return self._save_case(request)

    def tasks_to_send_up(self, tasks: Mapping[K, TaskDeciders], today: date) -> list[K]:
        """Of open tasks (as the inbox knows them), those that nobody still employed on
        ``today`` may decide, and that a manager still here could take, by the rule
        :meth:`reroute_approval_task` applies. Someone the directory does not know counts
        as still here. One read of the directory for all of them."""
        return self._tasks_of_leavers(tasks, today, can_be_taken=True)

    def tasks_nobody_can_take(self, tasks: Mapping[K, TaskDeciders], today: date) -> list[K]:
        """Of open tasks, those that nobody still employed on ``today`` may decide and no
        manager still here could take: stuck until the directory names one, or HR
        withdraws the request."""
        return self._tasks_of_leavers(tasks, today, can_be_taken=False)

    def _tasks_of_leavers(
        self, tasks: Mapping[K, TaskDeciders], today: date, *, can_be_taken: bool
    ) -> list[K]:
        directory = self.directory.current()
        return [
            key
            for key, (requester_id, deciders) in tasks.items()
            if all(_gone(directory, person, today) for person in deciders)
            and bool(directory.escalation_targets(deciders, deciders, requester_id, today))
            is can_be_taken
        ]

    def _escalate(
        self,
        request: LeaveRequest,
        task_id: str,
        above: Iterable[str],
        now: datetime,
        meta: Meta,
        because: str,
    ) -> None:
        """Send the task up from ``above`` (:meth:`Directory.escalation_targets`)."""
        task = request.task(task_id)
        to = self.directory.current().escalation_targets(
            above, task.eligible, request.requester_id, now.date(), asked_by=request.asked_by
        )
        if to:
            request.escalate_task(task_id, to, meta, because=because)

    @command
    def decide_leave_request(
        self, case_id: UUID, task_id: str, decision: Decision, comment: str | None, meta: Meta
    ) -> Saved:
        """Record a decision: approval debits the balance, rejection gives the days back."""
        request = self.leave_request(case_id, for_update=True)
        account = self._account_of(request)
        if not request.has_applied(meta):
            if meta.on_behalf_of is not None:  # "X acting for Y": only under a delegation
                today = datetime.now(UTC).date()
                check_acting_for(self.directory.current(), meta.actor, meta.on_behalf_of, today)
            last_day = self.profile(request.requester_id).end_date
            request.decide(task_id, decision, comment, meta, last_day=last_day)
            if decision is Decision.APPROVE:
                account.confirm(str(case_id), meta)
            else:
                account.release(str(case_id), "rejected", meta)
        return self._save_case(request, account)

    @command
    def withdraw_leave_request(
        self, case_id: UUID, meta: Meta, *, reason: str | None = None, by_hr: bool = False
    ) -> Saved:
        """The requester withdraws a pending request, or HR (``by_hr``) for them with a
        reason; the days are given back."""
        request = self.leave_request(case_id, for_update=True)
        account = self._account_of(request)
        if not request.has_applied(meta):
            self._check_hr(meta, by_hr)
            request.withdraw(meta, reason=reason, by_hr=by_hr)
            account.release(str(case_id), "withdrawn", meta)
        return self._save_case(request, account)

    def _check_hr(self, meta: Meta, by_hr: bool) -> None:
        """The API said the actor holds the HR role; as a claimed delegation is, the record
        checks it."""
        if by_hr and not self.directory.current().has_role(meta.actor, HR):
            raise NotAllowed("not_hr", f"{meta.actor} does not hold the hr role")

    @command
    def cancel_leave_request(
        self,
        case_id: UUID,
        today: date,
        meta: Meta,
        *,
        reason: str | None = None,
        by_hr: bool = False,
    ) -> Saved:
        """The requester cancels, or HR (``by_hr``) for them with a reason; the days are
        given back."""
        request = self.leave_request(case_id, for_update=True)
        account = self._account_of(request)
        if not request.has_applied(meta):
            self._check_hr(meta, by_hr)
            request.cancel(today, meta, reason=reason, by_hr=by_hr)
            account.release(str(case_id), "cancelled", meta)
        return self._save_case(request, account)

    @command
    def shorten_leave_request(
        self,
        case_id: UUID,
        last_day: date,
        today: date,
        meta: Meta,
        *,
        reason: str | None = None,
        by_hr: bool = False,
        half_day_end: bool = False,
    ) -> Saved:
        """The requester ends their leave early, or HR (``by_hr``) for them with a
        reason; the days after ``last_day`` are given back, and with ``half_day_end``
        (back at noon) the afternoon of ``last_day``."""
        request = self.leave_request(case_id, for_update=True)
        account = self._account_of(request)
        if not request.has_applied(meta):
            self._check_hr(meta, by_hr)
            request.shorten(
                last_day, today, meta, reason=reason, by_hr=by_hr, half_day_end=half_day_end
            )
            account.shorten(str(case_id), last_day, meta, half_day_end=half_day_end)
        return self._save_case(request, account)

    @command
    def mark_leave_taken(self, case_id: UUID, meta: Meta) -> Saved:
        request = self.leave_request(case_id, for_update=True)
        request.mark_taken(meta)
        return self._save_case(request)

    # -- refusals ---------------------------------------------------------------------

    def record_refusal(
        self,
        case_id: UUID,
        process: str,
        operation: str,
        status: int,
        rule: str | None,
        detail: str,
        actor: str,
        correlation_id: str,
        on_behalf_of: str | None = None,
        command_id: str | None = None,
    ) -> int:
        """Keep a refused command on a case for the auditors, in a stream of its own
        (reading nothing); ``correlation_id``: the case's workflow; ``on_behalf_of``:
        whom a delegate acted for; ``command_id``: the command refused, kept once
        however often it is refused, or at once (a new one by default). The log
        position to wait for."""
        meta = Meta(
            actor=actor,
            command_id=command_id or f"refusal/{uuid4()}",
            correlation_id=correlation_id,
            on_behalf_of=on_behalf_of,
        )
        refusal = Refusal(str(case_id), process, operation, status, rule, detail, meta)
        try:
            return self._save(refusal)
        except IntegrityError:  # kept already, under this command id
            return self.recorder.max_notification_id() or 0
        finally:
            self.repository.forget((refusal.id,))  # never read again: keep cases instead

    def _account_of(self, request: LeaveRequest) -> LeaveAccount:
        account = self.leave_account(request.requester_id, for_update=True)
        if account is None:
            raise NotFound("leave_account_not_found", f"no leave account of {request.requester_id}")
        return account


def _by_process(limits: Iterable[Limit], recorded: Directory) -> dict[str, list[Limit]]:
    """The limits of each process the file names or the directory holds (a process
    left out of a ``limits`` section loses its limits)."""
    by_process: dict[str, list[Limit]] = {process: [] for process, _holder in recorded.limits}
    for limit in limits:
        by_process.setdefault(limit.process, []).append(limit)
    return by_process


def _gone(directory: Directory, employee_id: str, day: date) -> bool:
    """Whether ``employee_id`` has left by ``day`` (someone unknown has not)."""
    profile = directory.employees.get(employee_id)
    return profile is not None and profile.has_left_by(day)


def _days(count: Decimal) -> str:
    return f"{count.normalize():f} day" + ("" if count == 1 else "s")
