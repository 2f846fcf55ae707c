"""The store's console in headless Chromium, the other pages: store import, insights with published and
suppressed figures and the suggested hours, languages, refused writes, problem pages, a revoked key, a tablet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import h3.api.basic_int as h3
from playwright.sync_api import Browser

from geo_offers.tenants import keys as key_repo
from tests.browser.conftest import LiveServer
from tests.browser.console.conftest import Console, open_console
from tests.browser.console.merchant.conftest import K
from tests.browser.console.world import (
    BERLIN,
    World,
    last_complete_week,
    put_activity,
    put_deal_days,
)
from tests.helpers import deal_body


def deals_named(world: World, title: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = world.ok("GET", "/v1/deals", world.merchant, params={"limit": 500})["items"]
    return [d for d in items if d["title"] == title]


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
    privacy = console.text(".privacy")
    assert f"rests on at least {K} people" in privacy and "at most once per figure and hour" in privacy
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
