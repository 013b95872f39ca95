"""``backoffice up`` as a user runs it: a real process with the dev server, worker,
projections and API, driven over HTTP, stopped with Ctrl-C, and started again."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from backoffice.binaries import find_binary
from backoffice.devserver import free_port, port_is_free, start_dev_server

EXAMPLE_ORG = Path(__file__).parents[2] / "examples" / "org.yaml"
STARTUP_SECONDS = 60


def backoffice(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "backoffice", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=clean_env(),
    )
    return result.stdout


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("BACKOFFICE_")}


class Running:
    """A ``backoffice up`` process and the URLs it printed."""

    def __init__(self, data: Path, port: int, cwd: Path, temporal: str | None = None) -> None:
        command = ["up", "--data", str(data), "--port", str(port)]
        if temporal is not None:
            command += ["--temporal-address", temporal]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "backoffice", *command],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=clean_env(),
        )
        self.output: list[str] = []
        deadline = time.monotonic() + STARTUP_SECONDS
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        text = "".join(self.output)
        assert "Backoffice is up" in text, text
        self.api = re.search(r"API\s+(http://\S+)/api\n", text)[1]  # type: ignore[index]
        self.temporal_port = int(re.search(r"Temporal\s+127\.0\.0\.1:(\d+)", text)[1])  # type: ignore[index]
        ui = re.search(r"Temporal UI\s+(http://\S+)", text)
        self.ui = ui[1] if ui else None

    def stop(self) -> str:
        """Ctrl-C, as in a terminal; the rest of the output."""
        self.process.send_signal(signal.SIGINT)
        rest, _ = self.process.communicate(timeout=30)
        return rest


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def next_monday(weeks: int) -> date:
    day = date.today() + timedelta(weeks=weeks)
    return day + timedelta(days=(7 - day.weekday()) % 7)


def inbox_task(api: str, token: str, case_id: str) -> dict[str, str]:
    """The case's task in the inbox, once the workflow has opened it (a moment after submit)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        tasks = httpx.get(f"{api}/api/tasks", headers=auth(token), timeout=10).json()["items"]
        for task in tasks:
            if task["case_id"] == case_id:
                return dict(task)
        time.sleep(0.1)
    raise AssertionError(f"no task for case {case_id} in the inbox")


def test_up_serves_the_whole_product_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    data = tmp_path / "one"
    backoffice("org", "load", str(EXAMPLE_ORG), "--data", str(data), cwd=tmp_path)
    port = free_port(18000)
    running = Running(data, port, tmp_path)
    try:
        health = httpx.get(f"{running.api}/api/health", timeout=10).json()
        assert health["temporal"] is True
        assert health["database"] is True
        assert running.ui is not None
        assert httpx.get(running.ui, timeout=10).status_code == 200
        ada = backoffice("token", "e-100", "--data", str(data), cwd=tmp_path).strip()
        alan = backoffice("token", "e-010", "--data", str(data), cwd=tmp_path).strip()
        monday = next_monday(3)
        submitted = httpx.post(
            f"{running.api}/api/leave-requests",
            json={"type": "annual", "start": str(monday), "end": str(monday + timedelta(days=4))},
            headers=auth(ada),
            timeout=30,
        )
        assert submitted.status_code == 201, submitted.text
        case_id = submitted.json()["id"]
        task = inbox_task(running.api, alan, case_id)
        decided = httpx.post(
            f"{running.api}/api/tasks/{task['id']}/decision",
            json={"decision": "approve", "comment": "fine"},
            headers=auth(alan),
            timeout=30,
        )
        assert decided.status_code == 200, decided.text
    finally:
        rest = running.stop()
    assert running.process.returncode == 0, rest
    assert "stopped." in rest
    assert port_is_free(port)
    assert port_is_free(running.temporal_port)

    again = Running(data, port, tmp_path)
    try:
        # loading the organisation works while `up` runs, too
        renamed = tmp_path / "renamed.yaml"
        renamed.write_text(EXAMPLE_ORG.read_text().replace("Ada Lovelace", "Ada King"))
        loaded = backoffice("org", "load", str(renamed), "--data", str(data), cwd=tmp_path)
        assert "1 new or changed\n  employee e-100: name Ada Lovelace -> Ada King\n" in loaded
        case = httpx.get(f"{again.api}/api/leave-requests/{case_id}", headers=auth(ada), timeout=10)
        assert case.json()["status"] == "approved"
        # the workflow survived the restart: it still accepts the cancellation
        cancelled = httpx.post(
            f"{again.api}/api/leave-requests/{case_id}/cancel", headers=auth(ada), timeout=30
        )
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
    finally:
        again.stop()


