"""The organisation and the leave cases the benchmarks work on.

:class:`CaseWriter` commands whole cases straight through the aggregates and
records their events in big batches, to fill stores quickly with the events the
product would have recorded; the benchmarks that measure the use cases call
those instead.
"""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from uuid import UUID

from eventsourcing.domain import Aggregate, CanMutateAggregate
from eventsourcing.persistence import StoredEvent

from domain.case import Decision
from domain.employee import Employee, EmployeeProfile
from domain.leave import LeavePeriod, LeaveType
from domain.leave_account import LeaveAccount
from domain.leave_request import LeaveRequest
from domain.meta import Meta
from services.application import ESCALATION_BUSINESS_DAYS, BackofficeApplication, approval_task_id

HEAD = "ceo"
FIRST_MONDAY = date(2030, 1, 7)
ASKED_AT = datetime(2029, 12, 3, 9, 0, tzinfo=UTC)


def manager_id(index: int) -> str:
    return f"m-{index:04d}"


def report_id(manager: int, index: int) -> str:
    return f"e-{manager:04d}-{index:03d}"


def _profile(employee_id: str, manager: str | None) -> EmployeeProfile:
    return EmployeeProfile(
        employee_id=employee_id,
        name=f"Employee {employee_id}",
        email=f"{employee_id}@example.com",
        manager_id=manager,
        country="DE",
        subdivision=None,
        annual_leave_days=Decimal(30),
        start_date=date(2020, 1, 1),
    )


def organisation(managers: int, reports_each: int) -> list[EmployeeProfile]:
    """A head, ``managers`` managers reporting to them, each with ``reports_each`` reports."""
    profiles = [_profile(HEAD, None)]
    for m in range(managers):
        profiles.append(_profile(manager_id(m), HEAD))
        profiles.extend(_profile(report_id(m, r), manager_id(m)) for r in range(reports_each))
    return profiles


def reports(profiles: list[EmployeeProfile]) -> list[EmployeeProfile]:
    """Those who have a manager below the head: the people who ask for leave."""
    return [p for p in profiles if p.manager_id not in (None, HEAD)]


def meta(actor: str, correlation_id: str = "bench") -> Meta:
    return Meta(actor=actor, command_id=uuid.uuid4().hex, correlation_id=correlation_id)


