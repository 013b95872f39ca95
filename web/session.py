"""The pages' state and the signed-in caller, as FastAPI dependencies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from api.access import may_act
from api.context import ApiContext
from services.credentials import Credentials, Session
from web.security import SESSION_COOKIE, SignInLimiter


@dataclass(frozen=True)
class WebState:
    """What the pages keep per app: made by ``install_web``, never at import."""

    credentials: Credentials
    limiter: SignInLimiter
    templates: Jinja2Templates


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in page."""


class CsrfRefused(Exception):
    """A state-changing form without its session's token: 403, nothing changed."""


# The dependencies that only read the app's state are async: FastAPI runs a plain
# function dependency in a worker thread, a hand-off that costs more than the read.


async def web_state(request: Request) -> WebState:
    return cast(WebState, request.app.state.web)


def api_context(request: Request) -> ApiContext:
    return cast(ApiContext, request.app.state.context)


async def _api_context(request: Request) -> ApiContext:
    return api_context(request)


Web = Annotated[WebState, Depends(web_state)]
Context = Annotated[ApiContext, Depends(_api_context)]


def optional_session(request: Request, web: Web) -> Session | None:
    """The session the cookie names, if it is live and its employee may still act (in
    the directory, employment not ended: the policy's check of every API caller)."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    session = web.credentials.session(session_id)
    if session is None or not may_act(api_context(request), session.employee_id):
        return None
    return session


async def current_session(
    session: Annotated[Session | None, Depends(optional_session)],
) -> Session:
    if session is None:
        raise SignInRequired
    return session


MaybeSignedIn = Annotated[Session | None, Depends(optional_session)]
SignedIn = Annotated[Session, Depends(current_session)]


def check_csrf(session: Session, token: str | None) -> None:
    """Refuse a form whose hidden token is not this session's."""
    if not session.is_valid_csrf(token):
        raise CsrfRefused
