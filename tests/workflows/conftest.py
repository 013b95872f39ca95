"""Workflow tests run on Temporal's time-skipping test server, with the real
activities over a real SQLite event store."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from backoffice.binaries import find_binary
from domain.employee import EmployeeProfile
from domain.meta import Meta
from services.application import BackofficeApplication
from services.store import StoreLocation
from worker import build_worker
from workflows.messages import DATA_CONVERTER

ORG = [
    ("e-001", None),
    ("e-010", "e-001"),
    ("e-100", "e-010"),
    ("e-101", "e-010"),
]


@pytest.fixture
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A test server of this test's own: workflows left waiting by another test would
    hold time still once their worker is gone (their timers fire into a dead queue)."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=find_binary("temporal-test-server"),
        data_converter=DATA_CONVERTER,
    )
    yield env
    await env.shutdown()


@pytest.fixture
def leave_app(sqlite_url: str) -> Iterator[BackofficeApplication]:
    app = BackofficeApplication(env=StoreLocation(sqlite_url).eventsourcing_env())
    app.load_organisation(
        [
            EmployeeProfile(
                employee_id,
                f"Employee {employee_id}",
                f"{employee_id}@example.com",
                manager,
                "DE",
                "BY",
                Decimal(30),
                date(2020, 1, 1),
            )
            for employee_id, manager in ORG
        ],
        Meta(actor="test", command_id="org", correlation_id="test"),
    )
    yield app
    app.close()


@dataclass(frozen=True)
class Temporal:
    env: WorkflowEnvironment
    task_queue: str

    @property
    def client(self) -> Client:
        return self.env.client

    async def today(self) -> date:
        """The test server's date: time skipped by earlier tests has moved it on."""
        return (await self.env.get_current_time()).date()


@pytest.fixture
async def temporal(
    time_skipping_env: WorkflowEnvironment, leave_app: BackofficeApplication
) -> AsyncIterator[Temporal]:
    """The test server and a fresh task queue served by a worker for this test."""
    task_queue = f"test-{uuid.uuid4()}"
    async with build_worker(time_skipping_env.client, leave_app, task_queue):
        yield Temporal(time_skipping_env, task_queue)
