"""Offer events: counted only with the person's own analytics consent, once an hour, and only on live deals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from geo_offers.kit.database import Database
from tests.helpers import FakeClock, assert_problem, deal_body, new_subject, wait_until
from tests.insights.support import MONDAY_NOON_BERLIN, Headers, Shop, counter_rows, flush

HOUR = datetime(2026, 6, 1, 10, tzinfo=UTC)  # the UTC hour of MONDAY_NOON_BERLIN


def post(client: TestClient, headers: Headers, deal_id: int, body: dict[str, Any]) -> Any:
    return client.post(f"/v1/offers/{deal_id}/events", json=body, headers=headers)


def redemptions(db: Database, deal_id: int) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text("SELECT redemptions FROM deals WHERE id = :d"), {"d": deal_id}).scalar_one())


def test_an_event_is_counted_only_with_the_persons_own_analytics_consent(
    client: TestClient, shop: Shop, app_headers: Headers, db: Database, clock: FakeClock
) -> None:
    deal_id = shop.publish()
    clock.set(MONDAY_NOON_BERLIN)
    consenting = shop.subject()
    location_only = shop.subject(purposes=["location_offers"])
    stranger = new_subject()  # never asked: no consent at all
    assert shop.event(consenting, deal_id, "click")["counted"] is True
    assert shop.event(location_only, deal_id, "click")["counted"] is False
    assert shop.event(stranger, deal_id, "impression")["counted"] is False
    # Withdrawal counts from the very next request.
    withdrawer = shop.subject()
    assert shop.event(withdrawer, deal_id, "impression")["counted"] is True
    withdraw = {"subject_id": withdrawer, "purposes": ["offer_analytics"]}
    assert client.post("/v1/consents/withdraw", json=withdraw, headers=app_headers).status_code == 200
    assert shop.event(withdrawer, deal_id, "click")["counted"] is False
    flush(client)
    assert counter_rows(db, deal_id) == [(HOUR, "click", 1), (HOUR, "impression", 1)]


def test_an_event_names_its_subject_and_the_app_cannot_declare_consent(
    client: TestClient, shop: Shop, app_headers: Headers
) -> None:
    deal_id = shop.publish()
    missing = assert_problem(post(client, app_headers, deal_id, {"type": "click"}), 422, "invalid-input")
    assert ["body", "subject_id"] in [e["loc"] for e in missing["errors"]]
    declared = {"subject_id": new_subject(), "type": "click", "offer_analytics": True}
    unknown = assert_problem(post(client, app_headers, deal_id, declared), 422, "invalid-input")
    assert ["body", "offer_analytics"] in [e["loc"] for e in unknown["errors"]]
    not_an_id = {"subject_id": "someone@example.org", "type": "click"}
    assert_problem(post(client, app_headers, deal_id, not_an_id), 422, "invalid-input")
    body = {"subject_id": new_subject(), "type": "view"}
    assert_problem(post(client, app_headers, deal_id, body), 422, "invalid-input")
    body = {"subject_id": new_subject(), "type": "click"}
    assert_problem(post(client, app_headers, 999_999_999, body), 404, "not-found")
    assert_problem(post(client, shop.headers, deal_id, body), 403, "forbidden")


def test_a_person_who_clicks_fifty_times_in_an_hour_counts_once(
    client: TestClient, shop: Shop, db: Database, clock: FakeClock
) -> None:
    deal_id = shop.publish()
    person = shop.subject()
    clock.set(MONDAY_NOON_BERLIN)
    answers = [shop.event(person, deal_id, "click") for _ in range(50)]
    assert all(answer["counted"] for answer in answers)  # the person is in this hour's figure, once
    flush(client)
    assert counter_rows(db, deal_id) == [(HOUR, "click", 1)]
    clock.set(MONDAY_NOON_BERLIN + timedelta(hours=1))  # a new hour: counted again, once
    for _ in range(5):
        shop.event(person, deal_id, "click")
    flush(client)
    assert counter_rows(db, deal_id) == [(HOUR, "click", 1), (HOUR + timedelta(hours=1), "click", 1)]


def _deal(shop: Shop, **overrides: Any) -> int:
    response = shop.client.post("/v1/deals", json=deal_body(shop.store_id, **overrides), headers=shop.headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"status": "draft"}, "not-active"),
        ({"status": "paused"}, "not-active"),
        ({"status": "ended"}, "not-active"),
        ({"valid_from": "2026-06-02T00:00:00+02:00"}, "not-valid-now"),  # tomorrow
        ({"valid_until": "2026-06-01T11:00:00+02:00"}, "not-valid-now"),  # an hour ago
    ],
)
@pytest.mark.parametrize("kind", ["impression", "click", "redeem"])
def test_events_on_a_deal_that_is_not_live_are_refused_and_not_counted(
    client: TestClient,
    shop: Shop,
    app_headers: Headers,
    db: Database,
    clock: FakeClock,
    overrides: dict[str, Any],
    reason: str,
    kind: str,
) -> None:
    clock.set(MONDAY_NOON_BERLIN)
    deal_id = _deal(shop, max_redemptions=5, **overrides)
    person = shop.subject()
    problem = assert_problem(
        post(client, app_headers, deal_id, {"subject_id": person, "type": kind}), 409, "deal-not-live"
    )
    assert problem["reason"] == reason
    flush(client)
    assert counter_rows(db, deal_id) == []
    assert redemptions(db, deal_id) == 0
    doc = client.get(problem["type"])
    assert doc.status_code == 200 and "outside-windows" in doc.json()["explanation"]


def test_a_redeem_outside_the_weekly_windows_is_refused_in_the_store_time_zone(
    client: TestClient, shop: Shop, app_headers: Headers, db: Database, clock: FakeClock
) -> None:
    deal_id = shop.publish(windows=[{"days": ["mon"], "start": "09:00", "end": "11:00"}])
    person = shop.subject()
    clock.set(MONDAY_NOON_BERLIN)  # 12:00 in Berlin, 10:00 UTC: inside the window were it UTC, outside locally
    body = {"subject_id": person, "type": "redeem"}
    problem = assert_problem(post(client, app_headers, deal_id, body), 409, "deal-not-live")
    assert problem["reason"] == "outside-windows" and problem["timezone"] == "Europe/Berlin"
    assert redemptions(db, deal_id) == 0
    assert shop.event(person, deal_id, "click")["counted"] is True  # seen and clicked in the app: still counted
    clock.set(MONDAY_NOON_BERLIN - timedelta(hours=2))  # 10:00 in Berlin
    assert shop.event(person, deal_id, "redeem")["redemptions"] == 1
    flush(client)
    assert counter_rows(db, deal_id) == [(HOUR - timedelta(hours=2), "redeem", 1), (HOUR, "click", 1)]


def test_a_redeem_without_analytics_consent_uses_the_quota_but_is_not_counted(
    client: TestClient, shop: Shop, app_headers: Headers, db: Database, clock: FakeClock
) -> None:
    deal_id = shop.publish(max_redemptions=2)
    unlimited = shop.publish()
    counted, uncounted = shop.subject(), shop.subject(purposes=["location_offers"])
    clock.set(MONDAY_NOON_BERLIN)
    first = shop.event(counted, deal_id, "redeem")
    assert (first["redemptions"], first["max_redemptions"], first["counted"]) == (1, 2, True)
    assert deal_id in shop.match(counted)  # one left: still matched
    second = shop.event(uncounted, deal_id, "redeem")
    assert (second["redemptions"], second["counted"]) == (2, False)
    used_up = post(client, app_headers, deal_id, {"subject_id": counted, "type": "redeem"})
    problem = assert_problem(used_up, 409, "conflict")
    assert problem["reason"] == "quota-used-up" and "used up" in problem["detail"]
    wait_until(lambda: shop.match(counted) == [unlimited])
    flush(client)
    redeemed = [row for row in counter_rows(db, deal_id) if row[1] == "redeem"]
    assert redeemed == [(HOUR, "redeem", 1)]  # the second was not counted
    assert redemptions(db, deal_id) == 2
