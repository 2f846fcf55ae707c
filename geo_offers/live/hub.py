"""The per-worker hub of live area streams: which streams watch which area, and what each index step means to them.

The hub follows the worker's index feed (``IndexFeed.follow``). Each step names the deals now matchable (with their
coverage) and the deals no longer matchable; the hub sends a deal to every watched area its coverage falls in
(the resolution-5, -4 and -3 parents of its cells) and a removal to every watched area that held it. To know the
latter without keeping every deal's coverage, each watched area keeps the ids of the deals in it (its *members*,
read from the index when the area gets its first stream and kept up to date by the steps), with the reverse map
from a deal to the watched areas holding it, so a step costs what its own deals touch, however many areas are
watched; an area nobody watches costs nothing. Why a deal left (paused, ended, used up, deleted) is one query
per step, and only for steps that take a deal out of a watched area. A full reload of the index (a gap or a
flood of changes) is followed by replaying the change table between the two numbers, or, when those rows are
gone, by telling every stream to reload its catalogue.

Steps are handled in order by one task, so the feed is never held up. Each stream has a bounded queue; a stream
that falls that far behind gets a ``reload`` event and is closed, and never blocks the hub or the other streams.
Bounds on open streams (per worker, and per app key within a worker) answer 429 before a stream starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, deque
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import h3.api.basic_int as h3

from consent.errors import RateLimited, ServiceUnavailable
from geo_offers.kit.clock import Clock
from geo_offers.live.changes import FetchNamed, changes_after, read_states
from geo_offers.live.frames import deal_event, reload_event, removed_event, with_id
from geo_offers.live.settings import LiveSettings
from geo_offers.matching.feed import Applied, IndexFeed
from geo_offers.matching.records import DealRecord

log = logging.getLogger(__name__)
#: The finest area a stream may watch (the area catalogue's limit).
FINEST_AREA_RES = 5
#: Tries of a step whose queries find the database away, a second apart, before every stream is told to reload.
STEP_TRIES = 5
RETRY_S = 1.0


def areas_of(cells: Iterable[int], coarsest: int, finest: int = FINEST_AREA_RES) -> set[int]:
    """Every area cell (resolution ``finest`` up to ``coarsest``) that coverage ``cells`` fall in."""
    level = {int(h3.cell_to_parent(cell, finest)) for cell in cells}
    found = set(level)
    for res in range(finest - 1, coarsest - 1, -1):
        level = {int(h3.cell_to_parent(cell, res)) for cell in level}
        found |= level
    return found


class Subscription:
    """One open stream: its area, its key, and the changes waiting to be sent to it."""

    __slots__ = ("cell", "key_id", "since", "closed", "_hub", "_queue", "_wake", "_limit")

    def __init__(self, hub: Hub, cell: int, key_id: str, since: int, limit: int) -> None:
        self.cell = cell
        self.key_id = key_id
        self.since = since  # changes up to this number are covered (by the replay or the state at subscription)
        self.closed = False
        self._hub = hub
        self._queue: deque[tuple[int | None, bytes]] = deque()
        self._wake = asyncio.Event()
        self._limit = limit

    def push(self, seq: int, chunk: bytes) -> None:
        """Queue the events of change ``seq`` (never blocks; a full queue turns into a reload)."""
        if self.closed:
            return
        if len(self._queue) >= self._limit:
            self.reload("too_slow")
            return
        self._queue.append((seq, chunk))
        self._wake.set()

    def reload(self, reason: str) -> None:
        """Drop what waits, send a ``reload`` event and end the stream."""
        self._queue.clear()
        self._queue.append((None, reload_event(reason)))
        self.close()

    def close(self) -> None:
        """End the stream after what is queued (shutdown, reload)."""
        self.closed = True
        self._wake.set()
        self._hub.unsubscribe(self)

    async def next(self) -> bytes | None:
        """The next chunk to send, skipping changes already covered; None when the stream is to end."""
        while True:
            while self._queue:
                seq, chunk = self._queue.popleft()
                if seq is None or seq > self.since:
                    return chunk
            if self.closed:
                return None
            self._wake.clear()
            await self._wake.wait()


class _Area:
    __slots__ = ("subs", "members")

    def __init__(self, members: set[int]) -> None:
        self.subs: set[Subscription] = set()
        self.members = members


class Hub:
    """Routes the index feed's steps to the streams of the areas they touch."""

    def __init__(
        self,
        feed: IndexFeed,
        fetch: FetchNamed,
        settings: LiveSettings,
        *,
        coarsest_res: int,
        clock: Clock,
        on_count: Callable[[int], None] = lambda _open: None,
    ) -> None:
        self._feed = feed
        self._fetch = fetch
        self._settings = settings
        self._coarsest = coarsest_res
        self._clock = clock
        self._on_count = on_count
        self._areas: dict[int, _Area] = {}
        self._where: dict[int, set[int]] = {}  # deal id -> the watched areas holding it
        self._per_key: Counter[str] = Counter()
        self.open = 0
        self.seq = 0  # the last feed step routed
        self._steps: deque[Applied] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- streams -------------------------------------------------------------------------------------------

    def subscribe(self, cell: int, key_id: str) -> Subscription:
        """A new stream of ``cell`` for ``key_id``, live from the index's current number (429 past the bounds)."""
        retry = self._settings.live_retry_after_s
        if self.open >= self._settings.live_max_per_worker:
            raise RateLimited("this worker holds as many live streams as it may; try again later", retry_after_s=retry)
        if self._per_key[key_id] >= self._settings.live_max_per_key:
            raise RateLimited("this key holds as many live streams in this worker as it may", retry_after_s=retry)
        area = self._areas.get(cell)
        if area is None:
            area = self._areas[cell] = _Area(set())
            self._set_members(cell, area, self._members(cell))
        sub = Subscription(self, cell, key_id, self._feed.seq, self._settings.live_queue_steps)
        area.subs.add(sub)
        self._per_key[key_id] += 1
        self.open += 1
        self._on_count(self.open)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget a stream (idempotent); an area without streams is forgotten too."""
        area = self._areas.get(sub.cell)
        if area is None or sub not in area.subs:
            return
        area.subs.discard(sub)
        if not area.subs:
            self._set_members(sub.cell, area, set())
            del self._areas[sub.cell]
        self._per_key[sub.key_id] -= 1
        if self._per_key[sub.key_id] <= 0:
            del self._per_key[sub.key_id]
        self.open -= 1
        self._on_count(self.open)

    def _members(self, cell: int) -> set[int]:
        index = self._feed.matcher.index
        return {int(deal_id) for deal_id in index.ids[index.candidates(cell)]}

    def _set_members(self, cell: int, area: _Area, members: set[int]) -> None:
        for deal_id in area.members - members:
            self._leave(deal_id, cell)
        for deal_id in members - area.members:
            self._where.setdefault(deal_id, set()).add(cell)
        area.members = members

    def _leave(self, deal_id: int, cell: int) -> None:
        cells = self._where.get(deal_id)
        if cells is not None:
            cells.discard(cell)
            if not cells:
                del self._where[deal_id]

    # -- following the feed --------------------------------------------------------------------------------

    def start(self) -> None:
        """Follow the feed (call once, in the event loop)."""
        self.seq = self._feed.seq
        self._feed.follow(self._follow)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop following and end every stream."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for area in list(self._areas.values()):
            for sub in list(area.subs):
                sub.close()

    def _follow(self, step: Applied) -> None:
        self._steps.append(step)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._steps:
                step = self._steps.popleft()
                await self._handle_or_reload(step)
                self.seq = max(self.seq, step.seq)

    async def _handle_or_reload(self, step: Applied) -> None:
        """Handle a step; a database away for longer than a few tries (or a bug) makes every stream reload."""
        for attempt in range(1, STEP_TRIES + 1):
            try:
                await self._handle(step)  # changes nothing before its queries succeeded: safe to try again
                return
            except ServiceUnavailable:
                if attempt < STEP_TRIES:
                    await asyncio.sleep(RETRY_S)
                    continue
                log.warning("the database stayed away during a live step; the streams reload")
            except Exception:  # noqa: BLE001 - streams may miss this step: tell them to reload
                log.exception("a live step failed; the streams reload")
            self._reload_all("server_error")
            return

    def _cutoff(self) -> datetime:
        return self._clock() - timedelta(days=1)  # the index's own cutoff (clock skew)

    async def _handle(self, step: Applied) -> None:
        if not self._areas:
            return
        if step.reloaded:
            await self._after_reload(step.seq)
            return
        leaving = {deal_id for deal_id in step.removed if deal_id in self._where}
        reasons = dict.fromkeys(leaving, "unavailable")
        if leaving:
            try:
                states = await read_states(self._fetch, leaving, (), self._cutoff())
            except ServiceUnavailable:  # the database is away: the removal goes out all the same, without why
                log.warning("reading why deals left failed; sending plain removals")
            else:
                for deal_id in leaving:
                    state = states.get(deal_id)
                    reasons[deal_id] = "deleted" if state is None else (state.reason or "unavailable")
        self._route(step.seq, step.deals, reasons)

    async def _after_reload(self, seq: int) -> None:
        """The index was loaded anew up to ``seq``: replay the changes since the last step routed, if still there."""
        if seq > self.seq:
            missed = await changes_after(self._fetch, self.seq, self._settings.live_resume_max_changes)
            if missed is None:
                self._reload_all("behind")
                return
            states = await read_states(self._fetch, missed.deals, missed.stores, self._cutoff())
            records = [state.record for state in states.values() if state.reason is None]
            reasons = {deal_id: state.reason for deal_id, state in states.items() if state.reason is not None}
            reasons.update({deal_id: "deleted" for deal_id in missed.deals if deal_id not in states})
            self._route(seq, records, reasons)
        for cell, area in self._areas.items():
            self._set_members(cell, area, self._members(cell))

    def _reload_all(self, reason: str) -> None:
        for area in list(self._areas.values()):
            for sub in list(area.subs):
                sub.reload(reason)

    def _route(self, seq: int, records: Iterable[DealRecord], removed: dict[int, str]) -> None:
        """Send change ``seq`` to the watched areas: deals in them, and removals from those that held them."""
        events: dict[int, list[bytes]] = {}
        for record in records:
            deal_id = record.deal_id
            inside = areas_of(record.cells, self._coarsest) & self._areas.keys()
            held = self._where.get(deal_id, set())
            for cell in held - inside:
                self._areas[cell].members.discard(deal_id)
                events.setdefault(cell, []).append(removed_event(deal_id, "elsewhere"))
            if inside:
                event = deal_event(record)
                for cell in inside:
                    self._areas[cell].members.add(deal_id)
                    events.setdefault(cell, []).append(event)
                self._where[deal_id] = inside
            else:
                self._where.pop(deal_id, None)
        for deal_id, reason in removed.items():
            for cell in self._where.pop(deal_id, ()):
                self._areas[cell].members.discard(deal_id)
                events.setdefault(cell, []).append(removed_event(deal_id, reason))
        for cell, cell_events in events.items():
            chunk = with_id(cell_events, seq)
            watched = self._areas.get(cell)  # gone if a stream's overflow closed the area's last stream
            for sub in list(watched.subs if watched is not None else ()):
                sub.push(seq, chunk)
