"""The auditor's pages in a real browser: the log with each decision's authority, a
case's timeline, and the case as it was at an earlier version."""

from __future__ import annotations

from playwright.async_api import expect

from domain.meta import Meta
from domain.organisation import OrganisationChart
from tests.browser.conftest import PHONE, Site
from tests.integration.api_conftest import weeks_ahead


def make_auditor(site: Site, employee_id: str) -> None:
    site.api.context.application.load_directory(
        OrganisationChart(employees=[], roles={"auditor": [employee_id]}),
        Meta("test", "auditor", "tests"),
    )


async def test_an_auditor_reads_the_log_a_timeline_and_a_case_as_it_was(site: Site) -> None:
    make_auditor(site, "e-5")
    case = await site.api.approved("e-3", weeks_ahead(6))
    position = site.api.context.application.recorder.max_notification_id() or 0
    assert site.api.context.read_models.wait_for(position, 5)

    ken = await site.signed_in("e-5")
    async with ken.expect_navigation():
        await ken.click("nav >> text=Audit log")
    await ken.fill("#type", "TaskDecided")
    async with ken.expect_navigation():
        await ken.click("button:has-text('Show')")
    decision = ken.locator("tr.entry").first
    await expect(decision).to_contain_text("TaskDecided")
    await expect(decision.locator(".actor")).to_contain_text("Ada")
    await expect(decision.locator(".authority")).to_contain_text("authority")

    async with ken.expect_navigation():
        await decision.locator("a").click()
    await expect(ken.locator("ol.timeline li.workflow").first).to_contain_text("workflow started")
    await expect(ken.locator("ol.timeline")).to_contain_text("LeaveRequest.Approved")
    await ken.fill("#version", "1")
    async with ken.expect_navigation():
        await ken.click("form.time-travel button")
    await expect(ken.locator("#state-version")).to_have_text("1")
    await expect(ken.locator("#state-status")).to_have_text("pending")
    assert case["id"] in ken.url


async def test_the_audit_pages_are_for_auditors_only(site: Site) -> None:
    ada = await site.signed_in("e-2")

    response = await ada.goto("/audit")

    assert response is not None and response.status == 403
    await expect(ada.locator("h1")).to_have_text("For auditors")
    await expect(ada.locator("nav")).not_to_contain_text("Audit log")


async def test_the_audit_pages_fit_a_phone_screen(site: Site) -> None:
    make_auditor(site, "e-5")
    case = await site.api.approved("e-3", weeks_ahead(7))
    ken = await site.signed_in("e-5", PHONE)

    for path in ["/audit", f"/audit/cases/{case['id']}?version=2"]:
        await ken.goto(path)
        overflow = await ken.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
