"""Following one's own requests in the browser: from My requests to each request's page,
who must decide it, the decision and its comment, and withdrawing or cancelling it
through the API's own path (its rules, its refusals); HR cancelling someone's leave."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Page, Response, expect

import web.requests
from domain.meta import Meta
from tests.browser.conftest import PHONE, Site
from tests.integration.api_conftest import CALENDAR, weeks_ahead


async def open_from_my_requests(page: Page, case_id: str) -> None:
    await page.goto("/requests")
    async with page.expect_navigation():
        await page.locator(f"#request-{case_id} a").click()


async def click_and_answer(page: Page, selector: str) -> Response:
    async with page.expect_navigation() as navigation:
        await page.click(selector)
    response = await navigation.value
    assert response is not None
    return response


async def status_of(site: Site, case_id: str) -> str:
    response = await site.api.get("e-3", f"/api/leave-requests/{case_id}")
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    return status


async def test_a_pending_request_s_page_says_who_decides_and_withdraws_it(site: Site) -> None:
    case = await site.api.pending("e-3", weeks_ahead(4))
    await site.api.task_for("e-2", case["id"])
    linus = await site.signed_in("e-3")

    await open_from_my_requests(linus, case["id"])

    await expect(linus.locator("#case-status")).to_have_text("pending")
    await expect(linus.locator("#waiting-for")).to_contain_text("Ada")
    await expect(linus.locator("button:has-text('Cancel')")).to_have_count(0)
    forged = await linus.request.post(f"/requests/{case['id']}/withdraw", form={})
    assert forged.status == 403 and await status_of(site, case["id"]) == "pending"
    answer = await click_and_answer(linus, "button:has-text('Withdraw')")

    assert answer.status == 200
    assert linus.url.endswith(f"/requests/{case['id']}")
    await expect(linus.locator("#case-status")).to_have_text("withdrawn")
    await expect(linus.locator("#waiting-for")).to_have_count(0)
    await expect(linus.locator("button:has-text('Withdraw')")).to_have_count(0)
    assert await status_of(site, case["id"]) == "withdrawn"
    assert (await site.api.get("e-2", "/api/tasks")).json()["items"] == []


async def test_a_rejected_request_s_page_shows_who_rejected_it_and_why(site: Site) -> None:
    case = await site.api.pending("e-3", weeks_ahead(4))
    task = await site.api.task_for("e-2", case["id"])
    rejected = await site.api.decide("e-2", task["id"], "reject", comment="not this time")
    assert rejected.status_code == 200, rejected.text
    linus = await site.signed_in("e-3")

    await open_from_my_requests(linus, case["id"])

    await expect(linus.locator("#case-status")).to_have_text("rejected")
    await expect(linus.locator("#decided")).to_have_text(
        re.compile(r"Rejected\s+by Ada: “not this time”")
    )
    await expect(linus.locator("form.case-action button")).to_have_count(0)


async def test_approved_leave_that_has_not_started_is_cancelled_from_its_page(
    site: Site,
) -> None:
    start, end = weeks_ahead(5)
    case = await site.api.approved("e-3", (start, end))
    linus = await site.signed_in("e-3")
    await linus.goto("/requests")
    await expect(linus.locator(f"#balance-{start.year} .remaining")).to_have_text("27")

    await open_from_my_requests(linus, case["id"])
    await expect(linus.locator("#decided")).to_contain_text("Approved")
    await expect(linus.locator("button:has-text('Withdraw')")).to_have_count(0)
    await expect(linus.locator("#cancel-reason")).to_have_count(0)  # no reason asked
    await click_and_answer(linus, "button:has-text('Cancel')")

    await expect(linus.locator("#case-status")).to_have_text("cancelled")
    await expect(linus.locator("button:has-text('Cancel')")).to_have_count(0)
    assert await status_of(site, case["id"]) == "cancelled"
    await linus.goto("/requests")
    await expect(linus.locator(f"#balance-{start.year} .remaining")).to_have_text("30")


async def test_started_leave_is_ended_early_from_its_page(site: Site) -> None:
    today = datetime.now(UTC).date()
    case = await site.api.approved("e-3", (today, today + timedelta(days=14)))
    linus = await site.signed_in("e-3")
    await linus.goto(f"/requests/{case['id']}")
    await expect(linus.locator("#started")).to_contain_text("it can be ended early")
    await expect(linus.locator("#shorten-reason")).to_have_count(0)  # no reason asked

    await linus.fill("#shorten-last-day", (today - timedelta(days=3)).isoformat())
    before_it = await click_and_answer(linus, "button:has-text('End it early')")

    assert before_it.status == 422
    await expect(linus.locator("#shorten-last-day-error")).to_contain_text(
        f"the leave starts on {today.isoformat()}"
    )
    await expect(linus.locator("#shorten-last-day")).to_have_attribute("aria-invalid", "true")
    await linus.fill("#shorten-last-day", today.isoformat())
    ended = await click_and_answer(linus, "button:has-text('End it early')")

    assert ended.status == 200 and linus.url.endswith(f"/requests/{case['id']}")
    await expect(linus.locator("#case-end")).to_have_text(today.isoformat())
    await expect(linus.locator("#ended-early")).to_have_text(f"Ended early by Linus on {today}")
    # Held in full, its last day may still end at noon: the only day left to offer.
    for bound in ("min", "max"):
        await expect(linus.locator("#shorten-last-day")).to_have_attribute(bound, today.isoformat())
    ended_case = (await site.api.get("e-3", f"/api/leave-requests/{case['id']}")).json()
    assert ended_case["end"] == today.isoformat()


async def test_leave_is_ended_at_noon_on_its_last_day_from_its_page(site: Site) -> None:
    start, end = weeks_ahead(5, days=6)  # six working days span a weekend
    weekend = next(
        start + timedelta(days=n)
        for n in range(1, 9)
        if not CALENDAR.is_working_day(start + timedelta(days=n))
    )
    case = await site.api.approved("e-3", (start, end))
    linus = await site.signed_in("e-3")
    await linus.goto(f"/requests/{case['id']}")
    await expect(linus.locator("#shorten-last-day")).to_have_attribute("max", end.isoformat())

    await linus.fill("#shorten-last-day", weekend.isoformat())
    await linus.check("#shorten-half-day-end")
    on_a_weekend = await click_and_answer(linus, "button:has-text('End it early')")

    assert on_a_weekend.status == 422
    await expect(linus.locator("#shorten-last-day-error")).to_contain_text(
        f"{weekend.isoformat()} is not a working day of the leave"
    )
    await expect(linus.locator("#shorten-half-day-end")).to_be_checked()  # kept
    await linus.fill("#shorten-last-day", end.isoformat())
    ended = await click_and_answer(linus, "button:has-text('End it early')")

    assert ended.status == 200 and linus.url.endswith(f"/requests/{case['id']}")
    await expect(linus.locator("#case-end")).to_have_text(end.isoformat())
    await expect(linus.locator("#case-end").locator("..")).to_contain_text("(morning only)")
    await expect(linus.locator("#ended-early")).to_have_text(
        f"Ended early by Linus on {end} at noon"
    )
    await expect(linus.locator("ol.history li").last).to_contain_text(
        f"last day {end.isoformat()} (morning only)"
    )
    ended_case = (await site.api.get("e-3", f"/api/leave-requests/{case['id']}")).json()
    assert (ended_case["end"], ended_case["half_day_end"], ended_case["working_days"]) == (
        end.isoformat(),
        True,
        5.5,
    )


async def test_the_end_early_form_sent_again_changed_after_its_first_attempt_got_through_says_so(
    site: Site,
) -> None:
    """As after a 503, when the form keeps its key and the person changes the day before
    sending it again: the API's words speak of a key the person never saw."""
    today = datetime.now(UTC).date()
    case = await site.api.approved("e-3", (today, today + timedelta(days=14)))
    linus = await site.signed_in("e-3")
    await linus.goto(f"/requests/{case['id']}")
    first_key = await linus.locator("input[name=form_key]").first.input_value()
    await linus.fill("#shorten-last-day", (today + timedelta(days=2)).isoformat())
    await click_and_answer(linus, "button:has-text('End it early')")
    await linus.locator("form[action$='/shorten'] input[name=form_key]").evaluate(
        "(input, key) => { input.value = key; }", first_key
    )
    await linus.fill("#shorten-last-day", (today + timedelta(days=1)).isoformat())

    again = await click_and_answer(linus, "button:has-text('End it early')")

    assert again.status == 422
    await expect(linus.locator("#shorten-error")).to_have_text(
        "Your first attempt was recorded: the leave now ends on the day shown above."
        " To end it on another day, send the form again."
    )
    await expect(linus.locator("#case-end")).to_have_text((today + timedelta(days=2)).isoformat())


