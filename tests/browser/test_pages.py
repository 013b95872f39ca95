"""The pages in a real browser (Debian's chromium), against the real stack."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from playwright.async_api import Page, Response, expect

from domain.calendar import days_between
from tests.browser.conftest import PHONE, Site, password_of
from tests.integration.api_conftest import CALENDAR, weeks_ahead


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


async def csrf_token_of(page: Page) -> str:
    """The session's token, as every signed-in page carries it (in the sign-out form)."""
    token = await page.locator("form.sign-out input[name=csrf_token]").get_attribute("value")
    assert token
    return token


async def post_form(page: Page, action: str, fields: dict[str, str]) -> Response:
    """Submit a form the page does not offer, as a browser would: the answer's page is shown."""
    async with page.expect_navigation() as navigation:
        await page.evaluate(
            """([action, fields]) => {
                const form = document.createElement("form");
                form.method = "post";
                form.action = action;
                for (const [name, value] of Object.entries(fields)) {
                    const input = document.createElement("input");
                    input.type = "hidden";
                    input.name = name;
                    input.value = value;
                    form.appendChild(input);
                }
                document.body.appendChild(form);
                form.submit();
            }""",
            [action, fields],
        )
    response = await navigation.value
    assert response is not None
    return response


async def test_a_requester_can_neither_see_nor_post_a_decision_on_their_own_case(
    site: Site,
) -> None:
    case = await site.api.pending("e-3", weeks_ahead(4))
    task = await site.api.task_for("e-2", case["id"])
    linus = await site.signed_in("e-3")

    await linus.goto(f"/tasks/{task['id']}")
    await expect(linus.locator("#case-status")).to_have_text("pending")
    await expect(linus.locator("button[value=approve]")).to_have_count(0)
    response = await post_form(
        linus,
        f"/tasks/{task['id']}/decision",
        {"decision": "approve", "csrf_token": await csrf_token_of(linus)},
    )

    assert response.status == 403
    await expect(linus.locator("#decision-error")).to_have_text(
        "nobody may decide a task on their own case"
    )
    await expect(linus.locator("#case-status")).to_have_text("pending")
    assert (await site.api.get("e-3", f"/api/leave-requests/{case['id']}")).json()[
        "status"
    ] == "pending"
    assert await site.api.task_for("e-2", case["id"])


async def test_a_form_posted_without_its_csrf_token_is_refused_and_changes_nothing(
    site: Site,
) -> None:
    case = await site.api.pending("e-3", weeks_ahead(4))
    task = await site.api.task_for("e-2", case["id"])
    ada = await site.signed_in("e-2")

    missing = await ada.request.post(f"/tasks/{task['id']}/decision", form={"decision": "approve"})
    wrong = await ada.request.post(
        f"/tasks/{task['id']}/decision", form={"decision": "approve", "csrf_token": "guess"}
    )
    sign_out = await ada.request.post("/sign-out", form={})

    assert (missing.status, wrong.status, sign_out.status) == (403, 403, 403)
    assert "nothing was changed" in await missing.text()
    await ada.goto("/tasks")
    assert ada.url.endswith("/tasks")  # still signed in
    await expect(ada.locator("#open-count")).to_have_text("1")
    assert (await site.api.get("e-3", f"/api/leave-requests/{case['id']}")).json()[
        "status"
    ] == "pending"


async def test_wrong_passwords_are_rate_limited(site: Site) -> None:
    page = await site.page()

    statuses = []
    for attempt in range(5):
        await page.goto("/sign-in")
        await page.fill("#employee_id", "e-3")
        await page.fill("#password", f"not the password {attempt}")
        async with page.expect_navigation() as navigation:
            await page.click("button[type=submit]")
        statuses.append((await navigation.value).status)
    await expect(page.locator("#sign-in-error")).to_have_text(
        "The employee id or the password is not right."
    )
    await page.fill("#password", password_of("e-3"))
    async with page.expect_navigation() as navigation:
        await page.click("button[type=submit]")
    limited = await navigation.value

    assert statuses == [400] * 5
    assert limited is not None
    assert limited.status == 429
    assert int(limited.headers["retry-after"]) > 0
    await expect(page.locator("#sign-in-error")).to_have_text(
        re.compile(r"Too many failed sign-ins\. Try again in 15 minutes\.")
    )
    assert page.url.endswith("/sign-in")
    await site.signed_in("e-2")  # from the same address: someone else's typos do not count


