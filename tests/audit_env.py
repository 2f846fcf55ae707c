"""A private database with an app, keys and a published notice, for tests that need a ledger of their own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg2
from fastapi.testclient import TestClient

from geo_offers.app import create_app
from geo_offers.kit.database import Database
from geo_offers.settings import Settings
from tests.helpers import FakeClock, Keys, make_settings, notice_body


@dataclass
class Env:
    url: str
    settings: Settings
    db: Database
    client: TestClient
    clock: FakeClock
    keys: Keys
    app: dict[str, str]
    dpo: dict[str, str]
    admin: dict[str, str]
    version: int


@contextmanager
def open_env(url: str, clock: FakeClock | None = None, **overrides: Any) -> Iterator[Env]:
    """An app on ``url`` with one key per role and notice version 1 published."""
    settings = make_settings(url, **overrides)
    db = Database(settings)
    keys = Keys(db)
    clock = clock or FakeClock()
    try:
        with TestClient(create_app(settings, clock=clock, log=False)) as client:
            admin = keys.headers("admin")
            published = client.post("/v1/notices", json=notice_body(), headers=admin)
            assert published.status_code == 201, published.text
            yield Env(
                url,
                settings,
                db,
                client,
                clock,
                keys,
                keys.headers("app"),
                keys.headers("dpo"),
                admin,
                int(published.json()["version"]),
            )
    finally:
        db.dispose()


def superuser(url: str) -> psycopg2.extensions.connection:
    """An autocommit connection as the database owner (the test URL is a superuser)."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    return conn
