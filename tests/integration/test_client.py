"""The Python client for other systems, against the API served over HTTP on loopback."""

from __future__ import annotations

import asyncio
import socketserver
import threading
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from functools import partial
from typing import TypeVar

import httpx
import pytest

from backoffice.client import BackofficeClient, BackofficeError, _retry_after
from domain.meta import Meta
from tests.integration.api_conftest import Api, served, weeks_ahead

T = TypeVar("T")


@pytest.fixture
async def base_url(api: Api) -> AsyncIterator[str]:
    async with served(api.context) as url:
        yield url


async def call(function: Callable[[], T]) -> T:
    """The client is synchronous: it runs in a thread, while the server runs here."""
    return await asyncio.to_thread(function)


class LosesFirstAnswer(httpx.HTTPTransport):
    """Delivers every request, but loses the answer to the first command: the server
    has applied it, the client hears of a broken connection."""

    def __init__(self) -> None:
        super().__init__()
        self.commands = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.method == "POST":
            self.commands += 1
            if self.commands == 1:
                response.read()
                response.close()
                raise httpx.ReadError("connection reset by peer", request=request)
        return response


async def test_a_system_submits_the_manager_approves_and_both_read_the_outcome(
    api: Api, base_url: str
) -> None:
    start, end = weeks_ahead(4)
    with (
        BackofficeClient(base_url, api.token("e-3")) as linus,
        BackofficeClient(base_url, api.token("e-2")) as ada,
    ):
        case = await call(lambda: linus.submit_leave("annual", start, end, key="hr-4711"))
        tasks = await call(lambda: list(ada.tasks()))
        decided = await call(lambda: ada.decide(tasks[0].id, "approve", key="d-1", comment="ok"))
        read = await call(lambda: linus.leave_request(case.id))
        balance = await call(lambda: linus.leave_balance("e-3", start.year))

    assert case.status == "pending"
    assert [task.case_id for task in tasks] == [case.id]
    assert decided.status == "approved"
    assert read.status == "approved"
    assert read.decisions[0].comment == "ok"
    assert balance.approved == case.working_days


async def test_a_manager_decides_several_tasks_at_once_and_reads_a_case_s_history(
    api: Api, base_url: str
) -> None:
    with (
        BackofficeClient(base_url, api.token("e-3")) as linus,
        BackofficeClient(base_url, api.token("e-4")) as margaret,
        BackofficeClient(base_url, api.token("e-2")) as ada,
    ):
        first = await call(lambda: linus.submit_leave("annual", *weeks_ahead(4), key="many-1"))
        second = await call(lambda: margaret.submit_leave("annual", *weeks_ahead(6), key="many-2"))
        tasks = {task.case_id: task.id for task in await call(lambda: list(ada.tasks()))}
        chosen = {tasks[first.id]: "approve", tasks[second.id]: "reject"}
        results = await call(lambda: ada.decide_many(chosen, key="monday", comment="seen"))
        again = await call(lambda: ada.decide_many(chosen, key="monday", comment="seen"))
        history = await call(lambda: linus.history(first.id))
        health = await call(ada.health)

    assert [(r.task_id, r.outcome) for r in results] == [
        (tasks[first.id], "decided"),
        (tasks[second.id], "decided"),
    ]
    assert [r.outcome for r in again] == ["decided", "decided"]
    decided = [item for item in history.items if item.type == "TaskDecided"]
    assert [(item.actor, item.data["decision"]) for item in decided] == [("e-2", "approve")]
    assert health.status == "ok"


async def test_a_command_whose_answer_was_lost_is_sent_again_and_applied_once(
    api: Api, base_url: str
) -> None:
    start, end = weeks_ahead(4)
    transport = LosesFirstAnswer()
    with BackofficeClient(base_url, api.token("e-3"), transport=transport) as linus:
        case = await call(lambda: linus.submit_leave("annual", start, end, key="hr-4712"))
        mine = await call(lambda: list(linus.leave_requests()))

    assert transport.commands == 2
    assert [summary.id for summary in mine] == [case.id]


async def test_a_refusal_raises_with_the_rule_and_the_message_and_is_not_sent_again(
    api: Api, base_url: str
) -> None:
    start, end = weeks_ahead(4)
    with BackofficeClient(base_url, api.token("e-3")) as linus:
        case = await call(lambda: linus.submit_leave("annual", start, end, key="hr-4713"))

        with pytest.raises(BackofficeError) as refused:
            await call(lambda: linus.cancel(case.id, key="c-1"))
        with pytest.raises(BackofficeError) as malformed:
            await call(lambda: linus.submit_leave("holiday", start, end, key="hr-4714"))

    assert (refused.value.status, refused.value.rule) == (409, "not_approved")
    assert malformed.value.status == 422
    assert malformed.value.rule == "invalid_request"
    assert "type" in malformed.value.detail


async def test_approved_leave_is_ended_early_through_the_client(api: Api, base_url: str) -> None:
    start, end = weeks_ahead(4, days=3)
    case = await api.approved("e-3", (start, end))
    with BackofficeClient(base_url, api.token("e-3")) as linus:
        ended = await call(lambda: linus.shorten(case["id"], start, key="back-early"))

    assert (ended.end, ended.working_days) == (start, Decimal(1))


async def test_approved_leave_is_ended_at_noon_through_the_client(api: Api, base_url: str) -> None:
    start, end = weeks_ahead(4, days=3)
    case = await api.approved("e-3", (start, end))
    with BackofficeClient(base_url, api.token("e-3")) as linus:
        shorten = partial(linus.shorten, case["id"], end, key="end-at-noon-client-1")
        ended = await call(lambda: shorten(half_day_end=True))

    assert (ended.end, ended.half_day_end, ended.working_days) == (end, True, Decimal("2.5"))


