"""Fixtures of the store console tests: a live server with a small k, keys of every role, two stores."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from geo_offers.settings import Settings
from tests.browser.conftest import LiveServer
from tests.browser.console.world import BERLIN, HAMBURG, World, make_world
from tests.helpers import make_settings

K = 5


@pytest.fixture(scope="module")
def server_settings(module_database_url: str) -> Settings:
    return make_settings(module_database_url, k_anonymity=K)


@pytest.fixture(scope="module")
def world(live_server: LiveServer, server_settings: Settings) -> Iterator[World]:
    made = make_world(live_server.url, server_settings)
    yield made
    made.close()


@pytest.fixture(scope="module")
def stores(world: World) -> dict[str, dict[str, Any]]:
    return {"berlin": world.store("Kaffeebar Mitte", *BERLIN), "hamburg": world.store("Hafenrösterei", *HAMBURG)}
