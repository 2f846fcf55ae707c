"""Resuming a live stream: Last-Event-ID gets exactly the changes missed, or `reload` when they are gone."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from geo_offers.kit.database import Database
from tests.live.conftest import Headers, Live, Shop
from tests.live.test_events import ready


def head(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text("SELECT seq FROM deal_change_head")).scalar_one())


def test_a_dropped_stream_resumed_with_its_last_id_gets_exactly_the_missed_changes(
    live: Live, shop: Shop, db: Database
) -> None:
    stream = live.open(shop.area())
    ready(stream)
    kept = shop.publish(title="Bleibt")
    paused = shop.publish(title="Pausiert bald")
    received = stream.take(2)
    assert [e.data["deal_id"] for e in received] == [kept, paused]
    stream.close()  # the connection drops

    shop.change(kept, title="Geändert, während niemand zusah")
    shop.change(paused, status="paused")
    added = shop.publish(title="Neu, während niemand zusah")
    shop.change(added, title="Neu und gleich geändert")
    missed_up_to = head(db)

    resumed = live.open(shop.area(), last_event_id=received[-1].id)
    events = resumed.take(4)
    assert [(e.name, e.data.get("title"), e.data["deal_id"]) for e in events[:3]] == [
        ("deal", "Geändert, während niemand zusah", kept),
        ("removed", None, paused),
        ("deal", "Neu und gleich geändert", added),  # as it is now, once
    ]
    assert events[1].data["reason"] == "paused"
    assert [int(e.id or 0) for e in events[:3]] == sorted(int(e.id or 0) for e in events[:3])
    assert (events[3].name, events[3].data["seq"]) == ("ready", missed_up_to)

    later = shop.publish(title="Wieder live")  # and then live, without a gap
    (event,) = resumed.take(1)
    assert (event.name, event.data["deal_id"]) == ("deal", later)
    resumed.close()


def test_the_catalogue_change_seq_starts_a_stream_that_misses_nothing(
    live: Live, shop: Shop, client: TestClient, app_headers: Headers
) -> None:
    before = shop.publish(title="Im Katalog")
    page = client.get(f"/v1/offers/area/{shop.area()}", headers=app_headers)
    assert before in [d["deal_id"] for d in page.json()["deals"]]  # other tests' shops may share the area
    seq = page.headers["change-seq"]
    after = shop.publish(title="Nach dem Katalog, vor dem Stream")
    stream = live.open(shop.area(), last_event_id=seq)
    events = []
    while (event := stream.next()) is not None and event.name != "ready":
        events.append(event)
    # The page may be newer than its Change-Seq (it is read after): a deal it holds may come again, never less.
    assert {e.name for e in events} == {"deal"}
    assert after in {e.data["deal_id"] for e in events} <= {before, after}
    stream.close()


def test_a_deal_not_yet_started_is_in_the_catalogue_and_the_stream(
    live: Live, shop: Shop, client: TestClient, app_headers: Headers
) -> None:
    stream = live.open(shop.area())
    ready(stream)
    upcoming = shop.publish(valid_from="2027-06-01T00:00:00+02:00")
    (event,) = stream.take(1)
    assert (event.name, event.data["valid_from"]) == ("deal", "2027-05-31T22:00:00Z")
    page = client.get(f"/v1/offers/area/{shop.area()}", headers=app_headers).json()
    assert upcoming in [d["deal_id"] for d in page["deals"]]  # other tests' shops may share the area
    stream.close()


def test_a_resume_after_the_changes_were_pruned_gets_reload(live: Live, shop: Shop, db: Database) -> None:
    stream = live.open(shop.area())
    last = ready(stream).id
    stream.close()
    shop.publish()
    shop.publish()
    with db.engine.begin() as conn:  # the retention job ran meanwhile
        conn.execute(text("DELETE FROM deal_changes WHERE seq < (SELECT seq FROM deal_change_head)"))
    resumed = live.open(shop.area(), last_event_id=last)
    events: list[Any] = []
    while (event := resumed.next()) is not None:
        events.append(event)
    assert [(e.name, e.data, e.id) for e in events] == [("reload", {"reason": "resume_too_old"}, None)]


def test_a_last_event_id_ahead_of_the_database_gets_reload(live: Live, shop: Shop, db: Database) -> None:
    resumed = live.open(shop.area(), last_event_id=head(db) + 1000)
    assert [e.name for e in resumed.take(1)] == ["reload"]
    assert resumed.next() is None


def test_a_resume_further_back_than_the_replay_limit_gets_reload(live_with: Any, shop: Shop, db: Database) -> None:
    live = live_with(live_resume_max_changes=2)
    last = head(db)
    for _ in range(3):
        shop.publish()
    resumed = live.open(shop.area(), last_event_id=last)
    assert [e.name for e in resumed.take(1)] == ["reload"]
    assert resumed.next() is None


def test_after_a_full_reload_of_the_index_the_streams_get_what_it_folded_in(
    live: Live, shop: Shop, db: Database
) -> None:
    feed = live.app.state.services.feed
    stream = live.open(shop.area())
    ready(stream)
    live.run(feed.stop)  # the worker falls behind, as when a flood of changes makes it load everything
    folded = shop.publish(title="Beim Neuladen dabei")
    live.run(feed.reload)
    (event,) = stream.take(1)
    assert (event.name, event.data["deal_id"]) == ("deal", folded)

    shop.publish(title="Nie einzeln gesehen")
    shop.publish(title="Auch nicht")  # the newest change row always stays: prune the one before it
    with db.engine.begin() as conn:  # and this time the rows in between were pruned before the load
        conn.execute(text("DELETE FROM deal_changes WHERE seq < (SELECT seq FROM deal_change_head)"))
    live.run(feed.reload)
    assert [(e.name, e.data) for e in stream.take(1)] == [("reload", {"reason": "behind"})]
    assert stream.next() is None
