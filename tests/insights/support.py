"""What the insight tests share: a small k, the days they look at, and a shop that publishes and is matched."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import h3.api.basic_int as h3
from fastapi.testclient import TestClient
from sqlalchemy import text

from geo_offers.kit.database import Database
from tests.helpers import Keys, deal_body, grant, new_subject, store_body, wait_until

Headers = dict[str, str]
K = 3
MONDAY_NOON_BERLIN = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)  # Monday 12:00 CEST
NEXT_TUESDAY = datetime(2026, 6, 9, 10, 0, tzinfo=UTC)  # every day and week above is closed by then


def services(client: TestClient) -> Any:
    return client.app.state.services  # type: ignore[attr-defined]


def flush(client: TestClient) -> None:
    assert client.portal is not None
    client.portal.call(services(client).counter.flush)


class Shop:
    """A merchant with a store at a random spot, deals there, and subjects matching around it."""

    def __init__(self, client: TestClient, keys: Keys, app: Headers, notice: int, lon: float, lat: float) -> None:
        self.client, self.app, self.notice = client, app, notice
        self.merchant_id = keys.merchant()
        self.headers = keys.headers("merchant", self.merchant_id)
        self.lon, self.lat = lon, lat
        response = client.post("/v1/stores", json=store_body(lon, lat), headers=self.headers)
        assert response.status_code == 201, response.text
        self.store_id = int(response.json()["id"])

    def publish(self, **deal: Any) -> int:
        response = self.client.post("/v1/deals", json=deal_body(self.store_id, **deal), headers=self.headers)
        assert response.status_code == 201, response.text
        deal_id = int(response.json()["id"])
        wait_until(lambda: deal_id in services(self.client).matcher.index)
        return deal_id

    def subject(self, purposes: list[str] | None = None) -> str:
        subject_id = new_subject()
        granted = grant(self.client, self.app, subject_id, self.notice, purposes=purposes, precision_res=8)
        assert granted.status_code == 201, granted.text
        return subject_id

    def crowd(self, n: int) -> list[str]:
        """``n`` different people, each with both consents: figures count people, so scenarios need many."""
        return [self.subject() for _ in range(n)]

    def event(self, subject: str, deal_id: int, kind: str) -> dict[str, Any]:
        body = {"subject_id": subject, "type": kind}
        response = self.client.post(f"/v1/offers/{deal_id}/events", json=body, headers=self.app)
        assert response.status_code == 202, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def match(self, subject: str, cell: int | None = None) -> list[int]:
        cell = cell if cell is not None else h3.latlng_to_cell(self.lat, self.lon, 8)
        body = {"subject_id": subject, "cell": format(cell, "x"), "limit": 50}
        response = self.client.post("/v1/offers/match", json=body, headers=self.app)
        assert response.status_code == 200, response.text
        return [offer["deal_id"] for offer in response.json()["offers"]]

    def insights(self, deal_id: int, **params: Any) -> dict[str, Any]:
        response = self.client.get(f"/v1/insights/deals/{deal_id}", params=params, headers=self.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def activity(self, cell: int) -> dict[str, Any]:
        response = self.client.get("/v1/insights/activity", params={"cell": format(cell, "x")}, headers=self.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def day_figure(report: dict[str, Any], day: str, kind: str = "served") -> dict[str, Any]:
    (row,) = [r for r in report["days"] if r["day"] == day]
    figure: dict[str, Any] = row["counts"][kind]
    return figure


def counter_rows(db: Database, deal_id: int) -> list[tuple[Any, ...]]:
    with db.engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT hour, kind, count FROM deal_hour_counts WHERE deal_id = :d ORDER BY hour, kind"),
                {"d": deal_id},
            )
        )
