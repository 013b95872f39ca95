"""The product as ``backoffice up`` runs it, in this process, driven over its HTTP API;
and the bare baseline on the same dev server."""

from __future__ import annotations

import asyncio
import secrets
import tempfile
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import httpx
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import Worker

from api.app import create_app
from api.auth import issue_token
from api.context import ApiContext
from backoffice.settings import Settings
from bench.bare import BareCaseWorkflow, BareStart, bare_step
from bench.common import application, sqlite_store
from bench.temporal import DevServer
from bench.workload import CaseWriter, leave_period, organisation
from domain.employee import EmployeeProfile
from projections.queries import ReadModels
from projections.runner import ProjectionRunner
from services.application import BackofficeApplication
from worker import build_worker
from workflows.messages import leave_workflow_id

INBOX_POLL = 0.1
"""Seconds between a manager's looks at the inbox while waiting for a task."""


@dataclass
class Product:
    """The HTTP API of the product, with its worker and projection runner running."""

    http: httpx.AsyncClient
    context: ApiContext
    app: BackofficeApplication
    _tokens: dict[str, str] = field(default_factory=dict)

    def _headers(self, employee_id: str) -> dict[str, str]:
        token = self._tokens.get(employee_id)
        if token is None:
            token = self._tokens[employee_id] = issue_token(self.context.settings, employee_id)
        return {"Authorization": f"Bearer {token}"}

    async def submit(self, requester: str, index: int, first_monday: date) -> str:
        """The requester asks for the Monday and Tuesday of a week: the case's id."""
        period = leave_period(index, first_monday)
        body = {"type": "annual", "start": str(period.start), "end": str(period.end)}
        response = await self.http.post(
            "/api/leave-requests", json=body, headers=self._headers(requester)
        )
        if response.status_code != 201:
            raise RuntimeError(f"submission refused: {response.status_code} {response.text}")
        case_id: str = response.json()["id"]
        return case_id

    async def task_of(self, manager: str, case_id: str) -> str:
        """The case's task, once it shows in the manager's inbox."""
        while True:
            response = await self.http.get("/api/tasks", headers=self._headers(manager))
            response.raise_for_status()
            for task in response.json()["items"]:
                if task["case_id"] == case_id:
                    task_id: str = task["id"]
                    return task_id
            await asyncio.sleep(INBOX_POLL)

    async def approve(self, manager: str, task_id: str) -> None:
        response = await self.http.post(
            f"/api/tasks/{task_id}/decision",
            json={"decision": "approve"},
            headers=self._headers(manager),
        )
        if response.status_code != 200:
            raise RuntimeError(f"decision refused: {response.status_code} {response.text}")

    async def closed(self, case_id: str) -> None:
        """Wait until the case's workflow has ended."""
        handle = self.context.client.get_workflow_handle(leave_workflow_id(uuid.UUID(case_id)))
        await handle.result()


@asynccontextmanager
async def product(server: DevServer, profiles: list[EmployeeProfile]) -> AsyncIterator[Product]:
    """The embedded product on a new SQLite store holding ``profiles``, wired as
    ``backoffice up`` wires it: one application for the API, worker and runner."""
    with (
        sqlite_store() as url,
        application(url) as app,
        tempfile.TemporaryDirectory(prefix="backoffice-bench-") as data,
    ):
        CaseWriter([app], profiles).register_organisation()
        settings = Settings(
            _env_file=None,
            data_dir=Path(data),
            database_url=url,
            jwt_secret=secrets.token_urlsafe(48),
            task_queue=f"bench-{uuid.uuid4()}",
        )
        with ProjectionRunner(url, application=app) as runner:
            read_models = ReadModels(url, progress=runner.progress)
            context = ApiContext(settings, server.client, app, read_models)
            transport = httpx.ASGITransport(app=create_app(context))
            runner.start()
            async with (
                build_worker(server.client, app, settings.task_queue),
                httpx.AsyncClient(transport=transport, base_url="http://backoffice") as http,
            ):
                yield Product(http, context, app)


@dataclass(frozen=True)
class Bare:
    """The bare baseline's client side, on its own task queue."""

    client: Client
    task_queue: str

    async def submit(self, taken_after: timedelta) -> WorkflowHandle[BareCaseWorkflow, str]:
        """Start a case and wait for its submission, as the API's submission does."""
        case_id = str(uuid.uuid4())
        operation = WithStartWorkflowOperation(
            BareCaseWorkflow.run,
            BareStart(case_id=case_id, taken_after=taken_after),
            id=f"bare-{case_id}",
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            task_queue=self.task_queue,
        )
        await self.client.execute_update_with_start_workflow(
            BareCaseWorkflow.submission, start_workflow_operation=operation
        )
        return await operation.workflow_handle()

    @staticmethod
    async def decide(handle: WorkflowHandle[BareCaseWorkflow, str]) -> None:
        await handle.execute_update(BareCaseWorkflow.decide, "approve")


@asynccontextmanager
async def bare(server: DevServer, max_activity_threads: int = 8) -> AsyncIterator[Bare]:
    """A worker for bare cases, configured as ``worker.build_worker`` configures ours."""
    task_queue = f"bare-{uuid.uuid4()}"
    worker = Worker(
        server.client,
        task_queue=task_queue,
        workflows=[BareCaseWorkflow],
        activities=[bare_step],
        activity_executor=ThreadPoolExecutor(max_workers=max_activity_threads),
        max_concurrent_activities=max_activity_threads,
    )
    async with worker:
        yield Bare(server.client, task_queue)


def staff(cases: int, reports_each: int = 10) -> list[EmployeeProfile]:
    """An organisation with one requester per case, ``reports_each`` to a manager."""
    return organisation(managers=max(1, -(-cases // reports_each)), reports_each=reports_each)
