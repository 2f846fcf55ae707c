"""Insights count people, not requests: at most one per person, figure and hour in each counting process, under a
key of the hour that lives in memory only; noise and suppression calibrated to P processes."""

from __future__ import annotations

import asyncio
import math
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import h3.api.basic_int as h3
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import text

from consent.pseudonyms import pseudonym
from geo_offers.app import create_app
from geo_offers.cli.serve import run_uvicorn
from geo_offers.demo import notice_purposes
from geo_offers.insights.counter import Counter, hour_slot
from geo_offers.insights.people import PersonHours
from geo_offers.insights.privacy import Count, Publisher, noise, noise_key
from geo_offers.kit.database import Database
from geo_offers.settings import Settings
from tests.audit_env import open_env
from tests.helpers import FakeClock, Keys, make_settings, new_subject, notice_body, scan_database, somewhere
from tests.insights.support import MONDAY_NOON_BERLIN, NEXT_TUESDAY, Shop, counter_rows, flush, services

KEY = noise_key("a test pepper of sufficient length, 0123456789")
HOUR = datetime(2026, 6, 1, 10, tzinfo=UTC)  # the UTC hour of MONDAY_NOON_BERLIN


def activity_count(db: Database, cell: int) -> int:
    with db.engine.connect() as conn:
        total = conn.execute(text("SELECT sum(count) FROM activity_counts WHERE cell = :c"), {"c": cell}).scalar()
    return int(total or 0)


def test_a_person_who_asks_fifty_times_in_an_hour_moves_each_figure_by_at_most_one(
    client: TestClient, shop: Shop, db: Database, clock: FakeClock
) -> None:
    deal_id = shop.publish()
    cell6 = h3.latlng_to_cell(shop.lat, shop.lon, 6)
    person = shop.subject()
    clock.set(MONDAY_NOON_BERLIN)
    for _ in range(50):
        assert shop.match(person) == [deal_id]
    flush(client)
    assert counter_rows(db, deal_id) == [(HOUR, "served", 1)]
    assert activity_count(db, cell6) == 1
    # Fifty different people in the next hour move the same figures by fifty.
    crowd = shop.crowd(50)
    clock.set(MONDAY_NOON_BERLIN + timedelta(hours=1))
    for subject in crowd:
        shop.match(subject)
    flush(client)
    assert counter_rows(db, deal_id) == [(HOUR, "served", 1), (HOUR + timedelta(hours=1), "served", 50)]
    assert activity_count(db, cell6) == 51


def test_a_person_adds_to_one_activity_cell_an_hour(
    client: TestClient, shop: Shop, db: Database, clock: FakeClock
) -> None:
    home = h3.latlng_to_cell(shop.lat, shop.lon, 6)
    away = h3.grid_ring(home, 2)[0]
    person = shop.subject()
    clock.set(MONDAY_NOON_BERLIN)
    shop.match(person, h3.cell_to_center_child(home, 8))
    shop.match(person, h3.cell_to_center_child(away, 8))  # a coarser figure holding both sees one person
    flush(client)
    assert (activity_count(db, home), activity_count(db, away)) == (1, 0)


def test_the_key_and_everyone_seen_are_replaced_when_the_utc_hour_changes() -> None:
    keys = iter(bytes([i]) * 32 for i in range(1, 10))
    people = PersonHours(random=lambda n: next(keys))
    before = hour_slot(datetime(2026, 6, 1, 10, 59, 59, 999_999, tzinfo=UTC))
    after = hour_slot(datetime(2026, 6, 1, 11, 0, tzinfo=UTC))
    tag = people.tag("6f1c2d9e-8a43-4b7e-9a51-2f0c7d3e4b15", before)
    assert people.first_in_deal(tag, 7, "served") and not people.first_in_deal(tag, 7, "served")
    assert people.tag("6f1c2d9e-8a43-4b7e-9a51-2f0c7d3e4b15", before) == tag
    people.rotate(after)
    assert people.seen == 0 and people.rotations == 2
    new_tag = people.tag("6f1c2d9e-8a43-4b7e-9a51-2f0c7d3e4b15", after)
    assert new_tag != tag  # the hours cannot be linked: another key
    assert people.first_in_deal(new_tag, 7, "served")


