"""Bearer tokens: HS256 JWTs whose subject is an employee id.

``issue_token`` makes them (the ``backoffice token`` command calls it);
``current_employee`` checks them on every route that needs a caller.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.dependencies import Context
from api.errors import ApiError
from backoffice.settings import Settings

ALGORITHM = "HS256"

bearer = HTTPBearer(
    auto_error=False,
    description="A token from `backoffice token EMPLOYEE_ID`: an HS256 JWT whose `sub` is you.",
)


def issue_token(settings: Settings, employee_id: str, *, now: datetime | None = None) -> str:
    """A token for ``employee_id``, valid ``settings.token_ttl_hours`` from ``now``."""
    issued_at = now or datetime.now(UTC)
    claims = {
        "sub": employee_id,
        "iss": settings.jwt_issuer,
        "iat": issued_at,
        "exp": issued_at + timedelta(hours=settings.token_ttl_hours),
    }
    return jwt.encode(claims, settings.signing_secret(), algorithm=ALGORITHM)


def subject_of(settings: Settings, token: str) -> str:
    """The employee id a valid token names; ApiError 401 otherwise."""
    try:
        claims = jwt.decode(
            token,
            settings.signing_secret(),
            algorithms=[ALGORITHM],
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iss", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise unauthenticated("the token has expired", "token_expired") from None
    except jwt.InvalidTokenError:
        raise unauthenticated("the token is not valid", "invalid_token") from None
    return str(claims["sub"])


def unauthenticated(detail: str, rule: str) -> ApiError:
    challenge = "Bearer" if rule == "token_missing" else 'Bearer error="invalid_token"'
    return ApiError(401, detail, rule, {"WWW-Authenticate": challenge})


def current_employee(
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The caller's employee id, from a valid token naming a known employee."""
    if credentials is None:
        raise unauthenticated("send an 'Authorization: Bearer <token>' header", "token_missing")
    employee_id = subject_of(context.settings, credentials.credentials)
    if context.application.find_employee(employee_id) is None:
        raise unauthenticated("the token names no known employee", "unknown_employee")
    return employee_id


Caller = Annotated[str, Depends(current_employee)]
