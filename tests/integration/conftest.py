"""Fixtures for the integration tests: an organisation, leave use cases, read models."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.case import Decision
from domain.employee import EmployeeProfile
from domain.leave import LeavePeriod, LeaveType
from domain.meta import Meta
from projections.database import Database
from projections.queries import ReadModels
from projections.runner import ProjectionRunner
from services.application import BackofficeApplication, Saved, approval_task_id
from services.store import StoreLocation

MONDAY_MORNING = datetime(2030, 5, 6, 9, 0, tzinfo=UTC)


def profile(employee_id: str, name: str, manager_id: str | None) -> EmployeeProfile:
    return EmployeeProfile(
        employee_id=employee_id,
        name=name,
        email=f"{name.lower()}@example.com",
        manager_id=manager_id,
        country="DE",
        subdivision=None,
        annual_leave_days=Decimal(30),
        start_date=date(2020, 1, 1),
    )


ORGANISATION = [
    profile("e-1", "Grace", None),
    profile("e-2", "Ada", "e-1"),
    profile("e-3", "Linus", "e-2"),
    profile("e-4", "Margaret", "e-2"),
    profile("e-5", "Ken", "e-1"),
]


def meta(actor: str, case_id: UUID | None = None) -> Meta:
    return Meta(actor=actor, command_id=uuid4().hex, correlation_id=f"leave-{case_id}")


class Office:
    """The leave use cases as the tests call them: who does what, in few words."""

    def __init__(self, application: BackofficeApplication) -> None:
        self.app = application

    def submit(
        self,
        employee_id: str,
        start: date,
        end: date,
        leave_type: LeaveType = LeaveType.ANNUAL,
        *,
        half_day_start: bool = False,
    ) -> UUID:
        case_id = uuid4()
        period = LeavePeriod(start, end, half_day_start=half_day_start)
        self.app.submit_leave_request(
            case_id, employee_id, leave_type, period, None, meta(employee_id, case_id)
        )
        return case_id

    def ask_manager(self, case_id: UUID, now: datetime = MONDAY_MORNING) -> Saved:
        return self.app.open_approval_task(case_id, now, meta("system", case_id))

    def escalate(self, case_id: UUID, now: datetime = MONDAY_MORNING + timedelta(days=2)) -> Saved:
        return self.app.escalate_approval_task(
            case_id, approval_task_id(case_id), now, meta("system", case_id)
        )

    def decide(
        self, case_id: UUID, actor: str, decision: Decision, comment: str | None = None
    ) -> Saved:
        return self.app.decide_leave_request(
            case_id, approval_task_id(case_id), decision, comment, meta(actor, case_id)
        )

    def approved(self, employee_id: str, start: date, end: date) -> UUID:
        """A request submitted and approved by the employee's manager."""
        case_id = self.submit(employee_id, start, end)
        self.ask_manager(case_id)
        manager = self.app.profile(employee_id).manager_id
        assert manager is not None
        self.decide(case_id, manager, Decision.APPROVE)
        return case_id

    def withdraw(self, case_id: UUID, actor: str) -> Saved:
        return self.app.withdraw_leave_request(case_id, meta(actor, case_id))

    def cancel(self, case_id: UUID, actor: str, today: date) -> Saved:
        return self.app.cancel_leave_request(case_id, today, meta(actor, case_id))

    def shorten(
        self, case_id: UUID, actor: str, last_day: date, today: date, *, half_day_end: bool = False
    ) -> Saved:
        return self.app.shorten_leave_request(
            case_id, last_day, today, meta(actor, case_id), half_day_end=half_day_end
        )

    def take(self, case_id: UUID) -> Saved:
        return self.app.mark_leave_taken(case_id, meta("system", case_id))


@pytest.fixture
def office(application: BackofficeApplication) -> Office:
    application.load_organisation(ORGANISATION, meta("hr"))
    return Office(application)


@pytest.fixture
def runner(store_url: str, application: BackofficeApplication) -> Iterator[ProjectionRunner]:
    """A runner sharing the test's application, with small batches to exercise batching."""
    with ProjectionRunner(
        store_url, application=application, batch_size=4, rebuild_batch_size=4, poll_interval=0.01
    ) as projection_runner:
        yield projection_runner


@pytest.fixture
def read_models(store_url: str) -> Iterator[ReadModels]:
    models = ReadModels(store_url)
    yield models
    models.close()


@pytest.fixture
def dump_rows(store_url: str, runner: ProjectionRunner) -> Callable[[], dict[str, Any]]:
    """Every row of every read model table and of the tracking table, in a stable order."""

    def dump() -> dict[str, Any]:
        tables = ["projection_tracking", *(t for p in runner.projections for t in p.tables)]
        with (
            Database(StoreLocation(store_url)) as database,
            database.transaction(write=False) as cursor,
        ):
            return {
                table: sorted(cursor.execute(f"SELECT * FROM {table}").fetchall(), key=repr)  # noqa: S608
                for table in tables
            }

    return dump


def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Whether ``condition`` becomes true within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# The API tests' fixtures (a Temporal dev server, a worker, the app) live beside them.
from tests.integration.api_conftest import api, api_store_url, temporal_dev_server  # noqa: E402, F401
