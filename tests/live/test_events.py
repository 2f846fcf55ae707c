"""Live area streams: each change to an area's catalogue arrives on that area's streams, and on no other."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.helpers import new_subject
from tests.live.conftest import Event, Headers, Live, Shop, Stream


def catalogue_deal(client: TestClient, cell: str, deal_id: int, app_headers: Headers) -> dict[str, Any]:
    response = client.get(f"/v1/offers/area/{cell}", headers=app_headers)
    assert response.status_code == 200, response.text
    found = [deal for deal in response.json()["deals"] if deal["deal_id"] == deal_id]
    assert len(found) == 1, response.json()
    return found[0]


def ready(stream: Stream) -> Event:
    (event,) = stream.take(1)
    assert event.name == "ready", event
    return event


def test_a_stream_starts_ready_at_the_current_change_number(live: Live, shop: Shop) -> None:
    stream = live.open(shop.area())
    event = ready(stream)
    assert event.data == {"cell": shop.area(), "seq": int(event.id or -1)}
    assert stream.response.headers["content-type"].startswith("text/event-stream")
    assert stream.response.headers["cache-control"] == "no-store"
    stream.close()


def test_publish_change_pause_and_end_arrive_as_the_catalogue_renders_them(
    live: Live, shop: Shop, client: TestClient, app_headers: Headers
) -> None:
    stream = live.open(shop.area(5))
    coarse = live.open(shop.area(3))  # a coarser area holding the same spot gets the same changes
    start = int(ready(stream).id or 0)
    ready(coarse)
    seen: list[Event] = []

    deal_id = shop.publish(title="Neu im Viertel")
    seen += stream.take(1)
    assert seen[-1].name == "deal" and int(seen[-1].id or 0) > start
    assert seen[-1].data == catalogue_deal(client, shop.area(), deal_id, app_headers)

    shop.change(deal_id, title="Jetzt billiger")
    seen += stream.take(1)
    assert seen[-1].name == "deal" and seen[-1].data["title"] == "Jetzt billiger"
    assert int(seen[-1].id or 0) > int(seen[-2].id or 0)

    shop.change(deal_id, status="paused")
    seen += stream.take(1)
    assert (seen[-1].name, seen[-1].data) == ("removed", {"deal_id": deal_id, "reason": "paused"})
    shop.change(deal_id, status="active")
    seen += stream.take(1)
    assert seen[-1].name == "deal"
    shop.change(deal_id, status="ended")
    seen += stream.take(1)
    assert (seen[-1].name, seen[-1].data) == ("removed", {"deal_id": deal_id, "reason": "ended"})

    assert coarse.take(len(seen)) == seen
    stream.close()
    coarse.close()


def test_a_used_up_quota_and_a_used_up_code_pool_remove_the_deal(
    live: Live, shop: Shop, client: TestClient, app_headers: Headers
) -> None:
    stream = live.open(shop.area())
    ready(stream)
    quota = shop.publish(max_redemptions=1)
    assert stream.take(1)[0].name == "deal"
    # A person without analytics consent: the redeem still uses the quota, it is only not counted.
    body = {"type": "redeem", "subject_id": new_subject()}
    redeemed = client.post(f"/v1/offers/{quota}/events", json=body, headers=app_headers)
    assert redeemed.status_code == 202, redeemed.text
    assert [(e.name, e.data) for e in stream.take(1)] == [("removed", {"deal_id": quota, "reason": "used_up"})]

    coded = shop.publish(status="draft")
    filled = client.post(f"/v1/deals/{coded}/codes", json={"generate": {"count": 1}}, headers=shop.headers)
    assert filled.status_code == 201, filled.text
    shop.change(coded, status="active")
    first = stream.take(1)[0]
    assert first.name == "deal" and first.data["one_time_codes"] is True
    claimed = client.post(f"/v1/offers/{coded}/codes", headers=app_headers)
    assert claimed.status_code == 201, claimed.text
    assert [(e.name, e.data) for e in stream.take(1)] == [("removed", {"deal_id": coded, "reason": "used_up"})]
    stream.close()


def test_changes_elsewhere_never_reach_a_stream(live: Live, shop: Shop, client: TestClient, keys: Any) -> None:
    from tests.live.conftest import Shop as MakeShop

    far = MakeShop(client, keys)
    assert far.area(3) != shop.area(3)
    stream = live.open(shop.area())
    ready(stream)
    elsewhere = far.publish()
    far.change(elsewhere, title="Anderswo")
    far.change(elsewhere, status="paused")
    here = shop.publish()  # the first event this stream gets is its own area's
    (event,) = stream.take(1)
    assert (event.name, event.data["deal_id"]) == ("deal", here)
    stream.close()


def test_a_deal_moved_out_of_an_area_is_removed_from_it_and_arrives_in_the_new_one(
    live: Live, shop: Shop, client: TestClient, keys: Any
) -> None:
    from tests.live.conftest import Shop as MakeShop

    far = MakeShop(client, keys)
    here, there = live.open(shop.area()), live.open(far.area())
    ready(here)
    ready(there)
    deal_id = shop.publish()
    assert here.take(1)[0].name == "deal"
    polygon = {"type": "Polygon", "coordinates": [square(far.lon, far.lat)]}
    shop.change(deal_id, area=polygon)
    assert [(e.name, e.data) for e in here.take(1)] == [("removed", {"deal_id": deal_id, "reason": "elsewhere"})]
    moved = there.take(1)[0]
    assert (moved.name, moved.data["deal_id"]) == ("deal", deal_id)
    here.close()
    there.close()


def square(lon: float, lat: float, half: float = 0.002) -> list[list[float]]:
    return [[lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half], [lon - half, lat + half],
            [lon - half, lat - half]]  # fmt: skip