async def test_requests_are_read_page_by_page_to_the_last(api: Api, base_url: str) -> None:
    submitted = []
    with BackofficeClient(base_url, api.token("e-3")) as linus:
        for week in range(5):
            start, end = weeks_ahead(4 + week, days=1)
            submit = partial(linus.submit_leave, "annual", start, end, key=f"client-paging-{week}")
            submitted.append(await call(submit))

        listed = await call(lambda: list(linus.leave_requests(page=2)))

    assert sorted(summary.id for summary in listed) == sorted(case.id for case in submitted)
    assert len(listed) == 5


async def test_hr_s_system_asks_for_an_employees_leave_saying_why(api: Api, base_url: str) -> None:
    api.context.application.set_role_members("hr", ["e-5"], Meta("e-1", "hr-is-ken", "tests"))
    start, end = weeks_ahead(4)
    with BackofficeClient(base_url, api.token("e-5")) as ken:
        case = await call(
            lambda: ken.submit_leave(
                "sick", start, end, key="client-hr-phoned-in", employee_id="e-3", reason="phoned in"
            )
        )
        with pytest.raises(BackofficeError) as refused:
            await call(
                lambda: ken.submit_leave(
                    "sick", start, end, key="client-hr-unsaid", employee_id="e-4"
                )
            )

    assert (case.requester_id, case.status, case.reason) == ("e-3", "recorded", "phoned in")
    assert (refused.value.status, refused.value.rule) == (422, "reason_required")


async def test_a_system_follows_requests_from_the_last_position_it_processed(
    api: Api, base_url: str
) -> None:
    """Grace's system reads what changed, keeps the position of the last request it
    processed, and later reads on from there: only what changed since, each once."""
    with (
        BackofficeClient(base_url, api.token("e-3")) as linus,
        BackofficeClient(base_url, api.token("e-1")) as grace,
    ):
        first = await call(
            lambda: linus.submit_leave("annual", *weeks_ahead(4), key="client-follow-1")
        )
        second = await call(
            lambda: linus.submit_leave("annual", *weeks_ahead(6), key="client-follow-2")
        )
        everything = await call(lambda: list(grace.changes(mine=False, page=1)))
        kept = everything[-1].position
        withdrawn = await call(lambda: linus.withdraw(first.id, key="client-follow-3"))
        since = await call(lambda: list(grace.changes(after=kept, mine=False)))
        nothing = await call(lambda: list(grace.changes(after=since[-1].position, mine=False)))

    assert [summary.id for summary in everything] == [first.id, second.id]
    assert [(summary.id, summary.status) for summary in since] == [(first.id, "withdrawn")]
    assert withdrawn.status == "withdrawn"
    assert nothing == []


@pytest.mark.parametrize("token", ["", "Bearer abc", "abc\n", " abc", "abc\x00", "abc\x7f", "äbc"])
def test_a_token_that_cannot_be_sent_is_refused_at_once_without_showing_it(token: str) -> None:
    with pytest.raises(ValueError, match="token: empty, or holding spaces") as refused:
        BackofficeClient("http://127.0.0.1:9", token)

    assert "abc" not in str(refused.value)


async def test_no_answer_at_all_raises_after_the_attempts_saying_so() -> None:
    with (
        BackofficeClient("http://127.0.0.1:9", "token", attempts=2, max_wait=0.01) as client,
        pytest.raises(BackofficeError) as failed,
    ):
        await call(lambda: client.leave_request("6f1c3a52-53a4-4f7e-9d0b-3c6a2f1e8b47"))

    assert failed.value.status == 0
    assert "no answer from the API after 2 attempts" in failed.value.detail


@pytest.mark.parametrize("address", ["ftp://127.0.0.1:9", "127.0.0.1:8000"])
def test_an_address_that_is_not_http_is_refused_at_once(address: str) -> None:
    with pytest.raises(ValueError, match="is not an http:// or https:// address"):
        BackofficeClient(address, "token")


class RefusingProxy(socketserver.BaseRequestHandler):
    """An HTTP proxy that refuses every tunnel it is asked for."""

    tunnels_asked = 0

    def handle(self) -> None:
        self.request.recv(65536)
        type(self).tunnels_asked += 1
        self.request.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")


async def test_a_request_that_cannot_be_sent_fails_at_once_rather_than_being_sent_again() -> None:
    """A failure that would be the same each time (a proxy refusing the tunnel) is not
    retried."""
    with socketserver.TCPServer(("127.0.0.1", 0), RefusingProxy) as proxy:
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        via = httpx.HTTPTransport(proxy=f"http://127.0.0.1:{proxy.server_address[1]}")
        try:
            with (
                BackofficeClient(
                    "https://backoffice.example", "token", attempts=3, transport=via
                ) as client,
                pytest.raises(BackofficeError) as failed,
            ):
                await call(client.health)
        finally:
            proxy.shutdown()

    assert failed.value.status == 0
    assert "could not be sent" in failed.value.detail
    assert RefusingProxy.tunnels_asked == 1


@pytest.mark.parametrize("asked", ["-5", "nan", "inf", "soon"])
def test_a_retry_after_that_is_no_wait_is_replaced_by_the_backoff(asked: str) -> None:
    answer = httpx.Response(503, headers={"Retry-After": asked})

    assert _retry_after(answer, 2.0) == 2.0


def test_a_retry_after_is_waited() -> None:
    assert _retry_after(httpx.Response(503, headers={"Retry-After": "7"}), 2.0) == 7.0
