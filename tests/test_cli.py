"""The operator CLI: what it prints is exactly what a script captures."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from geo_offers.cli import main
from geo_offers.kit.database import Database


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("GEO_OFFERS_DATABASE_URL", database_url)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_merchants_create_prints_only_the_id(capsys: pytest.CaptureFixture[str], db: Database) -> None:
    out = _run(capsys, "merchants", "create", "Bäckerei Schulz")
    assert re.fullmatch(r"\d+\n", out)
    with db.engine.connect() as conn:
        name = conn.execute(text("SELECT name FROM merchants WHERE id = :id"), {"id": int(out)}).scalar_one()
    assert name == "Bäckerei Schulz"


def test_keys_create_prints_only_the_key_and_revoke_works(capsys: pytest.CaptureFixture[str], db: Database) -> None:
    merchant_id = _run(capsys, "merchants", "create", "Eisdiele Venezia").strip()
    key = _run(capsys, "keys", "create", "--role", "merchant", "--merchant", merchant_id).strip()
    assert re.fullmatch(r"gok_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", key)
    key_id = key.split("_")[1]
    listing = _run(capsys, "keys", "list")
    assert key_id in listing and key not in listing
    _run(capsys, "keys", "revoke", key_id)
    with db.engine.connect() as conn:
        revoked = conn.execute(text("SELECT revoked_at FROM api_keys WHERE id = :id"), {"id": key_id}).scalar_one()
    assert revoked is not None


def test_merchant_key_without_merchant_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "--role", "merchant"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "merchant" in captured.err


def test_db_upgrade_is_idempotent(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0


def test_consent_expire_prints_what_it_did(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "consent", "expire")
    assert re.fullmatch(r"expired consents of \d+ subjects in \d+ events \(.*\)\n", out)


def test_demo_seed_loads_matchable_deals_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, fresh_database_url: str
) -> None:
    import h3.api.basic_int as h3
    from fastapi.testclient import TestClient

    from geo_offers.app import create_app
    from tests.helpers import grant, make_settings, new_subject

    monkeypatch.setenv("GEO_OFFERS_DATABASE_URL", fresh_database_url)
    assert main(["demo", "seed"]) == 0
    first = capsys.readouterr()
    assert "6 stores, 10 deals" in first.err
    keys = dict(line.split() for line in first.out.splitlines()[1:])
    assert set(keys) == {"app", "merchant", "dpo", "admin"}
    assert main(["demo", "seed"]) == 0
    assert "already present" in capsys.readouterr().err
    app_headers = {"Authorization": f"Bearer {keys['app']}"}
    with TestClient(create_app(make_settings(fresh_database_url), log=False)) as client:
        version = client.get("/v1/notices/current", headers=app_headers).json()["version"]
        subject = new_subject()
        assert grant(client, app_headers, subject, version).status_code == 201
        kreuzberg = format(h3.latlng_to_cell(52.5010, 13.4205, 7), "x")
        body = {"subject_id": subject, "cell": kreuzberg, "categories": ["bakery"]}
        offers = client.post("/v1/offers/match", json=body, headers=app_headers).json()["offers"]
        assert [o["title"] for o in offers] == ["Croissant zum Kaffee"]
        merchant = {"Authorization": f"Bearer {keys['merchant']}"}
        assert len(client.get("/v1/stores", headers=merchant).json()["items"]) == 2
