"""Fixtures of the unit tests: an application on an in-memory SQLite store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.application import BackofficeApplication
from tests.unit.factories import LeaveDesk, meta, organisation


@pytest.fixture
def blank_app() -> Iterator[BackofficeApplication]:
    """An application with nothing recorded yet."""
    app = BackofficeApplication(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"}
    )
    yield app
    app.close()


@pytest.fixture
def app(blank_app: BackofficeApplication) -> BackofficeApplication:
    """An application with the test organisation (``factories.organisation``) loaded."""
    blank_app.load_organisation(organisation(), meta(command_id="load-org"))
    return blank_app


@pytest.fixture
def desk(app: BackofficeApplication) -> LeaveDesk:
    return LeaveDesk(app)
