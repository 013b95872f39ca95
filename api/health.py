"""Health: is the API alive, and can it reach Temporal and the database?"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog
from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.dependencies import Context
from api.schemas import HealthOut

router = APIRouter(tags=["health"])
logger = structlog.get_logger(__name__)

CHECK_TIMEOUT = timedelta(seconds=2)


@router.get("/health", summary="Liveness and dependencies")
async def health(context: Context) -> HealthOut:
    """Always 200 while the API answers (a liveness probe must not restart it for an
    outage elsewhere); `status` is `degraded` when Temporal or the database does not
    answer within two seconds. No token needed."""
    temporal, database = await asyncio.gather(_temporal_ok(context), _database_ok(context))
    return HealthOut(
        status="ok" if temporal and database else "degraded", temporal=temporal, database=database
    )


async def _temporal_ok(context: Context) -> bool:
    try:
        return await asyncio.wait_for(
            context.client.service_client.check_health(timeout=CHECK_TIMEOUT),
            CHECK_TIMEOUT.total_seconds() + 0.5,
        )
    except Exception as error:  # any failure is the answer "not healthy"
        logger.warning("temporal_unhealthy", error=type(error).__name__)
        return False


async def _database_ok(context: Context) -> bool:
    def check() -> bool:
        context.application.recorder.max_notification_id()
        return True

    try:
        return await asyncio.wait_for(run_in_threadpool(check), CHECK_TIMEOUT.total_seconds())
    except Exception as error:  # any failure is the answer "not healthy"
        logger.warning("database_unhealthy", error=type(error).__name__)
        return False
