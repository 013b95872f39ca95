"""What Temporal is told when an activity fails: a refusal is final, and an event store
that did not answer is tried again, with one line in the log rather than a traceback."""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import replace
from datetime import date
from typing import Any, NoReturn, cast

import pytest
import structlog
from eventsourcing.persistence import OperationalError
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.testing import ActivityEnvironment

from activities.leave import LeaveActivities
from domain.errors import RuleViolation
from domain.leave import LeaveType
from services.application import BackofficeApplication
from workflows.messages import LeaveRequestStart

START = LeaveRequestStart(
    case_id=uuid.uuid4(),
    employee_id="e-100",
    leave_type=LeaveType.ANNUAL,
    start=date(2031, 3, 3),
    end=date(2031, 3, 4),
    submitted_by="e-100",
)


class Failing:
    """An application whose every use case raises ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def submit_leave_request(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise self.error


def submit_failing_with(error: Exception) -> ApplicationError:
    activities = LeaveActivities(cast(BackofficeApplication, Failing(error)))
    environment = ActivityEnvironment()
    environment.info = replace(environment.info, activity_type="submit_leave_request", attempt=3)
    with pytest.raises(ApplicationError) as failed:
        environment.run(activities.submit, START)
    return failed.value


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("server closed the connection unexpectedly"),  # PostgreSQL, wrapped
        sqlite3.OperationalError("database is locked"),  # SQLite's lock timeout
    ],
)
def test_an_event_store_that_did_not_answer_is_tried_again_with_one_log_line(
    error: Exception,
) -> None:
    with structlog.testing.capture_logs() as logs:
        failed = submit_failing_with(error)

    assert not failed.non_retryable
    assert failed.type == "database_unavailable"
    assert failed.category is ApplicationErrorCategory.BENIGN  # no traceback from the worker
    assert failed.__cause__ is error
    [line] = [log for log in logs if log["event"] == "database_unavailable"]
    assert line["log_level"] == "warning"
    assert (line["activity"], line["attempt"]) == ("submit_leave_request", 3)
    assert str(error) in line["error"]


def wrapped(error: Exception, cause: Exception) -> Exception:
    """``error`` raised from ``cause``, as the library wraps the database's errors."""
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    "error",
    [
        sqlite3.OperationalError("no such column: halves"),
        wrapped(OperationalError("no such table: stored_events"), sqlite3.OperationalError("x")),
    ],
)
def test_a_database_error_that_is_a_defect_is_not_taken_for_one_that_did_not_answer(
    error: Exception,
) -> None:
    activities = LeaveActivities(cast(BackofficeApplication, Failing(error)))

    with pytest.raises(type(error)) as failed:  # Temporal logs its traceback, and retries
        ActivityEnvironment().run(activities.submit, START)

    assert failed.value is error


def test_a_locked_sqlite_store_wrapped_by_the_library_did_not_answer() -> None:
    locked = wrapped(OperationalError("database is locked"), sqlite3.OperationalError("locked"))

    assert submit_failing_with(locked).type == "database_unavailable"


def test_a_refusal_is_final() -> None:
    failed = submit_failing_with(RuleViolation("too_long", "at most 30 days at once"))

    assert failed.non_retryable
    assert (failed.type, failed.details) == ("rule_violation", ("too_long",))
