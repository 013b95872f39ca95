"""A rebuild shared among processes: its helper processes end with the rebuild."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from services.store import StoreLocation
from tests.integration.conftest import Office, eventually

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

REBUILD = (
    "import sys; from projections.runner import ProjectionRunner;"
    " ProjectionRunner(sys.argv[1]).rebuild(processes=2)"
)


def helpers_of(parent: int) -> list[int]:
    """The running ``projections.share`` processes started by ``parent``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue  # not a process, or one that ended meanwhile
        parent_pid = int(stat.rpartition(")")[2].split()[1])
        state = stat.rpartition(")")[2].split()[0]
        if parent_pid == parent and b"projections.share" in command and state != "Z":
            found.append(int(entry.name))
    return found


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the helper through /proc (Linux)")
def test_a_rebuild_killed_outright_takes_its_helper_process_with_it(
    store_url: str, office: Office
) -> None:
    office.approved("e-3", date(2030, 6, 3), date(2030, 6, 5))
    path = StoreLocation(store_url).sqlite_path
    rebuild = subprocess.Popen([sys.executable, "-c", REBUILD, store_url])
    lock = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        helpers: list[int] = []

        def started() -> bool:
            helpers[:] = helpers_of(rebuild.pid)
            return bool(helpers)

        assert eventually(started, timeout=30)
        # The helper is still importing: hold the store's write lock, so that it waits
        # for it (up to SQLite's 30 s) once it has read its first batch.
        lock.execute("BEGIN IMMEDIATE")
        rebuild.send_signal(signal.SIGKILL)
        rebuild.wait()

        assert eventually(lambda: not any(map(is_running, helpers)), timeout=10)
    finally:
        lock.close()
        rebuild.kill()
        for pid in filter(is_running, helpers):
            os.kill(pid, signal.SIGKILL)
