"""Out of office: a delegate decides an absent manager's task in the browser, and the
decision is shown and recorded as theirs, acting for the manager."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from uuid import UUID

from playwright.async_api import Page, expect

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


async def delegate_s_task_page(site: Site, delegate: str) -> Page:
    """Ada's delegate ``delegate`` on the task of Linus's request, offered as acting for Ada."""
    today = datetime.now(UTC).date()
    site.api.context.application.grant_delegation(
        DelegationTerms("ada-away", "e-2", delegate, today, today + timedelta(days=14)),
        Meta("e-2", "ada-away", "tests"),
    )
    case = await site.api.pending("e-3", weeks_ahead(5))
    task = await site.api.task_for(delegate, case["id"])
    page = await site.signed_in(delegate)
    await page.goto(f"/tasks/{task['id']}")
    await expect(page.locator("form .acting-for")).to_have_text("(acting for Ada)")
    return page


async def approve(page: Page) -> int:
    async with page.expect_navigation() as navigation:
        await page.click("button[value=approve]")
    response = await navigation.value
    assert response is not None
    return response.status


async def test_a_delegate_whose_delegation_ended_meanwhile_is_told_so_on_the_task_page(
    site: Site,
) -> None:
    grace = await delegate_s_task_page(site, "e-1")  # Ada's manager: still sees the case

    site.api.context.application.revoke_delegation("ada-away", Meta("e-2", "ada-back", "tests"))
    status = await approve(grace)

    assert status == 403
    await expect(grace.locator("#decision-error")).to_have_text(
        "Your delegation from Ada has ended: you can no longer decide this task."
    )
    await expect(grace.locator("#case-status")).to_have_text("pending")
    await expect(grace.locator("button[value=approve]")).to_have_count(0)


async def test_a_delegate_who_no_longer_sees_the_case_is_told_the_delegation_ended(
    site: Site,
) -> None:
    ken = await delegate_s_task_page(site, "e-5")

    site.api.context.application.revoke_delegation("ada-away", Meta("e-2", "ada-back", "tests"))
    status = await approve(ken)

    assert status == 404
    await expect(ken.locator("main p").first).to_have_text(
        "Your delegation from Ada has ended: you can no longer decide this task, nor see"
        " its request."
    )