async def test_a_sign_in_missing_its_id_or_password_asks_for_it_and_counts_no_failure(
    site: Site,
) -> None:
    page = await site.page()
    await page.goto("/sign-in")

    async with page.expect_navigation() as navigation:
        await page.click("button[type=submit]")
    both = await navigation.value
    await expect(page.locator("#employee_id-error")).to_have_text("Enter your employee id.")
    await expect(page.locator("#password-error")).to_have_text("Enter your password.")
    await expect(page.locator("#employee_id")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#sign-in-error")).to_have_count(0)
    statuses = []
    for _ in range(6):  # more than the failures allowed to one id from one address
        await page.fill("#employee_id", "e-3")
        async with page.expect_navigation() as navigation:
            await page.click("button[type=submit]")
        statuses.append((await navigation.value).status)
    await expect(page.locator("#password-error")).to_have_text("Enter your password.")
    await expect(page.locator("#employee_id-error")).to_have_count(0)
    await expect(page.locator("#employee_id")).to_have_value("e-3")  # kept
    await page.fill("#password", password_of("e-3"))
    async with page.expect_navigation():
        await page.click("button[type=submit]")

    assert both is not None
    assert (both.status, statuses) == (422, [422] * 6)
    assert page.url.endswith("/tasks"), page.url  # none of them counted as a failure


async def test_signing_out_ends_the_session_on_the_server(site: Site) -> None:
    ada = await site.signed_in("e-2")
    [cookie] = [c for c in await ada.context.cookies() if c["name"] == "backoffice_session"]
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Lax", "/")

    async with ada.expect_navigation():
        await ada.click("form.sign-out button")
    replay = await site.page()
    await replay.context.add_cookies(
        [{"name": cookie["name"], "value": cookie["value"], "url": site.base_url}]
    )
    await replay.goto("/tasks")

    assert ada.url.endswith("/sign-in")
    assert replay.url.endswith("/sign-in?next=%2Ftasks")
    assert site.credentials.session(cookie["value"]) is None


async def test_a_refused_request_shows_the_rule_next_to_its_field(site: Site) -> None:
    start, end = weeks_ahead(6)
    linus = await site.signed_in("e-3")
    await linus.goto("/requests")

    await linus.fill("#start", end.isoformat())
    await linus.fill("#end", start.isoformat())
    await expect(linus.locator("#working-days")).to_have_text(
        "the end date is before the start date"
    )
    async with linus.expect_navigation():
        await linus.click("text=Send the request")

    await expect(linus.locator("#end-error")).to_have_text("the end date is before the start date")
    await expect(linus.locator("#end")).to_have_attribute("aria-invalid", "true")
    await expect(linus.locator("#end")).to_have_value(start.isoformat())  # kept, to fix
    await expect(linus.locator("table.requests")).to_have_count(0)  # nothing recorded


async def test_a_manager_decides_several_tasks_at_once(site: Site) -> None:
    first = await site.api.pending("e-3", weeks_ahead(4))
    second = await site.api.pending("e-4", weeks_ahead(5))
    await site.api.task_for("e-2", first["id"])
    await site.api.task_for("e-2", second["id"])
    ada = await site.signed_in("e-2")
    await expect(ada.locator("#open-count")).to_have_text("2")

    await ada.check("#select-all")
    await ada.fill("#bulk-comment", "all fine")
    async with ada.expect_navigation():
        await ada.click("text=Approve selected")

    await expect(ada.locator(".results li.ok")).to_have_count(2)
    await expect(ada.locator("#open-count")).to_have_text("0")
    for case in (first, second):
        recorded = (await site.api.get("e-2", f"/api/leave-requests/{case['id']}")).json()
        assert recorded["status"] == "approved"
        assert recorded["decisions"][0]["comment"] == "all fine"


async def test_a_month_that_is_not_one_is_named_and_this_month_shown(site: Site) -> None:
    ada = await site.signed_in("e-2")

    await ada.goto("/team?month=2027-13")

    await expect(ada.locator("p.error[role=alert]")).to_have_text(
        "'2027-13' is not a month such as 2027-07: this month is shown"
    )
    await expect(ada.locator("#month-title")).to_have_text(f"{datetime.now(UTC):%B %Y}")


async def test_the_calendar_s_first_and_last_months_are_shown_with_no_link_past_them(
    site: Site,
) -> None:
    ada = await site.signed_in("e-2")

    last = await ada.goto("/team?month=9999-12")
    assert last is not None
    assert last.status == 200
    await expect(ada.locator("#month-title")).to_have_text("December 9999")
    await expect(ada.locator("table.calendar thead th")).to_have_count(32)
    await expect(ada.locator("a[rel=next]")).to_have_count(0)
    await expect(ada.locator("a[rel=prev]")).to_have_attribute("href", "/team?month=9999-11")

    first = await ada.goto("/team?month=0001-01")
    assert first is not None
    assert first.status == 200
    await expect(ada.locator("#month-title")).to_have_text("January 0001")
    await expect(ada.locator("a[rel=prev]")).to_have_count(0)
    await expect(ada.locator("a[rel=next]")).to_have_attribute("href", "/team?month=0001-02")


async def test_the_team_calendar_shows_who_is_away_to_managers_only(site: Site) -> None:
    start, end = weeks_ahead(4)
    await site.api.approved("e-3", (start, end))
    ada = await site.signed_in("e-2")

    await ada.click("text=Team calendar")
    await ada.goto(f"/team?month={start:%Y-%m}")
    linus_row = ada.locator("table.calendar tr", has_text="Linus")
    in_month = [day for day in days_between(start, end) if day.month == start.month]
    await expect(linus_row.locator("td.away")).to_have_count(
        sum(CALENDAR.is_working_day(day) for day in in_month)
    )
    await expect(ada.locator("#month-title")).to_have_text(f"{start:%B %Y}")
    async with ada.expect_navigation():
        await ada.click("text=Next month")
    await expect(ada.locator("#month-title")).not_to_have_text(f"{start:%B %Y}")

    linus = await site.signed_in("e-3")
    await expect(linus.locator("header nav")).not_to_contain_text("Team calendar")
    response = await linus.goto("/team")
    assert response is not None
    assert response.status == 404


async def test_half_days_say_which_half_on_the_team_calendar_and_in_the_page_titles(
    site: Site,
) -> None:
    start, end = weeks_ahead(4)  # three working days: the first's afternoon, the last's morning
    submitted = await site.api.submit("e-3", (start, end), half_day_start=True, half_day_end=True)
    assert submitted.status_code == 201, submitted.text
    case = submitted.json()
    task = await site.api.task_for("e-2", case["id"])
    ada = await site.signed_in("e-2")
    linus = await site.signed_in("e-3")

    for day, half, mark in [(start, "afternoon", "pm"), (end, "morning", "am")]:
        await ada.goto(f"/team?month={day:%Y-%m}")
        cell = ada.locator(f"tr:has-text('Linus') td.away[title*='{day.isoformat()}']")
        await expect(cell.locator("span[aria-hidden=true]")).to_have_text(f"½{mark}")
        await expect(cell).to_have_attribute(
            "title", f"Linus: annual leave (pending), the {half} of {day.isoformat()}"
        )
    await expect(ada.locator(".legend")).to_contain_text("½am the morning · ½pm the afternoon")
    period = f"{start.isoformat()} afternoon to {end.isoformat()} morning"
    await ada.goto(f"/tasks/{task['id']}")
    await expect(ada).to_have_title(f"Linus: annual leave {period} (2 days) · Backoffice")
    await expect(ada.locator("h1")).to_have_text(f"Linus: annual leave {period} (2 days)")
    await linus.goto(f"/requests/{case['id']}")
    await expect(linus).to_have_title(f"Annual leave, {period} · Backoffice")


async def test_every_page_fits_a_phone_screen_without_sideways_scrolling(site: Site) -> None:
    case = await site.api.pending("e-3", weeks_ahead(4))
    task = await site.api.task_for("e-2", case["id"])
    signed_out = await site.page(PHONE)
    await signed_out.goto("/sign-in")
    ada = await site.signed_in("e-2", PHONE)

    pages = {
        "/sign-in": signed_out,
        "/tasks": ada,
        f"/tasks/{task['id']}": ada,
        "/requests": ada,
        "/team": ada,
    }
    for path, page in pages.items():
        await page.goto(path)
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} is {overflow}px wider than a phone"
        assert await page.get_attribute("html", "lang") == "en"
        assert (await page.title()).endswith("· Backoffice")