def leave_period(index: int, first_monday: date = FIRST_MONDAY) -> LeavePeriod:
    """An employee's ``index``-th request: Monday and Tuesday of its own week, from the
    week of ``first_monday`` (2030 when written straight through the aggregates).

    Two days a week, so 13 requests a year stay within the 30 days of leave.
    """
    monday = first_monday + timedelta(weeks=index % 13 * 4 + index // 13 * 52)
    return LeavePeriod(monday, monday + timedelta(days=1))


def monday_after(days: int) -> date:
    """The first Monday ``days`` days from today (back, if negative): the API takes leave
    from a year back (taken a second after approval) to two years ahead."""
    day = date.today() + timedelta(days=days)
    return day + timedelta(days=-day.weekday() % 7)


class Outcome(StrEnum):
    """How far a generated case has got, and how it ended."""

    OPEN = "open"
    """Submitted, waiting for the manager's decision."""
    TAKEN = "taken"
    """Approved and taken."""
    ESCALATED = "escalated"
    """Escalated to the manager's manager, who approved it; then taken."""
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    SICK = "sick"
    """Sick leave: recorded, manager informed, taken."""


MIX = (
    [Outcome.TAKEN] * 12
    + [Outcome.ESCALATED] * 2
    + [Outcome.REJECTED] * 2
    + [Outcome.WITHDRAWN, Outcome.OPEN, Outcome.SICK]
)
"""The outcomes of a realistic log, in proportion: mostly approved and taken."""


def realistic_mix() -> Iterator[Outcome]:
    while True:
        yield from MIX


Steps = list[list[CanMutateAggregate[UUID]]]
"""The events of each use case of one case, in order."""


@dataclass
class CaseWriter:
    """Writes leave cases through the aggregates into ``stores``, ``batch`` cases at a time.

    Each batch's events are encoded once, by the first store's mapper, and
    inserted into every store in one transaction each, the stores at once (a
    thread each). Within a batch the
    cases' use cases interleave as they would in a live system: every case's
    submission, then every task opened, then every decision, ... Each employee
    has at most one case per batch, so an account's events stay in the order
    of its versions.

    With ``processes`` > 1, :meth:`write` shares the requesters out among that many
    forked processes, which command and encode their cases while this one inserts
    the batches they send through a pipe each, in the order each sends them (an
    account belongs to one process, so its events still arrive in the order of its
    versions). A process that fails, or is killed, fails the write, even one killed in
    the middle of sending a batch; and a process still sending when this one stops (or
    dies) fails too, instead of waiting on its pipe for ever.
    """

    stores: Sequence[BackofficeApplication]
    profiles: list[EmployeeProfile]
    batch: int = 500
    processes: int = 1

    def __post_init__(self) -> None:
        self._by_id = {p.employee_id: p for p in self.profiles}
        self._accounts: dict[str, LeaveAccount] = {}
        self._asked: dict[str, int] = {}
        self.events = 0

    def register_organisation(self) -> None:
        """Register everyone, as ``load_organisation`` would, without its per-person reads."""
        hr = meta("hr")
        people = [Employee(p.employee_id, p.to_event_data(), hr) for p in self.profiles]
        for start in range(0, len(people), self.batch):
            self._insert(self._encode(_events(*people[start : start + self.batch])))
        self.events += len(people)

    def write(self, outcomes: Iterator[Outcome], *, cases: int | None, events: int | None) -> None:
        """Write cases until ``cases`` cases or ``events`` events have been written (each
        process its share of them)."""
        requesters = reports(self.profiles)
        shares = max(1, min(self.processes, len(requesters)))
        if shares == 1:
            for batch in self._batches(requesters, outcomes, cases, events):
                self._insert(batch)
            return
        context = multiprocessing.get_context("fork")  # the children inherit the mapper
        parts = [requesters[share::shares] for share in range(shares)]
        readers: list[Connection] = []
        children: list[BaseProcess] = []
        try:
            for index, part in enumerate(parts):
                reader, writer = context.Pipe(duplex=False)
                readers.append(reader)
                child = context.Process(
                    target=self._write_share,
                    args=(
                        writer,
                        list(readers),  # the receiving ends the child inherits, to close
                        part,
                        outcomes,
                        None if cases is None else _part_of(cases, parts, index),
                        None if events is None else _part_of(events - self.events, parts, index),
                    ),
                )
                child.start()
                children.append(child)
                # Only the child holds its pipe's sending end now (the next child is
                # forked without it), so a child that dies ends its pipe, even in the
                # middle of a message.
                writer.close()
            self._receive(readers)
        except BaseException:
            for process in children:
                process.terminate()
            raise
        finally:
            for reader in readers:  # only this process reads: a child still sending now fails
                reader.close()
            for process in children:
                process.join()
        failed = [process.exitcode for process in children if process.exitcode]
        if failed:
            raise RuntimeError(f"a process writing cases failed (exit code {failed[0]})")

    def _receive(self, readers: list[Connection]) -> None:
        """Insert the batches the children send, each child's in the order it sends them,
        until each has sent its last word: how many events it wrote."""
        running = set(readers)
        while running:
            for reader in wait(list(running)):
                assert isinstance(reader, Connection)
                try:
                    message = reader.recv()
                except EOFError:
                    raise RuntimeError(
                        "a process writing cases ended without its last word"
                    ) from None
                except OSError as error:  # cut off in the middle of a message
                    raise RuntimeError(f"a process writing cases was cut off: {error}") from error
                if isinstance(message, int):
                    self.events += message
                    running.remove(reader)
                else:
                    self._insert(message)

    def _write_share(
        self,
        sent: Connection,
        inherited: list[Connection],
        requesters: list[EmployeeProfile],
        outcomes: Iterator[Outcome],
        cases: int | None,
        events: int | None,
    ) -> None:
        """In a forked child: command and encode this share's cases, sending each batch."""
        for reader in inherited:  # so that a send fails, not blocks, once the parent is gone
            reader.close()
        self.events = 0
        for batch in self._batches(requesters, outcomes, cases, events):
            sent.send(batch)
        sent.send(self.events)
        sent.close()

    def _batches(
        self,
        requesters: list[EmployeeProfile],
        outcomes: Iterator[Outcome],
        cases: int | None,
        events: int | None,
    ) -> Iterator[list[StoredEvent]]:
        """The encoded events of each batch of cases, until ``cases`` cases are written
        or ``self.events`` (every event written, counted as they are) reaches ``events``."""
        window = min(self.batch, len(requesters))
        pending: list[Steps] = []
        written = 0
        while (cases is None or written < cases) and (events is None or self.events < events):
            profile = requesters[written % len(requesters)]
            pending.append(self._case(profile, next(outcomes)))
            self.events += sum(len(step) for step in pending[-1])
            written += 1
            if len(pending) >= window:
                yield self._encode(_interleaved(pending))
                pending = []
        if pending:
            yield self._encode(_interleaved(pending))

    def _encode(self, events: list[CanMutateAggregate[UUID]]) -> list[StoredEvent]:
        return [self.stores[0].mapper.to_stored_event(event) for event in events]

    def _insert(self, stored: list[StoredEvent]) -> None:
        if not stored:
            return
        # One thread per store: each waits on its database much of the time.
        with ThreadPoolExecutor(max_workers=len(self.stores)) as threads:
            for inserted in [
                threads.submit(store.recorder.insert_events, stored) for store in self.stores
            ]:
                inserted.result()

    def _case(self, profile: EmployeeProfile, outcome: Outcome) -> Steps:
        """One case, commanded as the use cases would, left as ``outcome`` says."""
        employee = profile.employee_id
        index = self._asked.get(employee, 0)
        self._asked[employee] = index + 1
        leave_type = LeaveType.SICK if outcome is Outcome.SICK else LeaveType.ANNUAL
        request, account = self._submit(profile, leave_type, leave_period(index))
        steps = [_events(request, account)]
        if outcome is Outcome.SICK:
            request.mark_taken(meta("system"))
            return [*steps, _events(request)]
        self._open_task(request, profile)
        steps.append(_events(request))
        if outcome is Outcome.ESCALATED:
            above = self._by_id[str(profile.manager_id)].manager_id
            request.escalate_task(approval_task_id(request.id), [str(above)], meta("system"))
            steps.append(_events(request))
        if outcome is not Outcome.OPEN:
            self._close(request, account, profile, outcome)
            steps.append(_events(request, account))
        if outcome in (Outcome.TAKEN, Outcome.ESCALATED):
            request.mark_taken(meta("system"))
            steps.append(_events(request))
        return steps

    def _submit(
        self, profile: EmployeeProfile, leave_type: LeaveType, period: LeavePeriod
    ) -> tuple[LeaveRequest, LeaveAccount]:
        employee = profile.employee_id
        submitted = meta(employee)
        account = self._accounts.get(employee) or LeaveAccount(employee, submitted)
        self._accounts[employee] = account
        fractions = period.day_fractions(profile.calendar)
        case_id = uuid.uuid4()
        account.reserve(
            str(case_id), leave_type, fractions, profile, submitted, halves=period.half_days()
        )
        request = LeaveRequest(
            id=case_id,
            requester_id=employee,
            leave_type=leave_type,
            start=period.start,
            end=period.end,
            half_day_start=False,
            half_day_end=False,
            days={day.isoformat(): share for day, share in sorted(fractions.items())},
            reason=None,
            meta=submitted,
        )
        if not leave_type.needs_approval:
            request.inform_manager(str(profile.manager_id), submitted)
        return request, account

    def _open_task(self, request: LeaveRequest, profile: EmployeeProfile) -> None:
        due_at = profile.calendar.add_business_days(ASKED_AT, ESCALATION_BUSINESS_DAYS)
        title = (
            f"{profile.name}: {request.leave_type} leave {request.start.isoformat()}"
            f" to {request.end.isoformat()} ({request.working_days} days)"
        )
        task_id = approval_task_id(request.id)
        request.open_task(task_id, title, [str(profile.manager_id)], due_at, meta("system"))

    @staticmethod
    def _close(
        request: LeaveRequest, account: LeaveAccount, profile: EmployeeProfile, outcome: Outcome
    ) -> None:
        """Withdraw, reject or approve the request, as its outcome says."""
        case = str(request.id)
        task_id = approval_task_id(request.id)
        if outcome is Outcome.WITHDRAWN:
            request.withdraw(meta(profile.employee_id))
            account.release(case, "withdrawn", meta(profile.employee_id))
        elif outcome is Outcome.REJECTED:
            decided = meta(str(profile.manager_id))
            request.decide(task_id, Decision.REJECT, "too busy", decided)
            account.release(case, "rejected", decided)
        else:
            decided = meta(str(profile.manager_id))
            request.decide(task_id, Decision.APPROVE, None, decided)
            account.confirm(case, decided)


def _part_of(total: int, parts: Sequence[Sequence[object]], index: int) -> int:
    """The share of ``total`` of ``parts[index]``, by its size (the shares add up)."""
    before = sum(len(part) for part in parts[:index])
    size = sum(len(part) for part in parts)
    return total * (before + len(parts[index])) // size - total * before // size


def _interleaved(cases: list[Steps]) -> list[CanMutateAggregate[UUID]]:
    """The cases' events, their use cases interleaved: every first step, every second, ..."""
    longest = max((len(steps) for steps in cases), default=0)
    return [
        event
        for number in range(longest)
        for steps in cases
        if number < len(steps)
        for event in steps[number]
    ]


def _events(*aggregates: Aggregate) -> list[CanMutateAggregate[UUID]]:
    """The events the aggregates have triggered since last asked, as one use case saves them."""
    return [event for aggregate in aggregates for event in aggregate.collect_events()]
