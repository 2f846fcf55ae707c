"""Property tests (hypothesis) for the pure parts: coarsening, coverage, weekly schedules, chain hashing.

Each property is checked against an independent oracle: h3's own parent relation, point-in-cell lookups,
a minute-by-minute evaluation of the windows on the local wall clock, and a recomputed hash chain.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import h3.api.basic_int as h3
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from shapely import MultiPolygon, Point, Polygon

from consent.canonical import GENESIS, canonical_json, chain_hash
from consent.errors import InvalidInput
from consent.ledger.chain import VerifyRow, check_row, event_document, verify_rows
from geo_offers.places.cells import cell_str, coarsen, descendant_range, parse_cell, resolution
from geo_offers.places.coverage import cover
from geo_offers.places.geometry import circle
from geo_offers.places.schedule import DAYS, WEEK, compile_windows, local_now

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- cells --------------------------------------------------------------------------------------------------

latitudes = st.floats(min_value=-84.0, max_value=84.0, allow_nan=False)
longitudes = st.floats(min_value=-179.9, max_value=179.9, allow_nan=False)


@st.composite
def cells(draw: st.DrawFn, min_res: int = 0, max_res: int = 15) -> int:
    res = draw(st.integers(min_value=min_res, max_value=max_res))
    return int(h3.latlng_to_cell(draw(latitudes), draw(longitudes), res))


@PROPERTY
@given(cell=cells(), finest=st.integers(min_value=0, max_value=15))
def test_coarsening_is_never_finer_than_the_ceiling_and_is_an_ancestor(cell: int, finest: int) -> None:
    coarse = coarsen(cell, finest)
    assert resolution(coarse) == min(resolution(cell), finest)
    assert h3.is_valid_cell(coarse)
    assert coarse == cell or int(h3.cell_to_parent(cell, resolution(coarse))) == coarse
    assert coarsen(coarse, finest) == coarse


@PROPERTY
@given(cell=cells(), spelling=st.sampled_from([str.lower, str.upper, lambda s: f"  {s}\n"]))
def test_parse_cell_reads_back_every_spelling_of_a_cell(cell: int, spelling: Any) -> None:
    assert parse_cell(spelling(cell_str(cell))) == cell


@PROPERTY
@given(text=st.text(max_size=20))
def test_parse_cell_answers_a_cell_or_invalid_input_for_any_text(text: str) -> None:
    try:
        value = parse_cell(text)
    except InvalidInput:
        return
    assert h3.is_valid_cell(value)


@PROPERTY
@given(cell=cells(max_res=12), depth=st.integers(min_value=0, max_value=3), other=cells(min_res=0, max_res=15))
def test_descendant_range_holds_exactly_the_descendants(cell: int, depth: int, other: int) -> None:
    res = resolution(cell) + depth
    low, high = descendant_range(cell, res)
    for child in h3.cell_to_children(cell, res):
        assert low <= int(child) <= high
    if resolution(other) == res and low <= other <= high:
        assert int(h3.cell_to_parent(other, resolution(cell))) == cell


# --- coverage -----------------------------------------------------------------------------------------------


def _points_inside(area: MultiPolygon, seeds: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(lon, lat) points inside ``area``, spread from unit-square seeds over its bounding box."""
    min_x, min_y, max_x, max_y = area.bounds
    points = [(min_x + u * (max_x - min_x), min_y + v * (max_y - min_y)) for u, v in seeds]
    points += [(c.x, c.y) for c in (area.representative_point(), area.centroid)]
    points += list(area.geoms[0].exterior.coords)  # the boundary belongs to the area too
    return [p for p in points if area.covers(Point(p))]


unit = st.floats(min_value=0.0, max_value=1.0)
seeds = st.lists(st.tuples(unit, unit), min_size=20, max_size=60)


@PROPERTY
@given(
    lat=st.floats(min_value=-60.0, max_value=70.0),
    lon=st.floats(min_value=-170.0, max_value=170.0),
    radius=st.integers(min_value=50, max_value=5_000),
    res=st.integers(min_value=6, max_value=9),
    spread=seeds,
)
def test_every_point_of_a_circle_lies_in_a_covered_cell(
    lat: float, lon: float, radius: int, res: int, spread: list[tuple[float, float]]
) -> None:
    area = circle(lat, lon, radius)
    covered = set(cover(area, res))
    for x, y in _points_inside(area, spread):
        assert int(h3.latlng_to_cell(y, x, res)) in covered, (y, x)


@st.composite
def star_polygons(draw: st.DrawFn) -> MultiPolygon:
    """A star-shaped (so simple) polygon of 3 to 12 vertices, up to about 5 km across."""
    lat = draw(st.floats(min_value=-60.0, max_value=70.0))
    lon = draw(st.floats(min_value=-170.0, max_value=170.0))
    n = draw(st.integers(min_value=3, max_value=12))
    angles = sorted(draw(st.lists(st.floats(0, 2 * math.pi, exclude_max=True), min_size=n, max_size=n, unique=True)))
    assume(all(b - a > 0.05 for a, b in zip(angles, angles[1:], strict=False)))
    assume(2 * math.pi - angles[-1] + angles[0] > 0.05)
    radii = draw(st.lists(st.floats(0.001, 0.05), min_size=n, max_size=n))
    ring = [
        (lon + r * math.cos(a) / math.cos(math.radians(lat)), lat + r * math.sin(a))
        for a, r in zip(angles, radii, strict=True)
    ]
    polygon = Polygon([*ring, ring[0]])
    assume(polygon.is_valid and polygon.area > 0)
    return MultiPolygon([polygon])


