"""Matching: the consent gate, coarsening, live deals (windows, validity, status), ranking and freshness."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import h3.api.basic_int as h3
import pytest
from fastapi.testclient import TestClient

from geo_offers.app import create_app
from geo_offers.settings import Settings
from tests.helpers import (
    FRIDAY_NOON_BERLIN,
    FakeClock,
    assert_problem,
    deal_body,
    grant,
    new_subject,
    somewhere,
    store_body,
    wait_until,
)

Headers = dict[str, str]


# A Friday noon in Berlin (CEST, UTC+2).
def indexed(client: TestClient, deal_id: int) -> bool:
    """Whether the app's in-memory index holds the deal (changes arrive asynchronously by NOTIFY)."""
    services = client.app.state.services  # type: ignore[attr-defined]
    return deal_id in services.matcher.index


@pytest.fixture
def merchant(merchant_headers: Callable[..., Headers]) -> Headers:
    return merchant_headers()


@pytest.fixture
def at_noon(clock: FakeClock) -> FakeClock:
    clock.set(FRIDAY_NOON_BERLIN)
    return clock


@pytest.fixture
def subject(client: TestClient, app_headers: Headers, notice_version: int) -> str:
    subject_id = new_subject()
    assert grant(client, app_headers, subject_id, notice_version, precision_res=8).status_code == 201
    return subject_id


class Place:
    """A store at a random spot with helpers to publish deals there and match around it."""

    def __init__(self, client: TestClient, merchant: Headers, app: Headers, **store: Any) -> None:
        self.client, self.merchant, self.app = client, merchant, app
        self.lon, self.lat = somewhere()
        body = store_body(self.lon, self.lat, **store)
        response = client.post("/v1/stores", json=body, headers=merchant)
        assert response.status_code == 201, response.text
        self.store_id = int(response.json()["id"])

    def cell(self, res: int = 8, dlat: float = 0.0, dlon: float = 0.0) -> str:
        return format(h3.latlng_to_cell(self.lat + dlat, self.lon + dlon, res), "x")

    def area_cell(self, res: int) -> str:
        """The ancestor at ``res`` of the store's resolution-8 cell. H3 parents do not contain their children
        exactly, so the res-5 cell of the store's point can miss the store's res-8 cell near its edge."""
        return format(h3.cell_to_parent(h3.latlng_to_cell(self.lat, self.lon, 8), res), "x")

    def publish(self, **deal: Any) -> int:
        response = self.client.post("/v1/deals", json=deal_body(self.store_id, **deal), headers=self.merchant)
        assert response.status_code == 201, response.text
        deal_id = int(response.json()["id"])
        if deal.get("status", "active") == "active":
            wait_until(lambda: indexed(self.client, deal_id))
        return deal_id

    def match(self, subject: str, **body: Any) -> Any:
        body.setdefault("cell", self.cell())
        response = self.client.post("/v1/offers/match", json={"subject_id": subject, **body}, headers=self.app)
        assert response.status_code == 200, response.text
        return response.json()

    def ids(self, subject: str, **body: Any) -> list[int]:
        return [offer["deal_id"] for offer in self.match(subject, **body)["offers"]]

    def wait_for(self, subject: str, expected: list[int], **body: Any) -> None:
        wait_until(lambda: self.ids(subject, **body) == expected)


@pytest.fixture
def place(client: TestClient, merchant: Headers, app_headers: Headers) -> Place:
    return Place(client, merchant, app_headers)


def test_match_without_consent_is_403_consent_required(
    client: TestClient, app_headers: Headers, place: Place, notice_version: int
) -> None:
    body = {"subject_id": new_subject(), "cell": place.cell()}
    assert_problem(client.post("/v1/offers/match", json=body, headers=app_headers), 403, "consent-required")
    # Only offer_analytics is not enough either.
    only_analytics = new_subject()
    assert grant(client, app_headers, only_analytics, notice_version, purposes=["offer_analytics"]).status_code == 201
    body["subject_id"] = only_analytics
    assert_problem(client.post("/v1/offers/match", json=body, headers=app_headers), 403, "consent-required")


