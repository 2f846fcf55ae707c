"""The deal index shared by the machine's workers: one snapshot built once and mapped read-only by every instance,
changes applied per instance, rebuilds swapped at once, and snapshots of another database, format or history
refused."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import h3.api.basic_int as h3
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from geo_offers.app import create_app
from geo_offers.kit.database import Database
from geo_offers.matching import snapshot
from geo_offers.matching.feed import IndexFeed
from geo_offers.matching.index import DealIndex
from geo_offers.matching.shared import SnapshotStore
from geo_offers.matching.source import SELECT_ALL, load_index, record
from tests.helpers import FakeClock, deal_body, grant, make_settings, new_subject, somewhere, store_body, wait_until

Headers = dict[str, str]


@pytest.fixture
def instances(database_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[Callable[[], TestClient]]:
    """Starts app instances on the session database that share one snapshot directory of this test's own."""
    with contextlib.ExitStack() as stack:

        def start() -> TestClient:
            settings = make_settings(database_url, index_dir=tmp_path / "index", index_poll_s=0.05)
            return stack.enter_context(TestClient(create_app(settings, clock=clock, log=False)))

        yield start


def store_of(client: TestClient) -> SnapshotStore:
    store: SnapshotStore | None = client.app.state.services.snapshots  # type: ignore[attr-defined]
    assert store is not None
    return store


def feed_of(client: TestClient) -> IndexFeed:
    feed: IndexFeed = client.app.state.services.feed  # type: ignore[attr-defined]
    return feed


def publish(client: TestClient, merchant: Headers) -> tuple[int, str]:
    """A store somewhere empty with one deal; the deal's id and the store's resolution-8 cell."""
    lon, lat = somewhere()
    store = client.post("/v1/stores", json=store_body(lon, lat), headers=merchant)
    assert store.status_code == 201, store.text
    deal = client.post("/v1/deals", json=deal_body(int(store.json()["id"])), headers=merchant)
    assert deal.status_code == 201, deal.text
    return int(deal.json()["id"]), format(h3.latlng_to_cell(lat, lon, 8), "x")


def test_instances_share_one_snapshot_and_apply_later_changes_each(
    instances: Callable[[], TestClient], merchant_headers: Callable[..., Headers]
) -> None:
    first, second = instances(), instances()
    # The first instance loaded the deals and wrote the snapshot; the second only mapped it.
    assert (store_of(first).builds, store_of(first).maps) == (1, 1)
    assert (store_of(second).builds, store_of(second).maps) == (0, 1)
    path = store_of(first).path
    assert path is not None and store_of(second).path == path
    written = path.stat().st_ino
    # A change after the snapshot reaches each instance through deal_changes; the file is left as it was.
    deal_id, _ = publish(first, merchant_headers())
    wait_until(lambda: deal_id in feed_of(first).matcher.index and deal_id in feed_of(second).matcher.index)
    assert deal_id not in feed_of(first).matcher.index.ids.base  # in the instance's own tail
    assert path.stat().st_ino == written and store_of(first).builds == 1
    # An instance started now maps the same snapshot and catches up from deal_changes.
    third = instances()
    assert store_of(third).builds == 0 and deal_id in feed_of(third).matcher.index


def test_the_mapping_is_read_only(instances: Callable[[], TestClient]) -> None:
    index = feed_of(instances()).matcher.index
    assert index.base_size == len(index.ids.base)
    for column in (index.ids.base, index.lat.base, index.fine.slots, index.coarse.cells):
        assert not column.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            column[:1] = 0
        with pytest.raises(ValueError):
            column.setflags(write=True)


def test_a_rebuild_is_swapped_in_at_once_while_answers_keep_flowing(
    instances: Callable[[], TestClient],
    merchant_headers: Callable[..., Headers],
    app_headers: Headers,
    notice_version: int,
) -> None:
    first, second = instances(), instances()
    deal_id, cell = publish(first, merchant_headers())
    wait_until(lambda: deal_id in feed_of(first).matcher.index and deal_id in feed_of(second).matcher.index)
    subject_id = new_subject()
    assert grant(second, app_headers, subject_id, notice_version, precision_res=8).status_code == 201
    path = store_of(first).path
    assert path is not None
    old = path.stat().st_ino
    answers: list[list[int]] = []
    stop = threading.Event()

    def matched(client: TestClient) -> list[int]:
        response = client.post("/v1/offers/match", json={"subject_id": subject_id, "cell": cell}, headers=app_headers)
        return [offer["deal_id"] for offer in response.json()["offers"]] if response.status_code == 200 else []

    def ask() -> None:  # both instances answer meanwhile: the second from its mapping of the old file
        while not stop.is_set():
            answers.append(matched(second))
            answers.append(matched(first))

    asking = threading.Thread(target=ask)
    asking.start()
    try:
        first.portal.call(feed_of(first).reload)  # type: ignore[union-attr]
        wait_until(lambda: len(answers) > 3)
    finally:
        stop.set()
        asking.join(10)
    assert path.stat().st_ino != old and store_of(first).builds == 2  # a new file, renamed over the old one
    assert answers and all(found == [deal_id] for found in answers)
    # The second instance's next rebuild maps the newer snapshot instead of loading again.
    second.portal.call(feed_of(second).reload)  # type: ignore[union-attr]
    assert (store_of(second).builds, store_of(second).maps) == (0, 2)
    assert feed_of(second).base_seq == feed_of(first).base_seq
    assert matched(second) == [deal_id]