def test_the_counter_drops_the_hour_even_when_nobody_asks_after_it() -> None:
    clock = FakeClock(datetime(2026, 6, 1, 10, 59, 58, tzinfo=UTC))
    written: list[Any] = []

    async def fetch(sql: str, params: Any) -> list[tuple[Any, ...]]:
        written.append(params)
        return [(1, 1)]

    async def scenario() -> None:
        counter = Counter(fetch, interval=300.0, clock=clock)
        counter.served(new_subject(), [1], h3.latlng_to_cell(52.5, 13.4, 8), clock())
        assert counter.people.seen == 2  # the deal's served figure and the activity of the hour
        await counter.tick()  # within the hour: everyone seen stays
        assert counter.people.seen == 2 and counter.people.rotations == 1
        clock.set(datetime(2026, 6, 1, 11, 0, 1, tzinfo=UTC))  # the hour ends; no request comes
        await counter.tick()  # what the background task does every counter_flush_s
        assert counter.people.seen == 0 and counter.people.rotations == 2

    # A thread of its own: the suite may have an event loop running in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, scenario()).result()
    assert written  # the counts themselves were flushed


def test_nothing_of_the_subject_reaches_the_counters_or_any_table(
    client: TestClient, shop: Shop, db: Database, clock: FakeClock, database_url: str, settings: Settings
) -> None:
    deal_id = shop.publish()
    people = shop.crowd(4)
    clock.set(MONDAY_NOON_BERLIN)
    counter = services(client).counter
    for person in people:
        shop.match(person)
        shop.event(person, deal_id, "click")
    # In memory: the counters hold deal ids, hours, kinds, cells and counts; the subject only as the hour's hash.
    held = [(*key, n) for key, n in [*counter._deals.items(), *counter._cells.items()]]
    assert held and all(isinstance(v, int) or v in {"served", "click"} for row in held for v in row)
    tags = [counter.people.tag(person, hour_slot(MONDAY_NOON_BERLIN)) for person in people]
    flush(client)
    pepper = settings.consent.pepper.get_secret_value()
    needles = [*people, *(format(t, "x") for t in tags), *(str(t) for t in tags)]
    assert scan_database(database_url, needles) == []
    aliases = [pseudonym(pepper, person).hex() for person in people]
    hits = scan_database(database_url, aliases)
    assert hits and {table for table, _, _ in hits} <= {"subject_links"}  # the consent's pseudonym, nowhere else
    assert counter_rows(db, deal_id) == [(HOUR, "click", 4), (HOUR, "served", 4)]


@hypothesis_settings(deadline=None, max_examples=60)
@given(
    people=st.integers(min_value=0, max_value=30),
    processes=st.integers(min_value=1, max_value=6),
    hours=st.integers(min_value=1, max_value=24),
    requests=st.integers(min_value=1, max_value=3),
    k=st.integers(min_value=2, max_value=25),
)
def test_fewer_than_k_people_are_never_published_however_many_processes_and_hours(
    people: int, processes: int, hours: int, requests: int, k: int
) -> None:
    # Worst case: every process sees every person, every hour, several times; each process de-duplicates alone.
    subjects = [f"person-{i}" for i in range(people)]
    hourly: list[int] = []
    for hour in range(hours):
        counted = 0
        for _ in range(processes):
            seen = PersonHours()
            for subject in subjects * requests:
                if seen.first_in_deal(seen.tag(subject, hour), 1, "served"):
                    counted += 1
        assert counted == people * processes  # at most P per person and hour: the sensitivity P
        hourly.append(counted)
    figure = Count(total=sum(hourly), peak=max(hourly))
    published = Publisher(KEY, k, processes).figure(figure, "a day", 1.0, 4 * processes)
    assert published.suppressed == (people < k)
    assert published.count is None or published.count >= k * processes


@given(figure=st.text(max_size=40), processes=st.integers(min_value=1, max_value=16))
def test_the_noise_is_scaled_to_what_one_persons_hour_can_change(figure: str, processes: int) -> None:
    publisher = Publisher(KEY, 20, processes)
    sensitivity = 4 * processes
    assert publisher.noisy(100, figure, 0.5, sensitivity) == 100 + noise(KEY, figure, 0.5 / sensitivity)
    assert publisher.threshold == 20 * processes


