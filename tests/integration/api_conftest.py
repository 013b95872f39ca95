"""Fixtures for the API tests: everything real.

A Temporal dev server for the session; per test, a store (SQLite unless a test asks
for PostgreSQL), a worker on a fresh task queue, a projection runner in its thread,
and the FastAPI app driven in-process by httpx.

The Temporal server outlives each test's store: a request for leave with an
Idempotency-Key names its workflow after the employee and the key, so two tests
submitting for one employee with one key would meet the same workflow (whose worker
has gone). Keys of submissions are unique across the test session.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from temporalio.client import Client
from temporalio.service import RetryConfig
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from api.auth import issue_token
from api.context import ApiContext
from backoffice.binaries import find_binary
from backoffice.settings import Settings
from domain.calendar import WorkingCalendar
from domain.meta import Meta
from projections.queries import ReadModels
from projections.runner import ProjectionRunner
from services.application import BackofficeApplication
from services.store import StoreLocation
from tests.integration.conftest import ORGANISATION
from worker import build_worker
from workflows.messages import DATA_CONVERTER, leave_workflow_id

SECRET = "a-test-secret-that-is-long-enough-for-hs256"
CALENDAR = WorkingCalendar("DE")


@pytest.fixture(scope="session")
async def temporal_dev_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=find_binary("temporal"), data_converter=DATA_CONVERTER
    )
    yield env
    await env.shutdown()


@pytest.fixture
def api_store_url(request: pytest.FixtureRequest) -> str:
    """SQLite, or the store a test names with ``parametrize(..., indirect=True)``."""
    kind = getattr(request, "param", "sqlite")
    url: str = request.getfixturevalue(f"{kind}_url")
    return url


def api_settings(store_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": store_url,
        "jwt_secret": SECRET,
        "task_queue": f"api-{uuid.uuid4()}",
        **overrides,
    }
    return Settings(_env_file=None, **values)


@dataclass(frozen=True)
class Api:
    """The app as a client sees it, plus what a test needs to arrange and check."""

    http: httpx.AsyncClient
    context: ApiContext

    def token(self, employee_id: str) -> str:
        return issue_token(self.context.settings, employee_id)

    def headers(self, employee_id: str, key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token(employee_id)}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    async def get(
        self, employee_id: str, path: str, params: Mapping[str, Any] | None = None
    ) -> httpx.Response:
        return await self.http.get(path, headers=self.headers(employee_id), params=params)

    async def post(
        self, employee_id: str, path: str, body: Any = None, key: str | None = None
    ) -> httpx.Response:
        return await self.http.post(path, headers=self.headers(employee_id, key), json=body)

    async def submit(
        self, caller: str, period: tuple[date, date], key: str | None = None, **fields: Any
    ) -> httpx.Response:
        """``caller`` asks for leave in ``period``; ``fields`` add to or override the body."""
        start, end = period
        body = {"type": "annual", "start": start.isoformat(), "end": end.isoformat(), **fields}
        return await self.post(caller, "/api/leave-requests", body, key)

    async def pending(self, employee_id: str, period: tuple[date, date]) -> dict[str, Any]:
        """A request submitted and waiting for the manager: the case's JSON."""
        response = await self.submit(employee_id, period)
        assert response.status_code == 201, response.text
        case: dict[str, Any] = response.json()
        return case

    async def task_for(self, employee_id: str, case_id: str) -> dict[str, Any]:
        """The case's task in the employee's inbox, once the workflow has opened it."""
        deadline = time.monotonic() + 5
        while True:
            response = await self.get(employee_id, "/api/tasks")
            assert response.status_code == 200, response.text
            tasks = [task for task in response.json()["items"] if task["case_id"] == case_id]
            if tasks:
                task: dict[str, Any] = tasks[0]
                return task
            assert time.monotonic() < deadline, f"no task of {case_id} for {employee_id}"
            await asyncio.sleep(0.02)

    async def decide(
        self,
        employee_id: str,
        task_id: str,
        decision: str,
        key: str | None = None,
        comment: str = "looks fine",
    ) -> httpx.Response:
        body = {"decision": decision, "comment": comment}
        return await self.post(employee_id, f"/api/tasks/{task_id}/decision", body, key)

    async def process_ended(self, case_id: str) -> None:
        """Wait until the case's workflow has completed (a closed case takes no updates)."""
        handle = self.context.client.get_workflow_handle(leave_workflow_id(uuid.UUID(case_id)))
        await asyncio.wait_for(handle.result(), timeout=5)

    async def approved(self, employee_id: str, period: tuple[date, date]) -> dict[str, Any]:
        """A request submitted and approved by the employee's manager: the case's JSON."""
        case = await self.pending(employee_id, period)
        manager = self.context.application.profile(employee_id).manager_id
        assert manager is not None
        task = await self.task_for(manager, case["id"])
        response = await self.decide(manager, task["id"], "approve")
        assert response.status_code == 200, response.text
        approved: dict[str, Any] = response.json()
        return approved