async def test_hr_ends_someone_s_leave_early_from_its_page_saying_why(site: Site) -> None:
    make_hr(site, "e-5")
    start, end = weeks_ahead(5)
    case = await site.api.approved("e-3", (start, end))
    ken = await site.signed_in("e-5")
    await ken.goto(f"/requests/{case['id']}")
    await ken.fill("#shorten-last-day", start.isoformat())

    without_reason = await click_and_answer(ken, "button:has-text('End it early')")

    assert without_reason.status == 422
    await expect(ken.locator("#shorten-reason-error")).to_have_text(
        "Say why you end this leave early: the reason is recorded and shown to Linus."
    )
    await expect(ken.locator("#shorten-last-day")).to_have_value(start.isoformat())  # kept
    await ken.fill("#shorten-reason", "leaves the company on that day")
    ended = await click_and_answer(ken, "button:has-text('End it early')")

    assert ended.status == 200
    await expect(ken.locator("#case-end")).to_have_text(start.isoformat())
    await expect(ken.locator("#ended-early")).to_have_text(
        f"Ended early by HR (Ken) on {start}: “leaves the company on that day”"
    )
    await expect(ken.locator("ol.history li").last).to_contain_text(
        f"Ended early by Ken last day {start.isoformat()} leaves the company on that day"
    )


