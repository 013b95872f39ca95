"""What the unit tests build on: profiles, command metadata, a small organisation,
event helpers, and :class:`LeaveDesk`, which drives the application's leave use cases.

A plain module rather than fixtures, so tests and ``conftest.py`` both import it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.case import ApprovalTask, Case, Decision
from domain.employee import EmployeeProfile
from domain.errors import DomainError
from domain.leave import LeavePeriod, LeaveType
from domain.meta import Meta
from services.application import BackofficeApplication, Saved

_command_numbers = count(1)


def meta(
    actor: str = "system", command_id: str | None = None, on_behalf_of: str | None = None
) -> Meta:
    """Metadata of one command; a fresh command id unless one is given."""
    return Meta(
        actor=actor,
        command_id=command_id or f"cmd-{next(_command_numbers)}",
        correlation_id="test",
        on_behalf_of=on_behalf_of,
    )


def profile(
    employee_id: str = "ada",
    manager_id: str | None = "mia",
    country: str = "DE",
    subdivision: str | None = "BY",
    annual_leave_days: str = "30",
    start_date: date = date(2020, 1, 1),
    department_id: str | None = None,
    end_date: date | None = None,
) -> EmployeeProfile:
    return EmployeeProfile(
        employee_id=employee_id,
        name=employee_id.capitalize(),
        email=f"{employee_id}@example.com",
        manager_id=manager_id,
        country=country,
        subdivision=subdivision,
        annual_leave_days=Decimal(annual_leave_days),
        start_date=start_date,
        department_id=department_id,
        end_date=end_date,
    )


def organisation() -> Sequence[EmployeeProfile]:
    """Carl runs the company; Mia manages everyone else; all in Bavaria but Ben
    (Berlin), Chloe (France) and Nina (joined on 1 July 2025)."""
    return [
        profile("carl", manager_id=None),
        profile("mia", manager_id="carl"),
        profile("ada"),
        profile("ben", subdivision="BE"),
        profile("chloe", country="FR", subdivision=None, annual_leave_days="25"),
        profile("nina", start_date=date(2025, 7, 1)),
    ]


def names(events: Iterable[object]) -> list[str]:
    """The class names of events, in order: ``["Opened", "Reserved"]``."""
    return [type(recorded).__name__ for recorded in events]


def data(event: object) -> dict[str, Any]:
    """An event's attributes (its class is made by ``@event`` at run time, so untyped)."""
    return dict(vars(event))


def only_task(case: Case) -> ApprovalTask:
    """The case's one approval task, whatever id the application gave it."""
    (task,) = case.tasks.values()
    return task


@contextmanager
def refused(kind: type[DomainError], rule: str) -> Iterator[None]:
    """Expect the block to be refused with ``kind`` naming ``rule``."""
    with pytest.raises(kind) as caught:
        yield
    assert caught.value.rule == rule


MONDAY_MORNING = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


@dataclass
class LeaveDesk:
    """Runs an application's leave use cases the way the people in the tests would,
    each call a new command unless the test passes the one to repeat."""

    app: BackofficeApplication

    @property
    def position(self) -> int:
        """The last recorded event's position: unchanged when nothing was recorded."""
        return self.app.recorder.max_notification_id() or 0

    def event_names(self, aggregate_id: UUID) -> list[str]:
        return names(self.app.events.get(aggregate_id))

    def remaining(self, employee_id: str, year: int = 2025) -> Decimal:
        return self.app.leave_balance(employee_id, year).remaining

    def submit(
        self,
        employee_id: str,
        start: date,
        end: date | None = None,
        leave_type: LeaveType = LeaveType.ANNUAL,
        *,
        half_day_start: bool = False,
        half_day_end: bool = False,
        case_id: UUID | None = None,
        command: Meta | None = None,
    ) -> Saved:
        period = LeavePeriod(start, end or start, half_day_start, half_day_end)
        return self.app.submit_leave_request(
            case_id or uuid4(), employee_id, leave_type, period, None, command or meta(employee_id)
        )

    def open_task(
        self, case_id: UUID, now: datetime = MONDAY_MORNING, command: Meta | None = None
    ) -> Saved:
        return self.app.open_approval_task(case_id, now, command or meta())

    def decide(
        self,
        case_id: UUID,
        actor: str,
        decision: Decision = Decision.APPROVE,
        command: Meta | None = None,
    ) -> Saved:
        task_id = only_task(self.app.leave_request(case_id)).task_id
        return self.app.decide_leave_request(
            case_id, task_id, decision, f"{decision} by {actor}", command or meta(actor)
        )

    def escalate(
        self,
        case_id: UUID,
        command: Meta | None = None,
        now: datetime = MONDAY_MORNING + timedelta(days=2),
    ) -> Saved:
        task_id = only_task(self.app.leave_request(case_id)).task_id
        return self.app.escalate_approval_task(case_id, task_id, now, command or meta())

    def reroute(self, case_id: UUID, now: datetime, command: Meta | None = None) -> Saved:
        task_id = only_task(self.app.leave_request(case_id)).task_id
        return self.app.reroute_approval_task(case_id, task_id, now, command or meta())

    def approved(self, employee_id: str, start: date, end: date | None = None) -> UUID:
        """A request submitted, put to the manager (Mia) and approved by her."""
        case_id = self.submit(employee_id, start, end).case.id
        self.open_task(case_id)
        self.decide(case_id, "mia")
        return case_id

    def withdraw(self, case_id: UUID, actor: str, command: Meta | None = None) -> Saved:
        return self.app.withdraw_leave_request(case_id, command or meta(actor))

    def cancel(self, case_id: UUID, actor: str, today: date, command: Meta | None = None) -> Saved:
        return self.app.cancel_leave_request(case_id, today, command or meta(actor))