@pytest.fixture
async def api(
    temporal_dev_server: WorkflowEnvironment, api_store_url: str, tmp_path: Path
) -> AsyncIterator[Api]:
    settings = api_settings(api_store_url, tmp_path)
    application = BackofficeApplication(env=StoreLocation(api_store_url).eventsourcing_env())
    application.load_organisation(ORGANISATION, Meta("hr", "load-org", "tests"))
    runner = ProjectionRunner(api_store_url, application=application, poll_interval=0.01)
    runner.start()
    read_models = ReadModels(api_store_url, progress=runner.progress)  # as `backoffice up`
    context = ApiContext(settings, temporal_dev_server.client, application, read_models)
    transport = httpx.ASGITransport(app=create_app(context))
    try:
        async with (
            build_worker(
                temporal_dev_server.client,
                application,
                settings.task_queue,
                read_models=read_models,
            ),
            httpx.AsyncClient(transport=transport, base_url="http://test") as http,
        ):
            yield Api(http, context)
    finally:
        runner.close()
        application.close()


def worker_for(api: Api) -> Worker:
    """A worker for ``api``'s task queue, run by ``async with``."""
    context = api.context
    return build_worker(
        context.client,
        context.application,
        context.settings.task_queue,
        read_models=context.read_models,
    )


class _Server(uvicorn.Server):
    """Uvicorn leaving the signals to pytest."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def served(context: ApiContext) -> AsyncIterator[str]:
    """The app made from ``context``, served with uvicorn on a free loopback port: its
    address."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    # A request still waiting when the test ends is dropped after a moment rather than
    # awaited: a stuck request must fail its test, not hang the session.
    config = uvicorn.Config(
        create_app(context), log_level="warning", lifespan="off", timeout_graceful_shutdown=5
    )
    server = _Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn offers a flag
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving
        listener.close()


def working_days(first: date, count: int) -> tuple[date, date]:
    """``count`` working days from the first working day on or after ``first``, in one year."""
    while not CALENDAR.is_working_day(first):
        first += timedelta(days=1)
    last, found = first, 1
    while found < count:
        last += timedelta(days=1)
        found += CALENDAR.is_working_day(last)
    if last.year != first.year:
        return working_days(date(last.year, 1, 1), count)
    return first, last


def weeks_ahead(weeks: int, days: int = 3) -> tuple[date, date]:
    """A period of ``days`` working days starting about ``weeks`` from today."""
    return working_days(datetime.now(UTC).date() + timedelta(weeks=weeks), days)


@dataclass
class Relay:
    """A TCP relay on a free loopback port to ``target`` (``host:port``)."""

    target: str
    server: asyncio.Server | None = None
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def address(self) -> str:
        assert self.server is not None
        host, port = self.server.sockets[0].getsockname()[:2]
        return f"{host}:{port}"

    @classmethod
    @contextlib.asynccontextmanager
    async def to(cls, target: str) -> AsyncIterator[Relay]:
        relay = cls(target)
        relay.server = await asyncio.start_server(relay._relay, "127.0.0.1", 0)
        try:
            yield relay
        finally:
            await relay.cut()

    async def cut(self) -> None:
        """Close the relay and every connection through it: nothing answers any more."""
        if self.server is not None:
            self.server.close()
        for writer in self.writers:
            writer.close()
        self.writers.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = self.target.rsplit(":", 1)
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        self.writers += [writer, upstream_writer]
        await asyncio.gather(
            _pipe(reader, upstream_writer), _pipe(upstream_reader, writer), return_exceptions=True
        )


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def temporal_behind_relay(context: ApiContext) -> AsyncIterator[tuple[Client, Relay]]:
    """A Temporal client of ``context``'s server reached through a relay the test may
    cut, as when the workflow service goes away. The client gives up after a second of
    retries (ten by default) so that answers come within a test's patience."""
    target = context.client.service_client.config.target_host
    async with Relay.to(target) as relay:
        client = await Client.connect(
            relay.address,
            namespace=context.settings.temporal_namespace,
            data_converter=DATA_CONVERTER,
            retry_config=RetryConfig(max_elapsed_time_millis=1000, max_retries=3),
        )
        yield client, relay
