"""Data the console tests look at, made through the API of the live server (and counters written directly)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import h3.api.basic_int as h3
import httpx
from sqlalchemy import text

from geo_offers.kit.database import Database
from geo_offers.settings import Settings
from tests.helpers import Keys, notice_body, wait_until

BERLIN = (13.405, 52.52)
HAMBURG = (9.993, 53.551)


@dataclass
class World:
    """A live server's API, keys of every role, and a published notice."""

    url: str
    settings: Settings
    db: Database
    keys: Keys
    admin: str
    app: str
    dpo: str
    merchant_id: int
    merchant: str
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def call(self, method: str, path: str, key: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, path, headers={"Authorization": f"Bearer {key}"}, **kwargs)

    def ok(self, method: str, path: str, key: str, **kwargs: Any) -> Any:
        response = self.call(method, path, key, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def store(self, name: str, lon: float, lat: float, **extra: Any) -> dict[str, Any]:
        body = {
            "name": name,
            "address": f"{name}, Deutschland",
            "location": {"type": "Point", "coordinates": [lon, lat]},
            "timezone": "Europe/Berlin",
            "categories": ["cafe"],
            **extra,
        }
        created: dict[str, Any] = self.ok("POST", "/v1/stores", self.merchant, json=body)
        return created

    def subject(self, purposes: tuple[str, ...] = ("location_offers", "offer_analytics")) -> str:
        subject = str(uuid.uuid4())
        self.ok(
            "POST",
            "/v1/consents",
            self.app,
            json={
                "subject_id": subject,
                "notice_version": 1,
                "purposes": list(purposes),
                "source": "onboarding",
                "locale": "de-DE",
            },
        )
        return subject

    def matched(self, subject: str, lon: float, lat: float) -> list[int]:
        cell = format(h3.latlng_to_cell(lat, lon, 8), "x")
        answer = self.ok("POST", "/v1/offers/match", self.app, json={"subject_id": subject, "cell": cell, "limit": 50})
        return [offer["deal_id"] for offer in answer["offers"]]

    def wait_matched(self, subject: str, lon: float, lat: float, deal_id: int) -> None:
        wait_until(lambda: deal_id in self.matched(subject, lon, lat), timeout=10)

    def close(self) -> None:
        self.http.close()
        self.db.dispose()


def make_world(url: str, settings: Settings) -> World:
    """Keys of every role, a merchant, and notice version 1 published."""
    db = Database(settings)
    keys = Keys(db)
    merchant_id = keys.merchant("Kaffeehaus GmbH")
    world = World(
        url=url,
        settings=settings,
        db=db,
        keys=keys,
        admin=keys.key("admin"),
        app=keys.key("app"),
        dpo=keys.key("dpo"),
        merchant_id=merchant_id,
        merchant=keys.key("merchant", merchant_id),
    )
    world.ok("POST", "/v1/notices", world.admin, json=notice_body())
    return world


def last_complete_week(now: datetime, settle_s: int) -> date:
    """Monday of the last complete UTC week the hour-of-week figures cover (as the insight releases see it)."""
    today = (now - timedelta(seconds=settle_s)).astimezone(UTC).date()
    return today - timedelta(days=today.weekday() + 7)


def put_activity(db: Database, cell: int, week: date, counts: dict[int, int]) -> None:
    """Activity counters of one resolution-6 cell in one week (UTC hours of the week)."""
    with db.engine.begin() as conn:
        for how, count in counts.items():
            conn.execute(
                text("INSERT INTO activity_counts (cell, week, hour_of_week, count) VALUES (:c, :w, :h, :n)"),
                {"c": cell, "w": week, "h": how, "n": count},
            )


def put_deal_days(db: Database, deal_id: int, counts: dict[date, dict[str, int]]) -> None:
    """Hourly deal counters at noon UTC of the given days (one hour holds a day's count)."""
    with db.engine.begin() as conn:
        for day, kinds in counts.items():
            for kind, count in kinds.items():
                conn.execute(
                    text("INSERT INTO deal_hour_counts (deal_id, hour, kind, count) VALUES (:d, :h, :k, :n)"),
                    {"d": deal_id, "h": datetime.combine(day, time(12), UTC), "k": kind, "n": count},
                )