@pytest.fixture
def store(fresh_database_url: str, tmp_path: Path) -> Iterator[SnapshotStore]:
    settings = make_settings(fresh_database_url)
    db = Database(settings)
    yield SnapshotStore(tmp_path / "index", settings, db.reading)
    db.dispose()


def cutoff() -> datetime:
    return datetime.now(UTC) - timedelta(days=1)


def test_a_snapshot_of_another_database_or_format_is_not_used(
    store: SnapshotStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.obtain(cutoff())
    assert store.builds == 1 and store.path is not None
    path = store.path
    header, arrays = snapshot.open_mapped(path)
    about = header["about"]
    # Same file name, but made from another database (another OID: dropped and created again under its name).
    snapshot.write(path, dict(arrays), about | {"identity": about["identity"] | {"oid": about["identity"]["oid"] + 1}})
    store.obtain(cutoff())
    assert store.builds == 2
    # Another cluster.
    snapshot.write(path, dict(arrays), about | {"identity": about["identity"] | {"system": "1"}})
    store.obtain(cutoff())
    assert store.builds == 3
    # Another format version.
    monkeypatch.setattr(snapshot, "FORMAT", snapshot.FORMAT + 1)
    snapshot.write(path, dict(arrays), about)
    monkeypatch.undo()
    assert snapshot.read_header(path) is None
    killed = path.with_name(f".{path.name}.99999.tmp")  # left by a build that was killed half way
    killed.write_bytes(b"half")
    store.obtain(cutoff())
    assert store.builds == 4 and not killed.exists()
    # The file as written: used as it is.
    store.obtain(cutoff())
    assert (store.builds, store.maps) == (4, 5)


def test_a_snapshot_whose_seq_deal_changes_no_longer_continues_is_not_used(
    store: SnapshotStore, fresh_database_url: str
) -> None:
    store.obtain(cutoff())
    assert store.builds == 1
    admin = Database(make_settings(fresh_database_url, database_role=""))
    try:
        with admin.engine.begin() as conn:  # two changes after the snapshot, the first of them pruned
            conn.execute(text("UPDATE deal_change_head SET seq = seq + 1"))
            conn.execute(text("INSERT INTO deal_changes (seq, store_id) SELECT seq, 1 FROM deal_change_head"))
            conn.execute(text("UPDATE deal_change_head SET seq = seq + 1"))
            conn.execute(text("INSERT INTO deal_changes (seq, store_id) SELECT seq, 1 FROM deal_change_head"))
        store.obtain(cutoff())
        assert store.builds == 1  # still continued: both changes are there
        with admin.engine.begin() as conn:
            conn.execute(text("DELETE FROM deal_changes WHERE seq = (SELECT min(seq) FROM deal_changes)"))
        store.obtain(cutoff())
        assert store.builds == 2
    finally:
        admin.dispose()


def test_the_bulk_load_holds_what_loading_deal_by_deal_holds(
    database_url: str, merchant_headers: Callable[..., Headers], client: TestClient
) -> None:
    """The full load reads each deal's cells as one binary string and adds deals in batches; the index must be
    the one adding each deal as the feed does (``index.add`` of ``source.record``) gives."""
    merchant = merchant_headers()
    for _ in range(3):
        publish(client, merchant)
    db = Database(make_settings(database_url))
    try:
        bulk, _ = load_index(db.reading, 8, cutoff())
        with db.engine.connect() as conn:
            rows = conn.exec_driver_sql(SELECT_ALL, {"cutoff": cutoff()}).mappings().all()
    finally:
        db.dispose()
    one_by_one = DealIndex(8)
    for row in rows:
        one_by_one.add(record(row))
    one_by_one.freeze()
    assert len(bulk) == len(one_by_one) > 0
    for row in rows:
        deal_id = int(row["deal_id"])
        slot, other = bulk.slot(deal_id), one_by_one.slot(deal_id)
        assert slot is not None and other is not None
        assert bulk.fragment(slot) == one_by_one.fragment(other)
        for cell in row["cells"]:
            assert sorted(bulk.ids[bulk.candidates(cell)].tolist()) == sorted(
                one_by_one.ids[one_by_one.candidates(cell)].tolist()
            )
