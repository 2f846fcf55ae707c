"""The foundation: health, readiness, metrics, problem+json errors and role checks on the real database."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.helpers import assert_problem, make_settings


def test_healthz_answers_without_a_key(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_is_200_against_migrated_postgis(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


def test_readyz_is_503_when_the_database_is_unreachable() -> None:
    from geo_offers.app import create_app

    settings = make_settings("postgresql://postgres@127.0.0.1:1/nowhere", db_connect_timeout_s=1)
    with TestClient(create_app(settings, log=False)) as client:
        response = client.get("/readyz")
    body = assert_problem(response, 503, "service-unavailable")
    assert "Retry-After" in response.headers
    assert "Traceback" not in body["detail"]


def test_request_without_key_is_401_problem(client: TestClient) -> None:
    response = client.get("/v1/admin/merchants")
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


def test_unknown_and_malformed_keys_are_401(client: TestClient) -> None:
    for token in ("nonsense", "gok_0123456789ab_" + "A" * 43):
        response = client.get("/v1/admin/merchants", headers={"Authorization": f"Bearer {token}"})
        assert_problem(response, 401, "unauthorized")


def test_merchant_key_on_admin_route_is_403(
    client: TestClient, merchant_headers: Callable[..., dict[str, str]]
) -> None:
    response = client.get("/v1/admin/merchants", headers=merchant_headers())
    assert_problem(response, 403, "forbidden")


def test_admin_creates_merchant_and_key_and_the_key_works(client: TestClient, admin_headers: dict[str, str]) -> None:
    merchant = client.post("/v1/admin/merchants", json={"name": "Café Kranzler"}, headers=admin_headers)
    assert merchant.status_code == 201
    merchant_id = merchant.json()["id"]
    issued = client.post("/v1/admin/keys", json={"role": "merchant", "merchant_id": merchant_id}, headers=admin_headers)
    assert issued.status_code == 201
    body = issued.json()
    assert body["key"].startswith("gok_") and body["merchant_id"] == merchant_id
    listed = client.get("/v1/admin/keys", headers=admin_headers).json()["items"]
    assert all("key" not in item for item in listed)
    # The new merchant key authenticates (403 on an admin route is proof it was recognised).
    response = client.get("/v1/admin/merchants", headers={"Authorization": f"Bearer {body['key']}"})
    assert_problem(response, 403, "forbidden")


def test_revoked_key_stops_working_on_the_next_request(client: TestClient, admin_headers: dict[str, str]) -> None:
    issued = client.post("/v1/admin/keys", json={"role": "admin"}, headers=admin_headers).json()
    headers = {"Authorization": f"Bearer {issued['key']}"}
    assert client.get("/v1/admin/keys", headers=headers).status_code == 200
    revoked = client.post(f"/v1/admin/keys/{issued['id']}/revoke", headers=admin_headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert_problem(client.get("/v1/admin/keys", headers=headers), 401, "unauthorized")


def test_key_with_a_wrong_secret_is_401(client: TestClient, admin_headers: dict[str, str]) -> None:
    issued = client.post("/v1/admin/keys", json={"role": "admin"}, headers=admin_headers).json()
    forged = issued["key"][:-4] + ("AAAA" if not issued["key"].endswith("AAAA") else "BBBB")
    assert_problem(client.get("/v1/admin/keys", headers={"Authorization": f"Bearer {forged}"}), 401, "unauthorized")


def test_keys_are_stored_only_as_hashes(client: TestClient, admin_headers: dict[str, str], db) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    issued = client.post("/v1/admin/keys", json={"role": "dpo"}, headers=admin_headers).json()
    with db.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM api_keys WHERE id = :id"), {"id": issued["id"]}).mappings().one()
    assert issued["key"].encode() not in b"".join(v if isinstance(v, bytes) else str(v).encode() for v in row.values())


def test_unknown_fields_are_rejected_and_nothing_is_written(client: TestClient, admin_headers: dict[str, str]) -> None:
    before = client.get("/v1/admin/merchants?limit=500", headers=admin_headers).json()["items"]
    response = client.post("/v1/admin/merchants", json={"name": "X", "is_admin": True}, headers=admin_headers)
    body = assert_problem(response, 422, "invalid-input")
    assert any(error["loc"][-1] == "is_admin" for error in body["errors"])
    after = client.get("/v1/admin/merchants?limit=500", headers=admin_headers).json()["items"]
    assert after == before


def test_invalid_json_is_a_400_problem(client: TestClient, admin_headers: dict[str, str]) -> None:
    response = client.post(
        "/v1/admin/merchants",
        content=b"{not json",
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert_problem(response, 400, "malformed-json")


def test_oversized_body_is_413_problem(client: TestClient, admin_headers: dict[str, str]) -> None:
    response = client.post("/v1/admin/merchants", json={"name": "x" * 70_000}, headers=admin_headers)
    assert_problem(response, 413, "payload-too-large")


def test_unknown_route_is_404_problem(client: TestClient) -> None:
    assert_problem(client.get("/v1/nothing-here"), 404, "not-found")


def test_merchant_key_needs_existing_merchant(client: TestClient, admin_headers: dict[str, str]) -> None:
    response = client.post(
        "/v1/admin/keys", json={"role": "merchant", "merchant_id": 999_999_999}, headers=admin_headers
    )
    assert_problem(response, 404, "not-found")
    response = client.post("/v1/admin/keys", json={"role": "app", "merchant_id": 1}, headers=admin_headers)
    assert_problem(response, 422, "invalid-input")


def test_metrics_count_requests_per_route_template(client: TestClient) -> None:
    client.get("/healthz")
    client.get("/problems/not-found")
    text = client.get("/metrics").text
    assert 'geo_offers_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'route="/problems/{slug}"' in text
    assert "geo_offers_http_request_duration_seconds_bucket" in text


def test_problem_types_are_documented(client: TestClient) -> None:
    assert client.get("/problems/consent-required").status_code == 200
    assert client.get("/problems/no-such-thing").status_code == 404
