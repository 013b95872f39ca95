"""Fixtures for the browser tests: the real stack served over HTTP, and Debian's chromium.

The API tests' ``api`` fixture gives the stack (Temporal dev server, worker on a fresh
task queue, projection runner, SQLite store, the organisation of
``tests.integration.conftest``); ``site`` serves a second app over the same context
with uvicorn on a free loopback port, sets everyone's password and opens browser pages.
Everything runs on the tests' event loop, so the worker, the server and Playwright
take turns on it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

import httpx
import pytest
from argon2 import PasswordHasher
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright
from temporalio.worker import Worker

from api.app import create_app
from services.credentials import Credentials
from tests.integration import conftest as integration  # first: it imports api_conftest
from tests.integration.api_conftest import (  # noqa: F401
    Api,
    Relay,
    api,
    api_store_url,
    served,
    temporal_behind_relay,
    temporal_dev_server,
    worker_for,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = ViewportSize(width=375, height=800)
DESKTOP = ViewportSize(width=1280, height=900)
QUICK_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
"""The fixture's hashes are cheap to make; the app rehashes them on the first sign-in."""


def password_of(employee_id: str) -> str:
    return f"correct horse {employee_id} battery"


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


@dataclass
class Site:
    """The pages as a browser reaches them, and the API fixture to arrange and check."""

    api: Api
    base_url: str
    browser: Browser
    credentials: Credentials
    contexts: list[BrowserContext] = field(default_factory=list)

    async def page(self, viewport: ViewportSize | None = None) -> Page:
        """A fresh browser (no cookies) on the site."""
        context = await self.browser.new_context(
            base_url=self.base_url,
            viewport=viewport or DESKTOP,
        )
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        return await context.new_page()

    async def sign_in(self, page: Page, employee_id: str, password: str | None = None) -> None:
        await page.goto("/sign-in")
        await page.fill("#employee_id", employee_id)
        await page.fill("#password", password or password_of(employee_id))
        async with page.expect_navigation():
            await page.click("button[type=submit]")

    async def signed_in(self, employee_id: str, viewport: ViewportSize | None = None) -> Page:
        """A fresh browser in which ``employee_id`` has signed in (on "My tasks")."""
        page = await self.page(viewport)
        await self.sign_in(page, employee_id)
        assert page.url.endswith("/tasks"), page.url
        return page

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()

    @contextlib.asynccontextmanager
    async def behind_relay(self) -> AsyncIterator[tuple[Site, Relay]]:
        """The same site (the same store) served by a second server whose Temporal client
        reaches the dev server through a relay the test may cut, as when the workflow
        service goes away while the site runs (:func:`temporal_behind_relay`)."""
        async with (
            temporal_behind_relay(self.api.context) as (client, relay),
            served(replace(self.api.context, client=client)) as base_url,
        ):
            relayed = Site(self.api, base_url, self.browser, self.credentials)
            try:
                yield relayed, relay
            finally:
                await relayed.close()

    @contextlib.asynccontextmanager
    async def without_worker(
        self,
    ) -> AsyncIterator[tuple[Site, contextlib.AbstractAsyncContextManager[Worker]]]:
        """The same site (the same store) served by a second server whose workflows run
        on a task queue that no worker polls until the test runs the worker given
        (``async with worker``), as when the workers are down; a command gives up
        waiting for its workflow after a second. The idle site's ``api`` is that
        server's: the cases it starts run on that queue too (arranged while a worker
        of :func:`worker_for` runs; the worker given is made only when it runs, as
        Temporal allows one at a time on a queue)."""
        settings = self.api.context.settings.model_copy(
            update={"task_queue": f"idle-{uuid.uuid4()}", "command_timeout": 1.0}
        )
        context = replace(self.api.context, settings=settings)
        transport = httpx.ASGITransport(app=create_app(context))
        async with (
            served(context) as base_url,
            httpx.AsyncClient(transport=transport, base_url="http://test") as http,
        ):
            idle = Site(Api(http, context), base_url, self.browser, self.credentials)
            try:
                yield idle, _worker_when_run(idle.api)
            finally:
                await idle.close()


@contextlib.asynccontextmanager
async def _worker_when_run(of: Api) -> AsyncIterator[Worker]:
    async with worker_for(of) as worker:
        yield worker


@pytest.fixture
async def site(api: Api, browser: Browser) -> AsyncIterator[Site]:  # noqa: F811
    credentials = Credentials(api.context.settings.store, hasher=QUICK_HASHER)
    for profile in integration.ORGANISATION:
        credentials.set_password(profile.employee_id, password_of(profile.employee_id))
    async with served(api.context) as base_url:
        site = Site(api, base_url, browser, credentials)
        try:
            yield site
        finally:
            await site.close()
