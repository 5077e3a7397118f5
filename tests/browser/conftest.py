"""Headless Chromium (Debian's, driven by Playwright) against the live server.

Every page opened through ``visit`` records its requests and console messages, so a
test can assert that nothing left the live server and nothing went wrong in the page.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    sync_playwright,
)

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per module: Playwright's event loop runs only meanwhile."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing: install Debian's chromium package "
            "(scripts/bootstrap.sh --test does) to run the browser tests"
        )
    # Playwright's sync API runs an event loop in this thread; while it runs,
    # Django would refuse the ORM calls that fixtures make from it.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@dataclass
class Visit:
    """One browser tab and what it did."""

    page: Page
    origin: str
    requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    in_flight: int = 0

    def on_request(self, request: Request) -> None:
        self.requests.append(request.url)
        self.in_flight += 1

    def on_request_done(self, request: Request) -> None:
        self.in_flight -= 1

    def settle(self) -> None:
        """Wait for the page's requests to end: the server must be idle before the
        database is flushed, or the flush and a request deadlock."""
        for _ in range(250):
            if self.in_flight <= 0:
                return
            self.page.wait_for_timeout(20)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.console.append(f"{message.type}: {message.text}")

    def on_page_error(self, error: Exception) -> None:
        self.console.append(f"pageerror: {error}")

    @property
    def foreign_requests(self) -> list[str]:
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme not in ("data", "blob")
            and not url.startswith(self.origin + "/")
        ]

    def go(self, path: str) -> None:
        response = self.page.goto(self.origin + path)
        assert response is not None
        assert response.ok, f"{path}: {response.status}"

    def dsfr_started(self) -> None:
        """The DSFR module marks the document once it runs (so nonce and SRI passed)."""
        self.page.wait_for_selector("html[data-fr-js='true']", state="attached")

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def visit(browser: Browser, live_server: object) -> Iterator[Visit]:
    context = browser.new_context(
        locale="fr-FR", viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    tab = Visit(page=page, origin=str(live_server.url))  # type: ignore[attr-defined]
    page.on("request", tab.on_request)
    page.on("requestfinished", tab.on_request_done)
    page.on("requestfailed", tab.on_request_done)
    page.on("console", tab.on_console)
    page.on("pageerror", tab.on_page_error)
    yield tab
    tab.settle()
    context.close()
