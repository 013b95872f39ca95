"""Instants in queries: written as ISO 8601, with their offset, and up to now where the
answer for a later one could still change."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import BeforeValidator

from api.errors import ApiError
from domain.errors import RuleViolation
from services import time_travel

ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
NOT_AN_INSTANT = "must be an instant with its UTC offset, such as 2027-03-01T12:00:00Z"


def _instant(value: object) -> object:
    """An instant written as ISO 8601 (a date and a time): pydantic would take a number
    of seconds since 1970, or a bare date, for one."""
    if isinstance(value, datetime) or (isinstance(value, str) and ISO_INSTANT.match(value)):
        return value
    raise ValueError(NOT_AN_INSTANT)


Instant = Annotated[datetime, BeforeValidator(_instant)]
"""An instant in a query: ``2027-03-01T12:00:00Z``; its offset is checked where it is used."""


def known_up_to_now(at: datetime, what: str, instead: str) -> None:
    """Refuse an instant after now (422), by the rule the command line follows too
    (:func:`services.time_travel.known_up_to_now`)."""
    try:
        time_travel.known_up_to_now(at, what, instead)
    except RuleViolation as refusal:
        raise ApiError(422, refusal.message, refusal.rule) from None