def make_hr(site: Site, employee_id: str) -> None:
    site.api.context.application.set_role_members(
        "hr", [employee_id], Meta("e-1", f"hr-is-{employee_id}", "tests")
    )


async def test_hr_cancels_someone_s_approved_leave_from_its_page_saying_why(site: Site) -> None:
    make_hr(site, "e-5")
    case = await site.api.approved("e-3", weeks_ahead(5))
    ken = await site.signed_in("e-5")
    await ken.goto(f"/requests/{case['id']}")
    await expect(ken.locator("button:has-text('Withdraw')")).to_have_count(0)

    without_reason = await click_and_answer(ken, "button:has-text('Cancel')")

    assert without_reason.status == 422
    await expect(ken.locator("#cancel-reason-error")).to_have_text(
        "Say why you cancel this leave: the reason is recorded and shown to Linus."
    )
    await expect(ken.locator("#cancel-reason")).to_have_attribute("aria-invalid", "true")
    assert await status_of(site, case["id"]) == "approved"
    await ken.fill("#cancel-reason", "leaves the company before then")
    cancelled = await click_and_answer(ken, "button:has-text('Cancel')")

    assert cancelled.status == 200 and ken.url.endswith(f"/requests/{case['id']}")
    await expect(ken.locator("#case-status")).to_have_text("cancelled")
    await expect(ken.locator("#closed")).to_have_text(
        re.compile(r"Cancelled by HR \(Ken\): “leaves the company before then”")
    )
    await expect(ken.locator("button:has-text('Cancel')")).to_have_count(0)
    seen = (await site.api.get("e-3", f"/api/leave-requests/{case['id']}")).json()
    assert (seen["status"], seen["closing_reason"]) == (
        "cancelled",
        "leaves the company before then",
    )
    linus = await site.signed_in("e-3")
    await linus.goto(f"/requests/{case['id']}")
    await expect(linus.locator("#closed")).to_have_text(
        re.compile(r"Cancelled by HR \(Ken\): “leaves the company before then”")
    )


