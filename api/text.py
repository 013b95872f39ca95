"""The characters text from people may not hold, in one place for the API's bodies and
the organisation's entries."""

from __future__ import annotations

import re

_DIRECTION_MARKS = "\u202a-\u202e\u2066-\u2069"
"""Marks that reverse the direction text is shown in: a reason could read otherwise
than it is."""

CONTROL = re.compile(f"[\x00-\x1f\x7f-\x9f{_DIRECTION_MARKS}]")
"""Control characters and direction marks: none belongs in a one-line value."""

CONTROL_BUT_LINES = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_DIRECTION_MARKS}]")
"""The same, but for line breaks and tabs, which a reason or a comment may have."""
