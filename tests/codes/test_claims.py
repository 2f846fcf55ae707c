"""Claiming codes: one code per claim, never the same twice (also under many concurrent claimers), a used-up
pool out of the index like a used-up quota, rate limits per key and per deal, and no person anywhere."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from geo_offers.codes import format as codes
from geo_offers.kit.database import Database
from tests.codes.conftest import Shop, indexed
from tests.helpers import Keys, assert_problem, new_subject, wait_until

Headers = dict[str, str]


def code_rows(db: Database, deal_id: int) -> list[Any]:
    with db.engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT id, sealed, claimed_at, used_at FROM deal_codes WHERE deal_id = :d ORDER BY id"),
                {"d": deal_id},
            )
        )


def codes_left(db: Database, deal_id: int) -> int | None:
    with db.engine.connect() as conn:
        left: int | None = conn.execute(text("SELECT codes_left FROM deals WHERE id = :d"), {"d": deal_id}).scalar()
        return left


def test_a_claim_hands_out_a_generated_code_with_a_qr_ready_payload(shop: Shop, db: Database) -> None:
    deal_id = shop.publish(valid_until="2026-12-31T23:00:00+01:00")
    pool = shop.generate(deal_id, 3)
    assert pool["added"] == 3 and pool["available"] == 3 and pool["source"] == "generate"
    assert (pool["alphabet"], pool["length"], pool["random_bits"]) == (codes.DEFAULT_ALPHABET, 10, 44.6)
    claimed = shop.claimed(deal_id)
    code = claimed["code"]
    assert len(code) == 10 and set(code) <= set(codes.DEFAULT_ALPHABET)
    assert codes.check_holds(code, codes.DEFAULT_ALPHABET)
    assert claimed["payload"] == f"GEO-OFFERS:CODE:{deal_id}:{code}"
    assert claimed["expires_at"] == "2026-12-31T22:00:00Z" and claimed["deal_id"] == deal_id
    assert shop.pool(deal_id) | {"added": None} == pool | {"available": 2, "claimed": 1, "added": None}
    rows = code_rows(db, deal_id)
    claimed_rows = [row for row in rows if row.claimed_at is not None]
    assert len(claimed_rows) == 1 and claimed_rows[0].sealed is None  # a handed-out code keeps no copy
    assert claimed_rows[0].claimed_at.minute == 0 and claimed_rows[0].claimed_at.second == 0
    assert codes_left(db, deal_id) == 2
    deal = shop.client.get(f"/v1/deals/{deal_id}", headers=shop.headers).json()
    assert deal["codes_left"] == 2


def test_concurrent_claimers_never_get_the_same_code(shop: Shop, db: Database) -> None:
    deal_id = shop.publish()
    shop.generate(deal_id, 25)
    with ThreadPoolExecutor(max_workers=16) as claimers:
        answers = list(claimers.map(lambda _: shop.claim(deal_id), range(40)))
    handed = [answer.json()["code"] for answer in answers if answer.status_code == 201]
    refused = [answer for answer in answers if answer.status_code != 201]
    assert len(handed) == 25 and len(set(handed)) == 25
    assert len(refused) == 15
    for answer in refused:
        assert_problem(answer, 409, "codes-used-up")
    rows = code_rows(db, deal_id)
    assert len(rows) == 25 and all(row.claimed_at is not None and row.sealed is None for row in rows)
    assert codes_left(db, deal_id) == 0
    # Every code handed out is one of the pool's, and each is marked exactly once at the till.
    for code in handed:
        assert shop.mark(code).status_code == 200
    assert shop.pool(deal_id)["used"] == 25


def test_a_used_up_pool_takes_the_deal_out_of_the_index_and_new_codes_bring_it_back(
    shop: Shop, client: TestClient, app_headers: Headers
) -> None:
    deal_id = shop.publish()
    shop.generate(deal_id, 2)
    wait_until(lambda: indexed(client, deal_id))
    area = format(h3_parent(shop), "x")

    def in_catalogue() -> bool:
        deals = client.get(f"/v1/offers/area/{area}", headers=app_headers).json()["deals"]
        return any(d["deal_id"] == deal_id and d["one_time_codes"] for d in deals)

    assert in_catalogue()
    shop.claimed(deal_id)
    assert indexed(client, deal_id)  # one left: still matched
    shop.claimed(deal_id)
    wait_until(lambda: not indexed(client, deal_id))
    assert not in_catalogue()
    assert_problem(shop.claim(deal_id), 409, "codes-used-up")
    shop.generate(deal_id, 1)
    wait_until(lambda: indexed(client, deal_id))
    assert in_catalogue() and shop.claim(deal_id).status_code == 201


def h3_parent(shop: Shop) -> int:
    import h3.api.basic_int as h3

    return int(h3.cell_to_parent(h3.latlng_to_cell(shop.lat, shop.lon, 8), 5))


def test_a_pool_reaches_the_match_answer_as_one_time_codes(
    shop: Shop, client: TestClient, app_headers: Headers, notice_version: int
) -> None:
    import h3.api.basic_int as h3

    from tests.helpers import grant

    subject = new_subject()
    assert grant(client, app_headers, subject, notice_version, precision_res=8).status_code == 201
    deal_id = shop.publish(windows=[])
    body = {"subject_id": subject, "cell": format(h3.latlng_to_cell(shop.lat, shop.lon, 8), "x")}

    def flag() -> Any:
        offers = client.post("/v1/offers/match", json=body, headers=app_headers).json()["offers"]
        return {o["deal_id"]: o["one_time_codes"] for o in offers}.get(deal_id)

    assert flag() is False
    shop.generate(deal_id, 5)
    wait_until(lambda: flag() is True)


def test_claims_of_deals_that_are_not_live_or_have_no_codes_are_refused(shop: Shop, db: Database) -> None:
    assert_problem(shop.claim(999_999_999), 404, "not-found")
    plain = shop.publish()
    assert assert_problem(shop.claim(plain), 409, "conflict")["reason"] == "no-codes"
    paused = shop.publish()
    shop.generate(paused, 2)
    shop.client.patch(f"/v1/deals/{paused}", json={"status": "paused"}, headers=shop.headers)
    assert assert_problem(shop.claim(paused), 409, "conflict")["reason"] == "not-active"
    later = shop.publish(valid_from="2026-09-01T00:00:00+02:00")
    shop.generate(later, 2)
    assert assert_problem(shop.claim(later), 409, "conflict")["reason"] == "not-valid-now"
    assert shop.pool(paused)["available"] == 2 and shop.pool(later)["available"] == 2
    assert codes_left(db, paused) == 2


def test_a_claim_names_no_person(shop: Shop, keys: Keys, db: Database) -> None:
    deal_id = shop.publish()
    shop.generate(deal_id, 2)
    with_subject = shop.claim(deal_id, json={"subject_id": new_subject()})
    assert "subject_id" in str(assert_problem(with_subject, 422, "invalid-input"))
    assert shop.claim(deal_id, json={}).status_code == 201
    assert_problem(shop.claim(deal_id, headers=shop.headers), 403, "forbidden")
    assert_problem(shop.claim(deal_id, headers={}), 401, "unauthorized")
    # What is kept of a code: its deal, its merchant, a digest, a sealed copy until claimed, two whole hours.
    with db.engine.connect() as conn:
        columns = conn.execute(
            text("SELECT column_name FROM information_schema.columns WHERE table_name = 'deal_codes' ORDER BY 1")
        ).scalars()
        assert list(columns) == ["claimed_at", "code_hash", "deal_id", "id", "merchant_id", "sealed", "used_at"]
    assert shop.pool(deal_id)["claimed"] == 1


def test_a_claim_that_leaves_codes_over_wakes_no_index(shop: Shop, client: TestClient) -> None:
    feed = client.app.state.services.feed  # type: ignore[attr-defined]
    deal_id = shop.publish()
    shop.generate(deal_id, 3)
    # Notifications arrive in commit order: once a later deal is in the index, every earlier change is applied.
    first = shop.publish()
    wait_until(lambda: indexed(client, first))
    before = feed.applied
    shop.claimed(deal_id)
    second = shop.publish()
    wait_until(lambda: indexed(client, second))
    assert feed.applied == before + 1  # the second deal's, none of the claim's
