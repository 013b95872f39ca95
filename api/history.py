"""A case's history: its recorded events in order, with who did what, when and for whom."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.auth import Caller
from api.cases import visible_case
from api.context import ApiContext
from api.dependencies import Context
from api.errors import error_responses
from domain.meta import Meta

router = APIRouter(
    prefix="/leave-requests", tags=["leave requests"], responses=error_responses(401, 422)
)

ENVELOPE = {"originator_id", "originator_version", "originator_topic", "timestamp", "meta"}
"""What every event carries; everything else on an event is its business content."""


class HistoryEntryOut(BaseModel):
    version: int = Field(description="The event's position in the case's stream, from 1")
    type: str = Field(description="What happened: Submitted, TaskOpened, TaskDecided...")
    at: datetime = Field(description="When it was recorded (UTC)")
    actor: str = Field(description="Who did it: an employee id, or `system`")
    on_behalf_of: str | None = Field(description="For whom, when done for someone else")
    data: dict[str, Any] = Field(
        description="The event's own facts: decision, comment, task_id, reason, dates..."
    )


class HistoryOut(BaseModel):
    case_id: UUID
    items: list[HistoryEntryOut]


@router.get("/{case_id}/history", responses=error_responses(404), summary="A case's history")
async def case_history(case_id: UUID, caller: Caller, context: Context) -> HistoryOut:
    """Every event recorded on the case, oldest first, as stored in the event store. Visible
    to exactly those who may see the case; to anybody else it does not exist (404)."""
    return await run_in_threadpool(_history, context, caller, case_id)


def _history(context: ApiContext, caller: str, case_id: UUID) -> HistoryOut:
    visible_case(context, caller, case_id)
    events = context.application.repository.event_store.get(case_id)
    return HistoryOut(case_id=case_id, items=[_entry(event) for event in events])


def _entry(event: Any) -> HistoryEntryOut:
    meta: Meta = event.meta
    return HistoryEntryOut(
        version=event.originator_version,
        type=type(event).__name__,
        at=event.timestamp,
        actor=meta.actor,
        on_behalf_of=meta.on_behalf_of,
        data={key: value for key, value in vars(event).items() if key not in ENVELOPE},
    )
