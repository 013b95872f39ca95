"""Deciding a task in the browser when the decision cannot be taken: the task page says
why, beside its form, with the status the API answered."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Page, Response, expect

from tests.browser.conftest import Site, password_of
from tests.integration.api_conftest import weeks_ahead, worker_for


async def open_task(site: Site, employee_id: str, task_id: str) -> Page:
    page = await site.signed_in(employee_id)
    await page.goto(f"/tasks/{task_id}")
    return page


async def click_and_answer(page: Page, selector: str) -> Response:
    async with page.expect_navigation() as navigation:
        await page.click(selector)
    response = await navigation.value
    assert response is not None
    return response


async def pending_task(site: Site) -> tuple[dict[str, Any], dict[str, Any]]:
    """Linus's request and its task, waiting for Ada."""
    case = await site.api.pending("e-3", weeks_ahead(4))
    return case, await site.api.task_for("e-2", case["id"])


async def test_a_decision_while_the_workflow_service_is_not_answering_shows_the_task_page(
    site: Site,
) -> None:
    case, task = await pending_task(site)

    async with site.behind_relay() as (relayed, temporal):
        ada = await open_task(relayed, "e-2", task["id"])
        await ada.fill("#comment", "enjoy")
        await temporal.cut()
        answer = await click_and_answer(ada, "button:has-text('Approve')")

        assert answer.status == 503
        assert answer.headers.get("retry-after") == "60"
        await expect(ada.locator("h1")).to_have_text(task["title"])
        await expect(ada.locator("#decision-error")).to_have_text(
            "The workflow service is not answering; try again in a minute."
        )
        await expect(ada.locator("#comment")).to_have_value("enjoy")
        await expect(ada.locator("button:has-text('Approve')")).to_be_visible()
    status = (await site.api.get("e-3", f"/api/leave-requests/{case['id']}")).json()["status"]
    assert status == "pending"


async def test_a_decision_sent_again_with_another_comment_after_the_first_got_through_says_so(
    site: Site,
) -> None:
    """The page kept the form's key when the workflow service did not answer; the first
    attempt had reached it though (here sent through the API with that key), and the
    person changed the comment before sending again."""
    case, task = await pending_task(site)
    ada = await open_task(site, "e-2", task["id"])
    form_key = await ada.locator("input[name=form_key]").input_value()
    first = await site.api.decide("e-2", task["id"], "approve", f"{form_key}:approve", "enjoy")
    assert first.status_code == 200, first.text

    await ada.fill("#comment", "enjoy, and rest")
    await click_and_answer(ada, "button:has-text('Approve')")

    await expect(ada.locator("#decision-error")).to_have_text(
        "Your first attempt was recorded: the decision shown here is the one that counts."
    )
    await expect(ada.locator("#decided")).to_have_text(re.compile(r"Approved\s+by Ada: “enjoy”"))
    await expect(ada.locator("button:has-text('Approve')")).to_have_count(0)
    seen = (await site.api.get("e-3", f"/api/leave-requests/{case['id']}")).json()
    assert (seen["status"], seen["decisions"][0]["comment"]) == ("approved", "enjoy")


async def test_deciding_in_a_second_tab_after_the_first_rejected_shows_the_task_page(
    site: Site,
) -> None:
    case, task = await pending_task(site)
    first = await open_task(site, "e-2", task["id"])
    second = await first.context.new_page()
    await second.goto(f"/tasks/{task['id']}")

    await click_and_answer(first, "button[value=reject]")
    await site.api.process_ended(case["id"])
    answer = await click_and_answer(second, "button[value=approve]")

    assert answer.status == 409
    await expect(second.locator("#decision-error")).to_have_text(
        "this task has already been decided"
    )
    await expect(second.locator("#case-status")).to_have_text("rejected")
    await expect(second.locator("button[value=approve]")).to_have_count(0)


async def test_deciding_a_request_withdrawn_meanwhile_says_it_was_withdrawn(site: Site) -> None:
    case, task = await pending_task(site)
    ada = await open_task(site, "e-2", task["id"])

    withdrawn = await site.api.post("e-3", f"/api/leave-requests/{case['id']}/withdraw")
    assert withdrawn.status_code == 200, withdrawn.text
    await site.api.process_ended(case["id"])
    answer = await click_and_answer(ada, "button[value=approve]")

    assert answer.status == 409
    await expect(ada.locator("#decision-error")).to_have_text(
        "this task was cancelled when its request was withdrawn"
    )
    await expect(ada.locator("#case-status")).to_have_text("withdrawn")


async def test_bulk_results_name_each_request_and_say_what_became_of_it(site: Site) -> None:
    linus_dates, margaret_dates = weeks_ahead(4), weeks_ahead(6)
    linus = await site.api.pending("e-3", linus_dates)
    margaret = await site.api.pending("e-4", margaret_dates)
    await site.api.task_for("e-2", linus["id"])
    margaret_task = await site.api.task_for("e-2", margaret["id"])
    ada = await site.signed_in("e-2")
    await expect(ada.locator("#open-count")).to_have_text("2")

    decided = await site.api.decide("e-2", margaret_task["id"], "approve")  # in another tab
    assert decided.status_code == 200, decided.text
    await ada.check("#select-all")
    await click_and_answer(ada, "text=Reject selected")

    results = ada.locator(".results li")
    await expect(results.filter(has_text="Linus")).to_have_text(
        f"Linus: annual leave {linus_dates[0]} to {linus_dates[1]} (3 days): rejected"
    )
    await expect(results.filter(has_text="Margaret")).to_have_text(
        f"Margaret: annual leave {margaret_dates[0]} to {margaret_dates[1]} (3 days):"
        " refused: this task has already been decided"
    )
    await expect(results.filter(has_text="Linus")).to_have_class("ok")
    await expect(results.filter(has_text="Margaret")).to_have_class("error")