@PROPERTY
@given(area=star_polygons(), res=st.integers(min_value=6, max_value=9), spread=seeds)
def test_every_point_of_a_polygon_lies_in_a_covered_cell(
    area: MultiPolygon, res: int, spread: list[tuple[float, float]]
) -> None:
    covered = set(cover(area, res))
    for x, y in _points_inside(area, spread):
        assert int(h3.latlng_to_cell(y, x, res)) in covered, (y, x)


# --- weekly schedules ---------------------------------------------------------------------------------------

MINUTES_A_WEEK = WEEK // 60
clock_times = st.integers(min_value=0, max_value=24 * 60 - 1).map(lambda m: f"{m // 60:02d}:{m % 60:02d}")


@st.composite
def windows(draw: st.DrawFn) -> list[dict[str, Any]]:
    result = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        start = draw(clock_times)
        end = draw(clock_times | st.just("24:00"))
        assume(start != end)
        days = draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=7, unique=True))
        result.append({"days": days, "start": start, "end": end})
    return result


def _minutes(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:])


def wall_open(windows: list[dict[str, Any]], minute_of_week: int) -> bool:
    """The oracle: is the local wall-clock minute inside a window? Written from the API's definition alone."""
    day, minute = divmod(minute_of_week % MINUTES_A_WEEK, 1440)
    for window in windows:
        start, end = _minutes(window["start"]), _minutes(window["end"])
        for name in window["days"]:
            opens = DAYS.index(name)
            if end > start and day == opens and start <= minute < end:
                return True
            if end <= start and ((day == opens and minute >= start) or (day == (opens + 1) % 7 and minute < end)):
                return True
    return False


def week_map(windows: list[dict[str, Any]]) -> list[bool]:
    return [wall_open(windows, m) for m in range(MINUTES_A_WEEK)]


