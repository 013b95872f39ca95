"""``backoffice up``: the Temporal dev server (unless given one), the worker, the
projection runner and the HTTP API, started together and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import signal
from collections.abc import Iterator
from pathlib import Path

import structlog
import uvicorn
from starlette.types import ASGIApp

from api.app import create_app
from api.context import ApiContext
from backoffice.devserver import (
    DevServer,
    connect_when_ready,
    free_port,
    keep_running,
    start_dev_server_and_connect,
    stop_left_running,
    unless_stopped,
)
from backoffice.schedules import ensure_schedules
from backoffice.settings import Settings
from projections.queries import ReadModels
from projections.runner import ProjectionRunner
from services.application import BackofficeApplication
from worker import build_worker

log = structlog.get_logger(__name__)


class _ApiServer(uvicorn.Server):
    """Uvicorn without its own signal handling: ``up`` stops everything in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def api_config(app: ASGIApp, settings: Settings) -> uvicorn.Config:
    """How ``up`` serves the API and the pages.

    Without proxy headers: uvicorn would otherwise believe ``X-Forwarded-For`` from
    127.0.0.1, where ``up`` listens, so any local client could claim any address to the
    sign-in limit. Behind a reverse proxy the limit counts the proxy's address."""
    return uvicorn.Config(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_level="warning",
        lifespan="on",
        proxy_headers=False,
    )


TEMPORAL_ADDRESS_FILE = "temporal-address"
"""In the data folder: the address of the Temporal that ``up`` runs or uses."""


def _urls(settings: Settings, temporal_address: str, server: DevServer | None) -> list[str]:
    api = f"http://{settings.api_host}:{settings.api_port}"
    lines = [
        f"  inbox (web)    {api}/",
        f"  API            {api}/api",
        f"  API docs       {api}/docs",
        f"  health         {api}/api/health",
        f"  Temporal       {temporal_address} (namespace {settings.temporal_namespace})",
    ]
    if server is not None:
        lines.append(f"  Temporal UI    {server.ui_url}")
    lines.append(f"  event store    {settings.store.shown}")
    lines.append(f"  data folder    {settings.data_dir.resolve()}")
    return lines


@contextlib.contextmanager
def exclusive_data_dir(data_dir: Path) -> Iterator[None]:
    """Refuse a second ``up`` on the same data folder: two dev servers on one
    ``temporal.db`` and two workers on one store would corrupt both."""
    with (data_dir / "up.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(
                f"another `backoffice up` is using {data_dir.resolve()};"
                " give this one its own --data (and --port)"
            ) from None
        yield


async def run_stack(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM, then stop the API, worker, runner and server."""
    with exclusive_data_dir(settings.ensure_data_dir()):
        await _run_stack(settings)


async def _run_stack(settings: Settings) -> None:
    settings.signing_secret()  # made now, so `backoffice token` and the API agree
    if free_port(settings.api_port) != settings.api_port:
        raise RuntimeError(f"port {settings.api_port} is in use; choose another with --port")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # SIGHUP: the terminal closed. The dev server, in a session of its own, would
    # otherwise go on running on temporal.db.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)

    # The store's parts first: if they fail, no dev server is left running.
    application = BackofficeApplication(env=settings.store.eventsourcing_env())
    try:
        runner = ProjectionRunner(settings.store_url, application=application)
    except BaseException:
        application.close()
        raise
    read_models = ReadModels(settings.store_url, progress=runner.progress)
    server = None
    try:
        if settings.temporal_address is None:
            for pid in await asyncio.to_thread(stop_left_running, settings.data_dir):
                print(
                    "stopped the Temporal dev server left running on"
                    f" {settings.data_dir.resolve()} by an `up` that was killed (process {pid})",
                    flush=True,
                )
            print("starting the Temporal dev server ...", flush=True)
            started = await unless_stopped(
                start_dev_server_and_connect(settings.data_dir, settings.temporal_namespace),
                stop,
            )
            if started is None:
                print("stopped.", flush=True)
                return
            server, client = started
            address = server.address
        else:
            address = settings.temporal_address
            connected = await unless_stopped(
                connect_when_ready(address, settings.temporal_namespace), stop
            )
            if connected is None:
                print("stopped.", flush=True)
                return
            client = connected
        # For the tools that talk to this stack's Temporal (`backoffice audit record-history`).
        (settings.data_dir / TEMPORAL_ADDRESS_FILE).write_text(address + "\n")
        runner.start()
        app = create_app(ApiContext(settings, client, application, read_models))
        api = _ApiServer(api_config(app, settings))
        worker = build_worker(client, application, settings.task_queue, read_models=read_models)
        async with worker:
            await ensure_schedules(client, settings.task_queue)
            api_task = asyncio.create_task(api.serve())
            # uvicorn exposes readiness only as a flag
            while not api.started and not api_task.done():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            if api_task.done():
                api_task.result()
                raise RuntimeError("the API stopped while starting")
            print("Backoffice is up:", *_urls(settings, address, server), sep="\n", flush=True)
            print("Press Ctrl-C to stop.", flush=True)
            try:
                if server is None:
                    await stop.wait()
                else:
                    server = await keep_running(server, settings.temporal_namespace, stop)
            finally:
                print("stopping ...", flush=True)
                api.should_exit = True
                await api_task
    finally:
        runner.stop()
        read_models.close()
        application.close()
        if server is not None:
            server.stop()
    print("stopped.", flush=True)
