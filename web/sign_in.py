"""Sign in with an employee id and password; sign out."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.access import policy
from api.context import ApiContext
from domain.errors import DomainError, NotAllowed
from web.rendering import page
from web.security import SESSION_COOKIE, SIGN_IN_COOKIE, same_token, set_cookie
from web.session import Context, MaybeSignedIn, SignedIn, Web, check_csrf

router = APIRouter(include_in_schema=False)

WRONG = "The employee id or the password is not right."
ENDED = (
    "Your session had ended, so what you sent was not saved. Sign in to go back to the"
    " page and send it again."
)
MISSING = {"employee_id": "Enter your employee id.", "password": "Enter your password."}
"""What a sign-in sent with a field left empty is told, beside that field."""
FormText = Annotated[str | None, Form()]


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site, never another site."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/tasks"


@router.get("/")
def home(session: MaybeSignedIn) -> RedirectResponse:
    return RedirectResponse("/tasks" if session is not None else "/sign-in", status_code=303)


@router.get("/sign-in")
async def sign_in_form(
    request: Request,
    web: Web,
    session: MaybeSignedIn,
    next: str | None = None,
    ended: str | None = None,
) -> Response:
    """The form; ``ended``: a form was sent after its session had ended."""
    if session is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return await _form(request, web, next=safe_next(next), notice=ENDED if ended else None)


async def _form(
    request: Request,
    web: Web,
    *,
    next: str,
    employee_id: str = "",
    error: str | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """The sign-in form, with a fresh token held in a cookie until the form comes back."""
    token = secrets.token_urlsafe(32)
    response = await page(
        request,
        web,
        None,
        "sign_in.html",
        status=status,
        headers=headers,
        form_token=token,
        next=next,
        employee_id=employee_id,
        error=error,
        errors=errors or {},
        notice=notice,
    )
    set_cookie(
        response,
        request,
        SIGN_IN_COOKIE,
        token,
        max_age=3600,
        always_secure=_secure(request),
    )
    return response


def _secure(request: Request) -> bool:
    settings = request.app.state.context.settings
    return bool(settings.session_cookie_secure)


@router.post("/sign-in")
async def sign_in(
    request: Request,
    web: Web,
    context: Context,
    employee_id: FormText = None,
    password: FormText = None,
    csrf_token: FormText = None,
    next: FormText = None,
) -> Response:
    """Check the password, unless this employee id or this address failed too often
    (``SignInLimiter``: per employee id from this address, from any, and per address).
    A field left empty is asked for and nothing is checked, so it counts as no failure."""
    if not same_token(request.cookies.get(SIGN_IN_COOKIE), csrf_token):
        return await page(request, web, None, "refused.html", status=403, reason="csrf")
    employee_id = (employee_id or "").strip()
    target = safe_next(next)
    given = {"employee_id": employee_id, "password": password}
    missing = {field: ask for field, ask in MISSING.items() if not given[field]}
    if missing:
        return await _form(
            request, web, next=target, employee_id=employee_id, errors=missing, status=422
        )
    address = request.client.host if request.client else "unknown"
    wait = await run_in_threadpool(web.limiter.retry_after, employee_id, address)
    if wait is not None:
        minutes = (wait + 59) // 60
        return await _form(
            request,
            web,
            next=target,
            employee_id=employee_id,
            error=f"Too many failed sign-ins. Try again in {minutes} minute"
            + ("" if minutes == 1 else "s")
            + ".",
            status=429,
            headers={"Retry-After": str(wait)},
        )
    # Counted as failed until the password proves otherwise: see SignInLimiter.attempt.
    attempt = await run_in_threadpool(web.limiter.attempt, employee_id, address)
    try:
        allowed, ended = await run_in_threadpool(_standing, context, employee_id)
        valid = await run_in_threadpool(web.credentials.verify, employee_id, password or "")
    except BaseException:
        await run_in_threadpool(web.limiter.withdraw, attempt)  # not checked: no failure
        raise
    if valid and ended is not None:  # the password proves who they are: say why
        await run_in_threadpool(web.limiter.withdraw, attempt)
        error = f"You can no longer sign in: your employment ended on {ended.isoformat()}."
        return await _form(
            request, web, next=target, employee_id=employee_id, error=error, status=403
        )
    if not (valid and allowed):
        return await _form(
            request, web, next=target, employee_id=employee_id, error=WRONG, status=400
        )
    await run_in_threadpool(web.limiter.succeeded, employee_id, address, attempt)
    session = await run_in_threadpool(web.credentials.start_session, employee_id)
    response = RedirectResponse(target, status_code=303)
    lifetime = int((session.expires_at - session.created_at).total_seconds())
    set_cookie(
        response,
        request,
        SESSION_COOKIE,
        session.session_id,
        max_age=lifetime,
        always_secure=_secure(request),
    )
    response.delete_cookie(SIGN_IN_COOKIE, path="/")
    return response


def _standing(context: ApiContext, employee_id: str) -> tuple[bool, date | None]:
    """Whether ``employee_id`` may use the product now (every request's check), and for
    someone whose employment has ended, its last day."""
    now = policy(context)
    try:
        now.check_caller(employee_id)
    except NotAllowed:  # in the directory, and gone
        return False, now.directory.employees[employee_id].end_date
    except DomainError:
        return False, None
    return True, None


@router.post("/sign-out")
async def sign_out(
    request: Request, web: Web, session: SignedIn, csrf_token: FormText = None
) -> Response:
    """End the session on the server, so the cookie opens nothing any more."""
    check_csrf(session, csrf_token)
    await run_in_threadpool(web.credentials.end_session, session.session_id)
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
