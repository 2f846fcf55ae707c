"""A real server on a free port and a real headless Chromium that records every request a page makes.

The browser is Debian's ``chromium`` (``scripts/test`` installs it), driven by Playwright's Python package with
``executable_path``; Playwright's own browser download is never used. The flags keep Chromium from calling
Google's services on its own, so every request it makes comes from the page under test.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, Request, sync_playwright

from geo_offers.app import create_app
from geo_offers.settings import Settings
from tests.helpers import FakeClock, make_settings

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


class LiveServer:
    """uvicorn serving one app in a background thread of the test process."""

    def __init__(self, app: FastAPI) -> None:
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self.url = ""

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the live server did not start")
            time.sleep(0.02)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)


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
