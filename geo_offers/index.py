"""The in-memory index of matchable deals that every worker keeps: H3 cell -> deals, and what ranking needs.

Storage is columnar (``array`` per field, indexed by slot) so a million deals fit in a few hundred MiB. A
changed deal gets a new slot and its old slot is marked dead; dead slots are skipped at lookup and dropped when
the index is rebuilt. The index itself never talks to the database: ``geo_offers.index_source`` feeds it.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import h3.api.basic_int as h3
import orjson

from geo_offers.categories import CATEGORIES
from geo_offers.schedule import Schedule, compile_windows

_CATEGORY_CODE = {name: code for code, name in enumerate(CATEGORIES)}


@dataclass(frozen=True, slots=True)
class DealRecord:
    """Everything the index keeps of one matchable deal."""

    deal_id: int
    title: str
    description: str
    category: str
    store_id: int
    store_name: str
    store_address: str
    lat: float
    lon: float
    timezone: str
    valid_from: datetime
    valid_until: datetime
    windows: list[dict[str, Any]]
    cells: list[int]


def render_fragment(record: DealRecord) -> bytes:
    """The static part of an offer's JSON, without its closing brace (the match adds the dynamic fields)."""
    body = orjson.dumps(
        {
            "deal_id": record.deal_id,
            "title": record.title,
            "description": record.description,
            "category": record.category,
            "store": {"id": record.store_id, "name": record.store_name, "address": record.store_address},
            "valid_until": record.valid_until.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )
    # orjson over-allocates its result; copying compacts it (a million fragments would otherwise cost GiBs).
    return bytes(memoryview(body[:-1]))


@dataclass
class DealIndex:
    """Columnar store of matchable deals with a cell -> slots map at the index resolution."""

    res: int
    slot_of: dict[int, int] = field(default_factory=dict)
    ids: array[int] = field(default_factory=lambda: array("q"))
    alive: bytearray = field(default_factory=bytearray)
    lat: array[float] = field(default_factory=lambda: array("d"))
    lon: array[float] = field(default_factory=lambda: array("d"))
    valid_from: array[float] = field(default_factory=lambda: array("d"))
    valid_until: array[float] = field(default_factory=lambda: array("d"))
    category: array[int] = field(default_factory=lambda: array("B"))
    zone: array[int] = field(default_factory=lambda: array("H"))
    schedule: array[int] = field(default_factory=lambda: array("I"))
    fragments: list[bytes] = field(default_factory=list)
    cell_start: array[int] = field(default_factory=lambda: array("q"))
    cell_count: array[int] = field(default_factory=lambda: array("I"))
    cell_pool: array[int] = field(default_factory=lambda: array("q"))
    by_cell: dict[int, array[int]] = field(default_factory=dict)
    zones: list[str] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)
    _zone_ids: dict[str, int] = field(default_factory=dict)
    _schedule_ids: dict[Schedule, int] = field(default_factory=dict)
    dead: int = 0

    def __len__(self) -> int:
        return len(self.slot_of)

    def _intern_zone(self, name: str) -> int:
        code = self._zone_ids.get(name)
        if code is None:
            code = self._zone_ids[name] = len(self.zones)
            self.zones.append(name)
        return code

    def _intern_schedule(self, windows: list[dict[str, Any]]) -> int:
        schedule = compile_windows(windows)
        code = self._schedule_ids.get(schedule)
        if code is None:
            code = self._schedule_ids[schedule] = len(self.schedules)
            self.schedules.append(schedule)
        return code

    def cells_of(self, slot: int) -> array[int]:
        """The coverage cells of a slot."""
        start = self.cell_start[slot]
        return self.cell_pool[start : start + self.cell_count[slot]]

    def remove(self, deal_id: int) -> list[int]:
        """Drop a deal; returns the coverage cells it had (for cache invalidation)."""
        slot = self.slot_of.pop(deal_id, None)
        if slot is None:
            return []
        self.alive[slot] = 0
        self.dead += 1
        return list(self.cells_of(slot))

    def upsert(self, record: DealRecord) -> list[int]:
        """Add or replace a deal; returns old and new coverage cells (for cache invalidation)."""
        touched = self.remove(record.deal_id)
        slot = len(self.ids)
        self.slot_of[record.deal_id] = slot
        self.ids.append(record.deal_id)
        self.alive.append(1)
        self.lat.append(record.lat)
        self.lon.append(record.lon)
        self.valid_from.append(record.valid_from.timestamp())
        self.valid_until.append(record.valid_until.timestamp())
        self.category.append(_CATEGORY_CODE.get(record.category, _CATEGORY_CODE["other"]))
        self.zone.append(self._intern_zone(record.timezone))
        self.schedule.append(self._intern_schedule(record.windows))
        self.fragments.append(render_fragment(record))
        self.cell_start.append(len(self.cell_pool))
        self.cell_count.append(len(record.cells))
        self.cell_pool.extend(record.cells)
        by_cell = self.by_cell
        for cell in record.cells:
            slots = by_cell.get(cell)
            if slots is None:
                by_cell[cell] = array("i", (slot,))
            else:
                slots.append(slot)
        touched.extend(record.cells)
        return touched

    def candidates(self, cells: Iterable[int]) -> set[int]:
        """Live slots whose coverage includes any of ``cells`` (cells at the index resolution)."""
        found: set[int] = set()
        by_cell = self.by_cell
        for cell in cells:
            slots = by_cell.get(cell)
            if slots is not None:
                found.update(slots)
        alive = self.alive
        return {slot for slot in found if alive[slot]}

    def slots(self) -> Iterator[int]:
        """Every live slot."""
        return iter(self.slot_of.values())

    def needs_rebuild(self) -> bool:
        """True when dead slots make up a large share of the storage."""
        return self.dead > 10_000 and self.dead > len(self.slot_of) // 3


def ancestors(cells: Iterable[int], finest: int, coarsest: int) -> set[int]:
    """Every ancestor (and the cell itself when ``finest`` is its resolution) from ``finest`` to ``coarsest``."""
    out: set[int] = set()
    for cell in cells:
        own = h3.get_resolution(cell)
        for res in range(min(finest, own), coarsest - 1, -1):
            out.add(cell if res == own else int(h3.cell_to_parent(cell, res)))
    return out
