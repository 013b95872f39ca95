"""What a change to the directory changed: each employee, department, role, limit
matrix and delegation that differs between two folds of the directory, with the fields
that changed, their old and their new values (so a reinstatement, a last day cleared,
shows as such in a report)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from domain.directory import Directory

NEW = "new"
CHANGED = "changed"
REVOKED = "revoked"


@dataclass(frozen=True)
class FieldChange:
    """One field, as the directory names it (``end_date``, ``manager_id``...)."""

    name: str
    old: object
    new: object


@dataclass(frozen=True)
class Change:
    """What became of one thing: ``subject`` such as ``employee e-100``; ``status``
    ``new``, ``changed`` or ``revoked``; the fields changed (none for a new one)."""

    subject: str
    status: str = CHANGED
    fields: tuple[FieldChange, ...] = ()


def changes_between(before: Directory, after: Directory) -> list[Change]:
    """Everything that differs from ``before`` in ``after``: departments, employees,
    roles, limits, delegations, each in the order of its id."""
    return [
        *_entries("department", _details(before), _details(after)),
        *_entries("employee", _profiles(before), _profiles(after)),
        *_roles(before, after),
        *_limits(before, after),
        *_delegations(before, after),
    ]


def _details(directory: Directory) -> dict[str, dict[str, Any]]:
    return {key: value.to_event_data() for key, value in directory.departments.items()}


def _profiles(directory: Directory) -> dict[str, dict[str, Any]]:
    return {key: value.to_event_data() for key, value in directory.employees.items()}


def _entries(
    kind: str, before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]
) -> Iterator[Change]:
    for key in sorted(after):
        if key not in before:
            yield Change(f"{kind} {key}", NEW)
            continue
        fields = _fields(before[key], after[key])
        if fields:
            yield Change(f"{kind} {key}", CHANGED, fields)


def _fields(before: dict[str, Any], after: dict[str, Any]) -> tuple[FieldChange, ...]:
    return tuple(
        FieldChange(name, before.get(name), value)
        for name, value in after.items()
        if before.get(name) != value
    )


def _roles(before: Directory, after: Directory) -> Iterator[Change]:
    for role in sorted(after.roles):
        old, new = sorted(before.roles.get(role, ())), sorted(after.roles[role])
        if old != new:
            yield Change(f"role {role}", CHANGED, (FieldChange("members", old, new),))


def _limits(before: Directory, after: Directory) -> Iterator[Change]:
    def matrix(directory: Directory, process: str) -> dict[str, str]:
        return {
            holder: f"{limit.amount} {limit.currency}"
            for (of, holder), limit in sorted(directory.limits.items())
            if of == process
        }

    processes = {process for process, _holder in (*before.limits, *after.limits)}
    for process in sorted(processes):
        fields = _fields(matrix(before, process), matrix(after, process))
        gone = tuple(
            FieldChange(holder, amount, None)
            for holder, amount in matrix(before, process).items()
            if holder not in matrix(after, process)
        )
        if fields or gone:
            yield Change(f"limits {process}", CHANGED, fields + gone)


def _delegations(before: Directory, after: Directory) -> Iterator[Change]:
    for delegation_id in sorted({*before.delegations, *after.delegations}):
        old, new = before.delegations.get(delegation_id), after.delegations.get(delegation_id)
        subject = f"delegation {delegation_id}"
        if old is None:
            yield Change(subject, NEW)
        elif new is None:
            yield Change(subject, REVOKED)
        elif old != new:
            yield Change(subject, CHANGED, _fields(vars(old), vars(new)))