async def test_a_bookmarked_decision_address_opens_the_task_page(site: Site) -> None:
    _, task = await pending_task(site)
    ada = await site.signed_in("e-2")

    answer = await ada.goto(f"/tasks/{task['id']}/decision")

    assert answer is not None
    assert answer.status == 200
    assert ada.url.endswith(f"/tasks/{task['id']}")
    await expect(ada.locator("button[value=approve]")).to_have_count(1)


async def test_the_address_of_several_decisions_opened_as_a_page_is_my_tasks(
    site: Site,
) -> None:
    """As after signing in again from a bulk decision's results, whose address it is."""
    await pending_task(site)
    ada = await site.signed_in("e-2")

    answer = await ada.goto("/tasks/decisions")

    assert answer is not None
    assert answer.status == 200
    assert ada.url.endswith("/tasks")
    await expect(ada.locator("#open-count")).to_have_text("1")


async def test_a_decision_sent_after_the_session_ended_elsewhere_leads_back_to_the_task(
    site: Site,
) -> None:
    case, task = await pending_task(site)
    ada = await open_task(site, "e-2", task["id"])
    other_tab = await ada.context.new_page()
    await other_tab.goto("/tasks")
    async with other_tab.expect_navigation():
        await other_tab.click("form.sign-out button")

    await click_and_answer(ada, "button[value=approve]")

    assert "/sign-in?" in ada.url
    await expect(ada.locator("#sign-in-notice")).to_have_text(
        "Your session had ended, so what you sent was not saved. Sign in to go back to"
        " the page and send it again."
    )
    await ada.fill("#employee_id", "e-2")
    await ada.fill("#password", password_of("e-2"))
    await click_and_answer(ada, "button[type=submit]")
    assert ada.url.endswith(f"/tasks/{task['id']}")
    await expect(ada.locator("#case-status")).to_have_text("pending")
    await expect(ada.locator("button[value=approve]")).to_have_count(1)
    assert (await site.api.get("e-2", f"/api/leave-requests/{case['id']}")).json()[
        "status"
    ] == "pending"


async def test_deciding_several_while_no_worker_runs_keeps_the_form_and_decides_once_sent_again(
    site: Site,
) -> None:
    async with site.without_worker() as (idle, worker):
        async with worker_for(idle.api):  # the requests start on the idle site's queue
            cases = [
                await idle.api.pending(e, weeks_ahead(4 + 2 * n))
                for n, e in enumerate(["e-3", "e-4"])
            ]
            for case in cases:
                await idle.api.task_for("e-2", case["id"])
        ada = await idle.signed_in("e-2")
        form_key = await ada.locator("form.bulk input[name=form_key]").input_value()
        await ada.check("#select-all")
        await ada.fill("#bulk-comment", "enjoy")
        waiting = await click_and_answer(ada, "text=Approve selected")

        assert waiting.status == 503
        assert waiting.headers.get("retry-after") == "60"
        await expect(ada.locator(".results li")).to_have_text(
            [
                re.compile(r"Linus: .*:\s+not confirmed\s*$"),
                re.compile(r"Margaret: .*:\s+not confirmed\s*$"),
            ]
        )
        await expect(ada.locator("form.bulk p.error")).to_have_text(
            "The workflow service is not answering; try again in a minute. The tasks not"
            " confirmed are still selected: sending them again decides none twice."
        )
        await expect(ada.locator("form.bulk input[name=form_key]")).to_have_value(form_key)
        await expect(ada.locator("#bulk-comment")).to_have_value("enjoy")
        await expect(ada.locator("input[name=task_id]:checked")).to_have_count(2)
        async with worker:
            sent_again = await click_and_answer(ada, "text=Approve selected")

            assert sent_again.status == 200
            await expect(ada.locator(".results li")).to_have_text(
                [
                    re.compile(r"Linus: .*:\s+approved\s*$"),
                    re.compile(r"Margaret: .*:\s+approved\s*$"),
                ]
            )
    for case in cases:
        seen = (await site.api.get("e-2", f"/api/leave-requests/{case['id']}")).json()
        decisions = [(d["actor"], d["decision"], d["comment"]) for d in seen["decisions"]]
        assert (seen["status"], decisions) == ("approved", [("e-2", "approve", "enjoy")])


async def test_several_sent_again_changed_after_the_first_attempt_got_through_say_so(
    site: Site,
) -> None:
    """As for one task: the page kept the form's key, the first attempt had reached the
    workflow (here sent through the API with the key the page makes of it for the task),
    and the person changed the comment before sending again."""
    case, task = await pending_task(site)
    ada = await site.signed_in("e-2")
    form_key = await ada.locator("form.bulk input[name=form_key]").input_value()
    key = f"{form_key}:approve:{task['id']}"
    first = await site.api.decide("e-2", task["id"], "approve", key, "enjoy")
    assert first.status_code == 200, first.text

    await ada.check("#select-all")
    await ada.fill("#bulk-comment", "enjoy, and rest")
    await click_and_answer(ada, "text=Approve selected")

    await expect(ada.locator(".results li")).to_have_text(
        re.compile(r"Linus: .*:\s+refused: your first attempt was recorded: it is the one that")
    )
    seen = (await site.api.get("e-3", f"/api/leave-requests/{case['id']}")).json()
    assert (seen["status"], seen["decisions"][0]["comment"]) == ("approved", "enjoy")
