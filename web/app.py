"""``install_web(app, context)``: the pages, their static files and their state on an app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import cast
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from api.context import ApiContext
from services.credentials import Credentials
from web import audit, inbox, requests, sign_in, team
from web.rendering import days, days_of, message, page, period, sent_up_because
from web.security import SignInLimiter
from web.session import CsrfRefused, SignInRequired, WebState, optional_session, web_state

HERE = Path(__file__).parent


def install_web(app: FastAPI, context: ApiContext) -> None:
    """Serve the pages from ``app``: sign-in, inbox, requests, team calendar."""
    settings = context.settings
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["days"] = days
    templates.env.filters["days_of"] = days_of
    templates.env.filters["message"] = message
    templates.env.filters["period"] = period
    templates.env.filters["sent_up_because"] = sent_up_because
    credentials = Credentials(
        settings.store, session_lifetime=timedelta(hours=settings.session_ttl_hours)
    )
    app.state.web = WebState(
        credentials=credentials,
        limiter=SignInLimiter(credentials),
        templates=templates,
    )
    for module in (sign_in, inbox, requests, team, audit):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="web-static")
    app.add_api_route("/favicon.ico", _no_icon, include_in_schema=False)
    app.add_exception_handler(SignInRequired, _to_sign_in)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
    _pages_for_unknown_addresses(app)


def _pages_for_unknown_addresses(app: FastAPI) -> None:
    """A browser asking for an address no route serves (outside ``/api``) gets the
    site's "Not found" page; anything else, the API's JSON answer."""
    answer_as_api = cast(
        Callable[[Request, Exception], Awaitable[Response]], app.exception_handlers[HTTPException]
    )

    async def not_found(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        unknown = error.status_code == 404 and error.detail == "Not Found"
        if unknown and _wants_a_page(request):
            web = await web_state(request)
            session = await run_in_threadpool(optional_session, request, web)
            return await page(request, web, session, "refused.html", status=404, reason="")
        return await answer_as_api(request, error)

    app.add_exception_handler(HTTPException, not_found)


def _wants_a_page(request: Request) -> bool:
    path = request.url.path
    return (
        request.method == "GET"
        and not (path == "/api" or path.startswith("/api/"))
        and "text/html" in request.headers.get("accept", "")
    )


async def _no_icon() -> Response:
    """Browsers ask for an icon; there is none, and saying so quietly spares the logs."""
    return Response(status_code=204)


async def _to_sign_in(request: Request, error: Exception) -> Response:
    """A page that needs a session sends the browser to sign in, then back. A form sent
    without one came from a page shown in a session that has ended since (signed out in
    another tab, expired): the sign-in page says so, and leads back to that page."""
    if request.method == "GET":
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/sign-in?next={quote(back, safe='')}", status_code=303)
    back = _page_of_form(request)
    return RedirectResponse(f"/sign-in?next={quote(back, safe='')}&ended=1", status_code=303)


def _page_of_form(request: Request) -> str:
    """The page a form was sent from: the Referer when it is this site (pages send it to
    their own origin), else the form's own address (a decision's leads to its task)."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc == request.url.netloc and referer.path.startswith("/"):
        return referer.path + (f"?{referer.query}" if referer.query else "")
    return request.url.path


async def _csrf_refused(request: Request, error: Exception) -> Response:
    web: WebState = request.app.state.web
    return await page(request, web, None, "refused.html", status=403, reason="csrf")
