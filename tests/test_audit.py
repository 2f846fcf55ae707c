"""Audit routes: dpo-only, filtered and paginated ledger, offline-verifiable exports, tamper detection, signed
checkpoints, the daily summary, the processing record and the access log."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2.errors
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from fastapi.testclient import TestClient

from consent.canonical import GENESIS, chain_hash
from consent.ledger.checkpoints import load_private_key
from consent.settings import ConsentSettings
from geo_offers.cli import main
from tests.audit_env import Env, open_env, superuser
from tests.helpers import FakeClock, assert_problem, grant, new_subject, notice_body, scan_database

AUDIT_ROUTES = [
    "/v1/audit/consent-events",
    "/v1/audit/consent-events/export?format=csv",
    "/v1/audit/consent-events/export?format=jsonl",
    "/v1/audit/ledger/verify",
    "/v1/audit/ledger/checkpoints",
    "/v1/audit/summary",
    "/v1/audit/processing-record",
    "/v1/audit/access-log",
]
DAY1 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def env(fresh_database_url: str) -> Iterator[Env]:
    with open_env(fresh_database_url, FakeClock(DAY1)) as environment:
        yield environment


def _withdraw(env: Env, subject: str, purposes: list[str] | None = None) -> None:
    body: dict[str, Any] = {"subject_id": subject}
    if purposes:
        body["purposes"] = purposes
    assert env.client.post("/v1/consents/withdraw", json=body, headers=env.app).status_code == 200


def _decline(env: Env, subject: str) -> None:
    body = {"subject_id": subject, "notice_version": env.version, "source": "settings", "locale": "de"}
    assert env.client.post("/v1/consents/decline", json=body, headers=env.app).status_code == 201


def _events(env: Env, **params: Any) -> dict[str, Any]:
    response = env.client.get("/v1/audit/consent-events", params=params, headers=env.dpo)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _scenario(env: Env) -> tuple[str, str]:
    """Six events: a grants both, b grants location, a withdraws analytics, c declines, a day later b
    withdraws, then d grants."""
    a, b = new_subject(), new_subject()
    assert grant(env.client, env.app, a, env.version).status_code == 201
    assert grant(env.client, env.app, b, env.version, ["location_offers"]).status_code == 201
    _withdraw(env, a, ["offer_analytics"])
    _decline(env, new_subject())
    env.clock.advance(timedelta(days=1))
    _withdraw(env, b)
    assert grant(env.client, env.app, new_subject(), env.version).status_code == 201
    return a, b


def _export(env: Env, tmp_path: Path, fmt: str, **params: Any) -> Path:
    response = env.client.get("/v1/audit/consent-events/export", params={"format": fmt, **params}, headers=env.dpo)
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["content-disposition"]
    path = tmp_path / f"export-{len(list(tmp_path.iterdir()))}.{fmt}"
    path.write_bytes(response.content)
    return path


def _verify_export(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    status = main(["ledger", "verify-export", *argv])
    out = capsys.readouterr().out
    return status, json.loads(out)


# --- roles --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", AUDIT_ROUTES)
def test_only_dpo_keys_reach_audit_routes(
    client: TestClient,
    route: str,
    app_headers: dict[str, str],
    admin_headers: dict[str, str],
    merchant_headers: Callable[[], dict[str, str]],
    dpo_headers: dict[str, str],
    notice_version: int,
) -> None:
    for headers in (app_headers, merchant_headers(), admin_headers):
        assert_problem(client.get(route, headers=headers), 403, "forbidden")
    assert_problem(client.get(route), 401, "unauthorized")
    assert client.get(route, headers=dpo_headers).status_code == 200


# --- listing ------------------------------------------------------------------------------------------------------


def test_events_filter_by_type_purpose_subject_time_and_notice(env: Env) -> None:
    a, b = _scenario(env)
    everything = _events(env)["items"]
    assert [e["seq"] for e in everything] == [1, 2, 3, 4, 5, 6]
    assert [e["type"] for e in everything] == ["grant", "grant", "withdraw", "decline", "withdraw", "grant"]
    first = everything[0]
    assert first["document"]["granted"] == ["location_offers", "offer_analytics"]
    assert first["prev_hash"] == GENESIS.hex()
    assert bytes.fromhex(first["hash"]) == chain_hash(GENESIS, first["canonical"])

    assert [e["seq"] for e in _events(env, type="withdraw")["items"]] == [3, 5]
    assert [e["seq"] for e in _events(env, type=["grant", "decline"])["items"]] == [1, 2, 4, 6]
    assert [e["seq"] for e in _events(env, purpose="offer_analytics")["items"]] == [1, 3, 4, 6]
    assert [e["seq"] for e in _events(env, subject=a)["items"]] == [1, 3]
    assert [e["seq"] for e in _events(env, subject=b.upper())["items"]] == [2, 5]
    assert _events(env, subject=new_subject())["items"] == []
    day2 = (DAY1 + timedelta(days=1)).replace(hour=0).isoformat()
    assert [e["seq"] for e in _events(env, since=day2)["items"]] == [5, 6]
    assert [e["seq"] for e in _events(env, until=day2)["items"]] == [1, 2, 3, 4]
    assert [e["seq"] for e in _events(env, notice_version=env.version)["items"]] == [1, 2, 4, 6]
    assert _events(env, notice_version=env.version + 1)["items"] == []
    assert [e["seq"] for e in _events(env, type="grant", purpose="offer_analytics", since=day2)["items"]] == [6]


def test_events_are_paginated_by_cursor(env: Env) -> None:
    _scenario(env)
    seen: list[int] = []
    after = 0
    pages = 0
    while True:
        page = _events(env, limit=4, after=after)
        seen += [e["seq"] for e in page["items"]]
        pages += 1
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert seen == [1, 2, 3, 4, 5, 6] and pages == 2
    exact = _events(env, limit=6)
    assert len(exact["items"]) == 6 and exact["next_after"] is None
    assert [e["seq"] for e in _events(env, type="grant", limit=1, after=1)["items"]] == [2]


@pytest.mark.parametrize(
    "params",
    [
        {"subject": "someone@example.com"},
        {"type": "delete"},
        {"purpose": "Bad Purpose"},
        {"since": "2026-11-23T00:00:00"},
        {"limit": 0},
        {"limit": 1001},
        {"after": -1},
        {"notice_version": 0},
    ],
)
def test_bad_filters_are_refused(client: TestClient, dpo_headers: dict[str, str], params: dict[str, Any]) -> None:
    assert_problem(client.get("/v1/audit/consent-events", params=params, headers=dpo_headers), 422, "invalid-input")


# --- export and offline verification ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_verifies_offline(env: Env, tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    _scenario(env)
    path = _export(env, tmp_path, fmt)
    if fmt == "csv":  # line 1 is the header that says what the export holds (tests/test_verify_export.py)
        assert path.read_text().splitlines()[1].startswith("seq,occurred_at,type,tag")
    status, result = _verify_export(capsys, str(path))
    assert status == 0, result
    assert result["events"] == 6 and result["from_genesis"] and result["segments"] == 1

    filtered = _export(env, tmp_path, fmt, type="withdraw")
    status, result = _verify_export(capsys, str(filtered))
    assert status == 0 and result["events"] == 2 and result["segments"] == 2 and not result["from_genesis"]


@pytest.mark.parametrize(
    "edit",
    [
        lambda line: line.replace('"location_offers","offer_analytics"', '"location_offers"', 1),
        lambda line: line.replace("onboarding", "forged", 1),
    ],
)
def test_an_edited_export_fails_verification_at_the_edited_event(
    env: Env, tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: Callable[[str], str]
) -> None:
    _scenario(env)
    path = _export(env, tmp_path, "jsonl")
    lines = path.read_text().splitlines()  # line 0 is the header, line 6 event 6
    lines[6] = edit(lines[6])
    path.write_text("\n".join(lines) + "\n")
    status, result = _verify_export(capsys, str(path))
    assert status == 1 and result["first_bad_seq"] == 6 and not result["ok"]
    del lines[2]  # event 2 removed: a full export has no gaps (this was accepted as ok before issue 13)
    path.write_text("\n".join(lines[:4]) + "\n")
    status, result = _verify_export(capsys, str(path))
    assert status == 1 and result["first_bad_seq"] == 2 and "missing" in result["problem"]


def test_export_with_an_empty_result(env: Env, tmp_path: Path) -> None:
    path = _export(env, tmp_path, "csv", type="erase")  # the header line, then the column line
    lines = path.read_text().splitlines()
    assert json.loads(lines[0])["scope"] == "filtered" and lines[1].startswith("seq,") and len(lines) == 2
    assert len(_export(env, tmp_path, "jsonl", type="erase").read_bytes().splitlines()) == 1


# --- verify and tampering ---------------------------------------------------------------------------------------


def _verify(env: Env) -> dict[str, Any]:
    response = env.client.get("/v1/audit/ledger/verify", headers=env.dpo)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_verify_finds_a_row_changed_behind_the_service(env: Env) -> None:
    _scenario(env)
    clean = _verify(env)
    assert clean["ok"] and clean["events_checked"] == 6 and clean["head_seq"] == 6 and clean["first_bad_seq"] is None
    conn = superuser(env.url)
    with conn.cursor() as cur:
        cur.execute("ALTER TABLE consent_events DISABLE TRIGGER consent_events_guard")
        cur.execute("UPDATE consent_events SET canonical = replace(canonical, 'onboarding', 'forged') WHERE seq = 2")
        cur.execute("ALTER TABLE consent_events ENABLE TRIGGER consent_events_guard")
    conn.close()
    tampered = _verify(env)
    assert not tampered["ok"] and tampered["first_bad_seq"] == 2 and tampered["events_checked"] == 1
    assert "hash" in tampered["problem"]


# --- signed checkpoints -----------------------------------------------------------------------------------------


@pytest.fixture
def signing_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    """A fresh key file in the environment; returns the public key PEM."""
    key_file = tmp_path / "ledger.key"
    assert main(["ledger", "keygen", str(key_file)]) == 0
    assert key_file.stat().st_mode & 0o077 == 0
    monkeypatch.setenv("GEO_OFFERS_LEDGER_SIGNING_KEY_FILE", str(key_file))
    return capsys.readouterr().out


def _checkpoint(env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    monkeypatch.setenv("GEO_OFFERS_DATABASE_URL", env.url)
    assert main(["ledger", "checkpoint"]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def test_checkpoint_signs_the_head_once_and_is_listed(
    env: Env, signing_key: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GEO_OFFERS_DATABASE_URL", env.url)
    assert main(["ledger", "checkpoint"]) == 1  # empty ledger: nothing to sign
    assert "empty" in capsys.readouterr().err
    _scenario(env)
    signed = _checkpoint(env, monkeypatch, capsys)
    assert signed["seq"] == 6 and signed["head_hash"] == _verify(env)["head_hash"]
    assert main(["ledger", "checkpoint"]) == 0
    assert capsys.readouterr().out == ""  # the head is signed already
    listed = env.client.get("/v1/audit/ledger/checkpoints", headers=env.dpo).json()
    assert [c["seq"] for c in listed["items"]] == [6] and listed["items"][0]["trusted"] is None
    assert listed["items"][0]["signature"] == signed["signature"]
    assert _verify(env)["checkpoints_checked"] == 1
    private = load_private_key(Path(os.environ["GEO_OFFERS_LEDGER_SIGNING_KEY_FILE"]).read_bytes())
    seed = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()).hex()
    assert scan_database(env.url, [seed]) == []  # the private key never enters the database
    with open_env(env.url, ledger_public_key=signing_key) as pinned:
        items = pinned.client.get("/v1/audit/ledger/checkpoints", headers=pinned.dpo).json()["items"]
        assert items[0]["trusted"] is True


def test_periodic_checkpoints_sign_only_when_the_ledger_grew(
    env: Env, signing_key: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GEO_OFFERS_DATABASE_URL", env.url)
    _scenario(env)
    assert main(["ledger", "checkpoint", "--every", "0", "--times", "3"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    grant(env.client, env.app, new_subject(), env.version)
    assert main(["ledger", "checkpoint", "--every", "0", "--times", "2"]) == 0
    assert [json.loads(line)["seq"] for line in capsys.readouterr().out.splitlines()] == [7]


def _rewrite_history(url: str) -> None:
    """What an attacker with the owner's password can do: replace every event and recompute every hash."""
    conn = superuser(url)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT seq, occurred_at, event_type, tag, decision_id, purposes, notice_version, canonical "
            "FROM consent_events ORDER BY seq"
        )
        rows = cur.fetchall()
        cur.execute("ALTER TABLE consent_events DISABLE TRIGGER USER")
        cur.execute("DELETE FROM consent_events")
        prev = GENESIS
        for seq, at, kind, tag, decision, purposes, version, canonical in rows:
            forged = canonical.replace("onboarding", "forged") if seq == 1 else canonical
            digest = chain_hash(prev, forged)
            cur.execute(
                "INSERT INTO consent_events VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (seq, at, kind, tag, decision, purposes, version, forged, prev, digest),
            )
            prev = digest
        cur.execute("UPDATE ledger_head SET hash = %s", (prev,))
        cur.execute("ALTER TABLE consent_events ENABLE TRIGGER USER")
    conn.close()


