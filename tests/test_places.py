"""Stores and deals: CRUD, geometry validation, H3 coverage and tenant isolation on every merchant route."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import h3.api.basic_int as h3
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from geo_offers.kit.database import Database
from tests.helpers import BERLIN, assert_problem, deal_body, store_body

Headers = dict[str, str]


@pytest.fixture
def merchant(merchant_headers: Callable[..., Headers]) -> Headers:
    return merchant_headers()


@pytest.fixture
def store(client: TestClient, merchant: Headers) -> dict[str, Any]:
    response = client.post("/v1/stores", json=store_body(), headers=merchant)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _cells(db: Database, deal_id: int) -> list[int]:
    with db.engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT cell FROM deal_cells WHERE deal_id = :d"), {"d": deal_id})]


def test_store_round_trip(client: TestClient, merchant: Headers, store: dict[str, Any]) -> None:
    assert store["location"] == {"type": "Point", "coordinates": list(BERLIN)}
    got = client.get(f"/v1/stores/{store['id']}", headers=merchant).json()
    assert got == store
    patched = client.patch(f"/v1/stores/{store['id']}", json={"name": "Kaffeebar Ost"}, headers=merchant)
    assert patched.status_code == 200 and patched.json()["name"] == "Kaffeebar Ost"
    listed = client.get("/v1/stores?limit=500", headers=merchant).json()["items"]
    assert [s["id"] for s in listed] == [store["id"]]


def test_store_list_is_paginated(client: TestClient, merchant: Headers) -> None:
    ids = [client.post("/v1/stores", json=store_body(), headers=merchant).json()["id"] for _ in range(3)]
    first = client.get("/v1/stores?limit=2", headers=merchant).json()
    assert [s["id"] for s in first["items"]] == ids[:2] and first["next_after"] == ids[1]
    second = client.get(f"/v1/stores?limit=2&after={first['next_after']}", headers=merchant).json()
    assert [s["id"] for s in second["items"]] == ids[2:] and second["next_after"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"location": {"type": "Point", "coordinates": [200, 52]}}, "location"),
        ({"location": {"type": "Point", "coordinates": [13.4]}}, "location"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "CET"}, "timezone"),
        ({"categories": ["weapons"]}, "categories"),
        ({"name": ""}, "name"),
        ({"owner": "me"}, "owner"),
    ],
)
def test_bad_store_input_is_422(client: TestClient, merchant: Headers, change: dict[str, Any], field: str) -> None:
    body = assert_problem(client.post("/v1/stores", json=store_body(**change), headers=merchant), 422, "invalid-input")
    assert any(field in e["loc"] for e in body["errors"])
    assert client.get("/v1/stores", headers=merchant).json()["items"] == []


def test_radius_deal_is_covered_by_every_touched_cell(
    client: TestClient, merchant: Headers, store: dict[str, Any], db: Database
) -> None:
    response = client.post("/v1/deals", json=deal_body(store["id"]), headers=merchant)
    assert response.status_code == 201, response.text
    deal = response.json()
    assert deal["area"] == {"radius_m": 1000} and deal["area_geojson"]["type"] == "MultiPolygon"
    cells = set(_cells(db, deal["id"]))
    assert deal["coverage_cells"] == len(cells)
    lon, lat = BERLIN
    # The store's own cell, and the cells of points 950 m away in four directions, are all covered.
    for dlat, dlon in ((0, 0), (0.00855, 0), (-0.00855, 0), (0, 0.01395), (0, -0.01395)):
        assert h3.latlng_to_cell(lat + dlat, lon + dlon, 8) in cells
    assert all(h3.get_resolution(c) == 8 for c in cells)


def test_small_polygon_is_covered_even_without_any_cell_centre(
    client: TestClient, merchant: Headers, store: dict[str, Any], db: Database
) -> None:
    lon, lat = BERLIN
    d = 0.0005  # a square of about 55 m
    square = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    area = {"type": "Polygon", "coordinates": [square]}
    deal = client.post("/v1/deals", json=deal_body(store["id"], area=area), headers=merchant).json()
    assert h3.latlng_to_cell(lat + d / 2, lon + d / 2, 8) in _cells(db, deal["id"])
    assert deal["area"]["type"] == "MultiPolygon"


@pytest.mark.parametrize(
    ("area", "reason"),
    [
        ({"type": "Polygon", "coordinates": [[[13.4, 52.5], [13.5, 52.5], [13.5, 52.6], [13.4, 52.6]]]}, "closed"),
        (
            {
                "type": "Polygon",
                "coordinates": [[[13.4, 52.5], [13.5, 52.6], [13.5, 52.5], [13.4, 52.6], [13.4, 52.5]]],
            },
            "not valid",
        ),
        (
            {"type": "Polygon", "coordinates": [[[179.5, 10], [-179.5, 10], [-179.5, 11], [179.5, 11], [179.5, 10]]]},
            "antimeridian",
        ),
        ({"type": "Polygon", "coordinates": [[[13.4, 52.5], [13.5, 52.5], [13.5, 95], [13.4, 52.5]]]}, "outside"),
        ({"type": "Polygon", "coordinates": [[[5, 47], [15, 47], [15, 55], [5, 55], [5, 47]]]}, "km²"),
        ({"radius_m": 20}, "radius_m"),
        ({"radius_m": 60_000}, "radius_m"),
        ({"type": "Point", "coordinates": [13.4, 52.5]}, "area"),
    ],
)
def test_bad_areas_are_refused_clearly(
    client: TestClient, merchant: Headers, store: dict[str, Any], area: dict[str, Any], reason: str
) -> None:
    response = client.post("/v1/deals", json=deal_body(store["id"], area=area), headers=merchant)
    body = assert_problem(response, 422, "invalid-input")
    assert reason in str(body)
    assert client.get("/v1/deals", headers=merchant).json()["items"] == []


@pytest.mark.parametrize(
    "change",
    [
        {"valid_until": "2025-01-01T00:00:00+01:00"},
        {"valid_from": "2026-01-01T00:00:00"},
        {"valid_from": 1767222000},  # a Unix time, not ISO 8601 text
        {"valid_until": "1830294000"},
        {"windows": [{"days": ["mon"], "start": "15:00", "end": "15:00"}]},
        {"windows": [{"days": ["monday"], "start": "15:00", "end": "16:00"}]},
        {"windows": [{"days": ["mon"], "start": "25:00", "end": "16:00"}]},
        {"windows": [{"days": [], "start": "15:00", "end": "16:00"}]},
        {"category": "unknown"},
        {"status": "live"},
        {"max_redemptions": 0},
    ],
)
def test_bad_deal_input_is_422(
    client: TestClient, merchant: Headers, store: dict[str, Any], change: dict[str, Any]
) -> None:
    response = client.post("/v1/deals", json=deal_body(store["id"], **change), headers=merchant)
    assert_problem(response, 422, "invalid-input")


def test_patching_the_area_rewrites_the_coverage(
    client: TestClient, merchant: Headers, store: dict[str, Any], db: Database
) -> None:
    deal = client.post("/v1/deals", json=deal_body(store["id"], area={"radius_m": 200}), headers=merchant).json()
    small = set(_cells(db, deal["id"]))
    patched = client.patch(f"/v1/deals/{deal['id']}", json={"area": {"radius_m": 5000}}, headers=merchant).json()
    large = set(_cells(db, deal["id"]))
    assert small < large and patched["coverage_cells"] == len(large)


def test_moving_a_store_moves_its_radius_deals(
    client: TestClient, merchant: Headers, store: dict[str, Any], db: Database
) -> None:
    deal = client.post("/v1/deals", json=deal_body(store["id"], area={"radius_m": 300}), headers=merchant).json()
    munich = {"type": "Point", "coordinates": [11.5755, 48.1374]}
    client.patch(f"/v1/stores/{store['id']}", json={"location": munich}, headers=merchant)
    assert h3.latlng_to_cell(48.1374, 11.5755, 8) in _cells(db, deal["id"])
    assert h3.latlng_to_cell(BERLIN[1], BERLIN[0], 8) not in _cells(db, deal["id"])


def test_store_with_deals_cannot_be_deleted(client: TestClient, merchant: Headers, store: dict[str, Any]) -> None:
    deal = client.post("/v1/deals", json=deal_body(store["id"]), headers=merchant).json()
    assert_problem(client.delete(f"/v1/stores/{store['id']}", headers=merchant), 409, "conflict")
    assert client.delete(f"/v1/deals/{deal['id']}", headers=merchant).status_code == 204
    assert client.delete(f"/v1/stores/{store['id']}", headers=merchant).status_code == 204
    assert_problem(client.get(f"/v1/stores/{store['id']}", headers=merchant), 404, "not-found")


def test_a_merchant_cannot_reach_another_merchants_objects(
    client: TestClient, merchant_headers: Callable[..., Headers], db: Database
) -> None:
    alice, mallory = merchant_headers(), merchant_headers()
    store = client.post("/v1/stores", json=store_body(), headers=alice).json()
    deal = client.post("/v1/deals", json=deal_body(store["id"]), headers=alice).json()
    attempts = [
        client.get(f"/v1/stores/{store['id']}", headers=mallory),
        client.patch(f"/v1/stores/{store['id']}", json={"name": "pwned"}, headers=mallory),
        client.delete(f"/v1/stores/{store['id']}", headers=mallory),
        client.get(f"/v1/deals/{deal['id']}", headers=mallory),
        client.patch(f"/v1/deals/{deal['id']}", json={"status": "paused"}, headers=mallory),
        client.delete(f"/v1/deals/{deal['id']}", headers=mallory),
        client.post("/v1/deals", json=deal_body(store["id"]), headers=mallory),
    ]
    for response in attempts:
        assert_problem(response, 404, "not-found")
    # Mallory's own store cannot be given Alice's deal either.
    own = client.post("/v1/stores", json=store_body(), headers=mallory).json()
    assert_problem(client.patch(f"/v1/deals/{own['id']}", json={"title": "x"}, headers=mallory), 404, "not-found")
    assert client.get("/v1/stores", headers=mallory).json()["items"] == [own]
    assert client.get("/v1/deals", headers=mallory).json()["items"] == []
    untouched = client.get(f"/v1/deals/{deal['id']}", headers=alice).json()
    assert untouched["status"] == "active" and untouched == deal


@pytest.mark.parametrize("role", ["app", "dpo", "admin"])
def test_only_merchant_keys_use_the_merchant_routes(client: TestClient, keys: Any, role: str) -> None:
    headers = keys.headers(role)
    for method, path in (("get", "/v1/stores"), ("post", "/v1/stores"), ("get", "/v1/deals"), ("get", "/v1/deals/1")):
        assert_problem(client.request(method, path, headers=headers, json=store_body()), 403, "forbidden")