def test_withdrawal_takes_effect_on_the_next_request(
    client: TestClient, app_headers: Headers, place: Place, subject: str
) -> None:
    place.match(subject)
    withdrawn = client.post("/v1/consents/withdraw", json={"subject_id": subject}, headers=app_headers)
    assert withdrawn.status_code == 200, withdrawn.text
    body = {"subject_id": subject, "cell": place.cell()}
    assert_problem(client.post("/v1/offers/match", json=body, headers=app_headers), 403, "consent-required")


def test_expired_consent_is_refused(
    client: TestClient, app_headers: Headers, place: Place, subject: str, clock: FakeClock
) -> None:
    place.match(subject)
    clock.set(datetime.now(UTC) + timedelta(days=400))  # past the default 12-month lifetime
    body = {"subject_id": subject, "cell": place.cell()}
    assert_problem(client.post("/v1/offers/match", json=body, headers=app_headers), 403, "consent-required")


def test_a_fine_cell_is_coarsened_to_the_consented_resolution(
    client: TestClient, app_headers: Headers, place: Place, notice_version: int
) -> None:
    subject_id = new_subject()
    assert grant(client, app_headers, subject_id, notice_version, precision_res=6).status_code == 201
    fine = h3.latlng_to_cell(place.lat, place.lon, 10)
    answer = place.match(subject_id, cell=format(fine, "x"))
    assert answer["cell"] == format(h3.cell_to_parent(fine, 6), "x")
    assert answer["resolution"] == 6
    # A cell coarser than the consent (but not coarser than 5) is used as it is.
    coarse = place.cell(5)
    assert place.match(subject_id, cell=coarse) == {**place.match(subject_id, cell=coarse), "cell": coarse}


def test_a_precise_location_is_snapped_to_the_consented_cell(
    client: TestClient, app_headers: Headers, place: Place, notice_version: int
) -> None:
    subject_id = new_subject()
    assert grant(client, app_headers, subject_id, notice_version, precision_res=7).status_code == 201
    lat, lon = place.lat + 0.000123, place.lon - 0.000456
    answer = place.match(subject_id, cell=None, location={"lat": lat, "lon": lon})
    assert answer["cell"] == format(h3.latlng_to_cell(lat, lon, 7), "x")
    assert answer["resolution"] == 7
    assert str(lat) not in str(answer) and str(lon) not in str(answer)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"cell": "zzzz"}, "H3"),
        ({"cell": "8f1f1d489ffffff0"}, "cell"),
        ({"cell": "841f1d5ffffffff"}, "resolution 5"),
        ({"location": {"lat": 91, "lon": 13}}, "lat"),
        ({"location": {"lat": 52, "lon": -181}}, "lon"),
        ({}, "exactly one"),
        ({"cell": "871f1d489ffffff", "location": {"lat": 52, "lon": 13}}, "exactly one"),
        ({"cell": "871f1d489ffffff", "categories": ["weapons"]}, "categories"),
        ({"cell": "871f1d489ffffff", "limit": 0}, "limit"),
        ({"cell": "871f1d489ffffff", "limit": 51}, "limit"),
        ({"cell": "871f1d489ffffff", "radius": 5}, "radius"),
    ],
)
def test_bad_match_input_is_422(
    client: TestClient, app_headers: Headers, subject: str, body: dict[str, Any], fragment: str
) -> None:
    response = client.post("/v1/offers/match", json={"subject_id": subject, **body}, headers=app_headers)
    problem = assert_problem(response, 422, "invalid-input")
    assert fragment.lower() in str(problem).lower()


def test_nan_coordinates_are_refused(client: TestClient, app_headers: Headers, subject: str) -> None:
    raw = '{"subject_id": "' + subject + '", "location": {"lat": NaN, "lon": 13.0}}'
    response = client.post("/v1/offers/match", content=raw, headers={**app_headers, "content-type": "application/json"})
    assert response.status_code == 422 and response.headers["content-type"].startswith("application/problem+json")