def test_a_checkpoint_catches_a_rewrite_of_the_whole_ledger(
    env: Env, tmp_path: Path, signing_key: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _scenario(env)
    _checkpoint(env, monkeypatch, capsys)
    saved = tmp_path / "checkpoints.json"
    saved.write_bytes(env.client.get("/v1/audit/ledger/checkpoints", headers=env.dpo).content)
    public = tmp_path / "ledger.pub"
    public.write_text(signing_key)
    honest = _export(env, tmp_path, "jsonl")
    status, result = _verify_export(capsys, str(honest), "--checkpoint", str(saved), "--public-key", str(public))
    assert status == 0 and result["anchored_through"] == 6 and result["key_pinned"]

    _rewrite_history(env.url)
    forged = _export(env, tmp_path, "jsonl")
    status, result = _verify_export(capsys, str(forged))
    assert status == 0  # the chain alone is consistent: this is why checkpoints exist
    status, result = _verify_export(capsys, str(forged), "--checkpoint", str(saved), "--public-key", str(public))
    assert status == 1 and result["first_bad_seq"] == 6 and "rewritten" in result["problem"]
    live = _verify(env)
    assert not live["ok"] and live["first_bad_seq"] == 6 and "rewritten" in live["problem"]

    other_key = tmp_path / "other.key"
    assert main(["ledger", "keygen", str(other_key)]) == 0
    other_public = tmp_path / "other.pub"
    other_public.write_text(capsys.readouterr().out)
    status, result = _verify_export(capsys, str(honest), "--checkpoint", str(saved), "--public-key", str(other_public))
    assert status == 1 and "trusted key" in result["problem"]


def test_a_checkpoint_beyond_a_truncated_export_fails(
    env: Env, tmp_path: Path, signing_key: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _scenario(env)
    _checkpoint(env, monkeypatch, capsys)
    saved = tmp_path / "checkpoints.json"
    saved.write_bytes(env.client.get("/v1/audit/ledger/checkpoints", headers=env.dpo).content)
    path = _export(env, tmp_path, "csv", until=(DAY1 + timedelta(hours=1)).isoformat())
    status, result = _verify_export(capsys, str(path), "--checkpoint", str(saved))
    assert status == 1 and "does not contain event 6" in result["problem"]
    bad = tmp_path / "bad.json"
    bad.write_text('{"seq": 1}')
    assert main(["ledger", "verify-export", str(path), "--checkpoint", str(bad)]) == 1
    assert "--checkpoint" in capsys.readouterr().err


# --- summary, processing record, access log ---------------------------------------------------------------------


def test_summary_counts_events_and_active_consents_per_day(fresh_database_url: str) -> None:
    clock = FakeClock(DAY1)
    short = ConsentSettings(consent_lifetime_days=2)
    with open_env(fresh_database_url, clock, consent=short) as env:
        a, b, c = new_subject(), new_subject(), new_subject()
        grant(env.client, env.app, a, env.version)  # day 1: a both, b location, c declines
        grant(env.client, env.app, b, env.version, ["location_offers"])
        _decline(env, c)
        clock.advance(timedelta(days=1))  # day 2: a withdraws analytics
        _withdraw(env, a, ["offer_analytics"])
        clock.advance(timedelta(days=1))  # day 3: b is erased; a's consent expires at 10:00 (no job has run)
        assert env.client.delete(f"/v1/subjects/{b}", headers=env.app).status_code == 200
        response = env.client.get(
            "/v1/audit/summary", params={"since": "2026-11-22", "until": "2026-11-25"}, headers=env.dpo
        )
    assert response.status_code == 200, response.text
    days = {d["day"]: d for d in response.json()["days"]}
    assert list(days) == ["2026-11-22", "2026-11-23", "2026-11-24", "2026-11-25"]
    loc = {day: d["purposes"]["location_offers"] for day, d in days.items()}
    ana = {day: d["purposes"]["offer_analytics"] for day, d in days.items()}
    assert days["2026-11-23"]["events"] == {"grants": 2, "declines": 1, "withdrawals": 0, "expiries": 0, "erasures": 0}
    assert loc["2026-11-23"] == {
        "grants": 2,
        "declines": 1,
        "declines_by_gpc": 0,
        "withdrawals": 0,
        "expiries": 0,
        "erasures": 0,
        "active_end_of_day": 2,
    }
    assert ana["2026-11-23"]["grants"] == 1 and ana["2026-11-23"]["active_end_of_day"] == 1
    assert ana["2026-11-24"]["withdrawals"] == 1 and ana["2026-11-24"]["active_end_of_day"] == 0
    assert loc["2026-11-24"]["active_end_of_day"] == 2
    assert days["2026-11-25"]["events"]["erasures"] == 1 and loc["2026-11-25"]["erasures"] == 1
    assert loc["2026-11-25"]["active_end_of_day"] == 0  # b erased, a expired at 10:00
    assert loc["2026-11-22"]["active_end_of_day"] == 0 and days["2026-11-22"]["events"]["grants"] == 0


@pytest.mark.parametrize(
    "params", [{"since": "2026-11-25", "until": "2026-11-24"}, {"since": "2025-01-01", "until": "2026-11-24"}]
)
def test_summary_refuses_bad_ranges(client: TestClient, dpo_headers: dict[str, str], params: dict[str, str]) -> None:
    assert_problem(client.get("/v1/audit/summary", params=params, headers=dpo_headers), 422, "invalid-input")


def test_processing_record_comes_from_the_running_configuration(fresh_database_url: str) -> None:
    with open_env(fresh_database_url, retention_days=45, controller="Geo Offers GmbH, Berlin") as env:
        published = env.client.post("/v1/notices", json=notice_body(fresh=["offer_analytics"]), headers=env.admin)
        assert published.status_code == 201, published.text
        record = env.client.get("/v1/audit/processing-record", headers=env.dpo).json()
    assert record["controller"] == "Geo Offers GmbH, Berlin"
    assert [p["id"] for p in record["purposes"]] == ["location_offers", "offer_analytics"]
    assert record["purposes"][0]["title"]["de"] == "Zweck location_offers"
    assert record["current_notice_version"] == 2
    assert [(v["version"], v["fresh_consent_for"]) for v in record["notice_versions"]] == [
        (1, []),
        (2, ["offer_analytics"]),
    ]
    assert {"data": "anonymous statistics", "period": "45 days"} in record["retention"]
    assert any("365 days" in r["period"] for r in record["retention"])
    assert any("resolution 8" in m for m in record["technical_measures"])
    assert any("development pepper" in m for m in record["technical_measures"])
    assert {r["recipient"] for r in record["recipients"]} >= {"merchants (stores)"}


def test_every_audit_call_is_logged_with_key_route_and_time(env: Env) -> None:
    subject = new_subject()
    grant(env.client, env.app, subject, env.version)
    officer = env.keys.key("dpo")
    headers = {"Authorization": f"Bearer {officer}"}
    key_id = officer.split("_")[1]
    for route in AUDIT_ROUTES:
        assert env.client.get(route, headers=headers).status_code == 200
    assert env.client.get("/v1/audit/consent-events", params={"subject": subject}, headers=headers).status_code == 200
    env.client.get("/v1/audit/consent-events", headers=env.app)  # refused: logged under the app key, not this one
    log = env.client.get("/v1/audit/access-log", params={"key_id": key_id, "limit": 50}, headers=headers).json()
    routes = [(item["method"], item["route"], item["params"]) for item in log["items"]]
    assert routes == [
        ("GET", "/v1/audit/consent-events", []),
        ("GET", "/v1/audit/consent-events/export", ["format"]),
        ("GET", "/v1/audit/consent-events/export", ["format"]),
        ("GET", "/v1/audit/ledger/verify", []),
        ("GET", "/v1/audit/ledger/checkpoints", []),
        ("GET", "/v1/audit/summary", []),
        ("GET", "/v1/audit/processing-record", []),
        ("GET", "/v1/audit/access-log", []),
        ("GET", "/v1/audit/consent-events", ["subject"]),
        ("GET", "/v1/audit/access-log", ["key_id", "limit"]),
    ]
    assert all(item["key_id"] == key_id and item["at"].startswith("2026-11-23T10:00") for item in log["items"])
    assert scan_database(env.url, [subject]) == []  # the filter value is never logged
    page = env.client.get("/v1/audit/access-log", params={"key_id": key_id, "limit": 4}, headers=headers).json()
    assert len(page["items"]) == 4 and page["next_after"] == log["items"][3]["id"]


def test_audit_tables_are_append_only(env: Env) -> None:
    env.client.get("/v1/audit/processing-record", headers=env.dpo)
    conn = superuser(env.url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO ledger_checkpoints (seq, head_hash, signed_at, key_id, public_key, document, signature) "
                "VALUES (1, '\\x00', now(), 'k', '\\x00', '{}', '\\x00')"
            )
            for table in ("audit_access_log", "ledger_checkpoints"):
                for statement in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}", f"TRUNCATE {table}"):
                    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="append-only"):
                        cur.execute(statement)
            cur.execute("SET ROLE geo_offers_app")
            cur.execute("SELECT count(*) FROM audit_access_log")
            assert cur.fetchone() == (1,)
            for table in ("audit_access_log", "ledger_checkpoints"):
                for statement in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}", f"TRUNCATE {table}"):
                    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="permission denied"):
                        cur.execute(statement)
    finally:
        conn.close()


