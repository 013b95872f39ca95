"""The employee: a person in the organisation, with their manager and leave terms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.base import IdempotentAggregate, changed_fields
from domain.calendar import WorkingCalendar
from domain.leave import entitlement
from domain.meta import Meta


@dataclass(frozen=True)
class EmployeeProfile:
    """The facts about an employee that the rules need, as loaded from the org file."""

    employee_id: str
    name: str
    email: str
    manager_id: str | None
    country: str
    subdivision: str | None
    annual_leave_days: Decimal
    start_date: date
    department_id: str | None = None
    end_date: date | None = None
    """The last day of employment, when it is known."""

    @property
    def calendar(self) -> WorkingCalendar:
        return WorkingCalendar(self.country, self.subdivision)

    def to_event_data(self) -> dict[str, Any]:
        return {
            "employee_id": self.employee_id,
            "name": self.name,
            "email": self.email,
            "manager_id": self.manager_id,
            "country": self.country,
            "subdivision": self.subdivision,
            "annual_leave_days": self.annual_leave_days,
            "start_date": self.start_date.isoformat(),
            "department_id": self.department_id,
            "end_date": None if self.end_date is None else self.end_date.isoformat(),
        }

    def entitlement_in(self, year: int) -> Decimal:
        """Annual leave in ``year``: pro-rated in the years employment starts and ends."""
        return entitlement(self.annual_leave_days, self.start_date, year, self.end_date)

    def has_left_by(self, day: date) -> bool:
        """Whether employment ended before ``day``."""
        return self.end_date is not None and self.end_date < day

    @classmethod
    def from_event_data(cls, data: dict[str, Any]) -> EmployeeProfile:
        end_date = data.get("end_date")
        return cls(
            **{
                **data,
                "start_date": date.fromisoformat(data["start_date"]),
                "end_date": None if end_date is None else date.fromisoformat(end_date),
            }
        )


class Employee(IdempotentAggregate):
    """An employee, identified by the organisation's employee id (``e-100``)."""

    class Registered(IdempotentAggregate.Created):
        employee_id: str
        profile: dict[str, Any]

    class DetailsChanged(IdempotentAggregate.Event):
        changes: dict[str, Any]

    @staticmethod
    def create_id(employee_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/employees/{employee_id}")

    @event(Registered)
    def __init__(self, employee_id: str, profile: dict[str, Any], meta: Meta) -> None:
        super().__init__(meta)
        self.profile_data = dict(profile)  # the event keeps its own (kept events are shared)

    @property
    def profile(self) -> EmployeeProfile:
        return EmployeeProfile.from_event_data(self.profile_data)

    def update(self, profile: EmployeeProfile, meta: Meta) -> None:
        """Record the fields that differ from what is recorded; nothing if none."""
        new = profile.to_event_data()
        changes = changed_fields(self.profile_data, new)
        if changes and not self.has_applied(meta):
            self._changed(changes=changes, meta=meta)

    @event(DetailsChanged)
    def _changed(self, changes: dict[str, Any], meta: Meta) -> None:
        self.profile_data = {**self.profile_data, **changes}
