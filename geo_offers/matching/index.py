"""The in-memory index of matchable deals that every worker keeps: H3 cell -> deals, and what ranking needs.

Memory is what limits a worker with a million deals (16 million coverage cells), so nothing here is a Python
object per deal or per cell:

- per-deal columns are numpy arrays indexed by *slot* (grown by doubling); the offers' pre-rendered JSON lives
  in two byte pools with offsets, one for each deal's own part and one for store parts (stored once per store),
  and the part the device applies (frequency rules, one-time codes) is kept once per distinct value;
- the cell map is a compressed sparse row (CSR) table built once per full load: coverage cells sorted (as the
  31 meaningful bits of a resolution-8 index), offsets, and the slots of each cell; a second CSR holds the
  parents one resolution up, so the usual query (a resolution-7 cell) is one binary search and one slice,
  without merging its seven children;
- deal id -> slot is a binary search in the sorted ids of the load.

Changes after the load go to small overlays (dicts) next to the CSR tables: a changed deal gets a new slot and
its old slot is marked dead; dead slots are skipped and dropped at the next full load, which the feed starts
when dead slots or the overlays grow large. The index itself never talks to the database:
``geo_offers.matching.source`` feeds it.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from typing import Any

import h3.api.basic_int as h3
import numpy as np
import numpy.typing as npt

from geo_offers.matching import csr
from geo_offers.matching.csr import EMPTY, Csr, Slots
from geo_offers.matching.records import DealRecord, render_store, render_terms, render_text
from geo_offers.places.categories import CATEGORIES
from geo_offers.places.cells import cells_at, coarsen, compact, resolution
from geo_offers.places.schedule import Schedule, compile_windows

_CATEGORY_CODE = {name: code for code, name in enumerate(CATEGORIES)}


class DealIndex:
    """Columnar store of matchable deals with a cell -> slots map at the index resolution and one coarser."""

    _COLUMNS = (
        ("ids", np.int64),
        ("alive", np.uint8),
        ("lat", np.float64),
        ("lon", np.float64),
        ("valid_from", np.float64),
        ("valid_until", np.float64),
        ("category", np.uint8),
        ("timing", np.uint32),
        ("text_start", np.int64),
        ("store_start", np.int64),
        ("store_len", np.uint32),
        ("terms", np.uint32),
    )

    def __init__(self, res: int) -> None:
        self.res = res
        self.slot_bits = min(31, 64 - (7 + 3 * res))
        self.size = 0  # slots used, live or dead
        self.live = 0
        self.dead = 0
        self._capacity = 0
        self.ids: npt.NDArray[np.int64]
        self.alive: npt.NDArray[np.uint8]
        self.lat: npt.NDArray[np.float64]
        self.lon: npt.NDArray[np.float64]
        self.valid_from: npt.NDArray[np.float64]
        self.valid_until: npt.NDArray[np.float64]
        self.category: npt.NDArray[np.uint8]
        self.timing: npt.NDArray[np.uint32]
        self.text_start: npt.NDArray[np.int64]
        self.store_start: npt.NDArray[np.int64]
        self.store_len: npt.NDArray[np.uint32]
        self.terms: npt.NDArray[np.uint32]
        self._grow(1024)
        # offers' JSON: each deal's own part, and each store's part once (per load; a change appends anew)
        self._texts = bytearray()
        self._stores = bytearray()
        self._store_parts: dict[int, tuple[int, int]] = {}
        # distinct (time zone, weekly schedule) pairs; a slot's ``timing`` is its position here
        self.timings: list[tuple[str, Schedule]] = []
        self._timing_ids: dict[tuple[str, Schedule], int] = {}
        # distinct device terms (frequency rules, codes); a slot's ``terms`` is its position here
        self._terms: list[bytes] = []
        self._terms_ids: dict[bytes, int] = {}
        # bulk load: keys of (cell at res, slot) pairs, sorted and split into the CSR tables by ``freeze``
        self._pending = array("Q")
        self.fine = Csr(np.zeros(0, dtype=np.uint64), self.slot_bits)
        self.coarse = Csr(np.zeros(0, dtype=np.uint64), self.slot_bits)
        self._sorted_ids = np.zeros(0, dtype=np.int64)
        self._sorted_slots = EMPTY
        # changes after the load
        self._moved: dict[int, int] = {}
        self._fine_extra: dict[int, list[int]] = {}
        self._coarse_extra: dict[int, list[int]] = {}
        self.extra_pairs = 0

    # -- storage -------------------------------------------------------------------------------------------

    def _grow(self, capacity: int) -> None:
        for name, dtype in self._COLUMNS:
            column = np.zeros(capacity, dtype=dtype)
            if self._capacity:
                column[: self.size] = getattr(self, name)[: self.size]
            setattr(self, name, column)
        self._capacity = capacity

    def _intern_timing(self, zone: str, windows: list[dict[str, Any]]) -> int:
        key = (zone, compile_windows(windows))
        code = self._timing_ids.get(key)
        if code is None:
            code = self._timing_ids[key] = len(self.timings)
            self.timings.append(key)
        return code

    def _append(self, record: DealRecord) -> int:
        slot = self.size
        if slot >= 1 << self.slot_bits:
            raise OverflowError("too many deal slots for one index")
        if slot == self._capacity:
            self._grow(self._capacity * 2)
        self.ids[slot] = record.deal_id
        self.alive[slot] = 1
        self.lat[slot] = record.lat
        self.lon[slot] = record.lon
        self.valid_from[slot] = record.valid_from.timestamp()
        self.valid_until[slot] = record.valid_until.timestamp()
        self.category[slot] = _CATEGORY_CODE.get(record.category, _CATEGORY_CODE["other"])
        self.timing[slot] = self._intern_timing(record.timezone, record.windows)
        self.text_start[slot] = len(self._texts)
        self._texts += render_text(record)
        self.store_start[slot], self.store_len[slot] = self._store_part(record)
        self.terms[slot] = self._intern_terms(render_terms(record))
        self.size += 1
        self.live += 1
        return slot

    def _intern_terms(self, part: bytes) -> int:
        code = self._terms_ids.get(part)
        if code is None:
            code = self._terms_ids[part] = len(self._terms)
            self._terms.append(part)
        return code

    def _store_part(self, record: DealRecord) -> tuple[int, int]:
        part = render_store(record)
        known = self._store_parts.get(record.store_id)
        if known is not None and self._stores[known[0] : known[0] + known[1]] == part:
            return known
        start = len(self._stores)
        self._stores += part
        self._store_parts[record.store_id] = (start, len(part))
        return start, len(part)

    def fragment(self, slot: int) -> bytes:
        """An offer's JSON without its closing brace (the match adds the distance band and window end)."""
        text_end = int(self.text_start[slot + 1]) if slot + 1 < self.size else len(self._texts)
        store = int(self.store_start[slot])
        texts, stores = memoryview(self._texts), memoryview(self._stores)
        return b"".join(
            (
                b'{"deal_id":%d,' % int(self.ids[slot]),
                texts[int(self.text_start[slot]) : text_end],
                b",",
                stores[store : store + int(self.store_len[slot])],
                b",",
                self._terms[int(self.terms[slot])],
            )
        )

    def _codes(self, cells: Iterable[int]) -> list[int]:
        res = self.res
        return [compact(cell, res) for cell in cells]

    # -- bulk load -----------------------------------------------------------------------------------------

    def add(self, record: DealRecord) -> None:
        """Append a deal during a bulk load (no replacement; call ``freeze`` when done)."""
        slot = self._append(record)
        bits = self.slot_bits
        self._pending.extend((code << bits) | slot for code in self._codes(record.cells))

    def freeze(self) -> None:
        """Turn what ``add`` collected (and any overlay) into the CSR tables and the sorted id lookup."""
        bits = self.slot_bits
        pending, self._pending = self._pending, array("Q")
        if len(self.fine) or self._fine_extra:  # a rebuild of a frozen index: merge everything
            parts = [np.frombuffer(pending, dtype=np.uint64).copy(), self.fine.pairs(bits)]
            for code, slots in self._fine_extra.items():
                parts.append((np.uint64(code) << np.uint64(bits)) | np.array(slots, dtype=np.uint64))
            keys = np.concatenate(parts)
            del parts
        else:  # the bulk load: sort the collected buffer in place, no copy
            keys = np.frombuffer(pending, dtype=np.uint64) if len(pending) else np.zeros(0, dtype=np.uint64)
        if self.dead:
            keys = keys[self.alive[(keys & np.uint64((1 << bits) - 1)).astype(np.int64)] != 0]
        keys.sort()
        self.fine = Csr(keys, bits)
        # the parents one resolution up, rewritten in place: drop the last digit, sort, drop repeats
        slot_mask, shift, up = np.uint64((1 << bits) - 1), np.uint64(bits), np.uint64(bits + 3)
        for at in range(0, len(keys), csr.CHUNK):
            chunk = keys[at : at + csr.CHUNK]
            chunk[:] = ((chunk >> up) << shift) | (chunk & slot_mask)
        keys.sort()
        if len(keys):
            keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
        self.coarse = Csr(keys, bits)
        del keys, pending
        self._fine_extra.clear()
        self._coarse_extra.clear()
        self.extra_pairs = 0
        live = np.flatnonzero(self.alive[: self.size]).astype(np.int32)
        order = np.argsort(self.ids[live], kind="stable")
        self._sorted_slots = live[order]
        self._sorted_ids = self.ids[self._sorted_slots]
        self._moved.clear()
        self._store_parts = {}

    # -- changes -------------------------------------------------------------------------------------------

    def slot(self, deal_id: int) -> int | None:
        """The live slot of a deal, or None."""
        moved = self._moved.get(deal_id)
        if moved is not None:
            return moved
        i = int(np.searchsorted(self._sorted_ids, np.int64(deal_id)))
        if i < len(self._sorted_ids) and int(self._sorted_ids[i]) == deal_id:
            slot = int(self._sorted_slots[i])
            if self.alive[slot]:
                return slot
        return None

    def __contains__(self, deal_id: object) -> bool:
        return isinstance(deal_id, int) and self.slot(deal_id) is not None

    def __len__(self) -> int:
        return self.live

    def remove(self, deal_id: int) -> bool:
        """Drop a deal; False when it was not in the index."""
        slot = self.slot(deal_id)
        if slot is None:
            return False
        self._moved.pop(deal_id, None)
        self.alive[slot] = 0
        self.live -= 1
        self.dead += 1
        return True

    def upsert(self, record: DealRecord) -> list[int]:
        """Add or replace a deal after the load; returns its coverage cells (for cache invalidation)."""
        self.remove(record.deal_id)
        slot = self._append(record)
        self._moved[record.deal_id] = slot
        for code in self._codes(record.cells):
            self._fine_extra.setdefault(code, []).append(slot)
            parent = self._coarse_extra.setdefault(code >> 3, [])
            if not parent or parent[-1] != slot:
                parent.append(slot)
            self.extra_pairs += 1
        return list(record.cells)

    def needs_rebuild(self) -> bool:
        """True when dead slots or post-load changes make up a large share of the storage."""
        if self.dead > 10_000 and self.dead > self.live // 3:
            return True
        return self.extra_pairs > max(200_000, len(self.fine) // 10)

    # -- lookup --------------------------------------------------------------------------------------------

    def candidates(self, cell: int) -> Slots:
        """Live slots, ascending and each once, whose coverage touches ``cell`` (any resolution)."""
        res = self.res
        own = resolution(cell)
        if own >= res:
            code = compact(coarsen(cell, res), res)
            found = self.fine.exact(code)
            extra = self._fine_extra.get(code)
            merge = False
        elif own == res - 1:
            code = compact(cell, own)
            found = self.coarse.exact(code)
            extra = self._coarse_extra.get(code)
            merge = False
        else:
            code = compact(cell, own)
            shift = 3 * (res - 1 - own)
            found = self.coarse.between(code << shift, (code + 1) << shift)
            extra = []
            for child in cells_at(cell, res - 1):
                extra.extend(self._coarse_extra.get(compact(child, res - 1), ()))
            merge = True
        if extra:
            found = np.concatenate((found, np.array(extra, dtype=np.int32)))
            merge = True
        if merge:
            found = np.unique(found)
        live: Slots = found[self.alive[found] != 0]
        return live


def ancestors(cells: Iterable[int], finest: int, coarsest: int) -> set[int]:
    """Every ancestor (and the cell itself when ``finest`` is its resolution) from ``finest`` to ``coarsest``."""
    out: set[int] = set()
    for cell in cells:
        own = h3.get_resolution(cell)
        for res in range(min(finest, own), coarsest - 1, -1):
            out.add(cell if res == own else int(h3.cell_to_parent(cell, res)))
    return out
