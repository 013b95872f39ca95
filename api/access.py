"""The policy as routes ask it: the directory as recorded now, and today's date.

Every route asks :class:`domain.policy.Policy`; none re-implements a rule.
"""

from __future__ import annotations

from datetime import UTC, datetime

from api.context import ApiContext
from domain.errors import DomainError
from domain.policy import Policy


def policy(context: ApiContext) -> Policy:
    """The policy now. The directory is read from the event store (one query for newer
    directory events), so a role granted or a delegation revoked counts at once."""
    return Policy(context.application.directory.current(), datetime.now(UTC).date())


def may_act(context: ApiContext, employee_id: str) -> bool:
    """Whether ``employee_id`` is someone who may use the product now: in the directory
    and not gone (the same check as every API request's, for the pages' sessions)."""
    try:
        policy(context).check_caller(employee_id)
    except DomainError:
        return False
    return True
