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
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

import pytest
from argon2 import PasswordHasher
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright
from temporalio.client import Client
from temporalio.service import RetryConfig
from temporalio.worker import Worker

from services.credentials import Credentials
from tests.integration import conftest as integration  # first: it imports api_conftest
from tests.integration.api_conftest import (  # noqa: F401
    Api,
    api,
    api_store_url,
    served,
    temporal_dev_server,
)
from worker import build_worker
from workflows.messages import DATA_CONVERTER

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
        service goes away while the site runs. The client gives up after a second of
        retries (ten by default) so that the pages answer within the browser's patience."""
        target = self.api.context.client.service_client.config.target_host
        async with Relay.to(target) as relay:
            client = await Client.connect(
                relay.address,
                namespace=self.api.context.settings.temporal_namespace,
                data_converter=DATA_CONVERTER,
                retry_config=RetryConfig(max_elapsed_time_millis=1000, max_retries=3),
            )
            async with served(replace(self.api.context, client=client)) as base_url:
                relayed = Site(self.api, base_url, self.browser, self.credentials)
                try:
                    yield relayed, relay
                finally:
                    await relayed.close()

    @contextlib.asynccontextmanager
    async def without_worker(self) -> AsyncIterator[tuple[Site, Worker]]:
        """The same site (the same store) served by a second server whose workflows run
        on a task queue that no worker polls until the test runs the worker given
        (``async with worker``), as when the workers are down; a command gives up
        waiting for its workflow after a second."""
        context = self.api.context
        settings = context.settings.model_copy(
            update={"task_queue": f"idle-{uuid.uuid4()}", "command_timeout": 1.0}
        )
        worker = build_worker(
            context.client,
            context.application,
            settings.task_queue,
            read_models=context.read_models,
        )
        async with served(replace(context, settings=settings)) as base_url:
            idle = Site(self.api, base_url, self.browser, self.credentials)
            try:
                yield idle, worker
            finally:
                await idle.close()


@dataclass
class Relay:
    """A TCP relay on a free loopback port to ``target`` (``host:port``)."""

    target: str
    server: asyncio.Server | None = None
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def address(self) -> str:
        assert self.server is not None
        host, port = self.server.sockets[0].getsockname()[:2]
        return f"{host}:{port}"

    @classmethod
    @contextlib.asynccontextmanager
    async def to(cls, target: str) -> AsyncIterator[Relay]:
        relay = cls(target)
        relay.server = await asyncio.start_server(relay._relay, "127.0.0.1", 0)
        try:
            yield relay
        finally:
            await relay.cut()

    async def cut(self) -> None:
        """Close the relay and every connection through it: nothing answers any more."""
        if self.server is not None:
            self.server.close()
        for writer in self.writers:
            writer.close()
        self.writers.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = self.target.rsplit(":", 1)
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        self.writers += [writer, upstream_writer]
        await asyncio.gather(
            _pipe(reader, upstream_writer), _pipe(upstream_reader, writer), return_exceptions=True
        )


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


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