async def test_leave_that_has_begun_says_it_can_no_longer_be_cancelled(site: Site) -> None:
    make_hr(site, "e-5")
    start = datetime.now(UTC).date() - timedelta(days=1)
    while not CALENDAR.is_working_day(start):  # began on the last working day before today
        start -= timedelta(days=1)
    end = start + timedelta(days=14)
    case = await site.api.approved("e-3", (start, end))

    for employee_id in ["e-3", "e-5"]:
        page = await site.signed_in(employee_id)
        await page.goto(f"/requests/{case['id']}")
        await expect(page.locator("button:has-text('Cancel')")).to_have_count(0)
        await expect(page.locator("#started")).to_have_text(
            f"This leave began on {start.isoformat()}: it can no longer be cancelled;"
            " it can be ended early instead."
        )

    manager = await site.signed_in("e-2")
    await manager.goto(f"/requests/{case['id']}")
    await expect(manager.locator("#started")).to_have_count(0)  # it is not theirs to cancel


async def test_hr_asks_for_someones_leave_from_the_form_saying_why(site: Site) -> None:
    make_hr(site, "e-5")
    start, end = weeks_ahead(4)
    ken = await site.signed_in("e-5")
    linus = await site.signed_in("e-3")
    await ken.goto("/requests")
    await linus.goto("/requests")

    await expect(linus.locator("#employee_id")).to_have_count(0)  # only HR asks for others
    await ken.select_option("#employee_id", "e-3")
    await ken.fill("#start", start.isoformat())
    await ken.fill("#end", end.isoformat())
    await expect(ken.locator("#working-days")).to_have_text("3")
    async with ken.expect_navigation():
        await ken.click("text=Send the request")
    await expect(ken.locator("#reason-error")).to_have_text(
        "Say why you ask for leave for Linus: the reason is recorded and shown to them."
    )
    await expect(ken.locator("#employee_id")).to_have_value("e-3")  # kept, to fix
    await ken.fill("#reason", "agreed by phone")
    async with ken.expect_navigation():
        await ken.click("text=Send the request")

    await expect(ken.locator("#others table.requests tbody tr")).to_have_count(1)
    await expect(ken.locator("#others table.requests tbody tr")).to_contain_text("Linus")
    asked = (await site.api.get("e-3", "/api/leave-requests")).json()["items"]
    assert [(item["requester_id"], item["status"]) for item in asked] == [("e-3", "pending")]
    assert (await site.api.get("e-5", "/api/leave-requests")).json()["items"] == []


async def test_leave_asked_for_someone_after_losing_hr_is_refused_saying_why(site: Site) -> None:
    """The page offered Ken the "For" list; by the time he sends the form he no longer
    holds hr: the refusal is shown, though the list that would hold it is gone."""
    make_hr(site, "e-5")
    start, end = weeks_ahead(4)
    ken = await site.signed_in("e-5")
    await ken.goto("/requests")
    await ken.select_option("#employee_id", "e-3")
    await ken.fill("#start", start.isoformat())
    await ken.fill("#end", end.isoformat())
    await ken.fill("#reason", "agreed by phone")
    site.api.context.application.set_role_members("hr", [], Meta("e-1", "no-hr", "tests"))

    answer = await click_and_answer(ken, "text=Send the request")

    assert answer.status == 403
    await expect(ken.locator("#employee_id")).to_have_count(0)
    await expect(ken.locator("main")).to_contain_text("you may only ask for leave for yourself")
    assert (await site.api.get("e-3", "/api/leave-requests")).json()["items"] == []


async def test_only_hr_is_offered_to_close_someone_else_s_request(site: Site) -> None:
    make_hr(site, "e-5")
    case = await site.api.approved("e-3", weeks_ahead(5))
    pending = await site.api.pending("e-4", weeks_ahead(7))
    ada = await site.signed_in("e-2")  # Linus's manager, not HR
    ken = await site.signed_in("e-5")

    await ada.goto(f"/requests/{case['id']}")
    await ken.goto(f"/requests/{pending['id']}")

    await expect(ada.locator("#case-status")).to_have_text("approved")
    await expect(ada.locator("form.case-action")).to_have_count(0)
    await expect(ken.locator("#case-status")).to_have_text("pending")
    await expect(ken.locator("form.case-action button")).to_have_text(["Withdraw this request"])
    await expect(ken.locator("#withdraw-reason")).to_have_count(1)


