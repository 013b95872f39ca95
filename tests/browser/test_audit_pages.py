"""The auditor's pages in a real browser: the log with each decision's authority, a
case's timeline, and the case as it was at an earlier version."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from playwright.async_api import FloatRect, expect

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


async def test_the_log_shows_whom_a_change_to_an_employee_concerns(site: Site) -> None:
    make_auditor(site, "e-5")
    application = site.api.context.application
    leaves = replace(application.profile("e-4"), end_date=date.today() + timedelta(days=60))
    application.put_employee(leaves, Meta("e-1", "leaves", "tests"))
    position = application.recorder.max_notification_id() or 0
    assert site.api.context.read_models.wait_for(position, 5)
    ken = await site.signed_in("e-5")

    await ken.goto("/audit?type=Employee.DetailsChanged")

    change = ken.locator("tr.entry").first
    await expect(change.locator(".what")).to_contain_text("Employee.DetailsChanged")
    await expect(change.locator(".subject")).to_have_text("employee e-4 (Margaret)")


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

    for path in [
        "/audit",
        f"/audit/cases/{case['id']}?version=2",
        "/audit?case=nope&since=yesterday&until=2027-03-01T12:00&after=-5",
    ]:
        await ken.goto(path)
        overflow = await ken.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"


async def test_a_filter_that_is_not_one_is_named_beside_its_field_with_no_export_links(
    site: Site,
) -> None:
    make_auditor(site, "e-5")
    ken = await site.signed_in("e-5")

    response = await ken.goto("/audit?case=nope&since=yesterday&until=2027-03-01T12:00&actor=e-3")

    assert response is not None and response.status == 422
    await expect(ken.locator("#case-error")).to_have_text(
        "case: must be a UUID such as 6f1c3a52-53a4-4f7e-9d0b-3c6a2f1e8b47"
    )
    await expect(ken.locator("#case")).to_have_attribute("aria-invalid", "true")
    await expect(ken.locator("#since-error")).to_have_text(
        "since: must be an instant, such as 2027-03-01T12:00 (UTC, as labelled) or"
        " 2027-03-01T13:00+01:00"
    )
    await expect(ken.locator("#until-error")).to_have_count(0)  # UTC, as labelled
    await expect(ken.locator("#actor")).to_have_value("e-3")
    await expect(ken.locator("a:has-text('Export')")).to_have_count(0)
    await expect(ken.locator("tr.entry")).to_have_count(0)


async def test_an_event_type_that_is_not_one_is_named_beside_its_field(site: Site) -> None:
    make_auditor(site, "e-5")
    ken = await site.signed_in("e-5")

    response = await ken.goto("/audit?type=Submited")

    assert response is not None and response.status == 422
    await expect(ken.locator("#type-error")).to_have_text(
        "type: 'Submited' is not an event type; give one such as Submitted or, with its"
        " aggregate, LeaveRequest.Submitted (did you mean Submitted?)"
    )
    await expect(ken.locator("#type")).to_have_attribute("aria-invalid", "true")
    await expect(ken.locator("a:has-text('Export')")).to_have_count(0)


async def test_every_filter_that_is_not_one_is_named_at_once_each_beside_its_field(
    site: Site,
) -> None:
    make_auditor(site, "e-5")
    ken = await site.signed_in("e-5")

    response = await ken.goto("/audit?type=Submited&process=hiring&since=yesterday")

    assert response is not None and response.status == 422
    await expect(ken.locator("#type-error")).to_contain_text("'Submited' is not an event type")
    await expect(ken.locator("#process-error")).to_contain_text("'hiring' is not a process")
    await expect(ken.locator("#since-error")).to_contain_text("since: must be an instant")


async def test_a_time_window_that_ends_before_it_starts_is_named_beside_its_end(
    site: Site,
) -> None:
    make_auditor(site, "e-5")
    ken = await site.signed_in("e-5")

    response = await ken.goto("/audit?since=2027-03-02T00:00Z&until=2027-03-01T00:00Z")

    assert response is not None and response.status == 422
    await expect(ken.locator("#until-error")).to_have_text(
        "since (2027-03-02T00:00:00+00:00) is after until (2027-03-01T00:00:00+00:00):"
        " no instant is in between"
    )
    await expect(ken.locator("#until-error code")).to_have_text(["since", "until"])
    await expect(ken.locator("a:has-text('Export')")).to_have_count(0)


async def test_a_page_position_or_order_that_is_not_one_is_refused_on_the_page(
    site: Site,
) -> None:
    make_auditor(site, "e-5")
    ken = await site.signed_in("e-5")

    for query, field, words in [
        ("after=-5", "form", "after: Input should be greater than or equal to 0"),
        ("after=abc", "form", "after: Input should be a valid integer"),
        ("order=sideways", "order", "order: Input should be 'newest' or 'oldest'"),
    ]:
        response = await ken.goto(f"/audit?{query}")

        assert response is not None and response.status == 422, query
        await expect(ken.locator("h1")).to_have_text("Audit log")
        await expect(ken.locator(f"#{field}-error")).to_contain_text(words)
        await expect(ken.locator("a:has-text('Export')")).to_have_count(0)


async def test_an_export_with_a_filter_that_is_not_one_says_so_with_422(site: Site) -> None:
    make_auditor(site, "e-5")
    ken = await site.signed_in("e-5")

    for query, field, words in [
        ("since=yesterday", "since", "since: must be an instant"),
        ("case=nope", "case", "case: must be a UUID"),
        ("format=xls", "form", "format: Input should be 'jsonl' or 'csv'"),
    ]:
        response = await ken.goto(f"/audit/export?{query}")

        assert response is not None and response.status == 422, query
        await expect(ken.locator(f"#{field}-error")).to_contain_text(words)
        await expect(ken.locator("main")).not_to_contain_text("nothing you may see")


async def test_the_export_links_carry_the_filter_shown(site: Site) -> None:
    make_auditor(site, "e-5")
    ken = await site.signed_in("e-5")

    await ken.goto("/audit?type=TaskDecided&since=2027-03-01T00:00:00Z")

    link = ken.locator("a:has-text('Export CSV')")
    await expect(link).to_have_attribute(
        "href",
        "/audit/export?type=TaskDecided&since=2027-03-01T00%3A00%3A00Z&format=csv&bom=true",
    )


async def test_the_page_s_csv_export_opens_in_a_spreadsheet_as_written(site: Site) -> None:
    """People open the page's CSV in a spreadsheet, which reads UTF-8 (Zoë) only from a
    file that starts with the byte order mark."""
    make_auditor(site, "e-5")
    await site.api.approved("e-3", weeks_ahead(6))
    position = site.api.context.application.recorder.max_notification_id() or 0
    assert site.api.context.read_models.wait_for(position, 5)
    ken = await site.signed_in("e-5")
    await ken.goto("/audit")

    async with ken.expect_download() as downloading:
        await ken.click("text=Export CSV")
    download = await downloading.value
    path = await download.path()

    assert download.suggested_filename == "audit.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbfposition,at,stream")


async def test_a_version_or_instant_the_case_cannot_be_shown_at_is_named_beside_its_field(
    site: Site,
) -> None:
    make_auditor(site, "e-5")
    case = await site.api.pending("e-3", weeks_ahead(8))
    ken = await site.signed_in("e-5")

    for query, status, field, words in [
        ("at=2099-01-01T00:00:00Z", 422, "at", "the case is known up to now ("),
        ("at=2099-01-01T00:00:00Z", 422, "at", "not at 2099-01-01T00:00:00+00:00; give an"),
        ("at=yesterday", 422, "at", "at: must be an instant, such as 2027-03-01T12:00 (UTC"),
        ("at=2099-01-01T00:00", 422, "at", "not at 2099-01-01T00:00:00+00:00; give an"),
        ("at=2026-13-01T12:00", 422, "at", "at: must be an instant"),
        ("at=2000-01-01T00:00:00Z", 404, "at", "there is nothing before that"),
        ("version=0", 422, "version", "version: Input should be greater than or equal to 1"),
        ("version=two", 422, "version", "version: Input should be a valid integer"),
        ("version=99", 404, "version", f"{case['id']} has versions 1 to "),
        (f"version={2**64}", 404, "version", f"{case['id']} has versions 1 to "),
        ("version=1&at=2026-03-01T12:00:00Z", 422, "travel", "give at or version, not both"),
    ]:
        response = await ken.goto(f"/audit/cases/{case['id']}?{query}")

        assert response is not None and response.status == status, query
        await expect(ken.locator(f"#{field}-error")).to_contain_text(words)
        if field != "travel":
            await expect(ken.locator(f"#{field}")).to_have_attribute("aria-invalid", "true")
        await expect(ken.locator("#state")).to_have_count(0)
        await expect(ken.locator("ol.timeline")).to_contain_text("LeaveRequest.Submitted")


async def test_a_refused_request_as_it_was_says_nothing_was_recorded_as_it_was_refused(
    site: Site,
) -> None:
    make_auditor(site, "e-5")
    start, _end = weeks_ahead(8)
    refused = await site.api.submit("e-3", (start, start + timedelta(days=60)), key="page-long")
    assert refused.status_code == 422, refused.text
    position = site.api.context.application.recorder.max_notification_id() or 0
    assert site.api.context.read_models.wait_for(position, 5)
    entries = await site.api.get("e-5", "/api/audit/events", {"type": "Refused"})
    [case_id] = [item["case_id"] for item in entries.json()["items"]]
    auditor_page = await site.signed_in("e-5")

    response = await auditor_page.goto(f"/audit/cases/{case_id}?version=1")

    assert response is not None and response.status == 404
    await expect(auditor_page.locator("#travel-error")).to_contain_text(
        f"nothing was recorded for case {case_id}: its submission was refused"
        f" ({refused.json()['rule']}: "
    )
    await expect(auditor_page.locator("#state")).to_have_count(0)
    await expect(auditor_page.locator("ol.timeline")).to_contain_text("submit refused")


async def test_a_case_as_it_was_at_an_instant_up_to_now_is_shown(site: Site) -> None:
    make_auditor(site, "e-5")
    case = await site.api.pending("e-3", weeks_ahead(9))
    ken = await site.signed_in("e-5")

    response = await ken.goto(f"/audit/cases/{case['id']}")
    # To the microsecond: whole seconds could fall before the submission of this second.
    await ken.fill("#at", datetime.now(UTC).isoformat())
    async with ken.expect_navigation():
        await ken.click("form.time-travel button")

    assert response is not None and response.status == 200
    await expect(ken.locator("#state-status")).to_have_text("pending")
    await expect(ken.locator("#at-error")).to_have_count(0)


async def test_an_instant_without_its_offset_is_taken_as_utc_as_the_field_s_label_says(
    site: Site,
) -> None:
    make_auditor(site, "e-5")
    case = await site.api.pending("e-3", weeks_ahead(9))
    ken = await site.signed_in("e-5")
    await ken.goto(f"/audit/cases/{case['id']}")

    # To the microsecond: whole seconds could fall before the submission of this second.
    await ken.fill("#at", datetime.now(UTC).replace(tzinfo=None).isoformat())
    async with ken.expect_navigation() as navigation:
        await ken.click("form.time-travel button")

    assert (await navigation.value).status == 200
    await expect(ken.locator("#state-status")).to_have_text("pending")
    await expect(ken.locator("#at-error")).to_have_count(0)
    before = await ken.goto(f"/audit/cases/{case['id']}?at=2000-01-01T00:00")
    assert before is not None and before.status == 404
    await expect(ken.locator("#at-error")).to_contain_text("there is nothing before that")


def apart(first: FloatRect | None, second: FloatRect | None) -> float:
    """How far apart two boxes are: across, or down when they are on different rows."""
    assert first is not None and second is not None
    across = second["x"] - (first["x"] + first["width"])
    down = second["y"] - (first["y"] + first["height"])
    return max(across, down)


async def test_the_log_s_show_button_and_export_links_stand_apart(site: Site) -> None:
    make_auditor(site, "e-5")

    for viewport in (None, PHONE):
        ken = await site.signed_in("e-5", viewport)
        await ken.goto("/audit")
        controls = ["form.filters button", "text=Export JSON Lines", "text=Export CSV"]
        boxes = [await ken.locator(control).bounding_box() for control in controls]

        assert [apart(a, b) >= 8 for a, b in itertools.pairwise(boxes)] == [True, True], boxes


async def test_each_event_s_facts_take_one_line_until_opened(site: Site) -> None:
    make_auditor(site, "e-5")
    case = await site.api.pending("e-3", weeks_ahead(6))
    position = site.api.context.application.recorder.max_notification_id() or 0
    assert site.api.context.read_models.wait_for(position, 5)
    ken = await site.signed_in("e-5", PHONE)

    for address, event in [
        ("/audit", ken.locator("tr.entry", has_text="LeaveRequest.Submitted")),
        (f"/audit/cases/{case['id']}", ken.locator("ol.timeline li", has_text="Submitted")),
    ]:
        await ken.goto(address)
        one_line = await event.locator("time").bounding_box()
        facts = await event.locator(".facts summary").bounding_box()
        assert one_line is not None and facts is not None
        assert facts["height"] <= one_line["height"] * 1.2, address

        await event.locator(".facts summary").click()
        await expect(event.locator(".facts pre")).to_contain_text('"requester_id": "e-3"')


async def test_the_log_takes_an_instant_without_an_offset_as_utc_as_its_fields_say(
    site: Site,
) -> None:
    make_auditor(site, "e-5")
    case = await site.api.pending("e-3", weeks_ahead(8))
    ken = await site.signed_in("e-5")
    now = datetime.now(UTC)
    since, until = now - timedelta(hours=1), now + timedelta(minutes=1)

    plain = f"since={since:%Y-%m-%dT%H:%M}&until={until:%Y-%m-%dT%H:%M}"
    response = await ken.goto(f"/audit?case={case['id']}&{plain}")
    assert response is not None and response.status == 200
    await expect(ken.locator("tr.entry").first).to_be_visible()
    await expect(ken.locator("#since")).to_have_value(f"{since:%Y-%m-%dT%H:%M}")

    long_ago = "since=2001-01-01T00:00&until=2001-01-02T00:00"
    response = await ken.goto(f"/audit?case={case['id']}&{long_ago}")
    assert response is not None and response.status == 200
    await expect(ken.locator("tr.entry")).to_have_count(0)


async def test_an_actor_nobody_has_been_says_so_rather_than_only_no_events(site: Site) -> None:
    make_auditor(site, "e-5")
    ken = await site.signed_in("e-5")

    await ken.goto("/audit?actor=e-99")
    await expect(ken.locator("tr:not(.entry) td")).to_contain_text(
        "No events match. The directory knows nobody with the id e-99"
    )
    await ken.goto("/audit?actor=e-4&type=TaskDecided")
    await expect(ken.locator("tr:not(.entry) td")).to_have_text("No events match.")
