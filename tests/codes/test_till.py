"""The till: a claimed code is checked and marked once, typed or scanned; every other case is a clear problem,
and another merchant's code is simply not found."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from fastapi.testclient import TestClient

from geo_offers.codes import format as codes
from tests.codes.conftest import Shop
from tests.helpers import FakeClock, Keys, assert_problem

Headers = dict[str, str]


def test_a_claimed_code_is_marked_once_whether_scanned_or_typed(shop: Shop) -> None:
    deal_id = shop.publish(title="Zweiter Kaffee gratis")
    shop.generate(deal_id, 2)
    claimed = shop.claimed(deal_id)
    marked = shop.mark(claimed["payload"])
    assert marked.status_code == 200, marked.text
    assert marked.json() == {
        "deal_id": deal_id,
        "store_id": shop.store_id,
        "title": "Zweiter Kaffee gratis",
        "used_at": "2026-06-05T10:00:00Z",
    }
    code = claimed["code"]
    typed = f"{code[:4].lower()}-{code[4:8]} {code[8:]}"
    again = assert_problem(shop.mark(typed), 409, "code-already-used")
    assert again["deal_id"] == deal_id and again["used_at"].startswith("2026-06-05T10:00:00")
    second = shop.claimed(deal_id)["code"]
    assert shop.mark(second.lower()).status_code == 200
    assert shop.pool(deal_id) | {"added": None} == {
        "deal_id": deal_id,
        "source": "generate",
        "alphabet": codes.DEFAULT_ALPHABET,
        "length": 10,
        "random_bits": 44.6,
        "added": None,
        "available": 0,
        "claimed": 0,
        "used": 2,
        "void": 0,
    }


def test_two_tills_marking_the_same_code_at_once_mark_it_once(shop: Shop) -> None:
    deal_id = shop.publish()
    shop.generate(deal_id, 1)
    code = shop.claimed(deal_id)["code"]
    with ThreadPoolExecutor(max_workers=8) as tills:
        answers = list(tills.map(lambda _: shop.mark(code), range(8)))
    assert sorted(answer.status_code for answer in answers) == [200] + [409] * 7
    for answer in answers:
        if answer.status_code == 409:
            assert_problem(answer, 409, "code-already-used")


def test_another_merchants_code_is_not_found_and_stays_good(shop: Shop, keys: Keys, client: TestClient) -> None:
    deal_id = shop.publish()
    shop.generate(deal_id, 1)
    claimed = shop.claimed(deal_id)
    rival = Shop(client, keys, shop.app)
    for attempt in (claimed["code"], claimed["payload"]):
        problem = assert_problem(shop.mark(attempt, headers=rival.headers), 404, "not-found")
        assert str(deal_id) not in problem["detail"]
    assert_problem(shop.mark(claimed["code"], headers=shop.app), 403, "forbidden")
    assert shop.mark(claimed["code"]).status_code == 200


def test_a_code_never_handed_out_cannot_be_redeemed(shop: Shop) -> None:
    deal_id = shop.publish()
    shop.add(deal_id, codes=["SOMMER-0001", "SOMMER-0002"])
    problem = assert_problem(shop.mark("sommer-0002"), 409, "code-not-claimed")
    assert problem["deal_id"] == deal_id
    assert shop.pool(deal_id)["available"] == 2


def test_a_mistyped_generated_code_is_told_apart_from_an_unknown_one(shop: Shop) -> None:
    deal_id = shop.publish()
    shop.generate(deal_id, 1)
    code = shop.claimed(deal_id)["code"]
    wrong = ("3" if code[3] != "3" else "4").join((code[:3], code[4:]))
    assert_problem(shop.mark(wrong), 422, "code-mistyped")
    fitting = codes.generate(codes.DEFAULT_ALPHABET, 10)  # passes the check, but was never issued
    assert_problem(shop.mark(fitting), 404, "not-found")
    assert_problem(shop.mark("NOT-ONE-OF-OURS"), 404, "not-found")
    assert shop.mark(code).status_code == 200


def test_a_payload_naming_another_deal_is_not_found(shop: Shop) -> None:
    deal_id = shop.publish()
    other = shop.publish()
    shop.generate(deal_id, 1)
    code = shop.claimed(deal_id)["code"]
    assert_problem(shop.mark(codes.payload(other, code)), 404, "not-found")
    assert shop.mark(codes.payload(deal_id, code)).status_code == 200


def test_a_code_of_an_ended_deal_is_refused_as_expired(shop: Shop, clock: FakeClock) -> None:
    deal_id = shop.publish(valid_until="2026-06-05T14:00:00+02:00")
    shop.generate(deal_id, 1)
    claimed = shop.claimed(deal_id)
    assert claimed["expires_at"] == "2026-06-05T12:00:00Z"
    clock.advance(timedelta(hours=3))
    problem = assert_problem(shop.mark(claimed["code"]), 409, "code-expired")
    assert problem["valid_until"].startswith("2026-06-05T12:00:00")


def test_bad_till_input_is_422(shop: Shop) -> None:
    for bad in ("", "ab", "GEO-OFFERS:CODE:1:", "x" * 121, "ÄÖÜ-1234"):
        assert_problem(shop.mark(bad), 422, "invalid-input")
    response = shop.client.post("/v1/redemptions", json={"code": "ABCD1234", "deal_id": 1}, headers=shop.headers)
    assert_problem(response, 422, "invalid-input")
