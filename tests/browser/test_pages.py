"""The pages in a real browser (Debian's chromium), against the real stack."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.browser.conftest import Site
from tests.integration.api_conftest import weeks_ahead


async def test_an_employee_asks_for_leave_and_the_manager_approves_it_in_the_browser(
    site: Site,
) -> None:
    start, end = weeks_ahead(4)
    year = start.year
    linus = await site.signed_in("e-3")
    await linus.goto("/requests")
    await expect(linus.locator(f"#balance-{year} .remaining")).to_have_text("30")

    await linus.fill("#start", start.isoformat())
    await linus.fill("#end", end.isoformat())
    await linus.fill("#reason", "family visit")
    await expect(linus.locator("#working-days")).to_have_text("3")
    async with linus.expect_navigation():
        await linus.click("text=Send the request")

    await expect(linus.locator("table.requests tbody tr")).to_have_count(1)
    await expect(linus.locator("table.requests .status")).to_have_text("pending")

    ada = await site.signed_in("e-2")
    await expect(ada.locator("#open-count")).to_have_text("1")
    await expect(ada).to_have_title(re.compile(r"^My tasks \(1\)"))
    task = ada.locator("li.task a.task-title")
    await expect(task).to_contain_text("Linus: annual leave")
    async with ada.expect_navigation():
        await task.click()
    await expect(ada.locator("ol.history li")).to_have_count(2)
    await expect(ada.locator("ol.history li").first).to_contain_text("Submitted by Linus")
    await ada.fill("#comment", "enjoy")
    async with ada.expect_navigation():
        await ada.click("button[value=approve]")

    await expect(ada.locator("#decided")).to_have_text(re.compile(r"Approved\s+by Ada: “enjoy”"))
    await expect(ada.locator("#case-status")).to_have_text("approved")
    await expect(ada.locator("#open-count")).to_have_text("0")
    await linus.goto("/requests")
    await expect(linus.locator("table.requests .status")).to_have_text("approved")
    await expect(linus.locator(f"#balance-{year} .remaining")).to_have_text("27")
