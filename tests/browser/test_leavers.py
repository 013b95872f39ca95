"""Someone whose employment has ended loses the pages as they lose the API: their
session opens nothing, and they cannot sign in again."""

from __future__ import annotations

from calendar import monthrange
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

from playwright.async_api import expect

from domain.meta import Meta
from tests.browser.conftest import Site, password_of
from tests.integration.api_conftest import weeks_ahead
from workflows.messages import leave_workflow_id


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
    # The right password proves who they are: they are told why, not that it was wrong.
    await expect(again.locator("[role=alert], .error").first).to_have_text(
        f"You can no longer sign in: your employment ended on {yesterday.isoformat()}."
    )
    assert application.leave_request(UUID(case["id"])).status == "pending"


async def test_leave_past_the_last_day_of_employment_is_refused_beside_the_end_date(
    site: Site,
) -> None:
    application = site.api.context.application
    start, end = weeks_ahead(6)
    application.put_employee(
        replace(application.profile("e-3"), end_date=start), Meta("e-1", "leaves", "tests")
    )
    linus = await site.signed_in("e-3")
    await linus.goto("/requests")

    await linus.fill("#start", start.isoformat())
    await linus.fill("#end", end.isoformat())
    async with linus.expect_navigation():
        await linus.click("text=Send the request")

    await expect(linus.locator("#end-error")).to_contain_text(
        f"last day of employment is {start.isoformat()}"
    )
    await expect(linus.locator("#end")).to_have_attribute("aria-invalid", "true")
    await expect(linus.locator("table.requests")).to_have_count(0)  # nothing recorded


async def test_the_manager_is_offered_only_to_reject_leave_past_a_last_day_and_told_why(
    site: Site,
) -> None:
    application = site.api.context.application
    start, end = weeks_ahead(6)
    case = await site.api.pending("e-3", (start, end))
    application.put_employee(
        replace(application.profile("e-3"), end_date=start), Meta("e-1", "leaves", "tests")
    )
    ada = await site.signed_in("e-2")

    await ada.goto(f"/tasks/{case['id']}.approval")

    await expect(ada.locator("button[value=approve]")).to_have_count(0)
    await expect(ada.locator("button[value=reject]")).to_have_count(1)
    await expect(ada.locator("#only-reject")).to_have_text(
        f"It can only be rejected: Linus's last day of employment is {start.isoformat()},"
        " before the end of this leave."
    )
    assert application.leave_request(UUID(case["id"])).status == "pending"


async def test_a_task_sent_up_because_its_decider_left_says_so_not_that_it_is_overdue(
    site: Site,
) -> None:
    application = site.api.context.application
    case = await site.api.pending("e-3", weeks_ahead(8))
    await site.api.task_for("e-2", case["id"])
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    application.put_employee(
        replace(application.profile("e-2"), end_date=yesterday), Meta("e-8", "leaves", "tests")
    )
    workflow = site.api.context.client.get_workflow_handle(leave_workflow_id(UUID(case["id"])))
    await workflow.signal("deciders_left")
    task = await site.api.task_for("e-1", case["id"])
    grace = await site.signed_in("e-1")

    await grace.goto(f"/tasks/{task['id']}")

    waiting = grace.locator("#waiting-for")
    await expect(waiting).to_contain_text("or, as everyone who could decide it had left, Grace")
    await expect(waiting).not_to_contain_text("overdue")
    await expect(grace.locator(".history li", has_text="Escalated")).to_contain_text(
        "everyone who could decide it had left"
    )


async def test_the_team_calendar_marks_a_leavers_last_day_and_leaves_out_who_had_gone(
    site: Site,
) -> None:
    application = site.api.context.application
    start, end = weeks_ahead(8)
    first = start.replace(day=1)
    last_day = first + timedelta(days=9)
    application.put_employee(
        replace(application.profile("e-4"), end_date=last_day), Meta("e-1", "leaves", "tests")
    )
    await site.api.approved("e-3", (start, end))
    position = application.recorder.max_notification_id() or 0
    assert site.api.context.read_models.wait_for(position, 5)
    ada = await site.signed_in("e-2")

    await ada.goto(f"/team?month={first:%Y-%m}")

    margaret = ada.locator("table.calendar tr", has_text="Margaret")
    await expect(margaret.locator("th")).to_have_text(f"Margaret last day {last_day.isoformat()}")
    gone = margaret.locator("td.gone")
    await expect(gone.first).to_have_attribute(
        "title", f"Margaret: not employed after {last_day.isoformat()}"
    )
    await expect(gone).to_have_count(monthrange(first.year, first.month)[1] - last_day.day)

    await ada.goto(f"/team?month={first + timedelta(days=40):%Y-%m}")
    await expect(ada.locator("table.calendar tr", has_text="Linus")).to_have_count(1)
    await expect(ada.locator("table.calendar tr", has_text="Margaret")).to_have_count(0)
