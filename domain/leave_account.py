"""The leave account: one per employee, guarding overlaps and the yearly balance."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.base import IdempotentAggregate
from domain.employee import EmployeeProfile
from domain.errors import Conflict, RuleViolation
from domain.leave import (
    AFTER_EMPLOYMENT_ENDS,
    BEFORE_EMPLOYMENT_STARTS,
    HALF,
    ONE,
    ZERO,
    Half,
    LeaveType,
    days_by_year,
    days_text,
    first_day_after,
)
from domain.meta import Meta

A = TypeVar("A")


@dataclass
class Booking:
    """Days held for one leave request: pending until approved."""

    leave_type: LeaveType
    days: dict[date, Decimal]
    approved: bool
    halves: dict[date, Half] = field(default_factory=dict)
    """Which half of each half day (unknown for reservations recorded before halves were)."""


@dataclass(frozen=True)
class Balance:
    entitled: Decimal
    approved: Decimal
    pending: Decimal

    @property
    def remaining(self) -> Decimal:
        return self.entitled - self.approved - self.pending


class LeaveAccount(IdempotentAggregate):
    """All the leave an employee holds: every pending or approved request's days.

    Saving the account together with the request makes the overlap and balance
    checks atomic: two concurrent requests conflict on the account's version.
    """

    @staticmethod
    def create_id(employee_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/leave-accounts/{employee_id}")

    @event("Opened")
    def __init__(self, employee_id: str, meta: Meta) -> None:
        super().__init__(meta)
        self.employee_id = employee_id
        self.bookings: dict[str, Booking] = {}

    def held_on(self, day: date) -> Decimal:
        return sum((b.days.get(day, ZERO) for b in self.bookings.values()), ZERO)

    def _clashes(self, day: date, share: Decimal, half: Half | None) -> bool:
        """Whether ``share`` of ``day`` (its ``half``, for a half day) is already held:
        more than the whole day, or the same half of it."""
        if self.held_on(day) + share > ONE:
            return True
        return half is not None and any(b.halves.get(day) is half for b in self.bookings.values())

    def balance(self, profile: EmployeeProfile, year: int) -> Balance:
        approved = pending = ZERO
        for booking in self.bookings.values():
            if booking.leave_type.draws_on_balance:
                days = days_by_year(booking.days).get(year, ZERO)
                if booking.approved:
                    approved += days
                else:
                    pending += days
        entitled = profile.entitlement_in(year)
        return Balance(entitled, approved, pending)

    def check_reservation(
        self,
        leave_type: LeaveType,
        days: dict[date, Decimal],
        profile: EmployeeProfile,
        *,
        halves: Mapping[date, Half],
    ) -> None:
        """Refuse a request of no working days, one with a day before the first or after
        the last day of employment, an overlap (the same half day counts), or one beyond
        the balance."""
        if not days:
            raise RuleViolation("zero_working_days", "the request covers no working day")
        if (before := min(days)) < profile.start_date:
            raise RuleViolation(
                BEFORE_EMPLOYMENT_STARTS,
                f"{profile.employee_id}'s first day of employment is"
                f" {profile.start_date.isoformat()}: leave can only be asked for from that"
                f" day, and this asks for {before.isoformat()}",
            )
        last_day = profile.end_date
        if last_day is not None and (after := first_day_after(days, last_day)) is not None:
            raise RuleViolation(
                AFTER_EMPLOYMENT_ENDS,
                f"{profile.employee_id}'s last day of employment is {last_day.isoformat()}:"
                f" leave can only be asked for up to that day, and this asks for"
                f" {after.isoformat()}",
            )
        clashes = sorted(
            day for day, share in days.items() if self._clashes(day, share, halves.get(day))
        )
        if clashes:
            raise Conflict(
                "overlap",
                f"overlaps another pending or approved request on {clashes[0].isoformat()}",
            )
        if leave_type.draws_on_balance:
            for year, wanted in sorted(days_by_year(days).items()):
                balance = self.balance(profile, year)
                if wanted > balance.remaining:
                    raise RuleViolation("insufficient_balance", _shortfall(wanted, year, balance))

    def reserve(
        self,
        case_id: str,
        leave_type: LeaveType,
        days: dict[date, Decimal],
        profile: EmployeeProfile,
        meta: Meta,
        *,
        halves: Mapping[date, Half],
    ) -> None:
        """Hold ``days`` (each working day's share) for ``case_id``; ``halves`` says which
        half of each half day."""
        if self.has_applied(meta):
            return
        self.check_reservation(leave_type, days, profile, halves=halves)
        self._reserved(
            case_id=case_id,
            leave_type=leave_type.value,
            days={day.isoformat(): share for day, share in sorted(days.items())},
            approved=not leave_type.needs_approval,
            meta=meta,
            halves={
                day.isoformat(): half.value for day, half in sorted(halves.items()) if day in days
            },
        )

    @event("Reserved")
    def _reserved(
        self,
        case_id: str,
        leave_type: str,
        days: dict[str, Decimal],
        approved: bool,
        meta: Meta,
        halves: dict[str, str] | None = None,  # None: recorded before halves were
    ) -> None:
        self.bookings[case_id] = Booking(
            LeaveType(leave_type),
            {date.fromisoformat(day): share for day, share in days.items()},
            approved,
            {date.fromisoformat(day): Half(half) for day, half in (halves or {}).items()},
        )

    def confirm(self, case_id: str, meta: Meta) -> None:
        if not self.has_applied(meta):
            self._confirmed(case_id=case_id, meta=meta)

    @event("Confirmed")
    def _confirmed(self, case_id: str, meta: Meta) -> None:
        self.bookings[case_id].approved = True

    def release(self, case_id: str, reason: str, meta: Meta) -> None:
        """Give the days of a rejected, withdrawn or cancelled request back."""
        if not self.has_applied(meta) and case_id in self.bookings:
            self._released(case_id=case_id, reason=reason, meta=meta)

    @event("Released")
    def _released(self, case_id: str, reason: str, meta: Meta) -> None:
        del self.bookings[case_id]

    def shorten(
        self, case_id: str, last_day: date, meta: Meta, *, half_day_end: bool = False
    ) -> None:
        """Give back the days ``case_id`` holds after ``last_day`` (the leave was ended
        early), and with ``half_day_end`` (back at noon) the afternoon of ``last_day``
        when it holds that day in full; nothing when it holds none of these."""
        booking = self.bookings.get(case_id)
        if self.has_applied(meta) or booking is None:
            return
        released = _after(booking.days, last_day)
        half_day_end = half_day_end and booking.days.get(last_day) == ONE
        if half_day_end:
            released[last_day] = HALF
        if released:
            self._shortened(
                case_id=case_id,
                last_day=last_day,
                released={day.isoformat(): share for day, share in sorted(released.items())},
                meta=meta,
                half_day_end=half_day_end,
            )

    @event("Shortened")
    def _shortened(
        self,
        case_id: str,
        last_day: date,
        released: dict[str, Decimal],
        meta: Meta,
        half_day_end: bool = False,  # recorded before leave could end at noon: False
    ) -> None:
        """``released``: each day's share given back; with ``half_day_end``, the
        afternoon of ``last_day``, whose morning the booking keeps as a half day."""
        booking = self.bookings[case_id]
        for day in _after(booking.days, last_day):
            del booking.days[day]
        for day in _after(booking.halves, last_day):
            del booking.halves[day]
        if half_day_end:
            booking.days[last_day] -= released[last_day.isoformat()]
            booking.halves[last_day] = Half.MORNING
        if not booking.days:
            # Ended on a weekend or holiday before its first working day: it holds
            # nothing, and a booking holds at least a day (as a reservation must).
            del self.bookings[case_id]


def _after(held: Mapping[date, A], last_day: date) -> dict[date, A]:
    return {day: value for day, value in held.items() if day > last_day}


def _shortfall(wanted: Decimal, year: int, balance: Balance) -> str:
    """Why ``wanted`` days do not fit; a last day of employment recorded after days were
    booked can cut the entitlement below what is held, which is said, not shown as a
    negative balance."""
    asked = f"{days_text(wanted)} {'day' if wanted == 1 else 'days'} asked in {year}"
    if balance.remaining >= 0:
        return f"{asked}, only {days_text(balance.remaining)} remaining"
    held = balance.approved + balance.pending
    return (
        f"{asked}, none remaining: {days_text(held)} {'day is' if held == 1 else 'days are'}"
        " held (pending or approved),"
        f" {days_text(-balance.remaining)} more than the {days_text(balance.entitled)}"
        f" entitled in {year}"
    )
