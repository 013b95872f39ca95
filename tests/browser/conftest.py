"""Fixtures for the browser tests: the real stack served over HTTP, and Debian's chromium.

The API tests' ``api`` fixture gives the stack (Temporal dev server, worker on a fresh
task queue, projection runner, SQLite store, the organisation of
``tests.integration.conftest``); ``site`` serves a second app over the same context
with uvicorn on a free loopback port, sets everyone's password and opens browser pages.
Everything runs on the tests' event loop, so the worker, the server and Playwright
take turns on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
import uvicorn
from argon2 import PasswordHasher
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright

from api.app import create_app
from services.credentials import Credentials
from tests.integration import conftest as integration  # first: it imports api_conftest
from tests.integration.api_conftest import Api, api, api_store_url, temporal_dev_server  # noqa: F401

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


class _Server(uvicorn.Server):
    """Uvicorn leaving the signals to pytest."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


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


@pytest.fixture
async def site(api: Api, browser: Browser) -> AsyncIterator[Site]:  # noqa: F811
    credentials = Credentials(api.context.settings.store, hasher=QUICK_HASHER)
    for profile in integration.ORGANISATION:
        credentials.set_password(profile.employee_id, password_of(profile.employee_id))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = _Server(uvicorn.Config(create_app(api.context), log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn offers a flag
        await asyncio.sleep(0.01)
    site = Site(api, f"http://127.0.0.1:{port}", browser, credentials)
    try:
        yield site
    finally:
        for context in site.contexts:
            await context.close()
        server.should_exit = True
        await serving
        listener.close()
