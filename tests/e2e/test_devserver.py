"""The embedded Temporal dev server, started as ``backoffice up`` starts it."""

from __future__ import annotations

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
