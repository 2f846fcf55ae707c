"""A merchant tries to single out one person through the insight endpoints, and fails.

The attacker owns the store and the deals, sees every published figure, and knows that one person (the
target) was near the store a few times. Each attack is the one a curious store would try first.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import h3.api.basic_int as h3
import pytest
from fastapi.testclient import TestClient

from tests.helpers import FakeClock, Keys, assert_problem
from tests.insights.support import MONDAY_NOON_BERLIN, NEXT_TUESDAY, K, Shop, day_figure, flush

Headers = dict[str, str]


def test_repeating_a_query_to_average_the_noise_gains_nothing(client: TestClient, shop: Shop, clock: FakeClock) -> None:
    deal_id = shop.publish()
    clock.set(MONDAY_NOON_BERLIN)
    for person in shop.crowd(K + 2):
        shop.match(person)
    flush(client)
    answers = []
    for extra_days in range(12):  # the same figure asked again and again, in differently shaped queries
        clock.set(NEXT_TUESDAY + timedelta(hours=extra_days))
        answers.append(day_figure(shop.insights(deal_id, days=10 + extra_days), "2026-06-01")["count"])
    assert len(set(answers)) == 1  # every repetition returns the very same noisy value: the average is one draw


def test_differencing_a_query_with_and_without_the_target_reveals_nothing(
    client: TestClient, shop: Shop, clock: FakeClock
) -> None:
    # The attacker makes the target the only difference between two published figures of each of many deals:
    # everyone else matched on Monday and Tuesday alike, the target once more on Tuesday.
    deals = [shop.publish() for _ in range(10)]
    crowd, target = shop.crowd(K + 5), shop.subject()
    for day in (0, 1):
        clock.set(MONDAY_NOON_BERLIN + timedelta(days=day))
        for person in crowd:
            shop.match(person)
    shop.match(target)  # Tuesday
    flush(client)
    clock.set(NEXT_TUESDAY)
    differences = []
    for deal_id in deals:
        report = shop.insights(deal_id)
        differences.append(day_figure(report, "2026-06-02")["count"] - day_figure(report, "2026-06-01")["count"])
    # Without noise every difference would be exactly 1, the target. With it, the differences scatter and
    # the target's presence cannot be read off (all ten being 1 by chance has a probability far below 1e-5).
    assert sum(d == 1 for d in differences) < len(deals)
    assert len(set(differences)) > 2


@pytest.mark.parametrize("res", [7, 8, 10])
def test_a_tiny_area_cannot_be_asked_about(shop: Shop, res: int) -> None:
    cell = format(h3.latlng_to_cell(shop.lat, shop.lon, res), "x")
    response = shop.client.get("/v1/insights/activity", params={"cell": cell}, headers=shop.headers)
    assert_problem(response, 422, "invalid-input")


def test_a_deal_for_a_tiny_area_shows_only_suppressed_figures_for_one_person(
    client: TestClient, shop: Shop, clock: FakeClock
) -> None:
    # The smallest area a deal can have (50 m around the store) to catch the target alone.
    deal_id = shop.publish(area={"radius_m": 50})
    target = shop.subject()
    clock.set(MONDAY_NOON_BERLIN)
    for _ in range(K + 20):  # asking again and again in the hour: still one person, under k
        shop.match(target)
    flush(client)
    clock.set(NEXT_TUESDAY)
    report: dict[str, Any] = shop.insights(deal_id)
    monday = day_figure(report, "2026-06-01")
    assert monday == {"count": None, "suppressed": True}
    hours = {h["hour_of_week"]: h["counts"]["served"] for h in report["hours_of_week"]["hours"]}
    assert all(figure["count"] is None for figure in hours.values())
    activity = shop.activity(h3.latlng_to_cell(shop.lat, shop.lon, 6))
    assert all(hour["requests"]["count"] is None for hour in activity["hours"])


def test_another_merchant_cannot_ask_about_the_targets_area(client: TestClient, shop: Shop, keys: Keys) -> None:
    deal_id = shop.publish()
    other = keys.headers("merchant", keys.merchant())
    assert_problem(client.get(f"/v1/insights/deals/{deal_id}", headers=other), 404, "not-found")
    cell = format(h3.latlng_to_cell(shop.lat, shop.lon, 6), "x")
    assert_problem(client.get("/v1/insights/activity", params={"cell": cell}, headers=other), 403, "forbidden")