@pytest.mark.parametrize(
    "route", ["/v1/audit/consent-events", "/v1/audit/consent-events/export", "/v1/audit/access-log"]
)
def test_times_with_any_offset_are_read_as_utc(client: TestClient, dpo_headers: dict[str, str], route: str) -> None:
    # An offset beyond what PostgreSQL accepts (found by the contract fuzzer: it gave a 500) is turned into UTC.
    params = {"until": "0983-08-26T17:55:36+16:56"}
    response = client.get(route, params=params, headers=dpo_headers)
    assert response.status_code == 200, response.text
    naive = client.get(route, params={"until": "2026-01-01T00:00:00"}, headers=dpo_headers)
    assert naive.status_code == 422


@pytest.mark.parametrize(
    ("route", "params"),
    [
        ("/v1/audit/consent-events", {"since": "-26939"}),
        ("/v1/audit/consent-events/export", {"until": "41144"}),
        ("/v1/audit/access-log", {"since": "1700000000.5"}),
        ("/v1/audit/summary", {"since": "1795132800", "until": "1795219200"}),  # 2026-11-20 and -21 as Unix times
    ],
)
def test_a_bare_number_is_not_read_as_a_time(
    client: TestClient, dpo_headers: dict[str, str], route: str, params: dict[str, str]
) -> None:
    # Found by the contract fuzzer: the lax default read "-26939" as a Unix time and answered 200.
    assert_problem(client.get(route, params=params, headers=dpo_headers), 422, "invalid-input")
