"""Matching a coarse cell to live deals, with a per-cell answer cache that lives until the next change.

An answer for a cell only changes when a deal covering it changes (the index feed invalidates the cell and its
ancestors) or when time crosses a boundary of one of its candidates (a validity start or end, a window opening
or closing); the cache keeps each answer exactly until the earliest such boundary, so a cached answer is
always the answer the index would compute now.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from geo_offers.categories import CATEGORIES
from geo_offers.cells import band_rank, cell_str, cells_at, centre, distance_band, distance_m, resolution
from geo_offers.index import DealIndex, ancestors
from geo_offers.schedule import LocalNow, local_now

MAX_TTL_S = 300.0
_CATEGORY_CODE = {name: code for code, name in enumerate(CATEGORIES)}
_BANDS = [distance_band(d).encode() for d in (0.0, 1_000.0, 3_000.0, 10_000.0)]


@dataclass(frozen=True, slots=True)
class Answer:
    """A rendered match answer, the deals it serves, and until when it holds (epoch seconds)."""

    body: bytes
    deal_ids: tuple[int, ...]
    expires: float


class Matcher:
    """Answers matches from a DealIndex; the index feed calls ``changed`` and ``replace``."""

    def __init__(self, index: DealIndex, *, max_entries: int = 10_000, coarsest_res: int = 5) -> None:
        self.index = index
        self._max = max_entries
        self._coarsest = coarsest_res
        self._cache: dict[tuple[int, tuple[str, ...], int], Answer] = {}
        self._keys_by_cell: dict[int, set[tuple[int, tuple[str, ...], int]]] = {}
        self.hits = 0
        self.misses = 0

    def replace(self, index: DealIndex) -> None:
        """Serve from a freshly loaded index; every cached answer is dropped."""
        self.index = index
        self._cache.clear()
        self._keys_by_cell.clear()

    def changed(self, cells: Iterable[int]) -> None:
        """Drop cached answers of every cell that contains one of ``cells`` (coverage cells of a change)."""
        for cell in ancestors(cells, self.index.res, self._coarsest):
            for key in self._keys_by_cell.pop(cell, ()):
                self._cache.pop(key, None)

    def match(self, cell: int, categories: tuple[str, ...], limit: int, now: datetime) -> Answer:
        """The answer for a cell already coarsened to the consented resolution."""
        key = (cell, categories, limit)
        now_ts = now.timestamp()
        cached = self._cache.get(key)
        if cached is not None and cached.expires > now_ts:
            self.hits += 1
            return cached
        self.misses += 1
        answer = self._compute(cell, categories, limit, now, now_ts)
        if len(self._cache) >= self._max:
            for old in list(self._cache)[: self._max // 4]:  # oldest quarter; lost keys are re-made on demand
                del self._cache[old]
        self._cache[key] = answer
        self._keys_by_cell.setdefault(cell, set()).add(key)
        return answer

    def _compute(self, cell: int, categories: tuple[str, ...], limit: int, now: datetime, now_ts: float) -> Answer:
        index = self.index
        slots = index.candidates(cells_at(cell, index.res))
        clat, clon = centre(cell)
        preference = {_CATEGORY_CODE[c]: rank for rank, c in enumerate(categories)}
        expires = now_ts + MAX_TTL_S
        zones: dict[int, LocalNow] = {}
        windows: dict[tuple[int, int], tuple[float, bytes | None]] = {}
        ranked: list[tuple[int, int, float, int, bytes]] = []
        for slot in slots:
            rank = 0
            if preference:
                code = preference.get(index.category[slot])
                if code is None:
                    continue
                rank = code
            valid_from = index.valid_from[slot]
            if now_ts < valid_from:
                expires = min(expires, valid_from)
                continue
            valid_until = index.valid_until[slot]
            if now_ts >= valid_until:
                continue
            expires = min(expires, valid_until)
            schedule_id = index.schedule[slot]
            schedule = index.schedules[schedule_id]
            window_end = b"null"
            if not schedule.always:
                zone_id = index.zone[slot]
                memo = windows.get((zone_id, schedule_id))
                if memo is None:
                    local = zones.get(zone_id)
                    if local is None:
                        local = zones[zone_id] = local_now(now, index.zones[zone_id])
                    second = local.second_of_week
                    boundary = local.horizon(second + schedule.next_boundary(second)).timestamp()
                    end = schedule.end_if_open(second)
                    rendered = None if end is None else b'"' + _iso(local.to_utc(end)).encode() + b'"'
                    memo = windows[(zone_id, schedule_id)] = (boundary, rendered)
                boundary, rendered = memo
                expires = min(expires, boundary)
                if rendered is None:
                    continue
                window_end = rendered
            metres = distance_m(clat, clon, index.lat[slot], index.lon[slot])
            ranked.append((band_rank(metres), rank, metres, slot, window_end))
        ranked.sort()
        top = ranked[:limit]
        offers = b",".join(
            index.fragments[slot] + b',"distance_band":"' + _BANDS[band] + b'","window_ends_at":' + end + b"}"
            for band, _, _, slot, end in top
        )
        body = b'{"cell":"%s","resolution":%d,"offers":[%s]}' % (cell_str(cell).encode(), resolution(cell), offers)
        return Answer(body, tuple(index.ids[slot] for _, _, _, slot, _ in top), expires)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
