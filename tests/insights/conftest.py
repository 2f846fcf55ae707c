"""Fixtures of the insight tests: settings with a small k, and a shop somewhere nobody else is."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from geo_offers.settings import Settings
from tests.helpers import Keys, make_settings, somewhere
from tests.insights.support import K, Shop

Headers = dict[str, str]


@pytest.fixture
def settings(database_url: str) -> Settings:
    # A small k keeps the scenarios short; a long flush interval lets each test flush when it wants.
    return make_settings(database_url, k_anonymity=K, counter_flush_s=300.0)


@pytest.fixture
def shop(client: TestClient, keys: Keys, app_headers: Headers, notice_version: int) -> Shop:
    return Shop(client, keys, app_headers, notice_version, *somewhere())
