"""The benchmark baselines: absent from the product, mounted by the benchmark harness; the naive match gates
consent and finds live deals."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import h3.api.basic_int as h3
import pytest
from fastapi.testclient import TestClient

from benchmarks import routes
from geo_offers.app import create_app
from geo_offers.settings import Settings
from tests.helpers import (
    FRIDAY_NOON_BERLIN,
    FakeClock,
    assert_problem,
    deal_body,
    grant,
    make_settings,
    new_subject,
    somewhere,
    store_body,
)

Headers = dict[str, str]


@pytest.fixture
def bench_client(database_url: str, clock: FakeClock) -> Iterator[TestClient]:
    clock.set(FRIDAY_NOON_BERLIN)
    app = create_app(make_settings(database_url), clock=clock, log=False, extra_routers=[routes.router])
    with TestClient(app) as test_client:
        yield test_client


def test_bench_routes_are_absent_by_default(client: TestClient, app_headers: Headers) -> None:
    assert client.get("/bench/trivial").status_code == 404
    assert client.post("/bench/naive-match", json={}, headers=app_headers).status_code == 404


def test_the_product_has_no_benchmark_setting_or_route() -> None:
    assert "benchmark_routes" not in Settings.model_fields
    product = create_app(Settings(environment="test"), log=False)
    assert not [r for r in product.routes if getattr(r, "path", "").startswith("/bench")]


def test_trivial_answers_small_json(bench_client: TestClient) -> None:
    response = bench_client.get("/bench/trivial")
    assert response.status_code == 200
    assert response.json()["ok"] is True


def test_naive_match_needs_consent(bench_client: TestClient, app_headers: Headers) -> None:
    body = {"subject_id": new_subject(), "cell": format(h3.latlng_to_cell(52.52, 13.405, 7), "x")}
    assert_problem(bench_client.post("/bench/naive-match", json=body, headers=app_headers), 403, "consent-required")


def test_naive_match_finds_live_deals_nearest_first_within_windows(
    bench_client: TestClient,
    app_headers: Headers,
    merchant_headers: Callable[..., Headers],
    notice_version: int,
) -> None:
    merchant = merchant_headers()
    spot_lon, spot_lat = somewhere()
    lat, lon = h3.cell_to_latlng(h3.latlng_to_cell(spot_lat, spot_lon, 7))  # the centre of the matched cell
    near = bench_client.post("/v1/stores", json=store_body(lon, lat), headers=merchant).json()["id"]
    far = bench_client.post("/v1/stores", json=store_body(lon, lat + 0.018), headers=merchant).json()["id"]
    away = bench_client.post("/v1/stores", json=store_body(lon + 0.2, lat), headers=merchant).json()["id"]

    def publish(store_id: int, **overrides: object) -> int:
        response = bench_client.post("/v1/deals", json=deal_body(store_id, **overrides), headers=merchant)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    near_deal = publish(near)
    far_deal = publish(far, windows=[{"days": ["fri"], "start": "11:00", "end": "13:00"}])
    publish(near, windows=[{"days": ["sat"], "start": "11:00", "end": "13:00"}])  # closed on Friday noon
    publish(near, status="paused")
    publish(away)  # about 13 km away: outside the naive radius
    subject = new_subject()
    assert grant(bench_client, app_headers, subject, notice_version).status_code == 201

    cell = format(h3.latlng_to_cell(lat, lon, 9), "x")
    response = bench_client.post("/bench/naive-match", json={"subject_id": subject, "cell": cell}, headers=app_headers)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["resolution"] == 7  # coarsened to the consented default
    assert [offer["deal_id"] for offer in answer["offers"]] == [near_deal, far_deal]
    assert [offer["distance_band"] for offer in answer["offers"]] == ["under_1km", "1_to_3km"]
    assert answer["offers"][0]["window_ends_at"] is None
    assert answer["offers"][1]["window_ends_at"] == "2026-06-05T11:00:00Z"
