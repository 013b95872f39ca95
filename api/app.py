"""The FastAPI application: ``create_app(context)`` builds it; nothing happens at import."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path

from api import audit, directory, employees, health, history, index, leave_requests, tasks
from api.context import ApiContext
from api.dependencies import check_query_parameters
from api.errors import install_error_handlers
from web.app import install_web

DESCRIPTION = """
Back-office processes over HTTP. Every route but `/api/health` (and `/api`, which
names where to look) needs `Authorization: Bearer <token>` (a token from
`backoffice token EMPLOYEE_ID`).

Errors are JSON `{"detail": "...", "rule": "..."}`: `rule` names the business rule
that refused the request, when one did. Commands accept an `Idempotency-Key`
header: the same key gets the same result, applied once (for several decisions at
once, the key applies to each task: a task decided under it is not decided again).
The header given twice with different values is refused (422 `repeated_header`); the
same value twice counts as one.

A query parameter a route does not take is refused, naming those it does (422
`unknown_parameter`), and so is one given twice (422 `repeated_parameter`), rather than
ignored.

Commands answer once the read models (lists, inbox, balances) show their effect,
so a client reads its own writes.
"""


MAX_BODY_BYTES = 1_000_000
"""The largest request body read (a bulk decision of many tasks is far smaller)."""


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
    app.add_middleware(BodyLimit)
    install_error_handlers(app)
    api = APIRouter(prefix="/api", dependencies=[Depends(check_query_parameters)])
    for module in (leave_requests, history, tasks, employees, directory, audit, health):
        api.include_router(module.router)
    for path in ("", "/"):  # the address `up` prints, with or without its slash
        api.add_api_route(path, index.index, methods=["GET"], include_in_schema=False)
    app.include_router(api)
    install_docs(app)
    install_web(app, context)
    return app


TOO_LARGE = json.dumps(
    {
        "detail": "the request body is larger than 1 MB, the most any request here needs",
        "rule": "body_too_large",
    }
).encode()


class BodyLimit:
    """A request body over :data:`MAX_BODY_BYTES` is answered 413 in the API's error
    shape before any route or check runs, the token's included: at once when the request
    declares its length (``Content-Length``), else once that much has arrived (the body
    read so far is then given to the app as it came)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None:
            if declared > MAX_BODY_BYTES:
                await _too_large(send)
                return
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        size, more = 0, True
        while more:  # no length declared (chunked): read it, up to the limit
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            more = message["type"] == "http.request" and message.get("more_body", False)
            if size > MAX_BODY_BYTES:
                await _too_large(send)
                return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


async def _too_large(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": TOO_LARGE})


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


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