async def test_a_withdrawal_refused_since_the_page_was_shown_says_why_beside_the_button(
    site: Site,
) -> None:
    case = await site.api.pending("e-3", weeks_ahead(4))
    task = await site.api.task_for("e-2", case["id"])
    linus = await site.signed_in("e-3")
    await linus.goto(f"/requests/{case['id']}")

    approved = await site.api.decide("e-2", task["id"], "approve")  # meanwhile
    assert approved.status_code == 200, approved.text
    answer = await click_and_answer(linus, "button:has-text('Withdraw')")

    assert answer.status == 409
    await expect(linus.locator("#withdraw-error")).to_have_text(
        "only a pending request can be withdrawn; it is approved"
    )
    await expect(linus.locator("#case-status")).to_have_text("approved")
    await expect(linus.locator("button:has-text('Cancel')")).to_have_count(1)
    assert await status_of(site, case["id"]) == "approved"


async def test_the_manager_sees_the_request_without_its_buttons_and_others_not_at_all(
    site: Site,
) -> None:
    case = await site.api.pending("e-3", weeks_ahead(4))
    await site.api.task_for("e-2", case["id"])
    ada = await site.signed_in("e-2")
    ken = await site.signed_in("e-5")

    await ada.goto(f"/requests/{case['id']}")
    hidden = await ken.goto(f"/requests/{case['id']}")

    await expect(ada.locator("#case-status")).to_have_text("pending")
    await expect(ada.locator("form.case-action button")).to_have_count(0)
    assert hidden is not None and hidden.status == 404


async def test_the_task_page_says_whom_the_task_is_waiting_for(site: Site) -> None:
    case = await site.api.pending("e-3", weeks_ahead(4))
    task = await site.api.task_for("e-2", case["id"])
    linus = await site.signed_in("e-3")

    await linus.goto(f"/tasks/{task['id']}")

    await expect(linus.locator("#waiting-for")).to_contain_text("Ada")


async def test_a_request_s_page_fits_a_phone_screen(site: Site) -> None:
    case = await site.api.approved("e-3", weeks_ahead(6))
    linus = await site.signed_in("e-3", PHONE)

    await linus.goto(f"/requests/{case['id']}")

    overflow = await linus.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the request's page is {overflow}px wider than a phone"


async def test_an_address_that_names_no_request_or_task_shows_the_not_found_page(
    site: Site,
) -> None:
    """The API answers 422 for a malformed id; a page says "not found", as for any
    address that leads nowhere."""
    linus = await site.signed_in("e-3")

    answers = [
        await linus.goto(address)
        for address in ("/requests/not-a-uuid", "/requests/%20not-a-uuid", "/tasks/not-a-task")
    ]

    assert [answer.status if answer else None for answer in answers] == [404, 404, 404]
    await expect(linus).to_have_title(re.compile("^Not found"))


NOT_ANSWERING = "The workflow service is not answering; try again in a minute."


async def test_a_withdrawal_while_the_workflow_service_is_not_answering_shows_the_page(
    site: Site,
) -> None:
    case = await site.api.pending("e-3", weeks_ahead(4))
    await site.api.task_for("e-2", case["id"])

    async with site.behind_relay() as (relayed, temporal):
        linus = await relayed.signed_in("e-3")
        await linus.goto(f"/requests/{case['id']}")
        form_key = await linus.locator("input[name=form_key]").first.input_value()
        await temporal.cut()
        answer = await click_and_answer(linus, "button:has-text('Withdraw')")

        assert answer.status == 503
        assert answer.headers.get("retry-after") == "60"
        await expect(linus.locator("#case-status")).to_have_text("pending")
        await expect(linus.locator("#withdraw-error")).to_have_text(NOT_ANSWERING)
        await expect(linus.locator("button:has-text('Withdraw')")).to_be_visible()
        # The same key again, as a double click keeps it: sent again, it acts once.
        await expect(linus.locator("input[name=form_key]").first).to_have_value(form_key)
    assert await status_of(site, case["id"]) == "pending"


