"""Following one's own requests in the browser: from My requests to each request's page,
who must decide it, the decision and its comment, and withdrawing or cancelling it
through the API's own path (its rules, its refusals)."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.conftest import Site
from tests.integration.api_conftest import weeks_ahead


async def test_the_task_page_says_whom_the_task_is_waiting_for(site: Site) -> None:
    case = await site.api.pending("e-3", weeks_ahead(4))
    task = await site.api.task_for("e-2", case["id"])
    linus = await site.signed_in("e-3")

    await linus.goto(f"/tasks/{task['id']}")

    await expect(linus.locator("#waiting-for")).to_contain_text("Ada")
