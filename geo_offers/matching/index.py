"""The in-memory index of matchable deals that every worker keeps: H3 cell -> deals, and what ranking needs.

Memory is what limits a worker with a million deals (16 million coverage cells), so nothing here is a Python
object per deal or per cell:

- per-deal columns and the offers' pre-rendered JSON are numpy arrays and byte pools by *slot*
  (``geo_offers.matching.storage``);
- the cell map is a compressed sparse row (CSR) table built once per full load: coverage cells sorted (as the
  31 meaningful bits of a resolution-8 index), offsets, and the slots of each cell; a second CSR holds the
  parents one resolution up, so the usual query (a resolution-7 cell) is one binary search and one slice,
  without merging its seven children;
- deal id -> slot is a binary search in the sorted ids of the load.

A frozen index is its *base*: arrays that ``parts`` hands to a snapshot file and ``from_parts`` takes back as
read-only views of that file mapped by every worker (``geo_offers.matching.snapshot``). What a worker changes
afterwards is private: its own copy of the ``alive`` flags (a byte a slot) and a tail of new slots.

Changes after the load go to small overlays (dicts) next to the CSR tables: a changed deal gets a new slot and
its old slot is marked dead; dead slots are skipped and dropped at the next full load, which the feed starts
when dead slots or the overlays grow large. The index itself never talks to the database:
``geo_offers.matching.source`` feeds it.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from geo_offers.matching import csr
from geo_offers.matching.columns import Column, as_bytes, private_copy
from geo_offers.matching.csr import EMPTY, Csr, Slots
from geo_offers.matching.records import DealRecord
from geo_offers.matching.storage import DealStorage
from geo_offers.places.cells import cells_at, coarsen, compact, resolution
from geo_offers.places.schedule import Schedule


class DealIndex(DealStorage):
    """Matchable deals (``DealStorage``) with a cell -> slots map at the index resolution and one coarser."""

    def __init__(self, res: int) -> None:
        super().__init__(min(31, 64 - (7 + 3 * res)))
        self.res = res
        # bulk load: keys of (cell at res, slot) pairs, sorted and split into the CSR tables by ``freeze``
        self._pending = array("Q")
        self._pending_arrays: list[npt.NDArray[np.uint64]] = []
        self.fine = Csr(np.zeros(0, dtype=np.uint64), self.slot_bits)
        self.coarse = Csr(np.zeros(0, dtype=np.uint64), self.slot_bits)
        self._sorted_ids = np.zeros(0, dtype=np.int64)
        self._sorted_slots = EMPTY
        # changes after the load
        self._moved: dict[int, int] = {}
        self._fine_extra: dict[int, list[int]] = {}
        self._coarse_extra: dict[int, list[int]] = {}
        self.extra_pairs = 0

    def _codes(self, cells: Iterable[int]) -> list[int]:
        res = self.res
        return [compact(cell, res) for cell in cells]

    # -- bulk load -----------------------------------------------------------------------------------------

    def add(self, record: DealRecord) -> None:
        """Append a deal during a bulk load (no replacement; call ``freeze`` when done)."""
        slot = self._append(record)
        bits = self.slot_bits
        self._pending.extend((code << bits) | slot for code in self._codes(record.cells))

    def add_deals(self, records: list[DealRecord]) -> int:
        """Append deals without their coverage during a bulk load; the first one's slot (the others follow in
        order; ``add_coverage`` takes the cells)."""
        return self._extend(records)

    def add_coverage(self, slots: npt.NDArray[np.int64], cells: npt.NDArray[np.int64]) -> None:
        """Coverage cells (at the index resolution) of slots added by ``add_deal``, as two parallel arrays."""
        res = self.res
        codes = (cells.view(np.uint64) >> np.uint64(3 * (15 - res))) & np.uint64((1 << (7 + 3 * res)) - 1)
        self._pending_arrays.append((codes << np.uint64(self.slot_bits)) | slots.astype(np.uint64))

    def freeze(self) -> None:
        """Turn what ``add`` collected (and any overlay) into the CSR tables and the sorted id lookup."""
        bits = self.slot_bits
        rebuild = bool(len(self.fine) or self._fine_extra)
        self.merge_base()
        pending, self._pending = self._pending, array("Q")
        arrays, self._pending_arrays = self._pending_arrays, []
        if len(pending):
            arrays.insert(0, np.frombuffer(pending, dtype=np.uint64))
        if rebuild:  # a rebuild of a frozen index: merge everything
            arrays.append(self.fine.pairs(bits))
            for code, slots in self._fine_extra.items():
                arrays.append((np.uint64(code) << np.uint64(bits)) | np.array(slots, dtype=np.uint64))
        if len(arrays) == 1 and arrays[0].flags.writeable:  # the usual bulk load: sort in place, no copy
            keys = arrays[0]
        else:
            keys = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.uint64)
        del arrays
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

    # -- the base as arrays (a snapshot file holds them) ------------------------------------------------------

    def parts(self) -> tuple[dict[str, npt.NDArray[Any]], dict[str, Any]]:
        """The frozen base as named arrays and a JSON-able description; only deal and store data (no subjects)."""
        if self.size != self.base_size or self.extra_pairs or self._pending_arrays or len(self._pending):
            raise ValueError("only a frozen index without changes after its load can be saved")
        arrays: dict[str, npt.NDArray[Any]] = {name: column.base for name, column in self._columns()}
        arrays |= {
            "alive": self.alive[: self.size],
            "texts": np.frombuffer(as_bytes(self._texts), dtype=np.uint8),
            "stores": np.frombuffer(as_bytes(self._stores), dtype=np.uint8),
            "sorted_ids": self._sorted_ids,
            "sorted_slots": self._sorted_slots,
        }
        for name, table in (("fine", self.fine), ("coarse", self.coarse)):
            arrays |= {f"{name}_cells": table.cells, f"{name}_starts": table.starts, f"{name}_slots": table.slots}
        meta = {
            "res": self.res,
            "size": self.size,
            "live": self.live,
            "dead": self.dead,
            "timings": [[zone, s.starts, s.ends, s.points] for zone, s in self.timings],
            "terms": [part.decode() for part in self._terms],
        }
        return arrays, meta

    @classmethod
    def from_parts(cls, arrays: Mapping[str, npt.NDArray[Any]], meta: Mapping[str, Any]) -> DealIndex:
        """An index over the arrays of ``parts`` (read-only views of a mapped file are used as they are)."""
        index = cls(int(meta["res"]))
        size = int(meta["size"])
        for name, dtype in cls.COLUMNS:
            if arrays[name].dtype != dtype or len(arrays[name]) != size:
                raise ValueError(f"snapshot column {name} does not fit")
            setattr(index, name, Column(dtype, arrays[name]))
        index.size = index.base_size = size
        index.live, index.dead = int(meta["live"]), int(meta["dead"])
        index.alive = private_copy(arrays["alive"], size + 1024)
        index._texts, index._stores = arrays["texts"], arrays["stores"]
        index.timings = [(zone, Schedule(tuple(s), tuple(e), tuple(p))) for zone, s, e, p in meta["timings"]]
        index._timing_ids = {key: code for code, key in enumerate(index.timings)}
        index._terms = [part.encode() for part in meta["terms"]]
        index._terms_ids = {part: code for code, part in enumerate(index._terms)}
        index.fine = Csr.of(arrays["fine_cells"], arrays["fine_starts"], arrays["fine_slots"])
        index.coarse = Csr.of(arrays["coarse_cells"], arrays["coarse_starts"], arrays["coarse_slots"])
        index._sorted_ids, index._sorted_slots = arrays["sorted_ids"], arrays["sorted_slots"]
        return index

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
