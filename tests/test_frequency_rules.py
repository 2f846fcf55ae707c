"""Frequency rules: part of the deal, round-tripped through the deal routes to the match answer and the area
catalogue, enforced on the device; a rule asking the server to count per person is refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import FakeClock, assert_problem, deal_body, store_body, wait_until
from tests.test_match import Place, at_noon, merchant, subject  # noqa: F401 - fixtures

Headers = dict[str, str]
RULES = [
    {"kind": "max_shows", "count": 3, "days": 1},
    {"kind": "max_shows", "count": 10, "days": 7},
    {"kind": "redeem_cooldown", "days": 14},
    {"kind": "once_per_device", "event": "redeem", "enforced_by": "device"},
]
STORED = [{**rule, "enforced_by": "device"} for rule in RULES]


@pytest.fixture
def place(client: TestClient, merchant: Headers, app_headers: Headers) -> Place:  # noqa: F811
    return Place(client, merchant, app_headers)


@pytest.fixture
def store(client: TestClient, merchant: Headers) -> dict[str, Any]:  # noqa: F811
    response = client.post("/v1/stores", json=store_body(), headers=merchant)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_rules_round_trip_through_create_get_list_and_update(
    client: TestClient,
    merchant: Headers,  # noqa: F811
    store: dict[str, Any],
) -> None:
    created = client.post("/v1/deals", json=deal_body(store["id"], frequency_rules=RULES), headers=merchant)
    assert created.status_code == 201, created.text
    deal = created.json()
    assert deal["frequency_rules"] == STORED and deal["codes_left"] is None
    assert client.get(f"/v1/deals/{deal['id']}", headers=merchant).json()["frequency_rules"] == STORED
    listed = client.get("/v1/deals", headers=merchant).json()["items"]
    assert [d["frequency_rules"] for d in listed if d["id"] == deal["id"]] == [STORED]
    changed = client.patch(
        f"/v1/deals/{deal['id']}", json={"frequency_rules": [{"kind": "redeem_cooldown", "days": 2}]}, headers=merchant
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["frequency_rules"] == [{"kind": "redeem_cooldown", "days": 2, "enforced_by": "device"}]
    untouched = client.patch(f"/v1/deals/{deal['id']}", json={"title": "Neu"}, headers=merchant).json()
    assert untouched["frequency_rules"] == changed.json()["frequency_rules"]
    cleared = client.patch(f"/v1/deals/{deal['id']}", json={"frequency_rules": []}, headers=merchant)
    assert cleared.json()["frequency_rules"] == []
    plain = client.post("/v1/deals", json=deal_body(store["id"]), headers=merchant).json()
    assert plain["frequency_rules"] == []


def test_rules_reach_the_match_answer_and_the_area_catalogue(
    client: TestClient,
    place: Place,
    subject: str,  # noqa: F811
    app_headers: Headers,
    at_noon: FakeClock,  # noqa: F811
) -> None:
    ruled = place.publish(frequency_rules=RULES)
    plain = place.publish()
    offers = {offer["deal_id"]: offer for offer in place.match(subject)["offers"]}
    assert offers[ruled]["frequency_rules"] == STORED and offers[plain]["frequency_rules"] == []
    assert offers[ruled]["one_time_codes"] is False
    catalogue = client.get(f"/v1/offers/area/{place.area_cell(5)}", headers=app_headers).json()
    listed = {deal["deal_id"]: deal for deal in catalogue["deals"]}
    assert listed[ruled]["frequency_rules"] == STORED and listed[plain]["frequency_rules"] == []
    # A change of the rules alone (same clock, nothing else touched) reaches the index and the catalogue.
    once = [{"kind": "once_per_device", "event": "show"}]
    assert client.patch(f"/v1/deals/{ruled}", json={"frequency_rules": once}, headers=place.merchant).status_code == 200

    def shown() -> Any:
        return {o["deal_id"]: o["frequency_rules"] for o in place.match(subject)["offers"]}[ruled]

    wait_until(lambda: shown() == [{**once[0], "enforced_by": "device"}])
    again = client.get(f"/v1/offers/area/{place.area_cell(5)}", headers=app_headers).json()
    assert {d["deal_id"]: d["frequency_rules"] for d in again["deals"]}[ruled] == [{**once[0], "enforced_by": "device"}]


def test_a_rule_to_be_enforced_by_the_server_is_refused_and_changes_nothing(
    client: TestClient,
    merchant: Headers,  # noqa: F811
    store: dict[str, Any],
) -> None:
    per_person = [{"kind": "max_shows", "count": 1, "days": 1, "enforced_by": "server"}]
    refused = client.post("/v1/deals", json=deal_body(store["id"], frequency_rules=per_person), headers=merchant)
    problem = assert_problem(refused, 422, "per-person-cap-refused")
    assert "persistent identifier" in problem["detail"] and problem["rule"] == 0
    assert client.get("/v1/deals", headers=merchant).json()["items"] == []
    deal = client.post("/v1/deals", json=deal_body(store["id"], frequency_rules=RULES[:1]), headers=merchant).json()
    mixed = [RULES[2], {"kind": "once_per_device", "event": "redeem", "enforced_by": "server"}]
    patched = client.patch(f"/v1/deals/{deal['id']}", json={"frequency_rules": mixed}, headers=merchant)
    assert assert_problem(patched, 422, "per-person-cap-refused")["rule"] == 1
    assert client.get(f"/v1/deals/{deal['id']}", headers=merchant).json() == deal
    explained = client.get("/problems/per-person-cap-refused")
    assert explained.status_code == 200 and "persistent identifier" in explained.json()["explanation"]


@pytest.mark.parametrize(
    ("rules", "reason"),
    [
        ([{"kind": "max_per_person", "count": 1}], "kind"),
        ([{"kind": "max_shows", "count": 0, "days": 1}], "count"),
        ([{"kind": "max_shows", "count": 3, "days": 0}], "days"),
        ([{"kind": "max_shows", "count": "3", "days": 1}], "count"),
        ([{"kind": "max_shows", "count": 3}], "days"),
        ([{"kind": "redeem_cooldown", "days": 7, "per": "person"}], "per"),
        ([{"kind": "once_per_device"}], "event"),
        ([{"kind": "once_per_device", "event": "click"}], "event"),
        ([{"kind": "max_shows", "count": 3, "days": 1, "enforced_by": "cloud"}], "enforced_by"),
        ([{"kind": "redeem_cooldown", "days": 7}, {"kind": "redeem_cooldown", "days": 9}], "same as rule 0"),
        ([{"kind": "max_shows", "count": 2, "days": 1}, {"kind": "max_shows", "count": 5, "days": 1}], "same"),
        ([{"kind": "max_shows", "count": 1, "days": d} for d in range(1, 10)], "at most 8"),
        ({"kind": "redeem_cooldown", "days": 7}, "list"),
    ],
)
def test_bad_rules_are_422_and_say_why(
    client: TestClient,
    merchant: Headers,  # noqa: F811
    store: dict[str, Any],
    rules: Any,
    reason: str,
) -> None:
    response = client.post("/v1/deals", json=deal_body(store["id"], frequency_rules=rules), headers=merchant)
    assert reason in str(assert_problem(response, 422, "invalid-input"))
    assert client.get("/v1/deals", headers=merchant).json()["items"] == []


def test_rules_cannot_be_patched_to_null(
    client: TestClient,
    merchant_headers: Callable[..., Headers],
) -> None:
    headers = merchant_headers()
    store = client.post("/v1/stores", json=store_body(), headers=headers).json()
    deal = client.post("/v1/deals", json=deal_body(store["id"], frequency_rules=RULES), headers=headers).json()
    refused = client.patch(f"/v1/deals/{deal['id']}", json={"frequency_rules": None}, headers=headers)
    assert "frequency_rules" in assert_problem(refused, 422, "invalid-input")["detail"]
    assert client.get(f"/v1/deals/{deal['id']}", headers=headers).json()["frequency_rules"] == STORED
