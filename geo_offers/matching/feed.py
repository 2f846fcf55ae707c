"""Keeps a worker's deal index fresh: a full load at start and on every reconnection of the change feed,
and the deals named by each change notification re-read and applied within milliseconds.

The feed is the only thing that knows where changes come from (LISTEN/NOTIFY on ``geo_offers_deals`` today; a
change table polled from a replica would fit the same two calls: ``reload`` and ``_notified``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from sqlalchemy import Engine

from geo_offers.kit.clock import Clock
from geo_offers.kit.pgasync import AsyncPool, Listener
from geo_offers.matching.matcher import Matcher
from geo_offers.matching.source import BY_DEALS, BY_STORES, ids_from, load_index, record

log = logging.getLogger(__name__)
CHANNEL = "geo_offers_deals"


class IndexFeed:
    """Applies deal changes to a Matcher's index."""

    def __init__(self, matcher: Matcher, pool: AsyncPool, listener: Listener, *, engine: Engine, clock: Clock) -> None:
        self.matcher = matcher
        self._pool = pool
        self._engine = engine
        self._clock = clock
        self._pending: list[str] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        self.applied = 0
        self._generation = 0  # bumped by every full load
        listener.on(CHANNEL, self._notified)
        listener.on_reset(self.reload)

    def _cutoff(self) -> datetime:
        return self._clock() - timedelta(days=1)

    def _notified(self, payload: str) -> None:
        self._pending.append(payload)
        self._wake.set()

    async def reload(self) -> None:
        """Load every matchable deal into a new index and swap it in (old answers keep flowing meanwhile)."""
        index = await asyncio.to_thread(load_index, self._engine, self.matcher.index.res, self._cutoff())
        self._generation += 1
        self.matcher.replace(index)
        log.info("deal index loaded", extra={"count": len(index)})
        self.ready.set()

    async def start(self) -> None:
        """Start applying notifications in the background."""
        self._task = asyncio.get_running_loop().create_task(self._apply_forever())

    async def stop(self) -> None:
        """Stop the background task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _apply_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            payloads, self._pending = self._pending, []
            try:
                await self.apply(payloads)
            except Exception:  # noqa: BLE001 - a failed delta is retried by reloading everything
                log.exception("applying deal changes failed; reloading the index")
                await self.reload()

    async def apply(self, payloads: list[str]) -> None:
        """Re-read the named deals (and the deals of named stores) and update the index."""
        deal_ids, store_ids = ids_from(payloads)
        generation = self._generation
        params = {"cutoff": self._cutoff()}
        rows = []
        if deal_ids:
            rows += await self._pool.fetch_named(BY_DEALS, {**params, "ids": sorted(deal_ids)})
        if store_ids:
            rows += await self._pool.fetch_named(BY_STORES, {**params, "ids": sorted(store_ids)})
        if generation != self._generation:
            return  # a full load finished meanwhile; it already holds these changes
        index = self.matcher.index
        touched: list[int] = []
        seen: set[int] = set()
        for row in rows:
            rec = record(row)
            seen.add(rec.deal_id)
            touched.extend(index.upsert(rec))
        for deal_id in deal_ids - seen:  # paused, ended, deleted, past its time or used up
            index.remove(deal_id)
        # new coverage: every answer there may gain the deal; old coverage: only answers serving it change
        self.matcher.changed(touched, deal_ids | seen)
        self.applied += len(payloads)
        if index.needs_rebuild():
            await self.reload()
