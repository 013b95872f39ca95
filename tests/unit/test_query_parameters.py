"""The API's check of query parameters, on a route of its own: no route of the API takes
a parameter several times yet (``tests/integration`` checks the API's own routes)."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, FastAPI, Query

from api.dependencies import check_query_parameters
from api.errors import install_error_handlers


def app_with_a_list() -> FastAPI:
    """``GET /items?tag=...&tag=...&limit=...``, checked as the API's routes are."""
    app = FastAPI()
    install_error_handlers(app)
    router = APIRouter(dependencies=[Depends(check_query_parameters)])

    @router.get("/items")
    async def items(
        tag: Annotated[list[str] | None, Query()] = None, limit: int = 10
    ) -> dict[str, object]:
        return {"tag": tag, "limit": limit}

    app.include_router(router)
    return app


async def get(query: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app_with_a_list())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return await http.get(f"/items?{query}")


async def test_a_parameter_that_takes_several_values_may_be_given_several_times() -> None:
    response = await get("tag=red&limit=3&tag=blue")

    assert (response.status_code, response.json()) == (
        200,
        {"tag": ["red", "blue"], "limit": 3},
    )


async def test_a_parameter_that_takes_one_value_may_not_beside_one_that_takes_several() -> None:
    response = await get("tag=red&limit=3&limit=4")

    assert (response.status_code, response.json()) == (
        422,
        {
            "detail": "query parameter 'limit' given 2 times: GET /items takes one value of it",
            "rule": "repeated_parameter",
        },
    )