async def test_keyboard_focus_is_visible(site: Site) -> None:
    page = await site.page()
    await page.goto("/sign-in")

    await page.keyboard.press("Tab")

    focused = await page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [document.activeElement.id, s.outlineStyle, s.outlineWidth]; })()"
    )
    assert focused[0] == "password"  # the employee id field has the focus first
    assert focused[1] != "none" and focused[2] != "0px", focused


async def test_a_request_the_form_model_refuses_shows_its_message_beside_the_field(
    site: Site,
) -> None:
    linus = await site.signed_in("e-3")
    await linus.goto("/requests")

    await linus.fill("#start", "2001-01-01")
    await linus.fill("#end", "2001-01-05")
    async with linus.expect_navigation() as navigation:
        await linus.click("text=Send the request")

    assert (await navigation.value).status == 422
    await expect(linus.locator("#start-error")).to_contain_text("2001-01-01 is out of range")
    await expect(linus.locator("#end-error")).to_contain_text("2001-01-05 is out of range")
    await expect(linus.locator("#start")).to_have_attribute("aria-invalid", "true")
    await expect(linus.locator("table.requests")).to_have_count(0)


async def test_the_front_door_leads_to_sign_in_or_to_my_tasks(site: Site) -> None:
    stranger = await site.page()
    await stranger.goto("/")
    ada = await site.signed_in("e-2")
    await ada.goto("/")

    assert stranger.url.endswith("/sign-in")
    assert ada.url.endswith("/tasks")
    await expect(ada).to_have_title(re.compile(r"^My tasks"))


