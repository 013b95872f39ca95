"""The FastAPI application: ``create_app(context)`` builds it; nothing happens at import."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from api import employees, health, leave_requests, tasks
from api.context import ApiContext
from api.errors import install_error_handlers

DESCRIPTION = """
Back-office processes over HTTP. Every route but `/api/health` needs
`Authorization: Bearer <token>` (a token from `backoffice token EMPLOYEE_ID`).

Errors are JSON `{"detail": "...", "rule": "..."}`: `rule` names the business rule
that refused the request, when one did. Commands accept an `Idempotency-Key`
header: the same key gets the same result, applied once.

Commands answer once the read models (lists, inbox, balances) show their effect,
so a client reads its own writes.
"""


def create_app(context: ApiContext) -> FastAPI:
    """The API over ``context``; the caller owns the context's clients and their lifetime."""
    app = FastAPI(
        title="Backoffice API",
        version="1",
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.context = context
    install_error_handlers(app)
    api = APIRouter(prefix="/api")
    for module in (leave_requests, tasks, employees, health):
        api.include_router(module.router)
    app.include_router(api)
    return app