async def test_hr_s_cancellation_while_the_workflow_service_is_not_answering_keeps_the_reason(
    site: Site,
) -> None:
    make_hr(site, "e-5")
    case = await site.api.approved("e-3", weeks_ahead(5))

    async with site.behind_relay() as (relayed, temporal):
        ken = await relayed.signed_in("e-5")
        await ken.goto(f"/requests/{case['id']}")
        await ken.fill("#cancel-reason", "leaves the company before then")
        await temporal.cut()
        answer = await click_and_answer(ken, "button:has-text('Cancel')")

        assert answer.status == 503
        assert answer.headers.get("retry-after") == "60"
        await expect(ken.locator("#cancel-error")).to_have_text(NOT_ANSWERING)
        await expect(ken.locator("#cancel-reason")).to_have_value("leaves the company before then")
        await expect(ken.locator("button:has-text('Cancel')")).to_be_visible()
    assert await status_of(site, case["id"]) == "approved"


async def test_asking_for_leave_while_the_workflow_service_is_not_answering_keeps_the_form(
    site: Site,
) -> None:
    start, end = weeks_ahead(4)

    async with site.behind_relay() as (relayed, temporal):
        linus = await relayed.signed_in("e-3")
        await linus.goto("/requests")
        await linus.fill("#start", start.isoformat())
        await linus.fill("#end", end.isoformat())
        await linus.fill("#reason", "family visit")
        form_key = await linus.locator("#leave-form input[name=form_key]").input_value()
        await temporal.cut()
        answer = await click_and_answer(linus, "text=Send the request")

        assert answer.status == 503
        assert answer.headers.get("retry-after") == "60"
        await expect(linus.locator("#form-error")).to_have_text(NOT_ANSWERING)
        await expect(linus.locator("#start")).to_have_value(start.isoformat())
        await expect(linus.locator("#end")).to_have_value(end.isoformat())
        await expect(linus.locator("#reason")).to_have_value("family visit")
        # The same key again: a retry of a request that did get through asks only once.
        await expect(linus.locator("#leave-form input[name=form_key]")).to_have_value(form_key)
    listed = await site.api.get("e-3", "/api/leave-requests")
    assert listed.json()["items"] == []


async def test_asking_for_leave_while_no_worker_runs_keeps_the_form_and_asks_once_sent_again(
    site: Site,
) -> None:
    start, end = weeks_ahead(4)

    async with site.without_worker() as (idle, worker):
        linus = await idle.signed_in("e-3")
        await linus.goto("/requests")
        await linus.fill("#start", start.isoformat())
        await linus.fill("#end", end.isoformat())
        form_key = await linus.locator("#leave-form input[name=form_key]").input_value()
        waiting = await click_and_answer(linus, "text=Send the request")

        assert waiting.status == 503
        assert waiting.headers.get("retry-after") == "60"
        await expect(linus.locator("#form-error")).to_have_text(NOT_ANSWERING)
        await expect(linus.locator("#start")).to_have_value(start.isoformat())
        await expect(linus.locator("#leave-form input[name=form_key]")).to_have_value(form_key)
        async with worker:
            sent_again = await click_and_answer(linus, "text=Send the request")

            assert sent_again.status == 200
            assert linus.url.endswith("/requests")
    listed = (await site.api.get("e-3", "/api/leave-requests")).json()["items"]
    assert [(item["start"], item["status"]) for item in listed] == [(start.isoformat(), "pending")]


