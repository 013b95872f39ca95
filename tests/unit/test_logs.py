"""Structured logs go to standard error as it is when a line is written."""

from __future__ import annotations

import io
import sys

import pytest
import structlog

from backoffice.logs import configure_logging


def test_logs_go_to_standard_error_as_it_is_now_not_as_it_was_when_configured(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A command run in-process (a CLI test's runner) configures the logs while standard
    error is a stream of its own, closed when the command ends: later lines must not be
    written to it."""
    config = structlog.get_config()
    try:
        with monkeypatch.context() as patched:
            was = io.StringIO()
            patched.setattr(sys, "stderr", was)
            configure_logging()
        was.close()

        structlog.get_logger().info("written_later", where="now")
    finally:
        structlog.configure(**config)

    assert "written_later" in capsys.readouterr().err
