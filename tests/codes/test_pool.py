"""A deal's pool as its store fills and withdraws it: uploads and generated codes, all or nothing, one kind per
pool, tenant isolation, voiding when the deal's validity is over, and no code ever kept in plain text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from geo_offers.codes import repository
from geo_offers.kit.database import Database
from tests.codes.conftest import Shop, indexed
from tests.codes.test_claims import code_rows, codes_left
from tests.helpers import FakeClock, Keys, assert_problem, scan_database, wait_until


def test_uploaded_codes_are_handed_out_as_uploaded(shop: Shop) -> None:
    deal_id = shop.publish()
    uploaded = ["Sommer-0001", "Sommer-0002", "Sommer-0003"]
    added = shop.add(deal_id, codes=uploaded)
    assert added.status_code == 201, added.text
    assert added.json() | {"deal_id": 0} == {
        "deal_id": 0,
        "source": "upload",
        "alphabet": None,
        "length": None,
        "random_bits": None,
        "added": 3,
        "available": 3,
        "claimed": 0,
        "used": 0,
        "void": 0,
    }
    handed = [shop.claimed(deal_id) for _ in uploaded]
    assert [c["code"] for c in handed] == uploaded  # in upload order, exactly as given
    assert handed[0]["payload"] == f"GEO-OFFERS:CODE:{deal_id}:SOMMER0001"
    assert shop.mark(handed[1]["payload"]).status_code == 200
    assert shop.mark("sommer 0003").status_code == 200


def test_an_upload_repeating_a_code_of_yours_adds_nothing(shop: Shop) -> None:
    first, second = shop.publish(), shop.publish()
    assert shop.add(first, codes=["ABCD-1111", "ABCD-2222"]).status_code == 201
    repeated = shop.add(second, codes=["ABCD-3333", "abcd 2222", "ABCD-4444"])
    problem = assert_problem(repeated, 409, "conflict")
    assert problem["reason"] == "duplicate-codes" and problem["positions"] == [1] and "codes[1]" in problem["detail"]
    assert_problem(shop.client.get(f"/v1/deals/{second}/codes", headers=shop.headers), 404, "not-found")
    within = shop.add(second, codes=["ABCD-5555", "abcd5555"])
    assert "repeats codes[0]" in str(assert_problem(within, 422, "invalid-input"))
    assert shop.pool(first)["available"] == 2


def test_another_merchant_may_use_the_same_code_text(shop: Shop, keys: Keys, client: TestClient) -> None:
    rival = Shop(client, keys, shop.app)
    mine, theirs = shop.publish(), rival.publish()
    assert shop.add(mine, codes=["WELCOME-42"]).status_code == 201
    assert rival.add(theirs, codes=["WELCOME-42"]).status_code == 201
    assert shop.claimed(theirs)["code"] == "WELCOME-42"
    assert_problem(shop.mark("WELCOME-42"), 409, "code-not-claimed")  # mine was never handed out
    assert rival.mark("WELCOME-42").status_code == 200


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({}, "exactly one"),
        ({"codes": ["AB12"], "generate": {"count": 1}}, "exactly one"),
        ({"codes": []}, "codes"),
        ({"codes": ["AB"]}, "4 to 64"),
        ({"codes": ["ABC;1234"]}, "letters, digits"),
        ({"codes": ["ÄBCD1234"]}, "letters, digits"),
        ({"generate": {"count": 0}}, "count"),
        ({"generate": {"count": 100_001}}, "count"),
        ({"generate": {"count": 5, "alphabet": "0123456789", "length": 8}}, "bits"),
        ({"generate": {"count": 5, "alphabet": "0O123456789ABCDEFGHJKMNPQRSTUVWXYZ"}}, "confuse"),
        ({"generate": {"count": 5, "length": 33}}, "length"),
        ({"generate": {"count": "5"}}, "count"),
    ],
)
def test_bad_pool_input_is_422_and_adds_nothing(shop: Shop, body: dict[str, Any], reason: str) -> None:
    deal_id = shop.publish()
    assert reason in str(assert_problem(shop.add(deal_id, **body), 422, "invalid-input"))
    assert_problem(shop.client.get(f"/v1/deals/{deal_id}/codes", headers=shop.headers), 404, "not-found")


def test_a_pool_holds_one_kind_and_one_form(shop: Shop) -> None:
    uploaded, generated = shop.publish(), shop.publish()
    assert shop.add(uploaded, codes=["ABCD-1234"]).status_code == 201
    assert assert_problem(shop.add(uploaded, generate={"count": 1}), 409, "conflict")["reason"] == "other-source"
    numeric = shop.generate(generated, 3, alphabet="9876543210", length=14)
    assert (numeric["alphabet"], numeric["length"], numeric["random_bits"]) == ("0123456789", 14, 43.2)
    assert assert_problem(shop.add(generated, codes=["ABCD-9999"]), 409, "conflict")["reason"] == "other-source"
    other_form = shop.add(generated, generate={"count": 1, "length": 15})
    assert assert_problem(other_form, 409, "conflict")["reason"] == "other-form"
    assert shop.generate(generated, 2)["available"] == 5  # alphabet and length left out: the pool's own
    code = shop.claimed(generated)["code"]
    assert len(code) == 14 and code.isdigit()


def test_the_pool_routes_of_another_merchants_deal_answer_404(shop: Shop, keys: Keys, client: TestClient) -> None:
    deal_id = shop.publish()
    shop.generate(deal_id, 2)
    rival = Shop(client, keys, shop.app)
    url = f"/v1/deals/{deal_id}/codes"
    for response in (
        client.get(url, headers=rival.headers),
        client.post(url, json={"generate": {"count": 5}}, headers=rival.headers),
        client.post(url, json={"codes": ["RIVAL-0001"]}, headers=rival.headers),
        client.delete(url, headers=rival.headers),
    ):
        assert_problem(response, 404, "not-found")
    assert shop.pool(deal_id)["available"] == 2
    assert_problem(client.get(url, headers=shop.app), 403, "forbidden")


def test_withdrawn_codes_are_void_and_claimed_ones_stay_good(shop: Shop, client: TestClient, db: Database) -> None:
    deal_id = shop.publish()
    shop.generate(deal_id, 4)
    claimed = shop.claimed(deal_id)["code"]
    withdrawn = client.delete(f"/v1/deals/{deal_id}/codes", headers=shop.headers)
    assert withdrawn.status_code == 200, withdrawn.text
    assert (withdrawn.json()["available"], withdrawn.json()["claimed"], withdrawn.json()["void"]) == (0, 1, 3)
    assert all(row.sealed is None for row in code_rows(db, deal_id))
    wait_until(lambda: not indexed(client, deal_id))
    assert_problem(shop.claim(deal_id), 409, "codes-used-up")
    assert shop.mark(claimed).status_code == 200
    shop.generate(deal_id, 1)
    wait_until(lambda: indexed(client, deal_id))


def test_codes_of_a_deal_past_its_validity_are_voided_and_none_can_be_added(
    shop: Shop, db: Database, clock: FakeClock
) -> None:
    ending = shop.publish(valid_until="2026-06-06T00:00:00+02:00")
    lasting = shop.publish()
    for deal_id in (ending, lasting):
        shop.generate(deal_id, 3)
    shop.claimed(ending)
    with db.transaction() as session:
        assert repository.void_ended(session, datetime(2026, 6, 5, 12, tzinfo=UTC)) == 0
    with db.transaction() as session:
        assert repository.void_ended(session, datetime(2026, 6, 6, 12, tzinfo=UTC)) >= 2
    assert shop.pool(ending) | {"added": None} == shop.pool(ending) | {"available": 0, "claimed": 1, "void": 2}
    assert codes_left(db, ending) == 0 and codes_left(db, lasting) == 3
    assert sum(row.sealed is not None for row in code_rows(db, ending)) == 0
    clock.advance(timedelta(days=2))
    assert assert_problem(shop.add(ending, generate={"count": 1}), 409, "conflict")["reason"] == "deal-ended"


def test_no_code_is_kept_in_plain_text(shop: Shop, database_url: str) -> None:
    deal_id = shop.publish()
    uploaded = ["PLAIN-TEXT-NEVER-1", "PLAIN-TEXT-NEVER-2"]
    assert shop.add(deal_id, codes=uploaded).status_code == 201
    other = shop.publish()
    shop.generate(other, 2)
    handed = [shop.claimed(other)["code"], shop.claimed(deal_id)["code"]]
    assert shop.mark(handed[1]).status_code == 200
    needles = [*uploaded, *(code.replace("-", "") for code in uploaded), *handed]
    assert scan_database(database_url, needles) == []
