"""A real server on a free port and a real headless Chromium that records every request a page makes.

The browser is Debian's ``chromium`` (``scripts/test`` installs it), driven by Playwright's Python package with
``executable_path``; Playwright's own browser download is never used. The flags keep Chromium from calling
Google's services on its own, so every request it makes comes from the page under test.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Request, sync_playwright

from geo_offers.app import create_app
from geo_offers.settings import Settings
from tests.helpers import FakeClock, LiveServer, make_settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]


@pytest.fixture(scope="module")
def server_settings(module_database_url: str) -> Settings:
    return make_settings(module_database_url)


@pytest.fixture(scope="module")
def live_server(server_settings: Settings) -> Iterator[LiveServer]:
    with LiveServer(create_app(server_settings, clock=FakeClock(), log=False)) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@dataclass
class Recorded:
    """A page and every request it made."""

    page: Page
    requests: list[str] = field(default_factory=list)

    def foreign(self, origin: str) -> list[str]:
        """Requests to anything but ``origin`` (scheme, host and port)."""
        own = urlsplit(origin)
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).netloc != own.netloc
        ]


@pytest.fixture
def recorded(browser: Browser) -> Iterator[Recorded]:
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    record = Recorded(page)

    def on_request(request: Request) -> None:
        record.requests.append(request.url)

    page.on("request", on_request)
    yield record
    context.close()
