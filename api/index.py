"""``GET /api``: where to look, for a person who followed the address ``backoffice up``
prints. Kept out of the OpenAPI document, as ``/docs`` is: it describes the document."""

from __future__ import annotations

from api.schemas import ApiIndexOut

INDEX = ApiIndexOut(
    name="Backoffice API",
    docs="/docs",
    openapi="/api/openapi.json",
    health="/api/health",
    authentication=(
        "Authorization: Bearer <token> on every route but this one and /api/health"
        " (a token from `backoffice token EMPLOYEE_ID`)"
    ),
    collections={
        "leave_requests": "/api/leave-requests",
        "tasks": "/api/tasks",
        "directory": "/api/directory",
        "audit_events": "/api/audit/events",
    },
)


async def index() -> ApiIndexOut:
    """No token needed: it names only addresses the documentation names too. Added to
    the API's router as ``""`` and ``"/"`` (a router of its own cannot have an empty path)."""
    return INDEX
