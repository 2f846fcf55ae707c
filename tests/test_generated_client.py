"""A client generated from the service's own ``/openapi.json`` works against the running service.

openapi-python-client (a test dependency, pinned in requirements.lock) writes a typed Python package from the
document the live server serves, with no network: the generator gets a file, and any attempt of it to reach out
goes to a closed port. The test then drives, through that package only, what an operator, a store and an app
do: publish a notice, create a merchant and its keys, create a store and a deal, publish the deal, grant
consent and match the person's coarse cell, which finds the deal.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import h3
import httpx
import pytest

from geo_offers.app import create_app
from geo_offers.kit.database import Database
from tests.helpers import BERLIN, Keys, LiveServer, make_settings, notice_body, wait_until

PACKAGE = "geo_offers_client"


@pytest.fixture(scope="module")
def server(module_database_url: str) -> Iterator[LiveServer]:
    with LiveServer(create_app(make_settings(module_database_url), log=False)) as live:
        yield live


@pytest.fixture(scope="module")
def client_package(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The package openapi-python-client generates from the live server's /openapi.json."""
    root = tmp_path_factory.mktemp("generated")
    spec = root / "openapi.json"
    spec.write_bytes(httpx.get(f"{server.url}/openapi.json").raise_for_status().content)
    bin_dir = Path(sys.executable).parent
    offline = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
    env = {**os.environ, **offline, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [bin_dir / "openapi-python-client", "generate", "--path", spec, "--output-path", root / PACKAGE]
        + ["--meta", "none"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def _ok(response: Any, status: int) -> Any:
    """The parsed body of a generated call's detailed response, after checking its status."""
    assert response.status_code == status, response.content
    return response.parsed


@pytest.mark.slow
def test_a_generated_client_grants_consent_matches_and_publishes_a_deal(
    server: LiveServer, client_package: ModuleType, module_database_url: str
) -> None:
    models = _module("models")
    api = {
        name: _module(f"api.{tag}.{name}")
        for tag, name in [
            ("notices", "publish_notice_v1_notices_post"),
            ("notices", "current_notice_v1_notices_current_get"),
            ("admin", "create_merchant_v1_admin_merchants_post"),
            ("admin", "create_key_v1_admin_keys_post"),
            ("stores", "create_store_v1_stores_post"),
            ("deals", "create_deal_v1_deals_post"),
            ("deals", "update_deal_v1_deals_deal_id_patch"),
            ("consents", "grant_v1_consents_post"),
            ("offers", "match_v1_offers_match_post"),
        ]
    }
    clients = ExitStack()  # each generated client holds an httpx connection pool until it is closed

    def authenticated(token: str) -> Any:
        return clients.enter_context(client_package.AuthenticatedClient(base_url=server.url, token=token))

    db = Database(make_settings(module_database_url))
    try:
        admin_key = Keys(db).key("admin")
    finally:
        db.dispose()
    with clients:
        _drive(api, models, authenticated(admin_key), authenticated)


def _drive(api: dict[str, Any], models: Any, admin: Any, authenticated: Any) -> None:
    """The operator's, the store's and the app's calls, each through the generated package."""
    # The operator: a notice, a merchant and the merchant's and the app's keys.
    notice = models.NoticeCreate.from_dict(notice_body())
    _ok(api["publish_notice_v1_notices_post"].sync_detailed(client=admin, body=notice), 201)
    merchant = _ok(
        api["create_merchant_v1_admin_merchants_post"].sync_detailed(
            client=admin, body=models.MerchantCreate(name="Generated GmbH")
        ),
        201,
    )
    keys = api["create_key_v1_admin_keys_post"]
    role = models.KeyCreateRole
    merchant_key = _ok(
        keys.sync_detailed(client=admin, body=models.KeyCreate(role=role.MERCHANT, merchant_id=merchant.id)), 201
    )
    app_key = _ok(keys.sync_detailed(client=admin, body=models.KeyCreate(role=role.APP)), 201)
    store_client = authenticated(merchant_key.key)
    app_client = authenticated(app_key.key)

    # The store: a store, a draft deal, then the deal published.
    lon, lat = BERLIN
    store = _ok(
        api["create_store_v1_stores_post"].sync_detailed(
            client=store_client,
            body=models.StoreCreate(
                name="Kaffeebar Mitte",
                address="Karl-Liebknecht-Str. 1, 10178 Berlin",
                location=models.PointIn(type_="Point", coordinates=[lon, lat]),
            ),
        ),
        201,
    )
    now = datetime.now(UTC)
    deal = _ok(
        api["create_deal_v1_deals_post"].sync_detailed(
            client=store_client,
            body=models.DealCreate(
                store_id=store.id,
                title="Zweiter Kaffee gratis",
                category=models.DealCreateCategory.CAFE,
                area=models.RadiusArea(radius_m=1000),
                valid_from=now - timedelta(days=1),
                valid_until=now + timedelta(days=30),
            ),
        ),
        201,
    )
    assert deal.status == "draft"
    published = _ok(
        api["update_deal_v1_deals_deal_id_patch"].sync_detailed(
            deal.id, client=store_client, body=models.DealUpdate(status=models.DealUpdateStatus.ACTIVE)
        ),
        200,
    )
    assert published.status == "active"

    # The app: the current notice, a grant, and a match of the person's coarse cell.
    current = _ok(api["current_notice_v1_notices_current_get"].sync_detailed(client=app_client), 200)
    subject = uuid.uuid4()
    receipt = _ok(
        api["grant_v1_consents_post"].sync_detailed(
            client=app_client,
            body=models.GrantBody(
                subject_id=subject,
                notice_version=current.version,
                purposes=["location_offers", "offer_analytics"],
                source="onboarding",
                locale="de-DE",
            ),
        ),
        201,
    )
    assert receipt.event.value == "grant" and set(receipt.purposes) == {"location_offers", "offer_analytics"}
    cell = h3.latlng_to_cell(lat, lon, 8)
    match = api["match_v1_offers_match_post"]
    body = models.MatchRequest(subject_id=subject, cell=cell)
    found: list[int] = []

    def deal_is_matched() -> bool:  # the published deal reaches the index through LISTEN/NOTIFY
        answer = _ok(match.sync_detailed(client=app_client, body=body), 200)
        found[:] = [offer.deal_id for offer in answer.offers]
        return deal.id in found

    wait_until(deal_is_matched, timeout=10)
    assert found == [deal.id]
