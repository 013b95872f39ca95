"""The FastAPI application: ``create_app(context)`` builds it; nothing happens at import."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from api import audit, directory, employees, health, history, leave_requests, tasks
from api.context import ApiContext
from api.errors import install_error_handlers
from web.app import install_web

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
        docs_url=None,  # served below from the installed Swagger UI: no CDN at run time
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.context = context
    install_error_handlers(app)
    api = APIRouter(prefix="/api")
    for module in (leave_requests, history, tasks, employees, directory, audit, health):
        api.include_router(module.router)
    app.include_router(api)
    install_docs(app)
    install_web(app, context)
    return app


def install_docs(app: FastAPI) -> None:
    """The interactive OpenAPI page at ``/docs``, with Swagger UI from the
    ``swagger-ui-bundle`` package, so it works without internet access."""
    app.mount("/docs/static", StaticFiles(directory=swagger_ui_path), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/api/openapi.json",
            title=f"{app.title} - docs",
            swagger_js_url="/docs/static/swagger-ui-bundle.js",
            swagger_css_url="/docs/static/swagger-ui.css",
            swagger_favicon_url="/docs/static/favicon-32x32.png",
        )
