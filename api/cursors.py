"""Cursors of the lists paged by an instant and an id (leave requests, the inbox).

A cursor is the sort key of a page's last item, ``["<instant>", "<id>"]`` as JSON in
base64url: opaque to callers, who pass a page's ``next_after`` back as ``after``. The
key, not an offset, so that items added or gone between two pages shift nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import datetime

from api.errors import ApiError
from projections.base import utc_text

INVALID = (
    "after: not a cursor this list gave; pass a page's `next_after` as it is, or leave"
    " `after` out for the first page"
)


def cursor_after(instant: datetime, key: str) -> str:
    """The cursor of an item sorted by ``instant``, then ``key``."""
    text = json.dumps([utc_text(instant), key], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def read_cursor(after: str, is_key: Callable[[str], bool]) -> tuple[datetime, str]:
    """The instant and the key ``after`` holds; 422 ``invalid_cursor`` if it holds none,
    or a key that ``is_key`` does not take for one."""
    try:
        padded = (after + "=" * (-len(after) % 4)).encode("ascii")
        instant, key = json.loads(base64.b64decode(padded, altchars=b"-_", validate=True))
        if not isinstance(instant, str) or not isinstance(key, str):
            raise ValueError(after)
        when = datetime.fromisoformat(instant)
    except (ValueError, TypeError, binascii.Error):
        raise ApiError(422, INVALID, "invalid_cursor") from None
    if when.tzinfo is None or not is_key(key):
        raise ApiError(422, INVALID, "invalid_cursor")
    return when, key