def test_match_needs_an_app_key(client: TestClient, merchant: Headers, place: Place) -> None:
    body = {"subject_id": new_subject(), "cell": place.cell()}
    assert client.post("/v1/offers/match", json=body).status_code == 401
    assert_problem(client.post("/v1/offers/match", json=body, headers=merchant), 403, "forbidden")


def test_live_means_active_valid_and_not_paused(
    client: TestClient, place: Place, subject: str, merchant: Headers, at_noon: FakeClock
) -> None:
    live = place.publish()
    place.publish(status="draft")
    place.publish(valid_from="2026-06-06T00:00:00+02:00")  # tomorrow
    place.publish(valid_until="2026-06-05T11:00:00+02:00")  # an hour ago
    place.wait_for(subject, [live])
    assert client.patch(f"/v1/deals/{live}", json={"status": "paused"}, headers=merchant).status_code == 200
    place.wait_for(subject, [])
    assert client.patch(f"/v1/deals/{live}", json={"status": "active"}, headers=merchant).status_code == 200
    place.wait_for(subject, [live])
    assert client.delete(f"/v1/deals/{live}", headers=merchant).status_code == 204
    place.wait_for(subject, [])


def test_validity_start_is_honoured_even_from_a_cached_answer(place: Place, subject: str, at_noon: FakeClock) -> None:
    later = place.publish(valid_from="2026-06-05T12:30:00+02:00")  # in 30 minutes
    place.wait_for(subject, [])  # wait_for retries, so the answer is cached by now
    at_noon.advance(timedelta(minutes=31))
    assert place.ids(subject) == [later]


def test_windows_follow_the_store_time_zone(
    client: TestClient, merchant: Headers, app_headers: Headers, subject: str, at_noon: FakeClock
) -> None:
    tokyo = Place(client, merchant, app_headers, timezone="Asia/Tokyo")
    # 10:00 UTC on Friday is 19:00 in Tokyo: inside 18:00-20:00 Friday there, not inside 11:00-13:00.
    evening = tokyo.publish(windows=[{"days": ["fri"], "start": "18:00", "end": "20:00"}])
    tokyo.publish(windows=[{"days": ["fri"], "start": "11:00", "end": "13:00"}])
    tokyo.wait_for(subject, [evening])
    offer = tokyo.match(subject)["offers"][0]
    assert offer["window_ends_at"] == "2026-06-05T11:00:00Z"  # 20:00 Tokyo
    at_noon.advance(timedelta(hours=1))  # 20:00 in Tokyo: closed
    assert tokyo.ids(subject) == []


def test_a_window_across_midnight_runs_into_the_next_day(
    client: TestClient, merchant: Headers, app_headers: Headers, subject: str, at_noon: FakeClock
) -> None:
    berlin = Place(client, merchant, app_headers, timezone="Europe/Berlin")
    late = berlin.publish(windows=[{"days": ["fri"], "start": "22:00", "end": "02:00"}])
    berlin.wait_for(subject, [])
    at_noon.set(datetime(2026, 6, 5, 20, 30, tzinfo=UTC))  # Friday 22:30 in Berlin
    assert berlin.ids(subject) == [late]
    assert berlin.match(subject)["offers"][0]["window_ends_at"] == "2026-06-06T00:00:00Z"  # Saturday 02:00
    at_noon.set(datetime(2026, 6, 5, 23, 59, tzinfo=UTC))  # Saturday 01:59 in Berlin
    assert berlin.ids(subject) == [late]
    at_noon.set(datetime(2026, 6, 6, 0, 0, tzinfo=UTC))  # Saturday 02:00: closed
    assert berlin.ids(subject) == []
    at_noon.set(datetime(2026, 6, 4, 20, 30, tzinfo=UTC))  # Thursday 22:30: not a Friday window
    assert berlin.ids(subject) == []


