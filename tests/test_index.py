"""The in-memory deal index (CSR tables plus overlays) against a brute-force reference, and the answer cache."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta

import h3.api.basic_int as h3
import orjson
import pytest

from geo_offers.matching import csr
from geo_offers.matching.index import DealIndex
from geo_offers.matching.matcher import Matcher
from geo_offers.matching.records import DealRecord
from geo_offers.places.cells import compact

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BERLIN = (52.52, 13.405)


def expand(code: int, res: int) -> int:
    """The H3 index of a compacted cell: the inverse of ``compact`` (mode bit, resolution, digits, unused 7s)."""
    unused = (1 << ((15 - res) * 3)) - 1
    return (1 << 59) | (res << 52) | (code << ((15 - res) * 3)) | unused


def make(deal_id: int, rng: random.Random, *, title: str = "deal") -> DealRecord:
    lat = BERLIN[0] + rng.uniform(-0.05, 0.05)
    lon = BERLIN[1] + rng.uniform(-0.08, 0.08)
    centre = h3.latlng_to_cell(lat, lon, 8)
    cells = sorted(h3.grid_disk(centre, rng.choice((0, 1, 2))))
    return DealRecord(
        deal_id=deal_id,
        title=f"{title} {deal_id}",
        description="",
        category=rng.choice(("cafe", "food", "fashion")),
        store_id=deal_id * 10,
        store_name="store",
        store_address="street 1",
        lat=lat,
        lon=lon,
        timezone="Europe/Berlin",
        valid_from=NOW - timedelta(days=1),
        valid_until=NOW + timedelta(days=1),
        windows=[],
        cells=cells,
    )


def reference(deals: dict[int, DealRecord], cell: int) -> set[int]:
    res = h3.get_resolution(cell)
    found = set()
    for deal in deals.values():
        if res >= 8:
            if h3.cell_to_parent(cell, 8) in deal.cells:
                found.add(deal.deal_id)
        elif any(h3.cell_to_parent(c, res) == cell for c in deal.cells):
            found.add(deal.deal_id)
    return found


def found_ids(index: DealIndex, cell: int) -> list[int]:
    slots = index.candidates(cell)
    assert list(slots) == sorted(set(slots.tolist())), "slots ascending and each once"
    return [int(index.ids[s]) for s in slots]


def queries(rng: random.Random) -> list[int]:
    out = []
    for _ in range(60):
        lat = BERLIN[0] + rng.uniform(-0.06, 0.06)
        lon = BERLIN[1] + rng.uniform(-0.1, 0.1)
        out.append(h3.latlng_to_cell(lat, lon, rng.choice((5, 6, 7, 7, 8, 9))))
    return out


def test_compact_round_trip_keeps_order() -> None:
    cells = sorted(h3.grid_disk(h3.latlng_to_cell(*BERLIN, 8), 3))
    codes = [compact(c, 8) for c in cells]
    assert codes == sorted(codes)
    assert [expand(code, 8) for code in codes] == cells


@pytest.mark.parametrize(("seed", "chunk"), [(1, 1 << 20), (2, 1 << 20), (3, 5), (4, 64)])
def test_candidates_agree_with_brute_force_through_changes(
    seed: int, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csr, "CHUNK", chunk)  # the CSR tables are built in chunks of this many keys
    rng = random.Random(seed)
    deals = {i: make(i, rng) for i in range(1, 301)}
    index = DealIndex(8)
    for deal in deals.values():
        index.add(deal)
    index.freeze()
    assert len(index) == 300
    for cell in queries(rng):
        assert sorted(found_ids(index, cell)) == sorted(reference(deals, cell))
    # after the load: moves, removals, new deals, all in the overlays
    for i in rng.sample(sorted(deals), 60):
        deals[i] = make(i, rng, title="moved")
        index.upsert(deals[i])
    for i in rng.sample(sorted(deals), 40):
        del deals[i]
        assert index.remove(i)
    for i in range(1000, 1050):
        deals[i] = make(i, rng)
        index.upsert(deals[i])
    assert not index.remove(99_999)
    assert len(index) == len(deals)
    for deal_id in deals:
        assert deal_id in index
    for cell in queries(rng):
        assert sorted(found_ids(index, cell)) == sorted(reference(deals, cell))
    # the in-memory rebuild merges the overlays and drops dead entries; answers stay the same
    index.freeze()
    assert index.extra_pairs == 0
    for cell in queries(rng):
        assert sorted(found_ids(index, cell)) == sorted(reference(deals, cell))
    moved = next(i for i, d in deals.items() if d.title.startswith("moved"))
    assert orjson.loads(index.fragment(index.slot(moved) or 0) + b"}")["title"] == f"moved {moved}"


def test_empty_index_answers_nothing() -> None:
    index = DealIndex(8)
    index.freeze()
    assert found_ids(index, h3.latlng_to_cell(*BERLIN, 7)) == []
    assert found_ids(DealIndex(8), h3.latlng_to_cell(*BERLIN, 5)) == []


def test_cached_answer_follows_changes() -> None:
    rng = random.Random(7)
    index = DealIndex(8)
    first = make(1, rng)
    index.add(first)
    index.freeze()
    matcher = Matcher(index)
    cell = h3.cell_to_parent(first.cells[0], 7)
    assert matcher.match(cell, (), 10, NOW).deal_ids == (1,)
    assert matcher.match(cell, (), 10, NOW).deal_ids == (1,)
    assert matcher.hits == 1
    # a deal added to the cell's coverage invalidates it
    second = dataclasses.replace(first, deal_id=2)
    matcher.changed(index.upsert(second), {2})
    assert set(matcher.match(cell, (), 10, NOW).deal_ids) == {1, 2}
    # a deal moved far away (new coverage elsewhere) leaves the old cell's cached answer
    far = dataclasses.replace(first, cells=[h3.latlng_to_cell(48.1, 11.6, 8)])
    matcher.changed(index.upsert(far), {1})
    assert matcher.match(cell, (), 10, NOW).deal_ids == (2,)
    # a removed deal too
    index.remove(2)
    matcher.changed([], {2})
    assert matcher.match(cell, (), 10, NOW).deal_ids == ()
