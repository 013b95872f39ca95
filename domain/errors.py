"""Domain errors: each names the rule it enforces, so callers can show it."""

from __future__ import annotations


class DomainError(Exception):
    """A command was refused by a business rule. Nothing was recorded."""

    kind = "rule_violation"

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


class RuleViolation(DomainError):
    """The command breaks a rule (answered as 422 by the API)."""


class Conflict(DomainError):
    """The command clashes with the current state of the case (409)."""

    kind = "conflict"


class NotAllowed(DomainError):
    """The actor may not do this (403)."""

    kind = "not_allowed"


class NotFound(DomainError):
    """The thing the command names does not exist (404)."""

    kind = "not_found"


ERRORS_BY_KIND: dict[str, type[DomainError]] = {
    cls.kind: cls for cls in (RuleViolation, Conflict, NotAllowed, NotFound)
}