def dev_server_pids(data: Path) -> list[int]:
    database = str(data.resolve() / "temporal.db").encode()
    pids = []
    for process in Path("/proc").iterdir():
        if process.name.isdigit():
            try:
                command = (process / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if database in command:
                pids.append(int(process.name))
    return pids


def dev_server_pid(data: Path) -> int:
    """The process of the dev server keeping its state in ``data``."""
    found = dev_server_pids(data)
    assert found, f"no dev server runs on {data / 'temporal.db'}"
    return found[0]


def test_up_starts_the_dev_server_again_when_it_dies_and_work_goes_on(tmp_path: Path) -> None:
    data = tmp_path / "one"
    backoffice("org", "load", str(EXAMPLE_ORG), "--data", str(data), cwd=tmp_path)
    running = Running(data, free_port(18500), tmp_path)
    try:
        ada = backoffice("token", "e-100", "--data", str(data), cwd=tmp_path).strip()
        killed = dev_server_pid(data)
        os.kill(killed, signal.SIGKILL)
        monday = next_monday(3)
        body = {"type": "annual", "start": str(monday), "end": str(monday + timedelta(days=4))}
        headers = {**auth(ada), "Idempotency-Key": "after-the-crash"}
        deadline = time.monotonic() + 60
        while True:  # 503 until the server is back, as a client's retries would see
            submitted = httpx.post(
                f"{running.api}/api/leave-requests", json=body, headers=headers, timeout=60
            )
            if submitted.status_code != 503 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert submitted.status_code == 201, submitted.text
        assert dev_server_pid(data) != killed
        health = httpx.get(f"{running.api}/api/health", timeout=10).json()
        assert health["temporal"] is True
    finally:
        rest = running.stop()
    assert running.process.returncode == 0, rest
    assert re.search(r"the Temporal dev server stopped \(exit code -9\); starting it again", rest)
    assert "the Temporal dev server runs again" in rest


def test_two_instances_run_side_by_side_with_their_own_data_and_ports(tmp_path: Path) -> None:
    first = Running(tmp_path / "a", free_port(18100), tmp_path)
    try:
        second = Running(tmp_path / "b", free_port(18200), tmp_path)
        try:
            assert first.api != second.api
            assert first.temporal_port != second.temporal_port
            for running in (first, second):
                health = httpx.get(f"{running.api}/api/health", timeout=10).json()
                assert (health["temporal"], health["database"]) == (True, True)
            command = ["up", "--data", str(tmp_path / "a"), "--port", str(free_port(18400))]
            same_data = subprocess.run(
                [sys.executable, "-m", "backoffice", *command],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
                env=clean_env(),
            )
            assert same_data.returncode == 1
            assert "another `backoffice up` is using" in same_data.stderr
        finally:
            second.stop()
    finally:
        first.stop()


def test_up_uses_an_existing_temporal_when_given_its_address(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    existing = start_dev_server(tmp_path / "other", "default")
    try:
        running = Running(tmp_path / "data", free_port(18300), tmp_path, existing.address)
        try:
            assert running.temporal_port == existing.port
            assert running.ui is None  # no dev server of its own
            health = httpx.get(f"{running.api}/api/health", timeout=10).json()
            assert health["temporal"] is True
        finally:
            running.stop()
        assert not (tmp_path / "data" / "temporal.db").exists()
    finally:
        existing.stop()


@pytest.mark.parametrize("content", ["not a database", "another database"])
def test_up_on_a_store_it_cannot_use_says_so_and_leaves_nothing_running(
    tmp_path: Path, content: str
) -> None:
    data = tmp_path / "var"
    data.mkdir()
    store = data / "backoffice.db"
    if content == "not a database":
        store.write_text("these are not the droids you are looking for")
        expected = f"error: {store} is not a SQLite database"
    else:
        with closing(sqlite3.connect(store)) as other:
            other.execute("CREATE TABLE x (a)")
        expected = f"error: {store} holds no event store"

    try:
        result = subprocess.run(
            [sys.executable, "-m", "backoffice", "up", "--data", str(data), "--port",
             str(free_port(8000))],
            cwd=tmp_path, capture_output=True, text=True, timeout=90, env=clean_env(),
        )  # fmt: skip
        left_running = processes_naming(data)
    finally:
        for pid in processes_naming(data):  # were the test to fail, nothing stays behind
            os.kill(pid, signal.SIGKILL)

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.startswith(expected), result.stderr
    assert "starting the Temporal dev server" not in result.stdout
    assert left_running == []


def processes_naming(path: Path) -> list[int]:
    """The processes of this machine whose command line names ``path``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue  # ended meanwhile
            if str(path) in command:
                found.append(int(entry.name))
    return found


def test_up_stops_everything_when_its_terminal_closes(tmp_path: Path) -> None:
    """Closing the terminal sends SIGHUP: the dev server, in a session of its own, must
    not go on running on temporal.db, where the next ``up`` would start a second one."""
    data = tmp_path / "one"
    running = Running(data, free_port(18600), tmp_path)
    server = dev_server_pid(data)

    running.process.send_signal(signal.SIGHUP)
    rest, _ = running.process.communicate(timeout=30)

    assert running.process.returncode == 0, rest
    assert "stopped." in rest
    assert not Path(f"/proc/{server}").exists()


def test_the_dev_server_stops_when_up_is_killed_outright(tmp_path: Path) -> None:
    """``up`` killed outright (kill -9) cannot stop its dev server itself: the server,
    told to at its start (the parent-death signal), stops when ``up`` dies."""
    data = tmp_path / "one"
    first = Running(data, free_port(18720), tmp_path)
    [server] = dev_server_pids(data)

    first.process.kill()
    first.process.communicate(timeout=30)

    deadline = time.monotonic() + 15
    while dev_server_pids(data) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert dev_server_pids(data) == [], f"dev server {server} still runs"


def test_a_dev_server_left_running_on_the_folder_is_stopped_by_the_next_up(
    tmp_path: Path,
) -> None:
    """A dev server left running on the folder's temporal.db (by an ``up`` killed where
    the parent-death signal is not available) is stopped by the next ``up`` on the
    folder, rather than a second server started on the same temporal.db."""
    data = tmp_path / "one"
    data.mkdir()
    left_behind = subprocess.Popen(  # the dev server, as `up` starts it
        [
            *(find_binary("temporal"), "server", "start-dev"),
            *("--db-filename", str(data / "temporal.db")),
            *("--ip", "127.0.0.1", "--port", str(free_port(18730)), "--headless"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 15
    while not dev_server_pids(data) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = left_behind.pid
    assert dev_server_pids(data) == [left]

    again = Running(data, free_port(18710), tmp_path)
    try:
        assert f"stopped the Temporal dev server left running on {data.resolve()}" in "".join(
            again.output
        )
        assert left_behind.wait(timeout=10) is not None
        assert len(dev_server_pids(data)) == 1
    finally:
        again.stop()
        left_behind.kill()
        left_behind.wait()
