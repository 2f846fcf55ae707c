"""The pure parts of the live streams: which areas a coverage falls in, ids on the last event of a change, and
why a deal is no longer matchable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import h3.api.basic_int as h3

from geo_offers.live.changes import reason_of
from geo_offers.live.frames import removed_event, with_id
from geo_offers.live.hub import areas_of

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_a_coverage_falls_in_the_parents_of_its_cells_at_resolutions_5_to_the_coarsest() -> None:
    cell = h3.latlng_to_cell(52.52, 13.405, 8)
    assert areas_of([cell], 3) == {h3.cell_to_parent(cell, res) for res in (3, 4, 5)}
    assert areas_of([cell], 5) == {h3.cell_to_parent(cell, 5)}
    # A coverage straddling two resolution-5 cells falls in both.
    other = next(c for c in h3.grid_disk(cell, 40) if h3.cell_to_parent(c, 5) != h3.cell_to_parent(cell, 5))
    assert {h3.cell_to_parent(cell, 5), h3.cell_to_parent(other, 5)} <= areas_of([cell, other], 5)
    assert areas_of([], 3) == set()


def test_only_the_last_event_of_a_change_carries_its_id() -> None:
    chunk = with_id([removed_event(1, "paused"), removed_event(2, "ended")], 77)
    frames = [frame for frame in chunk.split(b"\r\n\r\n") if frame]
    assert [b"id: 77" in frame for frame in frames] == [False, True]


def row(**fields: Any) -> dict[str, Any]:
    base = {
        "status": "active",
        "valid_until": NOW + timedelta(days=3),
        "max_redemptions": None,
        "redemptions": 0,
        "codes_left": None,
    }
    return {**base, **fields}


def test_why_a_deal_is_not_matchable() -> None:
    cutoff = NOW - timedelta(days=1)
    assert reason_of(row(), cutoff) is None
    assert reason_of(row(status="paused"), cutoff) == "paused"
    assert reason_of(row(status="draft"), cutoff) == "draft"
    assert reason_of(row(status="ended"), cutoff) == "ended"
    assert reason_of(row(valid_until=cutoff), cutoff) == "ended"
    assert reason_of(row(max_redemptions=5, redemptions=5), cutoff) == "used_up"
    assert reason_of(row(max_redemptions=5, redemptions=4), cutoff) is None
    assert reason_of(row(codes_left=0), cutoff) == "used_up"
    assert reason_of(row(codes_left=1), cutoff) is None
