"""The console in a real browser: a page that records every request, runs axe-core, and takes screenshots.

axe-core comes from the npm registry, pinned in web/package-lock.json (``scripts/test`` runs ``npm ci`` there). It
is injected as an init script, which the DevTools protocol runs outside the page's Content-Security-Policy, so the
console's strict policy stays exactly as served. Screenshots go to a temporary directory, or to
``GEO_OFFERS_SCREENSHOTS`` (``docs/console`` for the README's pictures) when that is set.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, Response

from tests.browser.conftest import LiveServer

ROOT = Path(__file__).resolve().parents[3]
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
#: Impacts that fail a page; "moderate" and "minor" findings are reported in the assertion message only.
BLOCKING = ("serious", "critical")
LAPTOP = {"width": 1200, "height": 760}


@pytest.fixture(scope="session")
def axe_path() -> Path:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run scripts/test (it installs the pinned axe-core with npm ci in web/)")
    return AXE


@dataclass
class Console:
    """A browser page on the console, with every request it made and the accessibility findings so far."""

    page: Page
    origin: str
    shots: Path
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # script errors and console errors (a CSP refusal is one)
    checked: list[str] = field(default_factory=list)

    def go(self, path: str) -> None:
        """Open a console path and wait until it has loaded."""
        self.page.goto(f"{self.origin}{path}")
        self.page.wait_for_load_state("load")

    def sign_in(self, key: str) -> None:
        """Sign in with a key through the form."""
        self.go("/console/sign-in")
        self.page.fill("#api_key", key)
        self.page.click("form[action='/console/sign-in'] button[type=submit]")
        self.page.wait_for_load_state("load")

    def foreign(self) -> list[str]:
        """Requests to any host but the service."""
        own = urlsplit(self.origin).netloc
        return [
            u
            for u in self.requests
            if urlsplit(u).scheme in ("http", "https", "ws", "wss") and urlsplit(u).netloc != own
        ]

    def axe(self) -> list[dict[str, Any]]:
        """Run axe-core on the page as it is now; the serious and critical violations. With GEO_OFFERS_AXE_REPORT
        set to a file, every finding of every impact is appended to it (one JSON line per page)."""
        result = self.page.evaluate(
            "async () => await axe.run(document, {resultTypes: ['violations'], "
            "runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
        )
        report = os.environ.get("GEO_OFFERS_AXE_REPORT")
        if report:
            found = [{"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"])} for v in result["violations"]]
            with open(report, "a", encoding="utf-8") as out:
                out.write(json.dumps({"url": self.page.url, "violations": found}) + "\n")
        return [v for v in result["violations"] if v["impact"] in BLOCKING]

    def check(self, shot: str | None = None) -> None:
        """The page passes axe (nothing serious or critical), asked no other host, and is photographed."""
        violations = self.axe()
        summary = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in violations]
        assert violations == [], f"{self.page.url}: {summary}"
        assert self.foreign() == []
        assert self.errors == []
        self.checked.append(self.page.url)
        if shot is not None:
            self.page.evaluate("window.scrollTo(0, 0)")
            self.page.screenshot(path=str(self.shots / f"{shot}.png"))

    def text(self, selector: str) -> str:
        """The visible text of the first match."""
        return self.page.locator(selector).first.inner_text()

    def key_leaked(self, key: str) -> bool:
        """Whether the key shows up in any URL asked, in the page, or in the page's storage."""
        secret = key.split("_", 2)[2]
        storage = self.page.evaluate(
            "() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
        )
        return any(secret in u for u in self.requests) or secret in self.page.content() or secret in storage


def open_console(
    browser: Browser, server: LiveServer, axe: Path, shots: Path, **context: Any
) -> tuple[BrowserContext, Console]:
    """A fresh browser context (its own cookies) on the console."""
    options: dict[str, Any] = {"locale": "en-GB", "viewport": LAPTOP, "accept_downloads": True, **context}
    ctx = browser.new_context(**options)
    ctx.add_init_script(path=str(axe))
    page = ctx.new_page()
    console = Console(page, server.url, shots)

    def on_request(request: Request) -> None:
        console.requests.append(request.url)

    page.on("request", on_request)
    page.on("pageerror", lambda error: console.errors.append(f"{page.url}: {error}"))
    page.on("console", lambda m: console.errors.append(f"{page.url}: {m.text}") if _error(m.type, m.text) else None)
    page.on("response", lambda r: console.errors.append(f"{r.status} {r.url}") if _failed(r) else None)
    return ctx, console


def _error(kind: str, text: str) -> bool:
    # A problem page's own status (404, 422, ...) is logged by Chromium as a failed load; responses are checked
    # by _failed, which ignores the documents (their status is the point of those pages) but not any asset.
    return kind == "error" and not text.startswith("Failed to load resource: the server responded with a status")


def _failed(response: Response) -> bool:
    return response.status >= 400 and response.request.resource_type != "document"


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    wanted = os.environ.get("GEO_OFFERS_SCREENSHOTS")
    target = Path(wanted) if wanted else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture
def console(browser: Browser, live_server: LiveServer, axe_path: Path, shots: Path) -> Iterator[Console]:
    ctx, page = open_console(browser, live_server, axe_path, shots)
    yield page
    ctx.close()


def csrf_of(html: str) -> str:
    """The CSRF token of a page's first form."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)
