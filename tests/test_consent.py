"""Consent: grants, refusals, withdrawals, GPC, expiry and fresh-consent notices, through the HTTP API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import text

from consent.pseudonyms import pseudonym
from geo_offers.kit.database import Database
from geo_offers.settings import Settings
from tests.helpers import FakeClock, assert_problem, grant, new_subject, notice_body, permissions


def _event_count(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM consent_events")).scalar_one())


def _state(client: TestClient, headers: dict[str, str], subject: str) -> dict[str, dict]:  # type: ignore[type-arg]
    response = client.get(f"/v1/consents/{subject}", headers=headers)
    assert response.status_code == 200, response.text
    return {p["purpose"]: p for p in response.json()["purposes"]}


def test_current_notice_lists_purposes_locales_and_hash(
    client: TestClient, app_headers: dict[str, str], notice_version: int
) -> None:
    body = client.get("/v1/notices/current?locale=en-GB", headers=app_headers).json()
    assert body["version"] == notice_version
    assert {p["id"] for p in body["purposes"]} >= {"location_offers", "offer_analytics"}
    assert body["locale"] == "en" and set(body["locales"]) == {"de", "en"}
    assert len(body["sha256"]) == 64


def test_grant_answers_a_receipt_and_the_state_is_active(
    client: TestClient, app_headers: dict[str, str], notice_version: int, clock: FakeClock
) -> None:
    clock.set(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    subject = new_subject()
    response = grant(client, app_headers, subject, notice_version, precision_res=6)
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["event"] == "grant" and receipt["purposes"] == ["location_offers", "offer_analytics"]
    assert receipt["precision_res"] == 6 and receipt["notice_version"] == notice_version
    assert datetime.fromisoformat(receipt["expires_at"]) == clock() + timedelta(days=365)
    assert receipt["ledger"]["seq"] >= 1 and len(receipt["ledger"]["hash"]) == 64
    state = _state(client, app_headers, subject)
    assert state["location_offers"]["status"] == "active"
    assert state["location_offers"]["precision_res"] == 6
    assert state["location_offers"]["consent_id"] == receipt["consent_id"]


def test_default_precision_is_7(client: TestClient, app_headers: dict[str, str], notice_version: int) -> None:
    receipt = grant(client, app_headers, new_subject(), notice_version).json()
    assert receipt["precision_res"] == 7


def test_repeated_grant_is_idempotent(
    client: TestClient, app_headers: dict[str, str], notice_version: int, db: Database
) -> None:
    subject = new_subject()
    first = grant(client, app_headers, subject, notice_version).json()
    before = _event_count(db)
    again = grant(client, app_headers, subject, notice_version)
    assert again.status_code == 200
    assert again.json()["replayed"] is True
    assert again.json()["consent_id"] == first["consent_id"]
    assert again.json()["ledger"] == first["ledger"]
    assert _event_count(db) == before
    changed = grant(client, app_headers, subject, notice_version, precision_res=5)
    assert changed.status_code == 201 and changed.json()["ledger"]["seq"] > first["ledger"]["seq"]


def test_bad_input_is_refused_and_writes_nothing(
    client: TestClient, app_headers: dict[str, str], notice_version: int, db: Database
) -> None:
    before = _event_count(db)
    for subject in ("someone@example.com", "+49 30 1234567", "00000000-0000-0000-0000-000000000000", "4711x"):
        body = assert_problem(grant(client, app_headers, subject, notice_version), 422, "invalid-input")
        assert subject not in str(body)
    subject = new_subject()
    assert_problem(grant(client, app_headers, subject, notice_version, precision_res=9), 422, "invalid-input")
    assert_problem(grant(client, app_headers, subject, notice_version, precision_res=4), 422, "invalid-input")
    # Well-formed, but naming what the published notice does not have: a conflict with the current state.
    assert_problem(grant(client, app_headers, subject, notice_version, ["tracking_everything"]), 409, "conflict")
    assert_problem(grant(client, app_headers, subject, notice_version + 5), 409, "conflict")
    extra = client.post(
        "/v1/consents",
        json={
            "subject_id": subject,
            "notice_version": notice_version,
            "purposes": ["location_offers"],
            "source": "onboarding",
            "locale": "de",
            "advertising_id": "x",
        },
        headers=app_headers,
    )
    assert_problem(extra, 422, "invalid-input")
    assert _event_count(db) == before
    assert _state(client, app_headers, subject)["location_offers"]["status"] == "none"


def test_withdrawal_takes_effect_on_the_next_request(
    client: TestClient, app_headers: dict[str, str], notice_version: int
) -> None:
    subject = new_subject()
    grant(client, app_headers, subject, notice_version)
    assert "location_offers" in permissions(client, subject)
    response = client.post(
        "/v1/consents/withdraw",
        json={"subject_id": subject, "purposes": ["location_offers"]},
        headers=app_headers,
    )
    assert response.status_code == 200
    assert response.json()["event"] == "withdraw" and response.json()["purposes"] == ["location_offers"]
    assert "location_offers" not in permissions(client, subject)
    assert "offer_analytics" in permissions(client, subject)
    state = _state(client, app_headers, subject)
    assert state["location_offers"]["status"] == "withdrawn"
    assert state["offer_analytics"]["status"] == "active"


def test_withdraw_without_purposes_ends_every_active_consent(
    client: TestClient, app_headers: dict[str, str], notice_version: int
) -> None:
    subject = new_subject()
    grant(client, app_headers, subject, notice_version)
    response = client.post("/v1/consents/withdraw", json={"subject_id": subject}, headers=app_headers)
    assert response.json()["purposes"] == ["location_offers", "offer_analytics"]
    again = client.post("/v1/consents/withdraw", json={"subject_id": subject}, headers=app_headers)
    assert_problem(again, 409, "consent-not-active")


def test_withdrawing_what_was_never_granted_is_a_clear_error(
    client: TestClient, app_headers: dict[str, str], notice_version: int, db: Database
) -> None:
    before = _event_count(db)
    unknown = client.post("/v1/consents/withdraw", json={"subject_id": new_subject()}, headers=app_headers)
    assert_problem(unknown, 404, "not-found")
    subject = new_subject()
    grant(client, app_headers, subject, notice_version, ["location_offers"])
    before = _event_count(db)
    partial = client.post(
        "/v1/consents/withdraw",
        json={"subject_id": subject, "purposes": ["location_offers", "offer_analytics"]},
        headers=app_headers,
    )
    body = assert_problem(partial, 409, "consent-not-active")
    assert body["purposes"] == ["offer_analytics"]
    assert _event_count(db) == before  # nothing written, not even the valid half
    assert _state(client, app_headers, subject)["location_offers"]["status"] == "active"


def test_decline_is_recorded_with_ask_again_after(
    client: TestClient, app_headers: dict[str, str], notice_version: int, clock: FakeClock
) -> None:
    clock.set(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    subject = new_subject()
    response = client.post(
        "/v1/consents/decline",
        json={
            "subject_id": subject,
            "notice_version": notice_version,
            "source": "onboarding",
            "locale": "de",
        },
        headers=app_headers,
    )
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["event"] == "decline"
    assert set(receipt["declined_purposes"]) == {"location_offers", "offer_analytics"}
    assert datetime.fromisoformat(receipt["ask_again_after"]) == clock() + timedelta(days=183)
    state = _state(client, app_headers, subject)
    assert state["location_offers"]["status"] == "declined"
    assert state["location_offers"]["ask_again_after"] == receipt["ask_again_after"]


def test_gpc_refuses_every_purpose_not_named(
    client: TestClient, app_headers: dict[str, str], notice_version: int, db: Database
) -> None:
    subject = new_subject()
    grant(client, app_headers, subject, notice_version)  # both granted earlier
    response = grant(client, app_headers, subject, notice_version, ["location_offers"], extra_headers={"Sec-GPC": "1"})
    assert response.status_code == 201
    receipt = response.json()
    assert receipt["gpc_seen"] is True
    assert receipt["purposes"] == ["location_offers"] and receipt["declined_purposes"] == ["offer_analytics"]
    state = _state(client, app_headers, subject)
    assert state["location_offers"]["status"] == "active"
    assert state["offer_analytics"]["status"] == "declined"
    with db.engine.connect() as conn:
        canonical = conn.execute(
            text("SELECT canonical FROM consent_events WHERE seq = :s"), {"s": receipt["ledger"]["seq"]}
        ).scalar_one()
    assert '"gpc":true' in canonical and '"declined":["offer_analytics"]' in canonical


def test_gpc_alone_is_never_consent(client: TestClient, app_headers: dict[str, str], notice_version: int) -> None:
    subject = new_subject()
    response = client.post(
        "/v1/consents/decline",
        json={"subject_id": subject, "notice_version": notice_version, "source": "browser", "locale": "de"},
        headers={**app_headers, "Sec-GPC": "1"},
    )
    assert response.json()["gpc_seen"] is True
    assert all(p["status"] != "active" for p in _state(client, app_headers, subject).values())


def test_consent_expires_on_read_and_the_job_records_it(
    client: TestClient,
    app_headers: dict[str, str],
    notice_version: int,
    clock: FakeClock,
    db: Database,
    settings: Settings,
) -> None:
    from consent import expiry

    clock.set(datetime(2026, 1, 1, tzinfo=UTC))
    subject = new_subject()
    grant(client, app_headers, subject, notice_version)
    clock.advance(timedelta(days=365, seconds=1))
    state = _state(client, app_headers, subject)
    assert state["location_offers"]["status"] == "expired" and state["location_offers"]["reason"] == "lifetime"
    pepper = settings.consent.pepper.get_secret_value()
    assert "location_offers" not in permissions(client, subject, clock())
    report = expiry.expire_due(db.sessions, clock())
    assert report.subjects >= 1 and report.events >= 1
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT status, end_reason FROM consent_state s JOIN subject_links l USING (tag) WHERE l.pseudonym = :p"
            ),
            {"p": pseudonym(pepper, subject)},
        ).all()
    assert {tuple(r) for r in rows} == {("expired", "lifetime")}
    assert expiry.expire_due(db.sessions, clock()).events == 0  # nothing left to do


def test_a_notice_needing_fresh_consent_expires_older_consents_for_its_purposes(
    fresh_database_url: str, clock: FakeClock
) -> None:
    from geo_offers.app import create_app
    from tests.helpers import Keys, make_settings

    settings = make_settings(fresh_database_url)
    db = Database(settings)
    keys = Keys(db)
    app_h, admin_h = keys.headers("app"), keys.headers("admin")
    with TestClient(create_app(settings, clock=clock, log=False)) as client:
        assert_problem(grant(client, app_h, new_subject(), 1), 409, "conflict")  # no notice yet
        assert client.post("/v1/notices", json=notice_body(), headers=admin_h).status_code == 201
        subject = new_subject()
        assert grant(client, app_h, subject, 1).status_code == 201
        published = client.post("/v1/notices", json=notice_body(fresh=["location_offers"]), headers=admin_h)
        assert published.status_code == 201 and published.json()["version"] == 2
        state = _state(client, app_h, subject)
        assert state["location_offers"]["status"] == "expired"
        assert state["location_offers"]["reason"] == "notice_changed"
        assert state["offer_analytics"]["status"] == "active"
        old = grant(client, app_h, new_subject(), 1)
        assert_problem(old, 409, "notice-outdated")
        assert old.json()["current_version"] == 2
        assert grant(client, app_h, subject, 2, ["location_offers"]).status_code == 201
        assert _state(client, app_h, subject)["location_offers"]["status"] == "active"
    db.dispose()


def test_published_notices_are_immutable(client: TestClient, notice_version: int, db: Database) -> None:
    import psycopg2
    import pytest

    for statement in (
        "UPDATE notices SET published_by = 'x'",
        "DELETE FROM notices",
        "TRUNCATE notices CASCADE",
    ):
        with pytest.raises(Exception) as info, db.engine.begin() as conn:
            conn.execute(text(statement))
        assert isinstance(info.value.orig, psycopg2.Error)  # type: ignore[attr-defined]


def test_notice_needs_the_core_purposes_and_consistent_locales(
    client: TestClient, admin_headers: dict[str, str], app_headers: dict[str, str]
) -> None:
    body = notice_body()
    body["purposes"] = body["purposes"][:1]
    assert_problem(client.post("/v1/notices", json=body, headers=admin_headers), 422, "invalid-input")
    body = notice_body()
    body["purposes"][0]["title"] = {"de": "nur deutsch"}
    assert_problem(client.post("/v1/notices", json=body, headers=admin_headers), 422, "invalid-input")
    assert_problem(client.post("/v1/notices", json=notice_body(), headers=app_headers), 403, "forbidden")
