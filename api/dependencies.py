"""Route dependencies: the context, the headers several routes share, and the check of
every API route's query parameters."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Annotated, cast

from fastapi import Depends, Header, Request
from fastapi._compat import ModelField, field_annotation_is_sequence
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.context import ApiContext
from api.errors import ApiError


async def get_context(request: Request) -> ApiContext:
    # async: FastAPI runs a plain function dependency in a worker thread, a hand-off
    # that costs more than reading an attribute.
    return cast(ApiContext, request.app.state.context)


Context = Annotated[ApiContext, Depends(get_context)]

IDEMPOTENCY_KEY = "Idempotency-Key"


async def idempotency_key(
    request: Request,
    key: Annotated[
        str | None,
        Header(
            alias=IDEMPOTENCY_KEY,
            min_length=1,
            max_length=200,
            description="Repeat a request safely: the same key gets the same result, done"
            " once. Give it once (the same value given twice counts as one).",
        ),
    ] = None,
) -> str | None:
    """The command's key. Given twice with different values, it is refused (422
    ``repeated_header``) rather than one of them taken: the caller would not know which
    key its command is kept under, and so could not repeat it safely."""
    given = request.headers.getlist(IDEMPOTENCY_KEY)
    if len(set(given)) > 1:
        raise ApiError(
            422,
            f"header {IDEMPOTENCY_KEY} given {len(given)} times with different values:"
            " send one key (the same value given twice counts as one)",
            "repeated_header",
        )
    return key


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]


async def check_query_parameters(request: Request) -> None:
    """Refuse a query parameter the route does not take (422 ``unknown_parameter``), and
    one given more than once where the route takes one value (422 ``repeated_parameter``).

    FastAPI ignores the first and takes one of the values of the second: a misspelt
    filter or limit would answer what was not asked, as if it had been. A dependency of
    the API's router, it runs before the route's own (the token's check included); the
    pages call the routes as functions, so it never sees their parameters.
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    taken = _query_parameters(route.dependant)
    sent = request.query_params
    where = f"{request.method} {request.url.path}"
    unknown = [name for name in sent if name not in taken]
    if unknown:
        raise ApiError(422, _unknown(unknown, list(taken), where), "unknown_parameter")
    for name in sent:
        given = len(sent.getlist(name))
        if given > 1 and not taken[name]:
            raise ApiError(
                422,
                f"query parameter {name!r} given {given} times: {where} takes one value of it",
                "repeated_parameter",
            )


def _query_parameters(dependant: Dependant) -> dict[str, bool]:
    """The query parameters of a route and its dependencies, in the order the OpenAPI
    document lists them, each with whether it takes several values. Those of its
    router's dependencies count, but not those of a dependency given to
    ``include_router``: FastAPI keeps these apart from the route."""
    # FastAPI's own test of whether it reads a parameter's every value.
    return {
        field.alias: field_annotation_is_sequence(field.field_info.annotation)
        for field in _declared(dependant)
    }


def _declared(dependant: Dependant) -> Iterator[ModelField]:
    yield from dependant.query_params
    for dependency in dependant.dependencies:
        yield from _declared(dependency)


def _unknown(names: list[str], taken: list[str], where: str) -> str:
    """``unknown query parameter 'limt' (did you mean 'limit'?): GET /x takes mine, limit``."""
    described = []
    for name in names:
        close = difflib.get_close_matches(name.lower(), taken, n=1)  # the API's are lower case
        described.append(f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name))
    kind = "query parameter" if len(names) == 1 else "query parameters"
    offered = f"takes {', '.join(taken)}" if taken else "takes no query parameters"
    return f"unknown {kind} {', '.join(described)}: {where} {offered}"
