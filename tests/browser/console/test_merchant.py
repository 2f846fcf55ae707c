"""The store's console in headless Chromium: sign in, draw and publish deals the API then matches, import stores,
read insights with published and suppressed figures; every page checked with axe-core and for foreign requests."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import h3.api.basic_int as h3
import pytest
from playwright.sync_api import Browser
from sqlalchemy import text

from geo_offers.app import create_app
from geo_offers.settings import Settings
from geo_offers.tenants import keys as key_repo
from tests.browser.conftest import LiveServer
from tests.browser.console.conftest import Console, open_console
from tests.browser.console.world import (
    BERLIN,
    HAMBURG,
    World,
    last_complete_week,
    make_world,
    put_activity,
    put_deal_days,
)
from tests.helpers import FakeClock, deal_body, make_settings

K = 5


@pytest.fixture(scope="module")
def server_settings(module_database_url: str) -> Settings:
    return make_settings(module_database_url, k_anonymity=K)


@pytest.fixture(scope="module")
def world(live_server: LiveServer, server_settings: Settings) -> Iterator[World]:
    made = make_world(live_server.url, server_settings)
    yield made
    made.close()


@pytest.fixture(scope="module")
def stores(world: World) -> dict[str, dict[str, Any]]:
    return {"berlin": world.store("Kaffeebar Mitte", *BERLIN), "hamburg": world.store("Hafenrösterei", *HAMBURG)}


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
    assert "at least 1 character" in console.text("#title_error")
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


def test_store_import_shows_the_result_of_every_row(
    console: Console, world: World, stores: dict[str, Any], tmp_path: Path
) -> None:
    csv = tmp_path / "filialen.csv"
    csv.write_text(
        "name,address,lon,lat,timezone,categories\n"
        "Eiscafé Nord,Nordstr. 1,10.0,53.6,Europe/Berlin,cafe\n"
        "Buchladen Süd,Südstr. 2,11.57,48.14,Europe/Berlin,books\n"
        "Nirgendwo,Weg 3,10.0,200.0,Europe/Berlin,cafe\n"
    )
    console.sign_in(world.merchant)
    console.go("/console/stores/import")
    console.check()
    console.page.set_input_files("#file", str(csv))
    console.page.click("form[action='/console/stores/import'] button[type=submit]")
    console.page.wait_for_load_state("load")
    assert "2 stores imported, 1 rows failed" in console.text(".result")
    failed = console.page.locator("tr.failed-row")
    assert failed.count() == 1 and failed.first.inner_text().startswith("4")
    assert "lat" in failed.first.inner_text()
    console.check("merchant-import")
    names = [s["name"] for s in world.ok("GET", "/v1/stores", world.merchant, params={"limit": 500})["items"]]
    assert "Eiscafé Nord" in names and "Nirgendwo" not in names


def test_insights_show_published_and_suppressed_figures_and_the_suggested_hours(
    console: Console, world: World, stores: dict[str, Any]
) -> None:
    berlin = stores["berlin"]
    deal_id = world.ok("POST", "/v1/deals", world.merchant, json=deal_body(berlin["id"], title="Mittagstisch"))["id"]
    now = datetime.now(UTC)
    days = [(now - timedelta(days=n)).date() for n in range(2, 12)]
    put_deal_days(world.db, deal_id, {d: {"served": 40 + i, "impression": 30, "redeem": 2} for i, d in enumerate(days)})
    cell = int(h3.latlng_to_cell(BERLIN[1], BERLIN[0], 6))
    week = last_complete_week(now, world.settings.insights_settle_s)
    # UTC hours of the week: Tuesday 15-18 busiest, Saturday morning next, some quieter published hours, and
    # three hours under k (suppressed).
    busy = {24 + 15: 120, 24 + 16: 130, 24 + 17: 125, 5 * 24 + 9: 90, 5 * 24 + 10: 96, 5 * 24 + 11: 88}
    quiet = {7: 30, 8: 34, 2 * 24 + 12: 28, 3 * 24 + 18: 40, 4 * 24 + 16: 36, 4 * 24 + 17: 41}
    put_activity(world.db, cell, week, {**busy, **quiet, 100: 2, 101: 3, 150: 4})
    console.sign_in(world.merchant)
    console.go(f"/console/insights/deals/{deal_id}")
    page = console.page
    assert page.locator("svg[aria-labelledby=chart-served] rect.bar").count() >= 10
    assert page.locator("svg[aria-labelledby=chart-redeem] rect.bar-suppressed").count() >= 10
    page.click("details summary")
    redeem_cells = page.locator("#day-table tbody tr td:nth-child(5)").all_inner_texts()
    assert redeem_cells and all(cell_text == "suppressed" for cell_text in redeem_cells)  # never a 0
    served_cells = page.locator("#day-table tbody tr td:nth-child(2)").all_inner_texts()
    assert any(t.isdigit() and int(t) >= K for t in served_cells)
    assert f"at least {K} counted events" in console.text(".privacy")
    console.check("merchant-insights-deal")
    console.go(f"/console/insights/stores/{berlin['id']}")
    assert page.locator("table.heat td.suppressed").count() == 168 - 12  # not a single one shown as 0
    published = [int(t) for t in page.locator("table.heat td[class^=heat-]").all_inner_texts()]
    assert len(published) == 12 and min(published) >= K
    first, second = page.locator("li.suggestion").all_inner_texts()
    assert "Tuesday" in first and "confidence: high" in first and "Saturday" in second
    assert "12 hours published, 156 suppressed" in console.text("#suggest-basis")
    console.check("merchant-insights-store")
    page.click("text=Create a deal with these hours")
    page.wait_for_load_state("load")
    checked = page.locator("input[name=hours]:checked").evaluate_all("boxes => boxes.map(b => b.value)")
    assert len(checked) == 6 and {value.split("-")[0] for value in checked} == {"1", "5"}  # Tuesday, Saturday


def test_the_console_follows_the_browser_language_and_switches(
    browser: Browser, live_server: LiveServer, axe_path: Path, shots: Path, world: World, stores: dict[str, Any]
) -> None:
    ctx, console = open_console(browser, live_server, axe_path, shots, locale="de-DE")
    try:
        console.sign_in(world.merchant)
        page = console.page
        assert page.get_attribute("html", "lang") == "de"
        assert "Karte und Angebote" in console.text("header nav")
        console.check()
        page.click("a[hreflang=en]")
        page.wait_for_load_state("load")
        assert page.get_attribute("html", "lang") == "en" and "Map and deals" in console.text("header nav")
        assert urlsplit(page.url).path == "/console/stores"
    finally:
        ctx.close()


def test_writes_without_the_forms_token_or_from_elsewhere_are_refused(
    console: Console, world: World, stores: dict[str, Any]
) -> None:
    deal_id = world.ok("POST", "/v1/deals", world.merchant, json=deal_body(stores["berlin"]["id"], status="active"))[
        "id"
    ]
    console.sign_in(world.merchant)
    console.go("/console/stores")
    token = console.page.locator("input[name=csrf_token]").first.get_attribute("value")
    path = f"{console.origin}/console/deals/{deal_id}/status"
    missing = console.page.request.post(path, form={"status": "ended"})
    forged = console.page.request.post(path, form={"status": "ended", "csrf_token": "0" * 64})
    elsewhere = console.page.request.post(
        path, form={"status": "ended", "csrf_token": token or ""}, headers={"Origin": "http://evil.example"}
    )
    for answer in (missing, forged, elsewhere):
        assert answer.status == 403 and "Form not accepted" in answer.text()
    assert world.ok("GET", f"/v1/deals/{deal_id}", world.merchant)["status"] == "active"


def test_problems_are_pages_with_their_title_and_detail(console: Console, world: World, stores: dict[str, Any]) -> None:
    other_id = world.keys.merchant("Andere GmbH")
    other = world.keys.key("merchant", other_id)
    other_store = world.ok("POST", "/v1/stores", other, json={**_store_json(), "name": "Fremd"})["id"]
    foreign_deal = world.ok("POST", "/v1/deals", other, json=deal_body(other_store))["id"]
    console.sign_in(world.merchant)
    response = console.page.goto(f"{console.origin}/console/deals/{foreign_deal}/edit")
    assert response is not None and response.status == 404
    assert "Not found" in console.text(".problem h1") and "deal not found" in console.text(".problem p")
    console.check()
    response = console.page.goto(f"{console.origin}/console/ledger")
    assert response is not None and response.status == 403 and "data-protection officer" in console.text(".problem")
    response = console.page.goto(f"{console.origin}/console/no/such/page")
    assert response is not None and response.status == 404 and "no page" in console.text(".problem")


def _store_json() -> dict[str, Any]:
    return {"address": "Irgendwo 1", "location": {"type": "Point", "coordinates": list(BERLIN)}, "categories": []}


def test_a_revoked_key_ends_the_session_at_the_next_page(console: Console, world: World) -> None:
    key = world.keys.key("merchant", world.merchant_id)
    console.sign_in(key)
    with world.db.transaction() as session:
        key_repo.revoke_key(session, key.split("_")[1], datetime.now(UTC))
    console.go("/console/insights")
    assert urlsplit(console.page.url).path == "/console/sign-in" and "session has ended" in console.text("main")


def test_every_store_page_loads_only_from_the_service_and_fits_a_tablet(
    browser: Browser, live_server: LiveServer, axe_path: Path, shots: Path, world: World, stores: dict[str, Any]
) -> None:
    ctx, console = open_console(browser, live_server, axe_path, shots, viewport={"width": 820, "height": 1180})
    try:
        console.sign_in(world.merchant)
        page = console.page
        for path in ("/console/stores", "/console/deals/new", "/console/stores/import", "/console/insights"):
            console.go(path)
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
            console.check()
        asked = {urlsplit(u).path for u in console.requests}
        assert {"/console/static/vendor/leaflet/leaflet.js", "/console/static/germany.geojson"} <= asked
        assert console.foreign() == []
        policy = page.request.get(f"{console.origin}/console/stores").headers["content-security-policy"]
        assert "default-src 'none'" in policy and "img-src 'self' data:;" in policy and "http" not in policy
    finally:
        ctx.close()


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
