"""Suggested weekly windows: computed from the published activity figures alone, suppressed hours never as zero."""

from __future__ import annotations

from datetime import date
from typing import Any

import h3.api.basic_int as h3
from fastapi.testclient import TestClient
from sqlalchemy import text

from geo_offers.insights.suggestions import _runs, noise_sd, windows_of
from geo_offers.kit.database import Database
from tests.helpers import FakeClock, Keys, deal_body, somewhere
from tests.insights.support import NEXT_TUESDAY, Headers, Shop

LAST_WEEK = date(2026, 6, 1)  # the last complete week before NEXT_TUESDAY (Monday, UTC)
BERLIN_SUMMER = 2  # CEST: local hour = UTC hour + 2


def utc_how(day: int, local_hour: int) -> int:
    """The UTC hour of the week of a local (Berlin, summer) hour of ``day`` (0 = Monday)."""
    return (day * 24 + local_hour - BERLIN_SUMMER) % 168


def put_activity(db: Database, cell: int, counts: dict[int, int]) -> None:
    with db.engine.begin() as conn:
        for how, count in counts.items():
            conn.execute(
                text("INSERT INTO activity_counts (cell, week, hour_of_week, count) VALUES (:c, :w, :h, :n)"),
                {"c": cell, "w": LAST_WEEK, "h": how, "n": count},
            )


def suggestions(client: TestClient, shop: Shop, **params: Any) -> dict[str, Any]:
    response = client.get(f"/v1/insights/stores/{shop.store_id}/suggested-windows", params=params, headers=shop.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def store_cell(shop: Shop) -> int:
    return int(h3.latlng_to_cell(shop.lat, shop.lon, 6))


def test_with_every_hour_suppressed_nothing_is_suggested(
    client: TestClient, shop: Shop, db: Database, clock: FakeClock
) -> None:
    put_activity(db, store_cell(shop), {utc_how(1, 18): 2, utc_how(4, 12): 1})  # under k = 3
    clock.set(NEXT_TUESDAY)
    body = suggestions(client, shop)
    assert body["windows"] == [] and body["confidence"] == "none"
    basis = body["rests_on"]
    assert basis["hours_published"] == 0 and basis["hours_suppressed"] == 168
    assert basis["busiest_requests"] is None and basis["threshold"] is None
    assert basis["cell"] == format(store_cell(shop), "x") and body["timezone"] == "Europe/Berlin"


def test_windows_follow_the_published_figures_busiest_first(
    client: TestClient, shop: Shop, db: Database, clock: FakeClock
) -> None:
    busy = {utc_how(1, 17): 100, utc_how(1, 18): 110, utc_how(1, 19): 105}  # Tuesday 17:00-20:00
    weekend = {utc_how(5, 10): 80, utc_how(5, 11): 85}  # Saturday 10:00-12:00
    quiet = {utc_how(2, 9): 6, utc_how(3, 9): 5}  # published, but far below half the busiest hour
    suppressed = {utc_how(5, 12): 2, utc_how(1, 20): 1}  # next to the windows, under k: never joined to them
    put_activity(db, store_cell(shop), busy | weekend | quiet | suppressed)
    clock.set(NEXT_TUESDAY)
    body = suggestions(client, shop)
    first, second = body["windows"]
    assert first["windows"] == [{"days": ["tue"], "start": "17:00", "end": "20:00"}]
    assert second["windows"] == [{"days": ["sat"], "start": "10:00", "end": "12:00"}]
    assert first["hours_of_week"] == [24 + 17, 24 + 18, 24 + 19]
    assert first["confidence"] == "high" and body["confidence"] == "high"
    basis = body["rests_on"]
    assert basis["hours_published"] == 7 and basis["hours_suppressed"] == 161
    assert basis["threshold"] == -(-basis["busiest_requests"] // 2)
    assert body["additional_epsilon"] == 0.0 and body["privacy"]["k"] == 3
    # The windows rest on exactly the figures the activity route publishes (same noise), nothing finer.
    activity = shop.activity(store_cell(shop))
    published = {h["hour_of_week"]: h["requests"]["count"] for h in activity["hours"]}
    assert first["requests"] == sum(published[h] for h in first["hours_of_week"])
    assert basis["hours"] == activity["hours"]
    assert basis["figures"].startswith(f"activity in cell {activity['cell']}")
    # A suggested window is a valid deal window as it stands.
    created = client.post("/v1/deals", json=deal_body(shop.store_id, windows=first["windows"]), headers=shop.headers)
    assert created.status_code == 201, created.text


def test_few_published_hours_make_a_low_confidence_suggestion(
    client: TestClient, shop: Shop, db: Database, clock: FakeClock
) -> None:
    put_activity(db, store_cell(shop), {utc_how(6, 23): 50, utc_how(0, 0): 52})  # Sunday 23:00 to Monday 1:00
    clock.set(NEXT_TUESDAY)
    body = suggestions(client, shop, limit=1)
    (window,) = body["windows"]
    assert window["windows"] == [{"days": ["sun"], "start": "23:00", "end": "01:00"}]  # wraps the week
    assert window["confidence"] == "low" and body["confidence"] == "low"


def test_the_reading_is_logged_as_the_activity_release_it_is(
    client: TestClient, shop: Shop, db: Database, clock: FakeClock, dpo_headers: Headers
) -> None:
    clock.set(NEXT_TUESDAY)
    suggestions(client, shop, resolution=5)
    items = client.get(
        "/v1/audit/privacy-budget", params={"merchant_id": shop.merchant_id}, headers=dpo_headers
    ).json()["items"]
    (entry,) = items
    parent = format(h3.cell_to_parent(store_cell(shop), 5), "x")
    assert entry["figure"].startswith(f"activity in cell {parent}") and entry["figures"] == 168


def test_other_merchants_stores_and_bad_parameters_are_refused(
    client: TestClient, shop: Shop, keys: Keys, app_headers: Headers, notice_version: int
) -> None:
    other = Shop(client, keys, app_headers, notice_version, *somewhere())
    path = f"/v1/insights/stores/{shop.store_id}/suggested-windows"
    assert client.get(path, headers=other.headers).status_code == 404
    assert client.get(path, headers=app_headers).status_code == 403
    assert client.get(path, params={"resolution": 7}, headers=shop.headers).status_code == 422
    assert client.get(path, params={"resolution": 2}, headers=shop.headers).status_code == 422  # coarser than 4
    assert client.get(path, params={"limit": 0}, headers=shop.headers).status_code == 422


def test_runs_wrap_the_week_and_long_runs_are_cut_at_midnight() -> None:
    active = [False] * 168
    for how in (166, 167, 0, 1, 50):
        active[how] = True
    assert _runs(active) == [[50], [166, 167, 0, 1]]
    assert _runs([True] * 168) == [list(range(168))]
    assert windows_of([166, 167, 0, 1]) == [{"days": ["sun"], "start": "22:00", "end": "02:00"}]
    assert windows_of([20, 21, 22, 23]) == [{"days": ["mon"], "start": "20:00", "end": "24:00"}]
    long_run = list(range(20, 20 + 30))
    assert windows_of(long_run) == [
        {"days": ["mon"], "start": "20:00", "end": "24:00"},
        {"days": ["tue"], "start": "00:00", "end": "24:00"},
        {"days": ["wed"], "start": "00:00", "end": "02:00"},
    ]
    assert round(noise_sd(1.0), 2) == 1.36  # sqrt(2a) / (1 - a), a = exp(-1): "about 1.4" in docs/insights.md