def test_a_polygon_area_matches_inside_only(place: Place, subject: str, at_noon: FakeClock) -> None:
    # A square about 2 km wide, 5 km east of the store.
    lon0, lat0 = place.lon + 0.06, place.lat
    ring = [[lon0, lat0], [lon0 + 0.02, lat0], [lon0 + 0.02, lat0 + 0.02], [lon0, lat0 + 0.02], [lon0, lat0]]
    polygon = place.publish(area={"type": "Polygon", "coordinates": [ring]})
    radius = place.publish(area={"radius_m": 500})
    inside = place.cell(8, dlat=0.01, dlon=0.07)
    place.wait_for(subject, [polygon], cell=inside)
    place.wait_for(subject, [radius])  # at the store: only the radius deal
    assert place.ids(subject, cell=place.cell(8, dlat=0.01, dlon=0.12)) == []  # east of the square


def test_ranking_by_distance_band_then_category_preference(
    client: TestClient, merchant: Headers, app_headers: Headers, subject: str, at_noon: FakeClock
) -> None:
    here = Place(client, merchant, app_headers)
    near_cafe = here.publish(category="cafe", area={"radius_m": 20_000})
    near_rest = here.publish(category="restaurant", area={"radius_m": 20_000})
    far_store = client.post("/v1/stores", json=store_body(here.lon + 0.07, here.lat), headers=merchant).json()[
        "id"
    ]  # 6 to 8 km away
    far_rest = client.post(
        "/v1/deals", json=deal_body(far_store, category="restaurant", area={"radius_m": 20_000}), headers=merchant
    ).json()["id"]
    wait_until(lambda: indexed(client, far_rest))
    here.wait_for(subject, [near_cafe, near_rest, far_rest], categories=["cafe", "restaurant"])
    assert here.ids(subject, categories=["restaurant", "cafe"]) == [near_rest, near_cafe, far_rest]
    assert here.ids(subject, categories=["restaurant"]) == [near_rest, far_rest]
    assert here.ids(subject, categories=["restaurant"], limit=1) == [near_rest]
    offers = here.match(subject, categories=["restaurant"])["offers"]
    assert [o["distance_band"] for o in offers] == ["under_1km", "3_to_10km"]
    assert offers[0]["store"]["id"] == here.store_id and offers[0]["valid_until"] == "2027-12-31T22:59:00Z"
    assert set(offers[0]) == {
        "deal_id",
        "title",
        "description",
        "category",
        "store",
        "valid_until",
        "distance_band",
        "window_ends_at",
        "frequency_rules",
        "one_time_codes",
    }


def test_a_moved_store_moves_its_radius_deals(
    client: TestClient, merchant: Headers, place: Place, subject: str, at_noon: FakeClock
) -> None:
    deal = place.publish(area={"radius_m": 300})
    place.wait_for(subject, [deal])
    moved = {"location": {"type": "Point", "coordinates": [place.lon + 0.5, place.lat]}}
    assert client.patch(f"/v1/stores/{place.store_id}", json=moved, headers=merchant).status_code == 200
    place.wait_for(subject, [])
    place.wait_for(subject, [deal], cell=place.cell(8, dlon=0.5))


@pytest.fixture
def second_instance(settings: Settings, clock: FakeClock) -> Iterator[TestClient]:
    app = create_app(settings, clock=clock, log=False)
    with TestClient(app) as other:
        yield other


def test_a_change_on_one_instance_is_seen_by_another(
    client: TestClient,
    second_instance: TestClient,
    merchant: Headers,
    app_headers: Headers,
    subject: str,
    at_noon: FakeClock,
) -> None:
    place = Place(client, merchant, app_headers)
    seen_by = Place.__new__(Place)
    seen_by.__dict__.update(place.__dict__, client=second_instance)
    seen_by.ids(subject)  # caches the empty answer on the second instance
    deal = place.publish()
    seen_by.wait_for(subject, [deal])  # how fast: benchmarks, not here (wait_for gives up after 3 s)
    assert client.patch(f"/v1/deals/{deal}", json={"status": "paused"}, headers=merchant).status_code == 200
    seen_by.wait_for(subject, [])


