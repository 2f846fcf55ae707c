"""Data-subject rights: the export of everything held about a subject, and erasure that unlinks the ledger."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import h3.api.basic_int as h3
import pytest
from fastapi.testclient import TestClient

from consent.pseudonyms import pseudonym
from tests.audit_env import Env, open_env
from tests.helpers import BERLIN, assert_problem, grant, new_subject, scan_database

CELL = format(h3.latlng_to_cell(BERLIN[1], BERLIN[0], 7), "x")


@pytest.fixture
def env(fresh_database_url: str) -> Iterator[Env]:
    with open_env(fresh_database_url) as environment:
        yield environment


def _export(env: Env, subject: str) -> dict[str, Any]:
    response = env.client.get(f"/v1/subjects/{subject}/export", headers=env.app)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _match(env: Env, subject: str) -> Any:
    return env.client.post("/v1/offers/match", json={"subject_id": subject, "cell": CELL}, headers=env.app)


def _status(env: Env, subject: str) -> dict[str, str]:
    state = env.client.get(f"/v1/consents/{subject}", headers=env.app).json()
    return {p["purpose"]: p["status"] for p in state["purposes"]}


def test_export_holds_the_state_and_every_event_of_the_subject(env: Env) -> None:
    subject, other = new_subject(), new_subject()
    grant(env.client, env.app, subject, env.version)
    grant(env.client, env.app, other, env.version)
    body = {"subject_id": subject, "purposes": ["offer_analytics"]}
    assert env.client.post("/v1/consents/withdraw", json=body, headers=env.app).status_code == 200
    held = _export(env, subject.upper())
    assert held["held"] is True and held["ledger_tag"]
    assert [(e["seq"], e["type"]) for e in held["events"]] == [(1, "grant"), (3, "withdraw")]
    assert all(e["document"]["tag"] == held["ledger_tag"] for e in held["events"])
    assert held["events"][0]["document"]["granted"] == ["location_offers", "offer_analytics"]
    assert len(held["events"][1]["hash"]) == 64 and held["events"][1]["prev_hash"] != held["events"][0]["hash"]
    states = {p["purpose"]: p for p in held["state"]["purposes"]}
    assert states["location_offers"]["status"] == "active" and states["location_offers"]["precision_res"] == 7
    assert states["offer_analytics"]["status"] == "withdrawn"
    assert held["not_held"]
    nobody = _export(env, new_subject())
    assert nobody["held"] is False and nobody["events"] == [] and nobody["ledger_tag"] is None
    assert {p["status"] for p in nobody["state"]["purposes"]} == {"none"}


def test_erasure_unlinks_the_subject_and_a_new_grant_starts_a_new_history(env: Env) -> None:
    subject, other = new_subject(), new_subject()
    grant(env.client, env.app, subject, env.version)
    grant(env.client, env.app, other, env.version)
    assert _match(env, subject).status_code == 200
    tag = _export(env, subject)["ledger_tag"]
    alias = pseudonym(env.settings.consent.pepper.get_secret_value(), subject).hex()

    erased = env.client.delete(f"/v1/subjects/{subject}", headers=env.app)
    assert erased.status_code == 200, erased.text
    receipt = erased.json()
    assert receipt["erased"] and receipt["purposes"] == ["location_offers", "offer_analytics"]
    assert receipt["ledger"]["seq"] == 3

    assert_problem(_match(env, subject), 403, "consent-required")
    assert set(_status(env, subject).values()) == {"none"}
    assert _export(env, subject)["held"] is False
    assert scan_database(env.url, [subject, alias]) == []
    assert {(table, column) for table, column, _ in scan_database(env.url, [tag])} == {
        ("consent_events", "tag"),
        ("consent_events", "canonical"),
    }
    officer = env.dpo
    by_subject = env.client.get("/v1/audit/consent-events", params={"subject": subject}, headers=officer).json()
    assert by_subject["items"] == []
    erasures = env.client.get("/v1/audit/consent-events", params={"type": "erase"}, headers=officer).json()["items"]
    assert [(e["seq"], e["tag"], e["document"]["reason"]) for e in erasures] == [(3, tag, "subject_request")]
    assert erasures[0]["decision_id"] == receipt["erasure_id"]
    verified = env.client.get("/v1/audit/ledger/verify", headers=officer).json()
    assert verified["ok"] and verified["events_checked"] == 3

    assert grant(env.client, env.app, subject, env.version).status_code == 201
    fresh = _export(env, subject)
    assert fresh["ledger_tag"] != tag and [e["type"] for e in fresh["events"]] == ["grant"]
    assert _match(env, subject).status_code == 200
    assert _export(env, other)["held"] is True and _match(env, other).status_code == 200
    assert env.client.get("/v1/audit/ledger/verify", headers=officer).json()["ok"]


def test_erasing_a_subject_that_is_not_held_is_404_and_writes_nothing(env: Env) -> None:
    subject = new_subject()
    grant(env.client, env.app, subject, env.version)
    assert env.client.delete(f"/v1/subjects/{subject}", headers=env.app).status_code == 200
    assert_problem(env.client.delete(f"/v1/subjects/{subject}", headers=env.app), 404, "not-found")
    assert_problem(env.client.delete(f"/v1/subjects/{new_subject()}", headers=env.app), 404, "not-found")
    events = env.client.get("/v1/audit/consent-events", headers=env.dpo).json()["items"]
    assert [e["type"] for e in events] == ["grant", "erase"]


def test_a_subject_with_a_new_history_can_be_erased_again(env: Env) -> None:
    subject = new_subject()
    grant(env.client, env.app, subject, env.version)
    assert env.client.delete(f"/v1/subjects/{subject}", headers=env.app).status_code == 200
    assert grant(env.client, env.app, subject, env.version).status_code == 201
    assert env.client.delete(f"/v1/subjects/{subject}", headers=env.app).json()["purposes"] == [
        "location_offers",
        "offer_analytics",
    ]


@pytest.mark.parametrize("method", ["get", "delete"])
def test_subject_routes_need_an_app_key(
    client: TestClient,
    method: str,
    dpo_headers: dict[str, str],
    admin_headers: dict[str, str],
    merchant_headers: Callable[[], dict[str, str]],
) -> None:
    subject = new_subject()
    url = f"/v1/subjects/{subject}/export" if method == "get" else f"/v1/subjects/{subject}"
    for headers in (dpo_headers, admin_headers, merchant_headers()):
        assert_problem(client.request(method, url, headers=headers), 403, "forbidden")
    assert_problem(client.request(method, url), 401, "unauthorized")


@pytest.mark.parametrize("subject", ["someone@example.com", "+4917012345678", "00000000-0000-0000-0000-000000000000"])
def test_subject_ids_other_than_installation_ids_are_refused(
    client: TestClient, app_headers: dict[str, str], subject: str
) -> None:
    assert_problem(client.get(f"/v1/subjects/{subject}/export", headers=app_headers), 422, "invalid-input")
    assert_problem(client.delete(f"/v1/subjects/{subject}", headers=app_headers), 422, "invalid-input")
