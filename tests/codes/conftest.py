"""Fixtures of the code tests: a shop somewhere nobody else is, with helpers for its deals' code pools."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from tests.helpers import FakeClock, Keys, deal_body, somewhere, store_body, wait_until

Headers = dict[str, str]
NOW = datetime(2026, 6, 5, 10, 0, tzinfo=UTC)


def indexed(client: TestClient, deal_id: int) -> bool:
    return deal_id in client.app.state.services.matcher.index  # type: ignore[attr-defined]


class Shop:
    """A merchant with a store at a random spot; publishes deals, fills their pools, claims and marks codes."""

    def __init__(self, client: TestClient, keys: Keys, app: Headers) -> None:
        self.client, self.app = client, app
        self.merchant_id = keys.merchant()
        self.headers = keys.headers("merchant", self.merchant_id)
        self.lon, self.lat = somewhere()
        response = client.post("/v1/stores", json=store_body(self.lon, self.lat), headers=self.headers)
        assert response.status_code == 201, response.text
        self.store_id = int(response.json()["id"])

    def publish(self, **deal: Any) -> int:
        response = self.client.post("/v1/deals", json=deal_body(self.store_id, **deal), headers=self.headers)
        assert response.status_code == 201, response.text
        deal_id = int(response.json()["id"])
        if deal.get("status", "active") == "active":
            wait_until(lambda: indexed(self.client, deal_id))
        return deal_id

    def add(self, deal_id: int, **body: Any) -> Response:
        return self.client.post(f"/v1/deals/{deal_id}/codes", json=body, headers=self.headers)

    def generate(self, deal_id: int, count: int, **form: Any) -> dict[str, Any]:
        response = self.add(deal_id, generate={"count": count, **form})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def pool(self, deal_id: int) -> dict[str, Any]:
        response = self.client.get(f"/v1/deals/{deal_id}/codes", headers=self.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def claim(self, deal_id: int, headers: Headers | None = None, **kwargs: Any) -> Response:
        chosen = self.app if headers is None else headers
        return self.client.post(f"/v1/offers/{deal_id}/codes", headers=chosen, **kwargs)

    def claimed(self, deal_id: int) -> dict[str, Any]:
        response = self.claim(deal_id)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def mark(self, code: str, headers: Headers | None = None) -> Response:
        chosen = self.headers if headers is None else headers
        return self.client.post("/v1/redemptions", json={"code": code}, headers=chosen)


@pytest.fixture
def shop(client: TestClient, keys: Keys, app_headers: Headers, clock: FakeClock) -> Shop:
    clock.set(NOW)
    return Shop(client, keys, app_headers)
