"""The operator CLI: what it prints is exactly what a script captures."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from geo_offers.cli import main
from geo_offers.db import Database


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
