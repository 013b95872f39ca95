"""Commands that were refused: who asked for what on which case, and the rule that said
no. Temporal keeps no record of an update its validator rejected, and a refusal records
nothing on the case itself, so the refusals of a case are kept in a stream of their own
beside it (recording one never contends with the case's workflow)."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.base import IdempotentAggregate
from domain.meta import Meta


class RefusalLog(IdempotentAggregate):
    """The refused commands on one case."""

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