async def test_a_request_sent_again_changed_after_the_first_got_through_says_so(
    site: Site,
) -> None:
    """The page kept the form's key when the workflow service did not answer; the first
    attempt had reached it though (here sent through the API with that key), and the
    person changed the dates before sending again."""
    first_period, second_period = weeks_ahead(4), weeks_ahead(8)
    linus = await site.signed_in("e-3")
    await linus.goto("/requests")
    form_key = await linus.locator("#leave-form input[name=form_key]").input_value()
    first = await site.api.submit("e-3", first_period, form_key)
    assert first.status_code == 201, first.text

    await linus.fill("#start", second_period[0].isoformat())
    await linus.fill("#end", second_period[1].isoformat())
    answer = await click_and_answer(linus, "text=Send the request")

    assert answer.status == 422
    await expect(linus.locator("#form-error")).to_have_text(
        "Your first attempt may have been recorded: see your requests above before sending"
        " this one again."
    )
    await expect(linus.locator("table.requests tbody tr")).to_have_count(1)
    await expect(linus.locator("#start")).to_have_value(second_period[0].isoformat())
    assert await linus.locator("#leave-form input[name=form_key]").input_value() != form_key


async def test_hr_and_managers_find_the_requests_they_may_see_beside_their_own(
    site: Site,
) -> None:
    make_hr(site, "e-5")
    linus = await site.api.approved("e-3", weeks_ahead(5))
    margaret = await site.api.pending("e-4", weeks_ahead(7))
    ken = await site.signed_in("e-5")  # HR, in another part of the company
    ada = await site.signed_in("e-2")  # Linus's and Margaret's manager
    margaret_page = await site.signed_in("e-4")

    await ken.goto("/requests")
    await ken.click(f"#others-{linus['id']} a")

    assert ken.url.endswith(f"/requests/{linus['id']}")
    await expect(ken.locator("button:has-text('Cancel')")).to_have_count(1)
    await ada.goto("/requests")
    await expect(ada.locator("#others tbody tr")).to_have_count(2)
    await expect(ada.locator(f"#others-{margaret['id']}")).to_contain_text("Margaret")
    await expect(ada.locator(f"#others-{margaret['id']}")).to_contain_text("pending")
    await margaret_page.goto("/requests")
    await expect(margaret_page.locator("#others")).to_have_count(0)


async def test_hr_withdraws_someone_s_pending_request_from_its_page_saying_why(
    site: Site,
) -> None:
    make_hr(site, "e-5")
    case = await site.api.pending("e-3", weeks_ahead(6))
    ken = await site.signed_in("e-5")
    await ken.goto(f"/requests/{case['id']}")

    without_reason = await click_and_answer(ken, "button:has-text('Withdraw')")

    assert without_reason.status == 422
    await expect(ken.locator("#withdraw-reason-error")).to_have_text(
        "Say why you withdraw this request: the reason is recorded and shown to Linus."
    )
    await ken.fill("#withdraw-reason", "nobody is left to decide it")
    withdrawn = await click_and_answer(ken, "button:has-text('Withdraw')")

    assert withdrawn.status == 200
    await expect(ken.locator("#case-status")).to_have_text("withdrawn")
    await expect(ken.locator("#closed")).to_have_text(
        re.compile(r"Withdrawn by HR \(Ken\): “nobody is left to decide it”")
    )
    assert await status_of(site, case["id"]) == "withdrawn"


async def test_my_requests_and_those_i_may_see_are_shown_a_page_at_a_time(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web.requests, "PAGE_SIZE", 2)
    make_hr(site, "e-5")
    cases = [await site.api.pending("e-3", weeks_ahead(4 + 2 * n, days=1)) for n in range(3)]
    newest_first = [case["id"] for case in reversed(cases)]
    linus = await site.signed_in("e-3")
    ken = await site.signed_in("e-5")

    await linus.goto("/requests")
    first = await linus.locator("table.requests tbody tr").evaluate_all(
        "rows => rows.map(r => r.id)"
    )
    await linus.click("#older-requests")
    await expect(linus.locator("table.requests tbody tr")).to_have_count(1)
    older = await linus.locator("table.requests tbody tr").evaluate_all(
        "rows => rows.map(r => r.id)"
    )
    await expect(linus.locator("#older-requests")).to_have_count(0)
    await linus.click("#newest-requests")
    await expect(linus.locator(f"#request-{newest_first[0]}")).to_be_visible()
    await ken.goto("/requests")
    await expect(ken.locator("#others tbody tr")).to_have_count(2)
    await ken.click("#older-others")
    await expect(ken.locator(f"#others-{newest_first[2]}")).to_be_visible()
    await expect(ken.locator("#others tbody tr")).to_have_count(1)

    assert first == [f"request-{case_id}" for case_id in newest_first[:2]]
    assert older == [f"request-{newest_first[2]}"]