def test_the_area_catalogue_lists_live_deals_with_their_coverage(
    client: TestClient, place: Place, app_headers: Headers, at_noon: FakeClock
) -> None:
    live = place.publish(area={"radius_m": 2000}, windows=[{"days": ["sat"], "start": "09:00", "end": "12:00"}])
    place.publish(status="paused")
    place.publish(valid_until="2026-06-05T11:00:00+02:00")
    area_cell = place.area_cell(5)
    response = client.get(f"/v1/offers/area/{area_cell}", headers=app_headers)
    assert response.status_code == 200, response.text
    catalogue = response.json()
    assert (catalogue["cell"], catalogue["resolution"], catalogue["index_resolution"]) == (area_cell, 5, 8)
    assert [d["deal_id"] for d in catalogue["deals"]] == [live] and catalogue["next_after"] is None
    deal = catalogue["deals"][0]
    assert deal["store"]["timezone"] == "Europe/Berlin" and deal["windows"][0]["days"] == ["sat"]
    covered = set(h3.uncompact_cells([int(c, 16) for c in deal["cells"]], 8))
    assert h3.latlng_to_cell(place.lat, place.lon, 8) in covered
    assert h3.latlng_to_cell(place.lat + 0.05, place.lon, 8) not in covered  # 5.5 km north: outside 2 km
    # Needs no subject, only an app key.
    assert client.get(f"/v1/offers/area/{area_cell}").status_code == 401


def test_the_area_catalogue_is_cacheable_and_paginated(
    client: TestClient, place: Place, app_headers: Headers, merchant: Headers, at_noon: FakeClock
) -> None:
    ids = [place.publish(area={"radius_m": 200}) for _ in range(3)]
    url = f"/v1/offers/area/{place.area_cell(5)}"
    first = client.get(f"{url}?limit=2", headers=app_headers)
    assert [d["deal_id"] for d in first.json()["deals"]] == ids[:2] and first.json()["next_after"] == ids[1]
    rest = client.get(f"{url}?limit=2&after={ids[1]}", headers=app_headers).json()
    assert [d["deal_id"] for d in rest["deals"]] == ids[2:] and rest["next_after"] is None
    assert "max-age=" in first.headers["cache-control"]
    tag = first.headers["etag"]
    again = client.get(f"{url}?limit=2", headers={**app_headers, "If-None-Match": tag})
    assert again.status_code == 304 and again.headers["etag"] == tag and again.content == b""
    assert client.patch(f"/v1/deals/{ids[0]}", json={"title": "Neu"}, headers=merchant).status_code == 200
    changed = client.get(f"{url}?limit=2", headers={**app_headers, "If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag


@pytest.mark.parametrize("res", [6, 8, 2])
def test_the_area_catalogue_refuses_fine_or_huge_cells(client: TestClient, app_headers: Headers, res: int) -> None:
    cell = format(h3.latlng_to_cell(52.52, 13.405, res), "x")
    problem = assert_problem(client.get(f"/v1/offers/area/{cell}", headers=app_headers), 422, "invalid-input")
    assert "resolution" in problem["detail"]
    assert_problem(client.get("/v1/offers/area/not-a-cell", headers=app_headers), 422, "invalid-input")


def test_the_answer_cache_and_the_index_feed_are_counted_on_metrics(
    place: Place, subject: str, at_noon: FakeClock
) -> None:
    place.publish()
    for _ in range(3):
        place.match(subject)
    text = place.client.get("/metrics").text
    counts = {
        line.split('kind="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("geo_offers_internal_total{")
    }
    assert counts["match_cache_misses"] >= 1 and counts["match_cache_hits"] >= 2
    assert counts["index_changes_applied"] >= 1
    assert counts["counter_rows_dropped"] == 0
