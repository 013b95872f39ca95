"""Commands that were refused: who asked for what on which case, and the rule that said
no. Temporal keeps no record of an update its validator rejected, and a refusal records
nothing on the case itself, so each refusal is kept in a stream of its own beside the
case (:class:`Refusal`): recording one never contends with the case's workflow, and
reads none of the case's earlier refusals, however many a caller has had.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.base import IdempotentAggregate
from domain.meta import Meta


class Refusal(IdempotentAggregate):
    """One refused command on a case: a stream of one event, whose id is made of the
    case and the command refused, so a command refused again under the same command
    id (an Idempotency-Key sent again) finds its refusal kept already."""

    class Refused(IdempotentAggregate.Created):
        case_id: str
        process: str
        operation: str
        status: int
        rule: str | None
        detail: str

    @staticmethod
    def create_id(case_id: str, meta: Meta) -> UUID:
        return uuid5(NAMESPACE_URL, f"/cases/{case_id}/refusals/{meta.command_id}")

    @event(Refused)
    def __init__(
        self,
        case_id: str,
        process: str,
        operation: str,
        status: int,
        rule: str | None,
        detail: str,
        meta: Meta,
    ) -> None:
        super().__init__(meta)
        self.case_id = case_id
        self.process = process
        self.operation = operation
        self.status = status
        self.rule = rule
        self.detail = detail


class RefusalLog(IdempotentAggregate):
    """The refused commands on one case, in one stream, as stores kept them before each
    had a stream of its own (:class:`Refusal`): read, no longer written."""

    class Opened(IdempotentAggregate.Created):
        case_id: str
        process: str

    class Refused(IdempotentAggregate.Event):
        case_id: str
        process: str
        operation: str
        status: int
        rule: str | None
        detail: str

    @staticmethod
    def create_id(case_id: UUID) -> UUID:
        return uuid5(NAMESPACE_URL, f"/cases/{case_id}/refusals")

    @event(Opened)
    def __init__(self, case_id: str, process: str, meta: Meta) -> None:
        super().__init__(meta)
        self.case_id = case_id
        self.process = process
        self.count = 0

    def refuse(
        self, operation: str, status: int, rule: str | None, detail: str, meta: Meta
    ) -> None:
        if not self.has_applied(meta):
            self._refused(
                case_id=self.case_id,
                process=self.process,
                operation=operation,
                status=status,
                rule=rule,
                detail=detail,
                meta=meta,
            )

    @event(Refused)
    def _refused(
        self,
        case_id: str,
        process: str,
        operation: str,
        status: int,
        rule: str | None,
        detail: str,
        meta: Meta,
    ) -> None:
        self.count += 1
