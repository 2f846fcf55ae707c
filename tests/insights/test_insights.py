"""Anonymous insights: what is counted (and what never), k-suppression, noise, tenancy, events, retention."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import h3.api.basic_int as h3
import psycopg2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from geo_offers.app import create_app
from geo_offers.cli import main
from geo_offers.insights import retention
from geo_offers.insights.counter import activity_cell, week_slot
from geo_offers.kit.database import Database
from geo_offers.settings import Settings
from tests.helpers import (
    FakeClock,
    Keys,
    assert_problem,
    make_settings,
    new_subject,
    notice_body,
    scan_database,
    somewhere,
)
from tests.insights.support import (
    MONDAY_NOON_BERLIN,
    NEXT_TUESDAY,
    K,
    Shop,
    counter_rows,
    day_figure,
    flush,
    services,
)

Headers = dict[str, str]


# --- what is counted -------------------------------------------------------------------------------------------


def test_a_match_counts_each_deal_in_its_hour_and_the_request_in_its_res6_cell(
    client: TestClient, shop: Shop, db: Database, clock: FakeClock
) -> None:
    first, second = shop.publish(), shop.publish()
    subject, other = shop.crowd(2)
    clock.set(datetime(2026, 6, 3, 14, 37, 12, tzinfo=UTC))  # a Wednesday
    fine = h3.latlng_to_cell(shop.lat, shop.lon, 10)
    assert sorted(shop.match(subject, fine)) == sorted([first, second])
    shop.match(other, fine)
    flush(client)
    hour = datetime(2026, 6, 3, 14, tzinfo=UTC)
    assert counter_rows(db, first) == [(hour, "served", 2)]
    assert counter_rows(db, second) == [(hour, "served", 2)]
    with db.engine.connect() as conn:
        cells = list(
            conn.execute(
                text("SELECT cell, week, hour_of_week, count FROM activity_counts WHERE cell = :c"),
                {"c": h3.cell_to_parent(fine, 6)},
            )
        )
    assert cells == [(h3.cell_to_parent(fine, 6), date(2026, 6, 1), 2 * 24 + 14, 2)]


def test_nothing_is_counted_without_offer_analytics(
    client: TestClient, shop: Shop, db: Database, clock: FakeClock
) -> None:
    deal_id = shop.publish()
    only_location = shop.subject(purposes=["location_offers"])
    clock.set(MONDAY_NOON_BERLIN)
    for _ in range(5):
        assert shop.match(only_location) == [deal_id]
    assert services(client).counter.pending == 0
    flush(client)
    assert counter_rows(db, deal_id) == []
    with db.engine.connect() as conn:
        cell = h3.latlng_to_cell(shop.lat, shop.lon, 6)
        assert conn.execute(text("SELECT count(*) FROM activity_counts WHERE cell = :c"), {"c": cell}).scalar() == 0
    # Withdrawing analytics (keeping location) stops counting at once.
    counted = shop.subject()
    shop.match(counted)
    withdraw = {"subject_id": counted, "purposes": ["offer_analytics"]}
    assert client.post("/v1/consents/withdraw", json=withdraw, headers=shop.app).status_code == 200
    shop.match(counted)
    flush(client)
    assert counter_rows(db, deal_id) == [(datetime(2026, 6, 1, 10, tzinfo=UTC), "served", 1)]


def test_activity_is_kept_at_resolution_6_only() -> None:
    cell = h3.latlng_to_cell(52.52, 13.405, 10)
    for res in range(6, 11):
        assert activity_cell(h3.cell_to_parent(cell, res)) == h3.cell_to_parent(cell, 6)
    assert activity_cell(h3.cell_to_parent(cell, 5)) is None
    assert week_slot(int(datetime(2026, 6, 7, 23, 30, tzinfo=UTC).timestamp()) // 3600) == (
        (date(2026, 6, 1) - date(1970, 1, 1)).days,
        6 * 24 + 23,
    )


def test_the_database_refuses_activity_cells_finer_than_6(database_url: str) -> None:
    good = h3.latlng_to_cell(1.0, 1.0, 6)
    conn = psycopg2.connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute('SET ROLE "geo_offers_app"')
            insert = "INSERT INTO activity_counts (cell, week, hour_of_week, count) VALUES (%s, '2020-01-06', 0, 1)"
            for bad in (h3.cell_to_children(good, 7)[0], h3.cell_to_parent(good, 5), good + 1):
                with pytest.raises(psycopg2.errors.CheckViolation):
                    cur.execute(insert, (bad,))
                conn.rollback()
                cur.execute('SET ROLE "geo_offers_app"')
            cur.execute(insert, (good,))
            bad_hour = (
                "INSERT INTO deal_hour_counts (deal_id, hour, kind, count) VALUES (1, '2020-01-06 10:30Z', 'served', 1)"
            )
            with pytest.raises(psycopg2.errors.CheckViolation):
                cur.execute(bad_hour)
    finally:
        conn.rollback()
        conn.close()


def test_no_table_written_by_matching_holds_a_subject_id_or_a_fine_cell(fresh_database_url: str) -> None:
    settings = make_settings(fresh_database_url, k_anonymity=K, counter_flush_s=300.0)
    database = Database(settings)
    keys = Keys(database)
    clock = FakeClock(MONDAY_NOON_BERLIN)
    try:
        with TestClient(create_app(settings, clock=clock, log=False)) as client:
            admin, app = keys.headers("admin"), keys.headers("app")
            assert client.post("/v1/notices", json=notice_body(), headers=admin).status_code == 201
            shop = Shop(client, keys, app, 1, 13.405, 52.52)
            deals = [shop.publish(), shop.publish(max_redemptions=50)]
            subjects = [shop.subject() for _ in range(6)]
            before = _table_digests(fresh_database_url)
            # Known positions near the store: res-10 cells and precise lat/lon, each at a different minute.
            positions = [(52.52 + 0.0011 * i, 13.405 - 0.0013 * i) for i in range(len(subjects))]
            fine_cells = [h3.latlng_to_cell(lat, lon, 10) for lat, lon in positions]
            for i, (subject, (lat, lon), fine) in enumerate(zip(subjects, positions, fine_cells, strict=True)):
                clock.set(MONDAY_NOON_BERLIN + timedelta(minutes=7 * i, seconds=13))
                shop.match(subject, fine)
                body = {"subject_id": subject, "location": {"lat": lat, "lon": lon}}
                assert client.post("/v1/offers/match", json=body, headers=app).status_code == 200
                for kind in ("impression", "click", "redeem"):
                    shop.event(subject, deals[1], kind)
            flush(client)
            clock.set(NEXT_TUESDAY)
            shop.insights(deals[0])
            shop.activity(h3.latlng_to_cell(52.52, 13.405, 6))
            after = _table_digests(fresh_database_url)
    finally:
        database.dispose()
    written = {table for table in after if after[table] != before.get(table)}
    assert {"deal_hour_counts", "activity_counts", "privacy_budget_log"} <= written
    assert written <= {"deal_hour_counts", "activity_counts", "privacy_budget_log", "deals"}  # deals: redemptions
    # No subject id anywhere in the database (pseudonyms are HMACs; the ids themselves are never stored).
    assert scan_database(fresh_database_url, subjects) == []
    # No cell finer than resolution 6, no position, no exact time in the tables matching writes to.
    needles = [format(c, "x") for c in fine_cells] + [f"{lat:.4f}" for lat, _ in positions]
    assert [hit for hit in scan_database(fresh_database_url, needles) if hit[0] in written - {"deals"}] == []
    for table, column, value in _values(fresh_database_url, written - {"deals"}):
        if isinstance(value, int) and value > 0 and h3.is_valid_cell(value):
            assert h3.get_resolution(value) <= 6, (table, column)
        if isinstance(value, datetime) and table != "privacy_budget_log":
            assert value.minute == value.second == value.microsecond == 0, (table, column)


def _table_digests(url: str) -> dict[str, str]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'spatial_ref_sys'"
            )
            digests = {}
            for (table,) in cur.fetchall():
                cur.execute(f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM \"{table}\" t")
                digests[table] = cur.fetchone()[0]
            return digests
    finally:
        conn.close()


def _values(url: str, tables: set[str]) -> Iterator[tuple[str, str, Any]]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            for table in sorted(tables):
                cur.execute(f'SELECT * FROM "{table}"')
                names = [d.name for d in cur.description]
                for row in cur.fetchall():
                    yield from ((table, name, value) for name, value in zip(names, row, strict=True))
    finally:
        conn.close()


# --- suppression and noise -------------------------------------------------------------------------------------


def test_figures_under_k_are_suppressed_and_the_others_noised(client: TestClient, shop: Shop, clock: FakeClock) -> None:
    deal_id = shop.publish()
    people = shop.crowd(6)
    clock.set(MONDAY_NOON_BERLIN)
    for subject in people:
        shop.match(subject)
    clock.set(MONDAY_NOON_BERLIN + timedelta(days=1))
    for subject in people[: K - 1]:
        shop.match(subject)
    flush(client)
    clock.set(NEXT_TUESDAY)
    report = shop.insights(deal_id, days=10)
    privacy = report["privacy"]
    assert privacy["mechanism"].startswith("two-sided geometric")
    assert (privacy["epsilon"], privacy["k"], privacy["deterministic"]) == (1.0, K, True)
    # One person's hour adds at most one to each of the four kinds of a day (one process counts: P = 1).
    assert (privacy["sensitivity"], privacy["counting_processes"], privacy["threshold"]) == (4, 1, K)
    monday, tuesday = day_figure(report, "2026-06-01"), day_figure(report, "2026-06-02")
    assert monday["suppressed"] is False and monday["count"] >= K
    assert tuesday == {"count": None, "suppressed": True}
    assert day_figure(report, "2026-06-03") == {"count": None, "suppressed": True}  # zero is under k too
    assert report["days"][-1]["day"] == "2026-06-08" and len(report["days"]) == 10  # closed days only
    (week,) = [w for w in report["weeks"] if w["week_start"] == "2026-06-01"]
    assert week["counts"]["served"]["suppressed"] is False and week["counts"]["served"]["count"] >= K
    assert report["growth_week_over_week"]["served"] == {"percent": None, "suppressed": True}  # week before: 0
    hours = {h["hour_of_week"]: h["counts"]["served"] for h in report["hours_of_week"]["hours"]}
    assert len(hours) == 168
    assert hours[12]["suppressed"] is False  # Monday 12:00-13:00 in Berlin: 6 served
    assert hours[24 + 12] == {"count": None, "suppressed": True}
    for row in report["days"] + report["hours_of_week"]["hours"]:
        for figure in row["counts"].values():
            assert figure["suppressed"] == (figure["count"] is None)
            assert figure["count"] is None or figure["count"] >= K


def test_the_same_figure_always_gets_the_same_noise(client: TestClient, shop: Shop, clock: FakeClock) -> None:
    deal_id = shop.publish()
    people = shop.crowd(12)
    clock.set(MONDAY_NOON_BERLIN)
    for subject in people:
        shop.match(subject)
    flush(client)
    clock.set(NEXT_TUESDAY)
    first = shop.insights(deal_id, days=10)
    assert shop.insights(deal_id, days=10) == first  # repeating gains nothing
    # A later question over a longer span shows the very same values for the days both cover.
    clock.set(NEXT_TUESDAY + timedelta(days=3))
    longer = shop.insights(deal_id, days=20)
    assert day_figure(longer, "2026-06-01") == day_figure(first, "2026-06-01")
    # The noise is real: across many independent figures the published values are not all the true ones.
    deals = [shop.publish() for _ in range(8)]
    clock.set(MONDAY_NOON_BERLIN + timedelta(days=2))
    for subject in people:
        shop.match(subject)
    flush(client)
    clock.set(NEXT_TUESDAY)
    values = [day_figure(shop.insights(d, days=10), "2026-06-03")["count"] for d in deals]
    assert all(v is not None for v in values) and set(values) != {12}


def test_differencing_overlapping_figures_does_not_reveal_suppressed_counts(
    client: TestClient, shop: Shop, clock: FakeClock
) -> None:
    deals = [shop.publish() for _ in range(12)]
    people = shop.crowd(K)
    clock.set(MONDAY_NOON_BERLIN)
    for subject in people:
        shop.match(subject)
    clock.set(MONDAY_NOON_BERLIN + timedelta(days=1))
    shop.match(people[0])  # Tuesday: 1 served per deal, under k
    flush(client)
    clock.set(NEXT_TUESDAY)
    estimates = []
    for deal_id in deals:
        report = shop.insights(deal_id)
        assert day_figure(report, "2026-06-02")["suppressed"] is True
        (week,) = [w for w in report["weeks"] if w["week_start"] == "2026-06-01"]
        # The attacker's best guess for the suppressed Tuesday: the week minus the published Monday.
        estimates.append(week["counts"]["served"]["count"] - day_figure(report, "2026-06-01")["count"])
    # Each estimate carries the noise of independent figures: it misses the true count more often than not
    # (hitting it in every one of 12 deals would happen by chance with probability below 1e-5).
    assert sum(e == 1 for e in estimates) < len(deals)
    assert len(set(estimates)) > 1


def test_activity_of_overlapping_cells_does_not_reveal_a_suppressed_cell(
    client: TestClient, keys: Keys, app_headers: Headers, notice_version: int, clock: FakeClock
) -> None:
    lon, lat = somewhere()
    parent = h3.latlng_to_cell(lat, lon, 5)
    busy = h3.cell_to_center_child(parent, 6)
    quiet = next(c for c in h3.cell_to_children(parent, 6) if c != busy)
    shop = Shop(client, keys, app_headers, notice_version, *reversed(h3.cell_to_latlng(busy)))
    *crowd, loner = shop.crowd(K + 1)
    hours = range(12)
    for hour in hours:
        clock.set(datetime(2026, 6, 2, 6 + hour, 20, tzinfo=UTC))  # Tuesday, 8:00 to 19:00 in Berlin
        for subject in crowd:
            shop.match(subject, h3.cell_to_children(busy, 8)[hour])
        shop.match(loner, h3.cell_to_children(quiet, 8)[hour])
    flush(client)
    clock.set(NEXT_TUESDAY)
    whole, one, other = shop.activity(parent), shop.activity(busy), shop.activity(quiet)
    assert whole["privacy"]["k"] == K and whole["timezone"] == "Europe/Berlin"
    estimates = []
    for hour in hours:
        how = 24 + 8 + hour
        assert other["hours"][how]["requests"] == {"count": None, "suppressed": True}
        assert whole["hours"][how]["requests"]["suppressed"] is False
        estimates.append(whole["hours"][how]["requests"]["count"] - one["hours"][how]["requests"]["count"])
    assert sum(e == 1 for e in estimates) < len(hours)
    assert len(set(estimates)) > 1


# --- tenancy and input -----------------------------------------------------------------------------------------


def test_insights_refuse_other_merchants_deals_and_far_cells(
    client: TestClient, shop: Shop, keys: Keys, app_headers: Headers, notice_version: int
) -> None:
    deal_id = shop.publish()
    other = Shop(client, keys, app_headers, notice_version, *somewhere())
    assert_problem(client.get(f"/v1/insights/deals/{deal_id}", headers=other.headers), 404, "not-found")
    assert_problem(client.get("/v1/insights/deals/999999999", headers=shop.headers), 404, "not-found")
    assert_problem(client.get(f"/v1/insights/deals/{deal_id}", headers=app_headers), 403, "forbidden")
    own_cell = format(h3.latlng_to_cell(shop.lat, shop.lon, 6), "x")
    far = client.get("/v1/insights/activity", params={"cell": own_cell}, headers=other.headers)
    assert "your stores" in assert_problem(far, 403, "forbidden")["detail"]
    fine = format(h3.latlng_to_cell(shop.lat, shop.lon, 7), "x")
    tiny = client.get("/v1/insights/activity", params={"cell": fine}, headers=shop.headers)
    assert "resolution-6" in assert_problem(tiny, 422, "invalid-input")["detail"]
    huge = format(h3.latlng_to_cell(shop.lat, shop.lon, 2), "x")
    assert_problem(
        client.get("/v1/insights/activity", params={"cell": huge}, headers=shop.headers), 422, "invalid-input"
    )
    bad = client.get("/v1/insights/activity", params={"cell": "nonsense"}, headers=shop.headers)
    assert_problem(bad, 422, "invalid-input")
    assert_problem(client.get(f"/v1/insights/deals/{deal_id}?days=0", headers=shop.headers), 422, "invalid-input")
    neighbour = h3.grid_ring(h3.latlng_to_cell(shop.lat, shop.lon, 6), 1)[0]
    assert shop.activity(neighbour)["resolution"] == 6  # a bordering cell is near enough


# --- privacy-budget log ----------------------------------------------------------------------------------------


def test_every_release_is_in_the_privacy_budget_log(
    client: TestClient, shop: Shop, dpo_headers: Headers, clock: FakeClock
) -> None:
    deal_id = shop.publish()
    clock.set(NEXT_TUESDAY)
    shop.insights(deal_id)
    shop.insights(deal_id, days=3)
    shop.activity(h3.latlng_to_cell(shop.lat, shop.lon, 6))
    url = "/v1/audit/privacy-budget"
    listing = client.get(url, params={"merchant_id": shop.merchant_id}, headers=dpo_headers)
    assert listing.status_code == 200, listing.text
    items = listing.json()["items"]
    assert len(items) == 3 and listing.json()["next_after"] is None
    key_id = shop.headers["Authorization"].split("_")[1]
    for item in items:
        assert item["key_id"] == key_id and item["merchant_id"] == shop.merchant_id
        assert item["epsilon"] == 1.0 and item["k"] == K and item["mechanism"].startswith("two-sided")
        assert item["released_at"].startswith("2026-06-09")
    assert f"deal {deal_id}" in items[0]["figure"] and "2026-06-06..2026-06-08" in items[1]["figure"]
    assert "activity" in items[2]["figure"]
    assert items[0]["figures"] == 28 * 4 + 2 * 4 + 168 * 4 and items[0]["suppressed"] == items[0]["figures"]
    page = client.get(url, params={"merchant_id": shop.merchant_id, "limit": 2}, headers=dpo_headers).json()
    assert [i["id"] for i in page["items"]] == [i["id"] for i in items[:2]] and page["next_after"] == items[1]["id"]
    rest = client.get(url, params={"merchant_id": shop.merchant_id, "after": page["next_after"]}, headers=dpo_headers)
    assert [i["id"] for i in rest.json()["items"]] == [items[2]["id"]]
    assert_problem(client.get(url, headers=shop.headers), 403, "forbidden")


def test_the_budget_log_is_append_only_for_the_service(database_url: str) -> None:
    conn = psycopg2.connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute('SET ROLE "geo_offers_app"')
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("DELETE FROM privacy_budget_log")
    finally:
        conn.rollback()
        conn.close()


# --- retention -------------------------------------------------------------------------------------------------


def test_retention_rolls_old_hours_into_days_without_changing_published_days(
    client: TestClient, shop: Shop, db: Database, clock: FakeClock, settings: Settings
) -> None:
    deal_id = shop.publish(valid_from="2024-01-01T00:00:00+01:00")
    counter = services(client).counter
    old = [datetime(2025, 1, 10, 10, 5, tzinfo=UTC)] * 4 + [datetime(2025, 1, 10, 23, 30, tzinfo=UTC)] * 5
    recent = datetime(2025, 4, 20, 8, 0, tzinfo=UTC)
    assert client.portal is not None
    for when in [*old, recent, recent, recent]:  # each a different person
        client.portal.call(counter.event, new_subject(), deal_id, "click", when)
    client.portal.call(counter.served, new_subject(), [deal_id], h3.latlng_to_cell(shop.lat, shop.lon, 8), old[0])
    flush(client)
    clock.set(datetime(2025, 1, 20, 12, tzinfo=UTC))
    before = shop.insights(deal_id, days=14)
    with db.transaction() as session:
        report = retention.run(session, settings, datetime(2025, 5, 1, tzinfo=UTC))
    assert report.hourly_rolled >= 3 and report.daily_written >= 3 and report.activity_deleted >= 1
    assert "rolled" in report.summary() and "deleted" in report.summary()
    with db.engine.connect() as conn:
        days = list(
            conn.execute(
                text("SELECT day, kind, count, peak FROM deal_day_counts WHERE deal_id = :d ORDER BY 1, 2"),
                {"d": deal_id},
            )
        )
    # 23:30 UTC is already the next day in Berlin: days are the store's. Each keeps its largest hourly counter.
    assert days == [
        (date(2025, 1, 10), "click", 4, 4),
        (date(2025, 1, 10), "served", 1, 1),
        (date(2025, 1, 11), "click", 5, 5),
    ]
    assert counter_rows(db, deal_id) == [(datetime(2025, 4, 20, 8, tzinfo=UTC), "click", 3)]
    assert shop.insights(deal_id, days=14)["days"] == before["days"]
    assert day_figure(before, "2025-01-11", "click")["count"] is not None
    with db.transaction() as session:
        later = retention.run(session, settings, datetime(2027, 6, 1, tzinfo=UTC))
    assert later.daily_deleted >= 3
    with db.engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM deal_day_counts WHERE deal_id = :d"), {"d": deal_id}).scalar() == 0
        )


def test_retention_command_prints_what_it_did(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GEO_OFFERS_DATABASE_URL", fresh_database_url)
    assert main(["retention", "run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("rolled 0 hourly deal counters from before ") and "into 0 daily counters" in out[0]
    assert out[1].startswith("deleted 0 daily deal counters") and out[2].startswith("deleted 0 activity counters")
