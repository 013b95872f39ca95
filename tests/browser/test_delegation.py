"""Out of office: a delegate decides an absent manager's task in the browser, and the
decision is shown and recorded as theirs, acting for the manager."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from uuid import UUID

from playwright.async_api import expect

from domain.directory import DelegationTerms
from domain.meta import Meta
from tests.browser.conftest import Site
from tests.integration.api_conftest import weeks_ahead


async def test_a_delegate_acts_for_an_absent_manager(site: Site) -> None:
    today = datetime.now(UTC).date()
    site.api.context.application.grant_delegation(
        DelegationTerms("ada-away", "e-2", "e-5", today, today + timedelta(days=14)),
        Meta("e-2", "ada-away", "tests"),
    )
    case = await site.api.pending("e-3", weeks_ahead(5))

    ken = await site.signed_in("e-5")
    await expect(ken.locator("#open-count")).to_have_text("1")
    task = ken.locator("li.task", has_text="Linus")
    await expect(task).to_contain_text("acting for")
    async with ken.expect_navigation():
        await task.locator("a.task-title").click()
    await ken.fill("#comment", "approved while Ada is away")
    async with ken.expect_navigation():
        await ken.click("button[value=approve]")

    await expect(ken.locator("#decided")).to_have_text(
        re.compile(r"Approved\s+by Ken.*acting for Ada")
    )
    await expect(ken.locator("#case-status")).to_have_text("approved")
    recorded = site.api.context.application.leave_request(UUID(case["id"]))
    [decided] = recorded.tasks.values()
    assert (decided.decided_by, decided.decided_on_behalf_of) == ("e-5", "e-2")
