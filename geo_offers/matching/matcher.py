"""Matching a coarse cell to live deals, with a per-cell answer cache that lives until the next change.

An answer for a cell only changes when a deal covering it changes (the index feed invalidates the cell and its
ancestors) or when time crosses a boundary of one of its candidates (a validity start or end, a window opening
or closing); the cache keeps each answer exactly until the earliest such boundary, so a cached answer is
always the answer the index would compute now.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import h3.api.basic_int as h3
import numpy as np
import numpy.typing as npt

from geo_offers.matching.index import DealIndex
from geo_offers.places.categories import CATEGORIES
from geo_offers.places.cells import DISTANCE_BANDS, cell_str, centre, distance_band, distances_m, resolution
from geo_offers.places.schedule import local_now

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
        self._cache: dict[Key, Answer] = {}
        self._keys_by_cell: dict[int, set[Key]] = {}
        self._keys_by_deal: dict[int, set[Key]] = {}
        # per (time zone, schedule) pair of the index: open now, until when that holds, the open window's end
        self._open = np.zeros(0, dtype=bool)
        self._fresh_until = np.zeros(0)
        self._evaluated_at = np.zeros(0)
        self._ends: list[bytes] = []
        self.hits = 0
        self.misses = 0

    def replace(self, index: DealIndex) -> None:
        """Serve from a freshly loaded index; every cached answer is dropped."""
        self.index = index
        self._cache.clear()
        self._keys_by_cell.clear()
        self._keys_by_deal.clear()
        self._open = np.zeros(0, dtype=bool)
        self._fresh_until = np.zeros(0)
        self._evaluated_at = np.zeros(0)
        self._ends = []

    def changed(self, cells: Iterable[int], deal_ids: Iterable[int] = ()) -> None:
        """Drop cached answers that a change can alter: those of every cell containing one of ``cells`` (the
        new coverage of changed deals) and those serving one of ``deal_ids`` (changed or removed deals)."""
        for cell in ancestors(cells, self.index.res, self._coarsest):
            for key in list(self._keys_by_cell.get(cell, ())):
                self._forget(key)
        for deal_id in deal_ids:
            for key in list(self._keys_by_deal.get(deal_id, ())):
                self._forget(key)

    def _forget(self, key: Key) -> None:
        answer = self._cache.pop(key, None)
        if answer is None:
            return
        _discard(self._keys_by_cell, key[0], key)
        for deal_id in answer.deal_ids:
            _discard(self._keys_by_deal, deal_id, key)

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
        if cached is not None:
            self._forget(key)
        if self._max <= 0:
            return answer
        if len(self._cache) >= self._max:
            for old in list(self._cache)[: max(1, self._max // 4)]:  # oldest quarter; re-made on demand
                self._forget(old)
        self._cache[key] = answer
        self._keys_by_cell.setdefault(cell, set()).add(key)
        for deal_id in answer.deal_ids:
            self._keys_by_deal.setdefault(deal_id, set()).add(key)
        return answer

    def _compute(self, cell: int, categories: tuple[str, ...], limit: int, now: datetime, now_ts: float) -> Answer:
        index = self.index
        slots = index.candidates(cell)
        expires = now_ts + MAX_TTL_S
        rank: Any = _NO_RANK
        if categories:
            table = np.full(256, -1, dtype=np.int16)
            for position, name in enumerate(categories):
                table[_CATEGORY_CODE[name]] = position
            ranks = table[index.category[slots]]
            keep = ranks >= 0
            slots, rank = slots[keep], ranks[keep]
        valid_from = index.valid_from[slots]
        not_yet = valid_from > now_ts
        if not_yet.any():
            expires = min(expires, float(valid_from[not_yet].min()))
        valid_until = index.valid_until[slots]
        live = ~not_yet & (valid_until > now_ts)
        if not live.all():
            slots = slots[live]
            valid_until = valid_until[live]
            if categories:
                rank = rank[live]
        if len(slots):
            expires = min(expires, float(valid_until.min()))
        # weekly windows: one state per (time zone, schedule) pair, shared by all answers until its next boundary
        timing = index.timing[slots]
        self._grow_windows()
        stale = (self._fresh_until[timing] <= now_ts) | (self._evaluated_at[timing] > now_ts)
        if stale.any():
            self._refresh_windows(np.unique(timing[stale]), now, now_ts)
        if len(timing):
            expires = min(expires, float(self._fresh_until[timing].min()))
        opened = self._open[timing]
        if not opened.all():
            slots, timing = slots[opened], timing[opened]
            if categories:
                rank = rank[opened]
        clat, clon = centre(cell)
        metres = distances_m(clat, clon, index.lat[slots], index.lon[slots])
        band = np.searchsorted(_BAND_LIMITS, metres, side="right")
        # (band, category preference, distance) in one float: metres < 2e7, preference < 20 categories
        order_key = band * 4e8 + rank * 2e7 + metres
        if len(order_key) > 4 * limit:  # only what can reach the top, in slot order, then a stable sort
            within = np.flatnonzero(order_key <= np.partition(order_key, limit - 1)[limit - 1])
            top = within[np.argsort(order_key[within], kind="stable")[:limit]].tolist()
        else:
            top = np.argsort(order_key, kind="stable")[:limit].tolist()
        chosen = slots[top].tolist()
        ends = self._ends
        offers = b",".join(
            index.fragment(slot) + b',"distance_band":"' + _BANDS[b] + b'","window_ends_at":' + ends[t] + b"}"
            for slot, b, t in zip(chosen, band[top].tolist(), timing[top].tolist(), strict=True)
        )
        body = b'{"cell":"%s","resolution":%d,"offers":[%s]}' % (cell_str(cell).encode(), resolution(cell), offers)
        return Answer(body=body, deal_ids=tuple(index.ids[chosen].tolist()), expires=expires)

    def _grow_windows(self) -> None:
        known = len(self._open)
        wanted = len(self.index.timings)
        if wanted > known:
            more = max(wanted, 2 * known) - known
            self._open = np.concatenate((self._open, np.zeros(more, dtype=bool)))
            self._fresh_until = np.concatenate((self._fresh_until, np.zeros(more)))
            self._evaluated_at = np.concatenate((self._evaluated_at, np.zeros(more)))
            self._ends.extend([b"null"] * more)

    def _refresh_windows(self, timings: npt.NDArray[np.uint32], now: datetime, now_ts: float) -> None:
        """Evaluate the named (time zone, schedule) pairs at ``now``: open or not, the end of the open window,
        and until when that holds (the next boundary; a schedule's state only changes there)."""
        for timing in timings.tolist():
            zone, schedule = self.index.timings[timing]
            if schedule.always:
                self._open[timing], self._fresh_until[timing], self._evaluated_at[timing] = True, math.inf, -math.inf
                continue
            self._evaluated_at[timing] = now_ts
            local = local_now(now, zone)
            second = local.second_of_week
            self._fresh_until[timing] = local.horizon(second + schedule.next_boundary(second)).timestamp()
            end = schedule.end_if_open(second)
            self._open[timing] = end is not None
            self._ends[timing] = b"null" if end is None else b'"' + _iso(local.to_utc(end)).encode() + b'"'


Key = tuple[int, tuple[str, ...], int]
_NO_RANK = 0
_BAND_LIMITS = np.array([limit for limit, _ in DISTANCE_BANDS])


def _discard(mapping: dict[int, set[Key]], name: int, key: Key) -> None:
    keys = mapping.get(name)
    if keys is not None:
        keys.discard(key)
        if not keys:
            del mapping[name]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def ancestors(cells: Iterable[int], finest: int, coarsest: int) -> set[int]:
    """Every ancestor (and the cell itself when ``finest`` is its resolution) from ``finest`` to ``coarsest``."""
    out: set[int] = set()
    for cell in cells:
        own = h3.get_resolution(cell)
        for res in range(min(finest, own), coarsest - 1, -1):
            out.add(cell if res == own else int(h3.cell_to_parent(cell, res)))
    return out
