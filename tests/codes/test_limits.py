"""Rate limits of code claims: per deal (one bucket in the database, shared by every instance and key) and per
app key (in each worker); a refused claim takes nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from geo_offers.codes.settings import CodeSettings
from geo_offers.kit.database import Database
from geo_offers.settings import Settings
from tests.codes.conftest import Shop
from tests.codes.test_claims import codes_left
from tests.helpers import Keys, assert_problem, make_settings


@pytest.fixture
def settings(database_url: str) -> Settings:
    limits = CodeSettings(
        code_claims_per_deal_per_s=0.01,
        code_claims_per_deal_burst=3,
        code_claims_per_key_per_s=0.01,
        code_claims_per_key_burst=5,
    )
    return make_settings(database_url, codes=limits)


def test_claims_are_rate_limited_per_deal_and_per_app_key(
    shop: Shop, keys: Keys, db: Database, client: TestClient
) -> None:
    deal_id = shop.publish()
    shop.generate(deal_id, 20)
    assert [shop.claim(deal_id).status_code for _ in range(3)] == [201, 201, 201]
    limited = shop.claim(deal_id)
    assert "deal" in assert_problem(limited, 429, "rate-limited")["detail"]
    assert int(limited.headers["Retry-After"]) >= 1
    assert shop.pool(deal_id)["available"] == 17 and codes_left(db, deal_id) == 17  # the refusal took nothing
    # The deal's bucket is shared by every key; each app key also has a bucket of its own of 5 attempts
    # (a refused attempt counts there too: it is the key's pace that is limited).
    other = shop.publish()
    shop.generate(other, 20)
    another_key = keys.headers("app")
    assert_problem(shop.claim(deal_id, headers=another_key), 429, "rate-limited")
    assert shop.claim(other).status_code == 201  # the first key's fifth attempt
    per_key = shop.claim(other)
    assert "app key" in assert_problem(per_key, 429, "rate-limited")["detail"]
    assert shop.claim(other, headers=another_key).status_code == 201
