"""The embedded Temporal dev server, started as ``backoffice up`` starts it."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from backoffice import devserver


async def test_a_port_taken_between_its_probe_and_the_servers_start_is_given_up_for_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two instances started at once may both find 7233 free; the one that loses the
    race starts on other ports instead of failing."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        held = other.getsockname()[1]
        probed: list[int] = []
        probe = devserver.free_port

        def the_held_port_first(preferred: int, taken: set[int] | None = None) -> int:
            probed.append(preferred)
            return held if len(probed) == 1 else probe(preferred, taken)

        monkeypatch.setattr(devserver, "free_port", the_held_port_first)
        server, client = await devserver.start_dev_server_and_connect(tmp_path, "default")
        try:
            assert server.port != held
            assert await client.service_client.check_health()
        finally:
            server.stop()
    assert len(probed) == 4  # a port and a UI port for each of the two starts


def _dies(server: devserver.DevServer) -> None:
    server.process.kill()
    server.process.wait()


@pytest.fixture
async def dead(tmp_path: Path) -> devserver.DevServer:
    """A dev server that has just died, for ``keep_running`` to start again."""
    server, _ = await devserver.start_dev_server_and_connect(tmp_path, "default")
    _dies(server)
    return server


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[devserver.DevServer]:
    """Every dev server started from here on, in order."""
    servers: list[devserver.DevServer] = []
    start = devserver.start_dev_server

    def recorded(*args: object, **kwargs: object) -> devserver.DevServer:
        servers.append(start(*args, **kwargs))  # type: ignore[arg-type]
        return servers[-1]

    monkeypatch.setattr(devserver, "start_dev_server", recorded)
    return servers


async def test_a_restart_that_never_answers_leaves_no_server_running(
    dead: devserver.DevServer,
    started: list[devserver.DevServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``up`` gives up when the restarted server does not answer; the server it started
    for that is stopped with it, not left running on the data folder's temporal.db."""

    async def never_answers(*args: object, **kwargs: object) -> object:
        raise RuntimeError("Temporal at 127.0.0.1:1 did not answer within 30s")

    monkeypatch.setattr(devserver, "connect_when_ready", never_answers)
    with pytest.raises(RuntimeError, match="did not answer"):
        await devserver.keep_running(dead, "default", asyncio.Event())
    assert len(started) == 1
    assert started[0].process.poll() is not None


async def test_ctrl_c_during_a_restart_stops_waiting_for_the_server(
    dead: devserver.DevServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopping ``up`` while the dead server is started again does not wait for it to
    answer: ``keep_running`` hands back the new server for the caller to stop."""
    stop = asyncio.Event()
    waiting = asyncio.Event()

    async def answers_late(*args: object, **kwargs: object) -> object:
        waiting.set()
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    monkeypatch.setattr(devserver, "connect_when_ready", answers_late)
    running = asyncio.create_task(devserver.keep_running(dead, "default", stop))
    await asyncio.wait_for(waiting.wait(), timeout=30)
    stop.set()
    restarted = await asyncio.wait_for(running, timeout=30)
    try:
        assert restarted is not dead
        assert restarted.process.poll() is None
    finally:
        restarted.stop()


async def test_a_restart_whose_port_was_taken_says_so_and_leaves_no_server_running(
    dead: devserver.DevServer, started: list[devserver.DevServer]
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.bind(("127.0.0.1", dead.port))
        other.listen()
        with pytest.raises(RuntimeError, match=f"another process took its port {dead.port}"):
            await devserver.keep_running(dead, "default", asyncio.Event())
    assert len(started) == 1
    assert started[0].process.poll() is not None


async def test_a_server_that_keeps_stopping_is_given_up_on(
    dead: devserver.DevServer,
    started: list[devserver.DevServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    start = devserver.start_dev_server

    def dies_at_once(*args: object, **kwargs: object) -> devserver.DevServer:
        server = start(*args, **kwargs)  # type: ignore[arg-type]
        _dies(server)
        return server

    monkeypatch.setattr(devserver, "start_dev_server", dies_at_once)
    with pytest.raises(RuntimeError, match="keeps stopping"):
        await devserver.keep_running(dead, "default", asyncio.Event())
    assert len(started) == devserver.RESTARTS_PER_MINUTE  # the first exit was the dead one
    assert all(each.process.poll() is not None for each in started)
