"""What the tests share: a settable clock, settings, keys, request builders, waiting, and a database scan."""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response

from geo_offers.kit.database import Database
from geo_offers.settings import Settings
from geo_offers.tenants import keys as key_repo
from geo_offers.tenants import merchants as merchant_repo

_T = TypeVar("_T")

FRIDAY_NOON_BERLIN = datetime(2026, 6, 5, 10, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    """A settable clock; ``None`` follows real time."""

    fixed: datetime | None = None

    def __call__(self) -> datetime:
        return self.fixed if self.fixed is not None else datetime.now(UTC)

    def set(self, when: datetime) -> None:
        self.fixed = when

    def advance(self, delta: timedelta) -> None:
        self.fixed = self() + delta


def make_settings(url: str, **overrides: object) -> Settings:
    """Test settings for a database URL."""
    fixed: dict[str, object] = {"gc_freeze": False, "openapi_at_start": False, **overrides}
    return Settings(environment="test", database_url=url, **fixed)  # type: ignore[arg-type]


@dataclass
class Keys:
    """Creates merchants and keys straight through the repositories."""

    db: Database
    made: list[str] = field(default_factory=list)

    def merchant(self, name: str = "Test GmbH") -> int:
        with self.db.transaction() as session:
            return merchant_repo.create_merchant(session, name).id

    def key(self, role: str, merchant_id: int | None = None) -> str:
        with self.db.transaction() as session:
            return key_repo.create_key(session, role, merchant_id).key

    def headers(self, role: str, merchant_id: int | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key(role, merchant_id)}"}


def wait_until(check: Callable[[], bool], timeout: float = 3.0) -> None:
    """Poll ``check`` every 10 ms until it holds; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def somewhere() -> tuple[float, float]:
    """A (lon, lat) far from every other test's stores, so answers hold only this test's deals."""
    return random.uniform(-60.0, -40.0), random.uniform(-30.0, -10.0)


def notice_body(fresh: list[str] | None = None, extra_purposes: list[str] | None = None) -> dict[str, Any]:
    purposes = ["location_offers", "offer_analytics", *(extra_purposes or [])]
    return {
        "purposes": [
            {
                "id": p,
                "title": {"de": f"Zweck {p}", "en": f"Purpose {p}"},
                "description": {"de": f"Wir nutzen {p}.", "en": f"We use {p}."},
            }
            for p in purposes
        ],
        "texts": {"de": "Datenschutzhinweis ...", "en": "Privacy notice ..."},
        "fresh_consent_for": fresh or [],
    }


def new_subject() -> str:
    return str(uuid.uuid4())


def grant(
    client: TestClient,
    headers: dict[str, str],
    subject: str,
    notice_version: int,
    purposes: list[str] | None = None,
    precision_res: int | None = None,
    extra_headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "subject_id": subject,
        "notice_version": notice_version,
        "purposes": purposes or ["location_offers", "offer_analytics"],
        "source": "onboarding",
        "locale": "de-DE",
    }
    if precision_res is not None:
        body["precision_res"] = precision_res
    return client.post("/v1/consents", json=body, headers={**headers, **(extra_headers or {})})


def permissions(client: TestClient, subject: str, now: datetime | None = None) -> set[str]:
    """The purposes the running app's consent gate allows for ``subject`` now (asked on the app's event loop)."""
    gate = client.app.state.services.gate  # type: ignore[attr-defined]
    grants = client.portal.call(gate.permissions, subject, now or datetime.now(UTC))  # type: ignore[union-attr]
    return set(grants)


def assert_problem(response: Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].endswith(slug), body
    assert body["title"] and body["detail"]
    return body


def scan_database(url: str, needles: list[str]) -> list[tuple[str, str, str]]:
    """Every (table, column, needle) where a needle occurs in any value of any user table, as text.

    bytea columns are searched both as hex and as their UTF-8 decoding; needles are matched case-insensitively.
    """
    import psycopg2

    hits: list[tuple[str, str, str]] = []
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                """
                SELECT c.table_name, c.column_name, c.data_type
                  FROM information_schema.columns c
                  JOIN information_schema.tables t USING (table_schema, table_name)
                 WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
                   AND c.table_name NOT IN ('spatial_ref_sys')
                """
            )
            columns = cur.fetchall()
            for table, column, data_type in columns:
                if data_type == "bytea":
                    expr = f"encode(\"{column}\", 'hex') || ' ' || encode(\"{column}\", 'escape')"
                else:
                    expr = f'"{column}"::text'
                for needle in needles:
                    variants = {needle.lower(), needle.lower().replace("-", "")}
                    for variant in variants:
                        cur.execute(f'SELECT 1 FROM "{table}" WHERE lower({expr}) LIKE %s LIMIT 1', (f"%{variant}%",))
                        if cur.fetchone():
                            hits.append((table, column, needle))
    finally:
        conn.close()
    return hits


BERLIN = (13.4050, 52.5200)  # lon, lat (Alexanderplatz area)


def store_body(lon: float = BERLIN[0], lat: float = BERLIN[1], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Kaffeebar Mitte",
        "address": "Karl-Liebknecht-Str. 1, 10178 Berlin",
        "location": {"type": "Point", "coordinates": [lon, lat]},
        "timezone": "Europe/Berlin",
        "categories": ["cafe"],
    }
    body.update(overrides)
    return body


def deal_body(store_id: int, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "store_id": store_id,
        "title": "Zweiter Kaffee gratis",
        "description": "Beim Kauf eines Heißgetränks",
        "category": "cafe",
        "area": {"radius_m": 1000},
        "valid_from": "2026-01-01T00:00:00+01:00",
        "valid_until": "2027-12-31T23:59:00+01:00",
        "windows": [],
        "status": "active",
    }
    body.update(overrides)
    return body


class LiveServer:
    """uvicorn serving one app in a background thread of the test process."""

    def __init__(self, app: FastAPI) -> None:
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self.url = ""

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the live server did not start")
            time.sleep(0.02)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)


def run_async(scenario: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine on a loop of its own, in a thread of its own (the browser tests leave a loop running in the
    test thread, where ``asyncio.run`` refuses to start)."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, scenario).result()
