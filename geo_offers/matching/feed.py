"""Keeps a worker's deal index fresh: a full load at start, then every change after it, within milliseconds.

Changes come from ``deal_changes``, the rows the deals and stores triggers write in the changing transaction,
numbered in commit order (migration 0009). The full load notes the number its snapshot reached; from then on
the feed reads the changes after the last number it applied, re-reads the deals they name and updates the index.
It looks whenever a NOTIFY on ``geo_offers_deals`` wakes it (the fast path on the primary) and at least every
``poll_s`` seconds (the only path on a standby, where NOTIFY never arrives). With a read database, the changes,
the deals they name and the full load are all read there (``pool`` and ``connect`` are the read side), while
the notifications still come from the primary's LISTEN: a notification makes the feed look at once, and a look
that finds the standby not there yet is repeated after 10, 20, 40, ... ms (``SOON_S``) until it is. A lost
LISTEN connection therefore costs nothing but latency: nothing is reloaded, the table still holds what the
notifications said. Only a gap (changes pruned before they were read) or a flood of changes (a large import)
makes it load everything again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from geo_offers.kit.clock import Clock
from geo_offers.kit.pgasync import Listener, Queries
from geo_offers.matching.index import DealIndex
from geo_offers.matching.matcher import Matcher
from geo_offers.matching.records import DealRecord
from geo_offers.matching.source import BY_DEALS, BY_STORES, CHANGES_AFTER, ChangeBatch, batch_from, record

log = logging.getLogger(__name__)
CHANNEL = "geo_offers_deals"
#: More changes than this waiting at once (a large import) are cheaper to take by loading everything again.
CHANGE_LIMIT = 20_000
RETRY_S = 1.0
#: A notification that finds no new change (the standby has not replayed it yet) is followed by looks after
#: 10, 20, 40, ... ms, up to the polling interval.
SOON_S = 0.01


@dataclass(frozen=True, slots=True)
class Applied:
    """What one step of the feed did, for whoever follows the index (live area streams)."""

    seq: int  # every change up to this transaction number is now in the index
    deals: list[DealRecord] = field(default_factory=list)  # matchable now, as the index holds them
    removed: set[int] = field(default_factory=set)  # no longer matchable (paused, ended, deleted, used up)
    reloaded: bool = False  # the whole index was replaced; followers must start over from ``seq``


Follower = Callable[[Applied], None]
#: Gives a complete index and its ``seq`` (blocking): ``loader(cutoff, newer_than)``, where ``newer_than`` is the
#: ``seq`` of the complete index the feed has and wants replaced (None at start). A private load from the database
#: (``source.load_index``) or a snapshot shared by the machine's workers (``shared.SnapshotStore.obtain``).
Loader = Callable[[datetime, int | None], tuple[DealIndex, int]]


class IndexFeed:
    """Applies deal changes to a Matcher's index."""

    def __init__(
        self,
        matcher: Matcher,
        pool: Queries,
        listener: Listener,
        *,
        loader: Loader,
        clock: Clock,
        poll_s: float = 0.5,
    ) -> None:
        self.matcher = matcher
        self._pool = pool
        self._loader = loader
        self._clock = clock
        self._poll_s = poll_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._followers: list[Follower] = []
        self.ready = asyncio.Event()  # the index has been loaded once
        self.settled = asyncio.Event()  # the first load succeeded or failed
        self.seq = 0  # the last transaction number whose changes are in the index
        self.base_seq: int | None = None  # the seq of the complete index the changes are applied on
        self.applied = 0  # change rows applied since start
        self.reloads = 0
        self._generation = 0  # bumped by every full load
        self._stopping = False
        listener.on(CHANNEL, self._notified)
        listener.on_reset(self._wake.set)  # notifications may have been missed meanwhile: look at the table

    def follow(self, follower: Follower) -> None:
        """Call ``follower`` after every step that changed the index (in the event loop; it must not block)."""
        self._followers.append(follower)

    def _cutoff(self) -> datetime:
        return self._clock() - timedelta(days=1)

    def _notified(self, _payload: str) -> None:
        self._wake.set()

    def _tell(self, step: Applied) -> None:
        for follower in self._followers:
            try:
                follower(step)
            except Exception:  # noqa: BLE001 - a follower's failure must not stop the index
                log.exception("an index follower failed")

    async def reload(self) -> None:
        """Take a new complete index and swap it in (old answers keep flowing meanwhile)."""
        index, seq = await asyncio.to_thread(self._loader, self._cutoff(), self.base_seq)
        self._generation += 1
        self.matcher.replace(index)
        self.seq = self.base_seq = seq
        self.reloads += 1
        log.info("deal index loaded", extra={"count": len(index), "seq": seq})
        self._tell(Applied(seq=seq, reloaded=True))

    async def start(self) -> None:
        """Load the index and follow the changes, in the background."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the background task."""
        self._stopping = True  # ends the loop even where a cancellation gets lost in a library
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self.ready.is_set() and not self._stopping:
            try:
                await self.reload()
                await self.catch_up()  # a kept snapshot may be behind the database: serve once caught up
                self.ready.set()
            except Exception as exc:  # noqa: BLE001 - the database may not be up yet: try again
                log.warning("loading the deal index failed; retrying: %s", type(exc).__name__)
                self.settled.set()
                await asyncio.sleep(RETRY_S)
        self.settled.set()
        soon = 0.0  # after a notification whose change was not there yet (a standby replaying): look again soon
        while not self._stopping:
            notified = False
            # asyncio.timeout, not wait_for: in Python 3.11 wait_for can swallow a cancellation that arrives as
            # the event is set, and stop() would then wait for a loop that never ends.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(soon or self._poll_s):
                    await self._wake.wait()
                notified = True
            self._wake.clear()
            try:
                found = await self.catch_up()
            except Exception as exc:  # noqa: BLE001 - the next wake-up or poll tries again
                log.warning("reading deal changes failed: %s", type(exc).__name__)
                await asyncio.sleep(RETRY_S)
                continue
            if found:
                soon = 0.0
            elif notified:
                soon = SOON_S
            elif soon:
                soon = soon * 2 if soon * 2 < self._poll_s else 0.0

    async def catch_up(self) -> bool:
        """Apply every change after ``seq`` (or load everything again when some are gone or too many wait);
        whether there was any."""
        rows = await self._pool.fetch(CHANGES_AFTER, {"after": self.seq, "limit": CHANGE_LIMIT})
        if not rows:
            return False
        batch = batch_from(rows, self.seq)
        if batch is None or batch.rows >= CHANGE_LIMIT:
            await self.reload()
            return True
        await self.apply(batch)
        return True

    async def apply(self, batch: ChangeBatch) -> None:
        """Re-read the named deals (and the deals of named stores) and update the index."""
        generation = self._generation
        params = {"cutoff": self._cutoff()}
        rows = []
        if batch.deal_ids:
            rows += await self._pool.fetch_named(BY_DEALS, {**params, "ids": sorted(batch.deal_ids)})
        if batch.store_ids:
            rows += await self._pool.fetch_named(BY_STORES, {**params, "ids": sorted(batch.store_ids)})
        if generation != self._generation:
            return  # a full load finished meanwhile; it already holds these changes
        index = self.matcher.index
        touched: list[int] = []
        records = [record(row) for row in rows]
        seen = {rec.deal_id for rec in records}
        for rec in records:
            touched.extend(index.upsert(rec))
        removed: set[int] = set()
        for deal_id in batch.deal_ids - seen:  # paused, ended, deleted, past its time or used up
            if index.remove(deal_id):
                removed.add(deal_id)
        # new coverage: every answer there may gain the deal; old coverage: only answers serving it change
        self.matcher.changed(touched, batch.deal_ids | seen)
        self.seq = batch.last
        self.applied += batch.rows
        self._tell(Applied(seq=batch.last, deals=records, removed=removed))
        if index.needs_rebuild():
            await self.reload()
