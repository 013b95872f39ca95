"""Route dependencies: the context, and the headers several routes share."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Header, Request

from api.context import ApiContext


async def get_context(request: Request) -> ApiContext:
    # async: FastAPI runs a plain function dependency in a worker thread, a hand-off
    # that costs more than reading an attribute.
    return cast(ApiContext, request.app.state.context)


Context = Annotated[ApiContext, Depends(get_context)]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Repeat a request safely: the same key gets the same result, done once.",
    ),
]
