"""Days as every answer gives them: JSON numbers, whole days as integers (``5``), half
days as decimals (``2.5``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import PlainSerializer


def days_as_number(days: Decimal) -> int | float:
    """Whole days as integers (``5``), half days as decimals (``2.5``)."""
    return int(days) if days == days.to_integral_value() else float(days)


Days = Annotated[
    Decimal, PlainSerializer(days_as_number, return_type=int | float, when_used="json")
]
