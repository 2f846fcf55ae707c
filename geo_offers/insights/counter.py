"""Insight counters, aggregated in memory per worker and written to PostgreSQL every few seconds.

Matching adds one to in-process dictionaries and never waits for the database: a background task flushes
them with one upsert statement. What is kept: (deal, UTC hour, kind) and (resolution-6 cell, UTC week, hour
of the week). No subject id, no finer cell and no exact time reaches these dictionaries, so none can reach
the tables. Counts not yet flushed when a worker is killed (not stopped) are lost: counting is best effort.

People, not requests, are counted: a person adds at most one per (deal, hour, kind) and at most one to the
activity of an hour (in the cell of their first counted request that hour), decided by ``people.PersonHours``
from a hash under a key of the hour that never leaves memory; the subject id itself goes no further than that
hash.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import h3.api.basic_int as h3

from geo_offers.insights.people import PersonHours
from geo_offers.kit.clock import Clock, utc_now
from geo_offers.places.cells import resolution

log = logging.getLogger(__name__)

ACTIVITY_RES = 6
Fetch = Callable[[str, Sequence[Any] | dict[str, Any]], Awaitable[list[tuple[Any, ...]]]]
DealKey = tuple[int, int, str]  # deal id, hours since the epoch, kind
CellKey = tuple[int, int, int]  # resolution-6 cell, days since the epoch of the week's Monday, hour of week

# Rows are sorted so that concurrent flushes of several workers lock the same rows in the same order.
# Counts for a deal deleted meanwhile are dropped by the join instead of failing the whole flush.
FLUSH_SQL = """
WITH deal_rows AS (
    INSERT INTO deal_hour_counts AS t (deal_id, hour, kind, count)
    SELECT u.deal_id, to_timestamp(u.hour * 3600), u.kind, u.n
      FROM unnest(%(deal_ids)s::bigint[], %(hours)s::bigint[], %(kinds)s::text[], %(deal_ns)s::bigint[])
           AS u(deal_id, hour, kind, n)
     WHERE EXISTS (SELECT 1 FROM deals d WHERE d.id = u.deal_id)
     ORDER BY u.deal_id, u.hour, u.kind
    ON CONFLICT (deal_id, hour, kind) DO UPDATE SET count = t.count + EXCLUDED.count
    RETURNING 1
), cell_rows AS (
    INSERT INTO activity_counts AS t (cell, week, hour_of_week, count)
    SELECT u.cell, DATE '1970-01-01' + u.day, u.how, u.n
      FROM unnest(%(cells)s::bigint[], %(days)s::int[], %(hows)s::smallint[], %(cell_ns)s::bigint[])
           AS u(cell, day, how, n)
     ORDER BY u.cell, u.day, u.how
    ON CONFLICT (cell, week, hour_of_week) DO UPDATE SET count = t.count + EXCLUDED.count
    RETURNING 1
)
SELECT (SELECT count(*) FROM deal_rows), (SELECT count(*) FROM cell_rows)
"""


#: Every kind a deal counter can have (they go into array literals unquoted: keep them plain identifiers).
KINDS = frozenset({"served", "impression", "click", "redeem"})


def _array(values: Iterable[int | str]) -> str:
    """A PostgreSQL array literal of integers or of the fixed event kinds (plain identifiers, nothing to quote)."""
    return "{" + ",".join(map(str, values)) + "}"


def hour_slot(now: datetime) -> int:
    """Whole hours since the Unix epoch (the hour bucket; minutes and seconds are dropped here)."""
    return int(now.timestamp()) // 3600


def week_slot(hour: int) -> tuple[int, int]:
    """(days since the epoch of that week's Monday, hour of the week from Monday 0:00 UTC) of an hour slot."""
    day = hour // 24
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday (Monday = 0)
    return day - weekday, weekday * 24 + hour % 24


def activity_cell(cell: int) -> int | None:
    """The resolution-6 cell a request is counted in, or None when the request's cell is coarser."""
    res = resolution(cell)
    if res < ACTIVITY_RES:
        return None
    return cell if res == ACTIVITY_RES else int(h3.cell_to_parent(cell, ACTIVITY_RES))


class Counter:
    """Per-worker counts, flushed by ``run`` every ``interval`` seconds and by ``stop``."""

    def __init__(
        self,
        fetch: Fetch,
        interval: float,
        max_pending: int = 1_000_000,
        clock: Clock = utc_now,
        people: PersonHours | None = None,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self.people = people if people is not None else PersonHours()
        self._interval = interval
        self._max_pending = max_pending
        self._deals: dict[DealKey, int] = {}
        self._cells: dict[CellKey, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.flushed_rows = 0
        self.dropped_rows = 0

    @property
    def pending(self) -> int:
        """How many counter rows wait for the next flush."""
        return len(self._deals) + len(self._cells)

    def served(self, subject_id: str, deal_ids: Sequence[int], cell: int, now: datetime) -> None:
        """Count one match answer: each deal served, and the person in the resolution-6 cell of the request;
        each only if this person was not counted there yet this hour."""
        hour = hour_slot(now)
        people = self.people
        tag = people.tag(subject_id, hour)
        deals = self._deals
        for deal_id in deal_ids:
            if people.first_in_deal(tag, deal_id, "served"):
                key = (deal_id, hour, "served")
                deals[key] = deals.get(key, 0) + 1
        coarse = activity_cell(cell)
        if coarse is not None and people.first_in_activity(tag):
            day, how = week_slot(hour)
            cell_key = (coarse, day, how)
            self._cells[cell_key] = self._cells.get(cell_key, 0) + 1

    def event(self, subject_id: str, deal_id: int, kind: str, now: datetime) -> bool:
        """Count an impression, click or redemption of a deal, once per person and hour; whether it was added."""
        if kind not in KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        hour = hour_slot(now)
        if not self.people.first_in_deal(self.people.tag(subject_id, hour), deal_id, kind):
            return False
        key = (deal_id, hour, kind)
        self._deals[key] = self._deals.get(key, 0) + 1
        return True

    async def flush(self) -> int:
        """Write every pending count (added to what is stored); on failure they stay pending."""
        async with self._lock:
            deals, self._deals = self._deals, {}
            cells, self._cells = self._cells, {}
            if not deals and not cells:
                return 0
            # Array literals built here: psycopg2 adapts a list element by element in Python, which for the tens
            # of thousands of rows of a busy flush held the event loop for 100 ms and more.
            params = {
                "deal_ids": _array(k[0] for k in deals),
                "hours": _array(k[1] for k in deals),
                "kinds": _array(k[2] for k in deals),
                "deal_ns": _array(deals.values()),
                "cells": _array(k[0] for k in cells),
                "days": _array(k[1] for k in cells),
                "hows": _array(k[2] for k in cells),
                "cell_ns": _array(cells.values()),
            }
            try:
                rows = await self._fetch(FLUSH_SQL, params)
            except BaseException:
                self._merge(deals, cells)
                raise
            written = int(rows[0][0]) + int(rows[0][1])
            self.flushed_rows += written
            return written

    def _merge(self, deals: dict[DealKey, int], cells: dict[CellKey, int]) -> None:
        # While the database stays down, memory stays bounded: past the cap, unwritten counts are dropped.
        if self.pending + len(deals) + len(cells) > self._max_pending:
            self.dropped_rows += len(deals) + len(cells)
            return
        for key, n in deals.items():
            self._deals[key] = self._deals.get(key, 0) + n
        for cell_key, n in cells.items():
            self._cells[cell_key] = self._cells.get(cell_key, 0) + n

    async def start(self) -> None:
        """Flush periodically in the background."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the periodic flush and write what is pending (best effort)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            await self.flush()
        except Exception as exc:  # noqa: BLE001 - shutting down: report, do not mask the shutdown
            log.warning("final counter flush failed (%s); %d rows lost", type(exc).__name__, self.pending)

    async def tick(self) -> None:
        """One beat of the background task: forget a past hour, then flush (failures are logged, counts kept)."""
        # The hour's key and who was seen under it go when the hour ends, even when nobody asks after it.
        self.people.rotate(hour_slot(self._clock()))
        try:
            await self.flush()
        except Exception as exc:  # noqa: BLE001 - the database may be down: keep counting, retry later
            log.warning("counter flush failed (%s); %d rows kept for the next one", type(exc).__name__, self.pending)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.tick()
