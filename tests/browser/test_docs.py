"""The API documentation renders in a real browser with no request to any host but the service."""

from __future__ import annotations

from tests.browser.conftest import Recorded
from tests.helpers import LiveServer


def test_swagger_ui_renders_every_operation_from_the_service_alone(live_server: LiveServer, recorded: Recorded) -> None:
    page = recorded.page
    page.goto(f"{live_server.url}/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=15_000)
    assert "geo-offers" in page.inner_text(".swagger-ui .info .title")
    assert page.locator(".opblock").count() > 20  # the operations were read from /openapi.json and drawn
    assert f"{live_server.url}/openapi.json" in recorded.requests
    assert recorded.foreign(live_server.url) == []


def test_redoc_renders_from_the_service_alone(live_server: LiveServer, recorded: Recorded) -> None:
    page = recorded.page
    page.goto(f"{live_server.url}/redoc")
    page.wait_for_selector("h1", timeout=15_000)
    assert "geo-offers" in page.inner_text("h1")
    assert recorded.foreign(live_server.url) == []
