"""Bearer tokens: HS256 JWTs whose subject is an employee id.

``issue_token`` makes them (the ``backoffice token`` command calls it);
``current_employee`` checks them on every route that needs a caller.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import jwt
from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.access import policy
from api.dependencies import Context
from api.errors import ApiError
from backoffice.settings import Settings
from domain.errors import NotAllowed, NotFound

ALGORITHM = "HS256"
"""Tokens made by ``backoffice token``, signed with the shared secret (the embedded default)."""
IDENTITY_PROVIDER_ALGORITHMS = ["RS256", "ES256"]
"""Tokens from an identity provider, verified with its published keys (JWKS)."""

bearer = HTTPBearer(
    auto_error=False,
    description=(
        "A JWT whose `sub` is your employee id: from `backoffice token EMPLOYEE_ID` (HS256),"
        " or from the identity provider named in the settings (RS256/ES256, JWKS)."
    ),
)


NOT_OUR_SIGNATURE = (
    "the token is not valid: it was not signed with this server's secret (made by"
    " `backoffice token` with another --data folder or BACKOFFICE_JWT_SECRET?), or it was"
    " altered"
)


def issue_token(settings: Settings, employee_id: str, *, now: datetime | None = None) -> str:
    """A token for ``employee_id``, valid ``settings.token_ttl_hours`` from ``now``."""
    issued_at = now or datetime.now(UTC)
    claims = {
        "sub": employee_id,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": issued_at,
        "exp": issued_at + timedelta(hours=settings.token_ttl_hours),
    }
    return jwt.encode(claims, settings.signing_secret(), algorithm=ALGORITHM)


def subject_of(settings: Settings, token: str) -> str:
    """The employee id a valid token names: signature, expiry, issuer and audience checked;
    ApiError 401 otherwise."""
    try:
        key, algorithms = _verification_key(settings, token)
        claims = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise unauthenticated("the token has expired", "token_expired") from None
    except jwt.InvalidSignatureError:
        if settings.uses_identity_provider:
            raise unauthenticated("the token is not valid", "invalid_token") from None
        raise unauthenticated(NOT_OUR_SIGNATURE, "invalid_token") from None
    except (jwt.PyJWTError, KeyError):
        raise unauthenticated("the token is not valid", "invalid_token") from None
    return str(claims["sub"])


def _verification_key(settings: Settings, token: str) -> tuple[Any, list[str]]:
    """The key a token must be signed with, and the algorithms accepted with it: only the
    identity provider's when one is configured, so a secret-signed token is refused."""
    if settings.jwks_url is not None:
        return _accepted(_jwks_client(settings.jwks_url).get_signing_key_from_jwt(token))
    if settings.jwks_file is not None:
        path = settings.jwks_file
        keys = _jwks_from_file(str(path), path.stat().st_mtime_ns)
        return _accepted(keys[str(jwt.get_unverified_header(token).get("kid"))])
    return settings.signing_secret(), [ALGORITHM]


def _accepted(key: jwt.PyJWK) -> tuple[Any, list[str]]:
    """A published key with the one algorithm its type allows (an RSA key verifies RS256
    only), so a token cannot choose how it is checked."""
    if key.algorithm_name not in IDENTITY_PROVIDER_ALGORITHMS:
        raise jwt.InvalidKeyError(f"keys for {key.algorithm_name} are not accepted")
    return key.key, [key.algorithm_name]


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    """One client per URL: it caches the provider's keys and refetches on an unknown kid."""
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)


@lru_cache(maxsize=4)
def _jwks_from_file(path: str, modified_ns: int) -> jwt.PyJWKSet:
    """The key set of a JWKS file, read again when the file changes (key rotation)."""
    return jwt.PyJWKSet.from_json(Path(path).read_text())


def unauthenticated(detail: str, rule: str) -> ApiError:
    challenge = "Bearer" if rule == "token_missing" else 'Bearer error="invalid_token"'
    return ApiError(401, detail, rule, {"WWW-Authenticate": challenge})


def current_employee(
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The caller's employee id, from a valid token naming someone in the directory who
    has not left."""
    if credentials is None:
        raise unauthenticated("send an 'Authorization: Bearer <token>' header", "token_missing")
    employee_id = subject_of(context.settings, credentials.credentials)
    try:
        policy(context).check_caller(employee_id)
    except NotFound:
        raise unauthenticated("the token names no known employee", "unknown_employee") from None
    except NotAllowed as error:
        raise unauthenticated(error.message, error.rule) from None
    return employee_id


Caller = Annotated[str, Depends(current_employee)]
