"""What the deal index keeps per deal: columns by slot, the offers' pre-rendered JSON, schedules and terms.

Nothing here is a Python object per deal: per-deal columns are numpy arrays indexed by *slot*; the offers' JSON
lives in two byte pools with offsets, one for each deal's own part and one for store parts (stored once per
store), and the part the device applies (frequency rules, one-time codes) is kept once per distinct value. Each
column and pool has a *base* (what a full load made; a read-only view of the machine's shared snapshot in a
worker) and a private *tail* of the slots added afterwards (``geo_offers.matching.columns``); the ``alive`` flags
are private as a whole, since removals write them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from geo_offers.matching.columns import Bytes, Column, as_bytes, private_copy
from geo_offers.matching.records import DealRecord, render_store, render_terms, render_text
from geo_offers.places.categories import CATEGORIES
from geo_offers.places.schedule import Schedule, compile_windows

_CATEGORY_CODE = {name: code for code, name in enumerate(CATEGORIES)}


class DealStorage:
    """Per-deal columns, offer JSON pools and the distinct schedules and terms, by slot."""

    COLUMNS = (
        ("ids", np.int64),
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

    def __init__(self, slot_bits: int) -> None:
        self.slot_bits = slot_bits
        self.size = 0  # slots used, live or dead
        self.live = 0
        self.dead = 0
        self.base_size = 0  # slots in the base (frozen, possibly shared); later ones are this worker's tail
        self.ids = Column(np.int64)
        self.lat = Column(np.float64)
        self.lon = Column(np.float64)
        self.valid_from = Column(np.float64)
        self.valid_until = Column(np.float64)
        self.category = Column(np.uint8)
        self.timing = Column(np.uint32)
        self.text_start = Column(np.int64)  # into the base pool for base slots, the tail pool for later ones
        self.store_start = Column(np.int64)
        self.store_len = Column(np.uint32)
        self.terms = Column(np.uint32)
        self.alive: npt.NDArray[np.uint8] = np.zeros(1024, dtype=np.uint8)
        # offers' JSON: each deal's own part, and each store's part once (per load; a change appends anew)
        self._texts: Bytes = bytearray()
        self._stores: Bytes = bytearray()
        self._tail_texts = bytearray()
        self._tail_stores = bytearray()
        self._store_parts: dict[int, tuple[int, int]] = {}
        # distinct (time zone, weekly schedule) pairs; a slot's ``timing`` is its position here
        self.timings: list[tuple[str, Schedule]] = []
        self._timing_ids: dict[tuple[str, Schedule], int] = {}
        self._timing_given: dict[tuple[str, bytes], int] = {}
        # distinct device terms (frequency rules, codes); a slot's ``terms`` is its position here
        self._terms: list[bytes] = []
        self._terms_ids: dict[bytes, int] = {}

    def _columns(self) -> list[tuple[str, Column]]:
        return [(name, getattr(self, name)) for name, _ in self.COLUMNS]

    def _intern_timing(self, zone: str, windows: list[dict[str, Any]]) -> int:
        given = (zone, orjson.dumps(windows))  # few distinct values: compile each once
        code = self._timing_given.get(given)
        if code is None:
            key = (zone, compile_windows(windows))
            code = self._timing_ids.get(key)
            if code is None:
                code = self._timing_ids[key] = len(self.timings)
                self.timings.append(key)
            self._timing_given[given] = code
        return code

    def _append(self, record: DealRecord) -> int:
        return self._extend([record])

    def _extend(self, records: list[DealRecord]) -> int:
        """Append deals to new slots (column by column: a bulk load takes thousands at once); the first slot."""
        first, count = self.size, len(records)
        if first + count > 1 << self.slot_bits:
            raise OverflowError("too many deal slots for one index")
        if first + count > len(self.alive):
            self.alive = private_copy(self.alive, max(2 * len(self.alive), first + count))
        self.alive[first : first + count] = 1
        other = _CATEGORY_CODE["other"]
        texts = [render_text(record) for record in records]
        self.text_start.extend(len(self._tail_texts) + np.cumsum([0, *map(len, texts[:-1])]))
        self._tail_texts += b"".join(texts)
        del texts
        stores = [self._store_part(record) for record in records]
        self.store_start.extend([start for start, _ in stores])
        self.store_len.extend([length for _, length in stores])
        self.ids.extend([record.deal_id for record in records])
        self.lat.extend([record.lat for record in records])
        self.lon.extend([record.lon for record in records])
        self.valid_from.extend([record.valid_from.timestamp() for record in records])
        self.valid_until.extend([record.valid_until.timestamp() for record in records])
        self.category.extend([_CATEGORY_CODE.get(record.category, other) for record in records])
        self.timing.extend([self._intern_timing(record.timezone, record.windows) for record in records])
        self.terms.extend([self._intern_terms(render_terms(record)) for record in records])
        self.size += count
        self.live += count
        return first

    def _intern_terms(self, part: bytes) -> int:
        code = self._terms_ids.get(part)
        if code is None:
            code = self._terms_ids[part] = len(self._terms)
            self._terms.append(part)
        return code

    def _store_part(self, record: DealRecord) -> tuple[int, int]:
        part = render_store(record)
        known = self._store_parts.get(record.store_id)
        if known is not None and self._tail_stores[known[0] : known[0] + known[1]] == part:
            return known
        start = len(self._tail_stores)
        self._tail_stores += part
        self._store_parts[record.store_id] = (start, len(part))
        return start, len(part)

    def fragment(self, slot: int) -> bytes:
        """An offer's JSON without its closing brace (the match adds the distance band and window end)."""
        if slot < self.base_size:
            local, count, starts = slot, self.base_size, self.text_start.base
            texts, stores = as_bytes(self._texts), as_bytes(self._stores)
        else:
            local, count, starts = slot - self.base_size, self.size - self.base_size, self.text_start.tail
            texts, stores = memoryview(self._tail_texts), memoryview(self._tail_stores)
        text_end = int(starts[local + 1]) if local + 1 < count else len(texts)
        store = int(self.store_start[slot])
        return b"".join(
            (
                b'{"deal_id":%d,' % int(self.ids[slot]),
                texts[int(starts[local]) : text_end],
                b",",
                stores[store : store + int(self.store_len[slot])],
                b",",
                self._terms[int(self.terms[slot])],
            )
        )

    def merge_base(self) -> None:
        """Make base and tail one private base (columns, pools, offsets) and drop the per-load store parts."""
        if self.size == self.base_size:
            return
        offset_texts, offset_stores = len(self._texts), len(self._stores)
        if self.base_size:
            self.text_start.tail[: self.text_start.tail_size] += offset_texts
            self.store_start.tail[: self.store_start.tail_size] += offset_stores
            self._texts = bytes(as_bytes(self._texts)) + bytes(self._tail_texts)
            self._stores = bytes(as_bytes(self._stores)) + bytes(self._tail_stores)
        else:
            self._texts, self._stores = self._tail_texts, self._tail_stores
        self._tail_texts, self._tail_stores = bytearray(), bytearray()
        for name, column in self._columns():
            setattr(self, name, Column(column.base.dtype, column.merged()))
        self.base_size = self.size