def test_settings_count_every_process_that_may_count_a_person(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(environment="test").counting_bound == 1
    assert Settings(environment="test", workers=4, instances=3).counting_bound == 12
    assert Settings(environment="test", workers=4, counting_processes=10).counting_bound == 10
    with pytest.raises(ValueError, match="counting_processes"):
        Settings(environment="test", workers=4, instances=3, counting_processes=11)
    # `geo-offers serve --workers N` tells its workers how many they are.
    started: dict[str, Any] = {}
    monkeypatch.setenv("GEO_OFFERS_WORKERS", "1")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/tmp")
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: started.update(kwargs))
    monkeypatch.setattr("geo_offers.cli.serve.configure_logging", lambda level: None)
    run_uvicorn("geo_offers.app:create_app_from_env", host="127.0.0.1", port=18201, workers=3)
    assert started["workers"] == 3 and Settings(environment="test").counting_bound == 3


def test_with_three_processes_a_figure_needs_one_hour_of_three_times_k(fresh_database_url: str) -> None:
    k = 3
    settings = make_settings(fresh_database_url, k_anonymity=k, counter_flush_s=300.0, workers=3)
    database = Database(settings)
    keys = Keys(database)
    clock = FakeClock(MONDAY_NOON_BERLIN)
    try:
        with TestClient(create_app(settings, clock=clock, log=False)) as client:
            admin, app = keys.headers("admin"), keys.headers("app")
            assert client.post("/v1/notices", json=notice_body(), headers=admin).status_code == 201
            shop = Shop(client, keys, app, 1, *somewhere())
            deal_id = shop.publish()
            crowd = shop.crowd(3 * k)
            for subject in crowd:  # Monday: 9 people in one hour
                shop.match(subject)
            for hour in range(3):  # Tuesday: 8 people an hour, 24 in all, never 9 in one hour
                clock.set(MONDAY_NOON_BERLIN + timedelta(days=1, hours=hour))
                for subject in crowd[:-1]:
                    shop.match(subject)
            flush(client)
            clock.set(NEXT_TUESDAY)
            report = shop.insights(deal_id)
            activity = shop.activity(h3.latlng_to_cell(shop.lat, shop.lon, 6))
    finally:
        database.dispose()
    privacy = report["privacy"]
    assert (privacy["counting_processes"], privacy["threshold"], privacy["sensitivity"]) == (3, 9, 12)
    assert (activity["privacy"]["sensitivity"], activity["privacy"]["threshold"]) == (3, 9)
    assert "person" in privacy["unit"] and math.isclose(privacy["epsilon_per_figure"]["days"], 0.5)
    monday = next(r for r in report["days"] if r["day"] == "2026-06-01")["counts"]["served"]
    assert monday["suppressed"] is False and monday["count"] >= 9
    tuesday = next(r for r in report["days"] if r["day"] == "2026-06-02")["counts"]["served"]
    # 24 counted, but with three processes that could be 8 people, each counted by all three every hour.
    assert tuesday == {"count": None, "suppressed": True}


def test_the_processing_record_and_the_demo_notice_state_people_k_epsilon_and_p(fresh_database_url: str) -> None:
    with open_env(fresh_database_url, workers=2, instances=3, k_anonymity=20, dp_epsilon=0.8) as env:
        record = env.client.get("/v1/audit/processing-record", headers=env.dpo).json()
    rules = record["statistics_privacy"]
    assert (rules["k_people"], rules["counting_processes"], rules["threshold"]) == (20, 6, 120)
    assert rules["epsilon_per_release"] == 0.8 and "person" in rules["unit"] and "hour" in rules["unit"]
    assert "never written" in rules["deduplication"]
    statistics = next(c for c in record["data_categories"] if c["category"] == "anonymous statistics")
    assert "at least k = 20 people" in statistics["detail"] and "P" in statistics["detail"]
    (analytics,) = [p for p in notice_purposes(20) if p["id"] == "offer_analytics"]
    assert "mindestens 20 Personen je Zahl" in analytics["description"]["de"]
    assert "höchstens einmal je Zahl und Stunde" in analytics["description"]["de"]
