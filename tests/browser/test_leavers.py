"""Someone whose employment has ended loses the pages as they lose the API: their
session opens nothing, and they cannot sign in again."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

from playwright.async_api import expect

from domain.meta import Meta
from tests.browser.conftest import Site, password_of
from tests.integration.api_conftest import weeks_ahead


async def test_a_leaver_is_signed_out_and_cannot_decide_or_sign_in(site: Site) -> None:
    application = site.api.context.application
    case = await site.api.pending("e-3", weeks_ahead(8))
    ada = await site.signed_in("e-2")
    await expect(ada.locator("#open-count")).to_have_text("1")

    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    application.put_employee(
        replace(application.profile("e-2"), end_date=yesterday), Meta("e-8", "leaves", "tests")
    )
    await ada.goto("/tasks")
    again = await site.page()
    await again.goto("/sign-in")
    await again.fill("#employee_id", "e-2")
    await again.fill("#password", password_of("e-2"))
    async with again.expect_navigation():
        await again.click("button[type=submit]")

    assert "/sign-in" in ada.url
    assert "/sign-in" in again.url
    await expect(again.locator("[role=alert], .error").first).to_be_visible()
    assert application.leave_request(UUID(case["id"])).status == "pending"
