"""The deal change table: numbered in commit order, gap-free, followed by the index feed without notifications."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from geo_offers.app import create_app
from geo_offers.insights import retention
from geo_offers.kit.database import Database
from geo_offers.matching.feed import Applied, IndexFeed
from geo_offers.matching.source import batch_from
from geo_offers.settings import Settings
from tests.helpers import FakeClock, deal_body, make_settings, somewhere, store_body, wait_until

Headers = dict[str, str]


def changes(db: Database) -> list[tuple[int, int | None, int | None]]:
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT seq, deal_id, store_id FROM deal_changes ORDER BY seq, id")).all()
    return [(int(seq), deal_id, store_id) for seq, deal_id, store_id in rows]


def head(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text("SELECT seq FROM deal_change_head")).scalar_one())


@pytest.fixture
def merchant(merchant_headers: Callable[..., Headers]) -> Headers:
    return merchant_headers()


@pytest.fixture
def store_id(client: TestClient, merchant: Headers) -> int:
    response = client.post("/v1/stores", json=store_body(*somewhere()), headers=merchant)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def publish(client: TestClient, merchant: Headers, store_id: int, **deal: Any) -> int:
    response = client.post("/v1/deals", json=deal_body(store_id, **deal), headers=merchant)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def feed_of(client: TestClient) -> IndexFeed:
    feed: IndexFeed = client.app.state.services.feed  # type: ignore[attr-defined]
    return feed


def test_each_transaction_takes_the_next_number_and_its_rows_share_it(
    client: TestClient, merchant: Headers, store_id: int, db: Database
) -> None:
    start = head(db)
    first = publish(client, merchant, store_id)
    second = publish(client, merchant, store_id, status="draft")
    assert head(db) == start + 2
    assert [row for row in changes(db) if row[0] > start] == [(start + 1, first, None), (start + 2, second, None)]
    # One transaction changing two deals: one number for both rows.
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE deals SET title = title || '!' WHERE id IN (:a, :b)"), {"a": first, "b": second})
    assert sorted(row for row in changes(db) if row[0] > start + 2) == [
        (start + 3, first, None),
        (start + 3, second, None),
    ]
    # A store's change is one row naming the store.
    assert client.patch(f"/v1/stores/{store_id}", json={"name": "Umbenannt"}, headers=merchant).status_code == 200
    assert changes(db)[-1] == (start + 4, None, store_id)


def test_a_rolled_back_transaction_gives_its_number_back(
    client: TestClient, merchant: Headers, store_id: int, db: Database
) -> None:
    deal_id = publish(client, merchant, store_id)
    start = head(db)
    with db.engine.connect() as conn:
        conn.execute(text("UPDATE deals SET title = 'nie' WHERE id = :id"), {"id": deal_id})
        conn.rollback()
    assert head(db) == start
    assert client.patch(f"/v1/deals/{deal_id}", json={"title": "Neu"}, headers=merchant).status_code == 200
    assert changes(db)[-1] == (start + 1, deal_id, None)


def test_numbers_follow_commit_order_not_start_order(
    client: TestClient, merchant: Headers, store_id: int, db: Database
) -> None:
    """A transaction that changed a deal first but commits last must not get the smaller number: a reader that
    saw the larger one would never look back for it."""
    early, late = publish(client, merchant, store_id), publish(client, merchant, store_id)
    start = head(db)
    slow = db.engine.connect()
    slow_tx = slow.begin()
    slow.execute(text("UPDATE deals SET title = 'langsam' WHERE id = :id"), {"id": early})
    finished = threading.Event()

    def quick() -> None:
        with db.engine.begin() as conn:  # waits for the head row until the slow transaction ends
            conn.execute(text("UPDATE deals SET title = 'schnell' WHERE id = :id"), {"id": late})
        finished.set()

    worker = threading.Thread(target=quick)
    worker.start()
    assert not finished.wait(0.3)  # blocked behind the slow transaction's number
    slow_tx.commit()
    slow.close()
    worker.join(5)
    assert finished.is_set()
    assert [row for row in changes(db) if row[0] > start] == [(start + 1, early, None), (start + 2, late, None)]


def test_batches_refuse_a_gap() -> None:
    assert batch_from([(5, 1, None), (5, 2, None), (6, None, 3)], 4) is not None
    batch = batch_from([(5, 1, None), (5, 2, None), (6, None, 3)], 4)
    assert batch is not None and (batch.last, batch.rows, batch.deal_ids, batch.store_ids) == (6, 3, {1, 2}, {3})
    assert batch_from([(7, 1, None)], 4) is None  # 5 and 6 were pruned before they were read


@pytest.fixture
def deaf_client(database_url: str, clock: FakeClock) -> Iterator[TestClient]:
    """An instance whose LISTEN connection is stopped: it hears no notification, like one on a standby."""
    settings = make_settings(database_url, index_poll_s=0.05)
    with TestClient(create_app(settings, clock=clock, log=False)) as deaf:
        services = deaf.app.state.services  # type: ignore[attr-defined]
        wait_until(services.feed.ready.is_set)
        deaf.portal.call(services.listener.stop)  # type: ignore[union-attr]
        assert not services.listener.connected
        yield deaf


def test_an_instance_without_notifications_follows_the_table(
    client: TestClient, deaf_client: TestClient, merchant: Headers, store_id: int
) -> None:
    feed = feed_of(deaf_client)
    reloads = feed.reloads
    steps: list[Applied] = []
    feed.follow(steps.append)
    deal_id = publish(client, merchant, store_id)
    wait_until(lambda: deal_id in feed.matcher.index)
    assert client.patch(f"/v1/deals/{deal_id}", json={"status": "paused"}, headers=merchant).status_code == 200
    wait_until(lambda: deal_id not in feed.matcher.index)
    assert feed.reloads == reloads  # followed change by change, never loaded again
    assert [deal.deal_id for deal in steps[0].deals] == [deal_id] and not steps[0].removed
    assert steps[-1].removed == {deal_id} and steps[-1].seq == feed.seq


def test_changes_pruned_before_they_were_read_make_the_feed_load_everything(
    client: TestClient, deaf_client: TestClient, merchant: Headers, store_id: int, db: Database
) -> None:
    feed = feed_of(deaf_client)
    deaf_client.portal.call(feed.stop)  # type: ignore[union-attr]
    reloads, seen = feed.reloads, feed.seq
    gone = publish(client, merchant, store_id)
    kept = publish(client, merchant, store_id)
    with db.engine.begin() as conn:  # the retention job ran while this instance was behind
        conn.execute(text("DELETE FROM deal_changes WHERE seq <= (SELECT max(seq) - 1 FROM deal_changes)"))
    deaf_client.portal.call(feed.catch_up)  # type: ignore[union-attr]
    assert feed.reloads == reloads + 1 and feed.seq > seen
    assert gone in feed.matcher.index and kept in feed.matcher.index


def test_retention_prunes_old_change_rows_but_keeps_the_newest(
    client: TestClient, merchant: Headers, store_id: int, db: Database, settings: Settings, clock: FakeClock
) -> None:
    publish(client, merchant, store_id)
    publish(client, merchant, store_id)
    last = head(db)
    later = clock() + timedelta(hours=settings.deal_changes_kept_h + 1)
    with db.transaction() as session:
        report = retention.run(session, settings, later)
    assert report.changes_deleted >= 1
    assert [row[0] for row in changes(db)] == [last]


def test_the_feed_answers_a_follower_failure_by_carrying_on(
    client: TestClient, merchant: Headers, store_id: int
) -> None:
    feed = feed_of(client)

    def broken(_step: Applied) -> None:
        raise RuntimeError("a follower's bug")

    feed.follow(broken)
    first = publish(client, merchant, store_id)
    wait_until(lambda: first in feed.matcher.index)
    after_first = feed.seq
    second = publish(client, merchant, store_id)
    wait_until(lambda: second in feed.matcher.index)
    assert feed.seq > after_first