async def test_a_link_to_older_requests_the_page_did_not_give_shows_the_newest_saying_so(
    site: Site,
) -> None:
    case = await site.api.pending("e-3", weeks_ahead(4))
    linus = await site.signed_in("e-3")

    answer = await linus.goto("/requests?after=not-a-cursor")

    assert answer is not None and answer.status == 422
    await expect(linus.locator("#list-error")).to_have_text(
        "That link to older requests is not one this page gave: here are the newest."
    )
    await expect(linus.locator(f"#request-{case['id']}")).to_be_visible()


async def rows_of(page: Page, table: str) -> list[str]:
    """The ids of the rows a list of My requests shows (``table``: its rows' selector)."""
    ids: list[str] = await page.locator(table).evaluate_all("rows => rows.map(r => r.id)")
    return ids


async def test_the_requests_i_may_see_fill_each_page_however_many_of_mine_are_newer(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web.requests, "PAGE_SIZE", 2)
    make_hr(site, "e-5")
    linus = [await site.api.pending("e-3", weeks_ahead(4 + 2 * n, days=1)) for n in range(3)]
    for n in range(2):  # Ken's own, newer than Linus's: the first page of those he sees
        await site.api.pending("e-5", weeks_ahead(4 + 2 * n, days=1))
    newest_first = [f"others-{case['id']}" for case in reversed(linus)]
    ken = await site.signed_in("e-5")

    await ken.goto("/requests")
    first = await rows_of(ken, "#others tbody tr")
    await ken.click("#older-others")
    await expect(ken.locator("#newest-others")).to_be_visible()
    second = await rows_of(ken, "#others tbody tr")

    assert (first, second) == (newest_first[:2], newest_first[2:])
    await expect(ken.locator("#older-others")).to_have_count(0)


async def test_following_one_list_of_my_requests_keeps_the_page_the_other_shows(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web.requests, "PAGE_SIZE", 1)
    make_hr(site, "e-5")
    linus = [await site.api.pending("e-3", weeks_ahead(4 + 2 * n, days=1)) for n in range(2)]
    kens = [await site.api.pending("e-5", weeks_ahead(4 + 2 * n, days=1)) for n in range(2)]
    ken = await site.signed_in("e-5")
    await ken.goto("/requests")

    shown = []
    for link in ["#older-others", "#older-requests", "#newest-others", "#newest-requests"]:
        async with ken.expect_navigation():
            await ken.click(link)
        shown.append(
            (await rows_of(ken, "tr[id^='request-']"), await rows_of(ken, "#others tbody tr"))
        )

    mine = [[f"request-{case['id']}"] for case in reversed(kens)]
    others = [[f"others-{case['id']}"] for case in reversed(linus)]
    assert shown == [
        (mine[0], others[1]),
        (mine[1], others[1]),
        (mine[1], others[0]),
        (mine[0], others[0]),
    ]


async def test_a_link_to_older_requests_of_others_the_page_did_not_give_is_refused_beside_them(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web.requests, "PAGE_SIZE", 1)
    make_hr(site, "e-5")
    linus = await site.api.pending("e-3", weeks_ahead(4))
    kens = [await site.api.pending("e-5", weeks_ahead(4 + 2 * n, days=1)) for n in range(2)]
    ken = await site.signed_in("e-5")
    await ken.goto("/requests")
    older = await ken.locator("#older-requests").get_attribute("href")
    assert older is not None

    answer = await ken.goto(f"{older}&others_after=not-a-cursor")

    assert answer is not None and answer.status == 422
    await expect(ken.locator("#others-error")).to_have_text(
        "That link to older requests is not one this page gave: here are the newest."
    )
    await expect(ken.locator("#list-error")).to_have_count(0)
    await expect(ken.locator(f"#others-{linus['id']}")).to_be_visible()
    await expect(ken.locator(f"#request-{kens[0]['id']}")).to_be_visible()  # still the older