@pytest.mark.slow
@PROPERTY
@given(windows=windows(), minute=st.integers(0, MINUTES_A_WEEK - 1), second=st.integers(0, 59))
def test_schedule_agrees_with_a_minute_by_minute_evaluation(
    windows: list[dict[str, Any]], minute: int, second: int
) -> None:
    schedule = compile_windows(windows)
    opened = week_map(windows)
    now = minute * 60 + second
    end = schedule.end_if_open(now)
    assert (end is not None) == opened[minute]
    if end is not None:
        assert end > now
        # Open all the way to the end, and closed right there (unless open the whole week round).
        assert all(opened[m % MINUTES_A_WEEK] for m in range(minute, math.ceil(end / 60)))
        assert end % 60 == 0
        assert not opened[(end // 60) % MINUTES_A_WEEK] or all(opened)
    boundary = now + schedule.next_boundary(now)
    assert now < boundary <= now + WEEK
    # Nothing changes before the next boundary.
    assert all(opened[m % MINUTES_A_WEEK] == opened[minute] for m in range(minute, math.ceil(boundary / 60)))


BERLIN = ZoneInfo("Europe/Berlin")
# The weeks of the two switches in 2026 (29 March 02:00 -> 03:00, 25 October 03:00 -> 02:00) and a plain one.
DST_WEEKS = [datetime(2026, 3, 23, tzinfo=UTC), datetime(2026, 10, 19, tzinfo=UTC), datetime(2026, 6, 8, tzinfo=UTC)]


def local_open(windows: list[dict[str, Any]], moment: datetime, zone: ZoneInfo) -> bool:
    local = moment.astimezone(zone)
    return wall_open(windows, local.weekday() * 1440 + local.hour * 60 + local.minute)


_SUNDAY = 6 * 1440


@PROPERTY
# Found by this test: a window ending inside the spring gap (02:30 on 29 March) was cached as open until 03:30.
@example([{"days": ["sun"], "start": "01:00", "end": "02:30"}], DST_WEEKS[0], _SUNDAY + 30)
@example([{"days": ["sun"], "start": "02:30", "end": "05:00"}], DST_WEEKS[0], _SUNDAY + 30)
# In autumn 02:00-03:00 comes twice: a window ending at 02:30 closes, then opens again at 02:00 CET.
@example([{"days": ["sun"], "start": "01:00", "end": "02:30"}], DST_WEEKS[1], _SUNDAY - 60)
@example([{"days": ["sun"], "start": "01:00", "end": "02:30"}], DST_WEEKS[1], _SUNDAY + 45)
@example([{"days": ["sat"], "start": "22:00", "end": "02:15"}], DST_WEEKS[1], _SUNDAY - 30)
@given(
    windows=windows(),
    week=st.sampled_from(DST_WEEKS),
    offset=st.integers(min_value=0, max_value=MINUTES_A_WEEK - 1),
)
def test_schedule_in_berlin_across_daylight_saving_switches(
    windows: list[dict[str, Any]], week: datetime, offset: int
) -> None:
    """Open or closed follows the wall clock on the real instant, and the matcher's cache horizon (the next
    boundary, as a UTC instant) is never later than the first real change, also across the clock switches."""
    schedule = compile_windows(windows)
    now = week + timedelta(minutes=offset)
    local = local_now(now, "Europe/Berlin")
    is_open = schedule.end_if_open(local.second_of_week) is not None
    assert is_open == local_open(windows, now, BERLIN)
    horizon = local.horizon(local.second_of_week + schedule.next_boundary(local.second_of_week))
    assert horizon > now
    moment = now
    while moment < horizon:
        assert local_open(windows, moment, BERLIN) == is_open, (moment, horizon)
        moment += timedelta(minutes=1)
    end = schedule.end_if_open(local.second_of_week)
    if end is not None:
        closes = local.to_utc(end)
        moment = now
        while moment < closes:
            assert local_open(windows, moment, BERLIN), (moment, closes)
            moment += timedelta(minutes=1)


# --- chain hashing ------------------------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


def _reordered(value: Any, data: st.DataObject) -> Any:
    if isinstance(value, dict):
        keys = data.draw(st.permutations(list(value)))
        return {k: _reordered(value[k], data) for k in keys}
    if isinstance(value, list):
        return [_reordered(v, data) for v in value]
    return value


@PROPERTY
@given(document=st.dictionaries(st.text(max_size=8), json_values, max_size=6), data=st.data())
def test_canonical_json_does_not_depend_on_key_order(document: dict[str, Any], data: st.DataObject) -> None:
    text = canonical_json(document)
    assert canonical_json(_reordered(document, data)) == text
    assert canonical_json(__import__("json").loads(text)) == text  # a fixed point


@st.composite
def ledger_rows(draw: st.DrawFn) -> list[VerifyRow]:
    """A well-formed chain of 1 to 6 events as the verifier reads them from the database."""
    rows: list[VerifyRow] = []
    prev = GENESIS
    at = datetime(2026, 5, 1, tzinfo=UTC)
    for seq in range(1, draw(st.integers(min_value=1, max_value=6)) + 1):
        at += timedelta(seconds=draw(st.integers(0, 10**6)), microseconds=draw(st.integers(0, 999_999)))
        kind = draw(st.sampled_from(["grant", "decline", "withdraw", "expire", "erase"]))
        purposes = draw(st.lists(st.sampled_from(["location_offers", "offer_analytics"]), unique=True))
        decision = uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))
        notice = draw(st.none() | st.integers(1, 1000))
        tag = uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))
        document = event_document(
            kind, at, tag, purposes, decision_id=decision, notice_version=notice, locale=draw(st.text(max_size=6))
        )
        canonical = canonical_json(document)
        digest = chain_hash(prev, canonical)
        rows.append(
            VerifyRow(
                seq=seq,
                canonical=canonical,
                prev_hash=prev,
                hash=digest,
                event_type=kind,
                tag=str(tag),
                decision_id=str(decision),
                purposes=sorted(purposes),
                notice_version=notice,
                at=document["at"],
            )
        )
        prev = digest
    return rows


@PROPERTY
@given(rows=ledger_rows())
def test_a_well_formed_chain_verifies(rows: list[VerifyRow]) -> None:
    result = verify_rows(rows, (len(rows), rows[-1].hash))
    assert result.ok, result.problem
    assert result.events_checked == len(rows)


@PROPERTY
@given(rows=ledger_rows(), data=st.data())
def test_any_single_change_in_the_canonical_text_is_detected(rows: list[VerifyRow], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(rows) - 1))
    canonical = rows[index].canonical
    position = data.draw(st.integers(0, len(canonical) - 1))
    replacement = data.draw(st.characters(codec="utf-8").filter(lambda c: c != canonical[position]))
    row = rows[index]._replace(canonical=canonical[:position] + replacement + canonical[position + 1 :])
    tampered = [*rows[:index], row, *rows[index + 1 :]]
    result = verify_rows(tampered, (len(rows), rows[-1].hash))
    assert not result.ok
    assert result.first_bad_seq == index + 1


@pytest.mark.parametrize("column", ["prev_hash", "hash"])
@PROPERTY
@given(rows=ledger_rows(), data=st.data())
def test_any_single_byte_change_in_a_hash_is_detected(rows: list[VerifyRow], column: str, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(rows) - 1))
    digest = bytearray(getattr(rows[index], column))
    position = data.draw(st.integers(0, len(digest) - 1))
    digest[position] ^= data.draw(st.integers(1, 255))
    row = rows[index]._replace(**{column: bytes(digest)})
    prev = GENESIS if index == 0 else rows[index - 1].hash
    assert check_row(row, index + 1, prev) is not None
    tampered = [*rows[:index], row, *rows[index + 1 :]]
    assert not verify_rows(tampered, (len(rows), rows[-1].hash)).ok
