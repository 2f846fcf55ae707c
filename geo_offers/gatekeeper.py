"""The consent question on the hot path, asked of the database on every request (no cache), in batches.

Like group commit: each request enqueues its pseudonym and awaits a future. When no lookup is in flight, a
flush on the next turn of the event loop sends one ``consent.gate`` query for everything queued; while lookups
are in flight (at most ``max_inflight``), new requests queue up and go together in the next query as soon as one
returns. A request therefore still sees every consent change committed before it arrived (its query starts after
it arrived), an idle worker answers with one round trip, and a busy one pays one round trip per batch.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from consent import gate
from consent.errors import ConsentRequired
from consent.pseudonyms import pseudonym
from geo_offers.pgasync import AsyncPool

LOCATION = "location_offers"
ANALYTICS = "offer_analytics"
MAX_BATCH = 256


class Gatekeeper:
    """Asks ``consent.gate`` for subjects' permissions through the asynchronous pool."""

    def __init__(self, pool: AsyncPool, pepper: str, max_inflight: int = 2) -> None:
        self._pool = pool
        self._pepper = pepper
        self._max_inflight = max_inflight
        self._inflight = 0
        self._waiting: dict[bytes, list[asyncio.Future[gate.Grants]]] = {}
        self._now: datetime | None = None
        self._scheduled = False
        self.batches = 0
        self.lookups = 0

    async def permissions(self, subject_id: str, now: datetime) -> gate.Grants:
        """Every purpose the subject may be used for right now."""
        alias = pseudonym(self._pepper, subject_id)
        future: asyncio.Future[gate.Grants] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(alias, []).append(future)
        # One batch holds one notion of "now": the latest of its requests' clocks (a later time only ever
        # turns more consents into expired ones, never fewer).
        self._now = now if self._now is None or now > self._now else self._now
        if not self._scheduled and self._inflight < self._max_inflight:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._scheduled = False
        if self._inflight >= self._max_inflight:
            return  # the lookup in flight flushes the queue when it returns
        waiting, self._waiting = self._waiting, {}
        now, self._now = self._now, None
        if not waiting or now is None:
            return
        aliases = list(waiting)
        for start in range(0, len(aliases), MAX_BATCH):
            chunk = {alias: waiting[alias] for alias in aliases[start : start + MAX_BATCH]}
            asyncio.get_running_loop().create_task(self._lookup(chunk, now))

    async def _lookup(self, waiting: dict[bytes, list[asyncio.Future[gate.Grants]]], now: datetime) -> None:
        self.batches += 1
        self.lookups += len(waiting)
        self._inflight += 1
        try:
            found = await gate.lookup_many(self._pool.fetch, list(waiting), now, prepared=True)
        except BaseException as exc:  # the database is down, the pool exhausted, or we are cancelled
            for futures in waiting.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        finally:
            self._inflight -= 1
            if self._waiting and not self._scheduled:
                self._scheduled = True
                asyncio.get_running_loop().call_soon(self._flush)
        for alias, futures in waiting.items():
            grants = found.get(alias, {})
            for future in futures:
                if not future.done():
                    future.set_result(grants)

    async def location_precision(self, subject_id: str, now: datetime) -> tuple[int, bool]:
        """The finest allowed resolution and whether the request may be counted; ConsentRequired otherwise."""
        grants = await self.permissions(subject_id, now)
        location = grants.get(LOCATION)
        if location is None or location.precision_res is None:
            raise ConsentRequired("this subject has no active consent to match offers to its location")
        return location.precision_res, ANALYTICS in grants
