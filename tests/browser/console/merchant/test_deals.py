"""The store's console in headless Chromium, deals: sign in, draw and publish deals the API then matches, errors at
their fields, the status actions, the map without tiles; every page checked with axe-core and for foreign requests."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser
from sqlalchemy import text

from geo_offers.app import create_app
from geo_offers.settings import Settings
from tests.browser.conftest import LiveServer
from tests.browser.console.conftest import Console, open_console
from tests.browser.console.world import (
    BERLIN,
    World,
)
from tests.helpers import FakeClock, deal_body


def deals_named(world: World, title: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = world.ok("GET", "/v1/deals", world.merchant, params={"limit": 500})["items"]
    return [d for d in items if d["title"] == title]


def session_rows(world: World) -> list[Any]:
    with world.db.engine.connect() as conn:
        return list(conn.execute(text("SELECT * FROM console_sessions")))


def test_signing_in_keeps_the_key_out_of_urls_storage_pages_logs_and_the_database(
    console: Console, world: World, stores: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    console.go("/console/stores")
    assert urlsplit(console.page.url).path == "/console/sign-in"  # no session: sign in first
    console.check("sign-in")
    before = len(session_rows(world))
    console.sign_in(world.merchant)
    assert urlsplit(console.page.url).path == "/console/stores"
    cookie = {c["name"]: c for c in console.page.context.cookies()}["geo_console"]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["path"] == "/console"
    assert not console.key_leaked(world.merchant)
    secret = world.merchant.split("_", 2)[2]
    assert secret not in caplog.text
    rows = session_rows(world)
    assert len(rows) == before + 1
    stored = b"".join(bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode() for row in rows for v in row)
    assert secret.encode() not in stored and world.merchant.encode() not in stored  # only the sealed key is kept
    console.page.click("form[action='/console/sign-out'] button")
    console.page.wait_for_load_state("load")
    assert "signed out" in console.text("main")
    assert len(session_rows(world)) == before  # the session ended on the server, not only in this browser
    console.go("/console/stores")
    assert urlsplit(console.page.url).path == "/console/sign-in"


def test_a_radius_drawn_on_the_map_and_published_is_matched_by_the_api(
    console: Console, world: World, stores: dict[str, Any]
) -> None:
    berlin = stores["berlin"]
    console.sign_in(world.merchant)
    console.go(f"/console/deals/new?store_id={berlin['id']}")
    page = console.page
    page.fill("#title", "Cappuccino zum halben Preis")
    page.select_option("#category", "cafe")
    page.click("#draw-radius")
    box = page.locator("#map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2 + 120, box["y"] + box["height"] / 2)
    radius = int(page.input_value("#radius_m"))
    assert 200 <= radius <= 2000 and "Radius set to" in console.text("#draw-status")
    assert page.locator("path.draft-area").count() == 1
    console.check("merchant-deal-form")
    page.click("button[name=status][value=active]")
    page.wait_for_load_state("load")
    assert urlsplit(page.url).path == "/console/stores" and "published" in console.text(".notice")
    (deal,) = deals_named(world, "Cappuccino zum halben Preis")
    assert deal["status"] == "active" and deal["area"] == {"radius_m": radius} and deal["windows"] == []
    assert "live" in console.text(f"#deal-{deal['id']}")
    assert page.locator("path.deal-area").count() >= 1 and page.locator("path.h3-cell").count() > 0
    assert page.locator("path.store-marker").count() == 2
    page.locator(f"#deal-{deal['id']}").get_by_role("button", name="Show on map").click()
    area = page.locator("path.deal-area").first.bounding_box()
    assert area is not None and area["width"] > 100  # zoomed in to the deal: its area fills the map
    console.check("merchant-map")
    subject = world.subject()
    world.wait_matched(subject, *BERLIN, deal["id"])


def test_a_polygon_with_weekly_hours_is_saved_as_drawn_and_shown_again(
    console: Console, world: World, stores: dict[str, Any]
) -> None:
    hamburg = stores["hamburg"]
    console.sign_in(world.merchant)
    console.go(f"/console/deals/new?store_id={hamburg['id']}")
    page = console.page
    page.fill("#title", "Feierabend-Espresso")
    page.click("#draw-polygon")
    box = page.locator("#map").bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx, dy in ((-90, -70), (90, -70), (100, 60), (-80, 80)):
        page.mouse.click(cx + dx, cy + dy)
    assert "4 corners" in console.text("#draw-status")
    page.click("#draw-finish")
    drawn = json.loads(page.input_value("#polygon"))
    assert drawn["type"] == "Polygon" and len(drawn["coordinates"][0]) == 5
    for hour in (17, 18, 19):
        page.check(f"input[name=hours][value='1-{hour}']")
    page.click("button[name=status][value=draft]")
    page.wait_for_load_state("load")
    assert "draft" in console.text(".notice")
    (deal,) = deals_named(world, "Feierabend-Espresso")
    assert deal["status"] == "draft" and deal["area"]["coordinates"] in (drawn["coordinates"], [drawn["coordinates"]])
    assert deal["windows"] == [{"days": ["tue"], "start": "17:00", "end": "20:00"}]
    console.go(f"/console/deals/{deal['id']}/edit")
    assert page.is_checked("input[name=hours][value='1-18']") and not page.is_checked("input[name=hours][value='1-20']")
    assert json.loads(page.input_value("#polygon")) == deal["area"]
    assert page.locator("path.h3-cell").count() > 0  # the deal's coverage, drawn on the form's map
    console.check()


def test_validation_errors_are_shown_next_to_their_fields(
    console: Console, world: World, stores: dict[str, Any]
) -> None:
    console.sign_in(world.merchant)
    console.go(f"/console/deals/new?store_id={stores['berlin']['id']}")
    page = console.page
    page.fill("#radius_m", "10")
    page.click("button[name=status][value=active]")
    page.wait_for_load_state("load")
    assert "not saved" in console.text(".problem")
    assert "50" in console.text("#area_error") and "radius_m" in console.text("#area_error")
    assert console.text("#title_error") == "text must not be empty"
    assert page.get_attribute("#title", "aria-invalid") == "true"
    assert "title_error" in (page.get_attribute("#title", "aria-describedby") or "")
    console.check("merchant-deal-errors")
    page.fill("#title", "Zu spät")
    page.fill("#radius_m", "300")
    page.fill("#valid_until", "2020-01-01T10:00")
    page.click("button[name=status][value=active]")
    page.wait_for_load_state("load")
    assert "valid_until must be after valid_from" in console.text("#valid_until_error")
    assert deals_named(world, "Zu spät") == []  # nothing was written


def test_publish_pause_and_end_from_the_list(console: Console, world: World, stores: dict[str, Any]) -> None:
    body = deal_body(stores["berlin"]["id"], title="Croissant am Morgen", status="draft")
    deal_id = world.ok("POST", "/v1/deals", world.merchant, json=body)["id"]
    console.sign_in(world.merchant)
    console.go("/console/stores")
    page = console.page
    row = f"#deal-{deal_id}"
    for action, status, label in (
        ("Publish", "active", "live"),
        ("Pause", "paused", "paused"),
        ("End", "ended", "ended"),
    ):
        page.locator(row).get_by_role("button", name=action).click()
        page.wait_for_load_state("load")
        assert label in console.text(f"{row} .status")
        assert world.ok("GET", f"/v1/deals/{deal_id}", world.merchant)["status"] == status
    assert page.locator(f"{row} form button").count() == 0  # an ended deal offers no more status actions
    console.check()


def test_with_an_unreachable_tile_server_the_map_still_draws_everything(
    browser: Browser, server_settings: Settings, axe_path: Path, shots: Path, world: World, stores: dict[str, Any]
) -> None:
    world.ok("POST", "/v1/deals", world.merchant, json=deal_body(stores["hamburg"]["id"], title="Kacheltest"))
    dead = "http://127.0.0.1:18699/{z}/{x}/{y}.png"  # a port of this project's range that nothing listens on
    settings = server_settings.model_copy(update={"console_tile_url": dead, "console_tile_attribution": "Tiles"})
    with LiveServer(create_app(settings, clock=FakeClock(), log=False)) as server:
        ctx, console = open_console(browser, server, axe_path, shots)
        try:
            console.sign_in(world.merchant)
            page = console.page
            page.wait_for_selector("path.outline")
            assert any(url.startswith("http://127.0.0.1:18699/") for url in console.requests)  # tiles were tried
            assert page.locator("path.store-marker").count() >= 2 and page.locator("path.deal-area").count() >= 1
            assert page.locator("path.h3-cell").count() > 0
            policy = page.request.get(f"{server.url}/console/stores").headers["content-security-policy"]
            assert "img-src 'self' data: http://127.0.0.1:18699;" in policy
        finally:
            ctx.close()


def test_names_are_shown_as_text_never_run_as_markup(console: Console, world: World, stores: dict[str, Any]) -> None:
    hostile = '</script><img src=x onerror="document.title=1"><!--'
    world.store(hostile, 13.2, 52.4)
    console.sign_in(world.merchant)
    console.go("/console/stores")
    page = console.page
    assert hostile in page.locator("tr[data-store]").all_inner_texts()[-1]
    assert page.locator("img[src=x]").count() == 0 and page.title() != "1"
    assert page.locator("path.store-marker").count() >= 3  # the map data block held the name and still parsed
    console.check()