async def test_both_half_days_on_a_one_day_request_are_refused_in_the_form_s_words(
    site: Site,
) -> None:
    day, _ = weeks_ahead(6)
    words = (
        "a one-day request is a half day or a whole day: tick “Only the afternoon of the"
        " first day” or “Only the morning of the last day”, not both"
    )
    linus = await site.signed_in("e-3")
    await linus.goto("/requests")

    await linus.fill("#start", day.isoformat())
    await linus.fill("#end", day.isoformat())
    await linus.check("#half_day_start")
    await linus.check("#half_day_end")
    await expect(linus.locator("#working-days")).to_have_text(words)
    async with linus.expect_navigation() as navigation:
        await linus.click("text=Send the request")

    assert (await navigation.value).status == 422
    await expect(linus.locator("#half_day_end-error")).to_have_text(words)
    await expect(linus.locator("table.requests")).to_have_count(0)


async def test_a_page_that_does_not_exist_is_a_page_saying_so_not_json(site: Site) -> None:
    """A mistyped address in the browser finds a page with the site's header and a way
    back; the API's unknown routes still answer JSON."""
    linus = await site.signed_in("e-3")

    answer = await linus.goto("/request")

    assert answer is not None
    assert answer.status == 404
    assert answer.headers["content-type"].startswith("text/html")
    await expect(linus.locator("h1")).to_have_text("Not found")
    await expect(linus.locator("a", has_text="Back to the start")).to_have_attribute("href", "/")
    api = await linus.goto("/api/leave-request")
    assert api is not None
    assert (api.status, (await api.json())["rule"]) == (404, "no_such_route")
