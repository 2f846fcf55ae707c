"""The one question the spatial core asks: may I use this subject's location for this purpose, how coarsely?

It is answered from the database on every call, never from a cache, so a withdrawal committed before a request
arrives is seen by that request on every instance. The gate owns everything about that question: the pepper
that turns a subject id into its pseudonym, the one indexed query (prepared once per connection), and the
batching that lets a busy worker ask for many subjects in one round trip.

Batching works like group commit: each request enqueues its pseudonym and awaits a future. When no lookup is in
flight, a flush on the next turn of the event loop sends one query for everything queued; while lookups are in
flight (at most ``max_inflight``), new requests queue up and go together in the next query as soon as one
returns. A request therefore still sees every consent change committed before it arrived (its query starts
after it arrived), an idle worker answers with one round trip, and a busy one pays one round trip per batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from consent.errors import ConsentRequired
from consent.pseudonyms import pseudonym
from consent.purposes import LOCATION_OFFERS, OFFER_ANALYTICS

MAX_BATCH = 256

#: Run once on every connection of the pool the gate asks through (the pool's per-connection set-up): the
#: server then plans the query once (planning costs several times more than executing it), and each lookup
#: sends a short EXECUTE. It selects the active, unexpired consents of the given pseudonyms whose notice version
#: is not below the purpose's floor. The plan is pinned to "each pseudonym by its key, then that subject's few
#: state rows by their key": the LATERAL ... OFFSET 0 keeps the planner from starting at consent_state (which it
#: did with statistics gathered while the table was small: a scan of every active consent per lookup, 6-10 ms
#: instead of 0.05 ms).
PREPARE = """
PREPARE consent_gate(bytea[], timestamptz) AS
SELECT l.pseudonym, s.purpose, s.precision_res
  FROM subject_links l
 CROSS JOIN LATERAL (SELECT c.purpose, c.precision_res, c.status, c.expires_at, c.notice_version
                       FROM consent_state c
                      WHERE c.tag = l.tag
                     OFFSET 0) s
  LEFT JOIN purpose_floors f ON f.purpose = s.purpose
 WHERE l.pseudonym = ANY($1)
   AND s.status = 'active'
   AND s.expires_at > $2
   AND (f.min_notice_version IS NULL OR s.notice_version >= f.min_notice_version)
"""
_EXECUTE = "EXECUTE consent_gate(%(aliases)s, %(now)s)"


@dataclass(frozen=True, slots=True)
class Permission:
    """An allowed purpose and, for location purposes, the finest resolution the person allows."""

    precision_res: int | None = None


Grants = dict[str, Permission]
#: Runs one statement on a connection that ran ``PREPARE`` and returns its rows.
Fetch = Callable[[str, dict[str, Any]], Awaitable[Sequence[tuple[Any, ...]]]]


@dataclass(frozen=True, slots=True)
class LocationUse:
    """What a match may do for a subject: the finest resolution allowed, and whether it may be counted."""

    precision_res: int
    counted: bool


class ConsentGate:
    """Answers "which purposes may this subject be used for now?" through a pool whose connections ran
    ``PREPARE``, batching concurrent questions into one query."""

    #: The statement every connection of the gate's pool must run once after connecting.
    SETUP = PREPARE

    def __init__(self, fetch: Fetch, pepper: str, max_inflight: int = 2) -> None:
        self._fetch = fetch
        self._pepper = pepper
        self._max_inflight = max_inflight
        self._inflight = 0
        self._waiting: dict[bytes, list[asyncio.Future[Grants]]] = {}
        self._now: datetime | None = None
        self._scheduled = False

    async def permissions(self, subject_id: str, now: datetime) -> Grants:
        """Every purpose the subject may be used for right now."""
        alias = pseudonym(self._pepper, subject_id)
        future: asyncio.Future[Grants] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(alias, []).append(future)
        # One batch holds one notion of "now": the latest of its requests' clocks (a later time only ever
        # turns more consents into expired ones, never fewer).
        self._now = now if self._now is None or now > self._now else self._now
        if not self._scheduled and self._inflight < self._max_inflight:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        return await future

    async def location(self, subject_id: str, now: datetime) -> LocationUse:
        """How a match may use the subject's location; ConsentRequired without an active location consent."""
        grants = await self.permissions(subject_id, now)
        location = grants.get(LOCATION_OFFERS)
        if location is None or location.precision_res is None:
            raise ConsentRequired("this subject has no active consent to match offers to its location")
        return LocationUse(precision_res=location.precision_res, counted=OFFER_ANALYTICS in grants)

    async def analytics(self, subject_id: str, now: datetime) -> bool:
        """Whether the subject's activity may be counted now (an active ``offer_analytics`` consent)."""
        return OFFER_ANALYTICS in await self.permissions(subject_id, now)

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

    async def _lookup(self, waiting: dict[bytes, list[asyncio.Future[Grants]]], now: datetime) -> None:
        self._inflight += 1
        try:
            rows = await self._fetch(_EXECUTE, {"aliases": list(waiting), "now": now})
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
        found: dict[bytes, Grants] = {}
        for alias, purpose, precision in rows:
            found.setdefault(bytes(alias), {})[purpose] = Permission(precision_res=precision)
        for alias, futures in waiting.items():
            grants = found.get(alias, {})
            for future in futures:
                if not future.done():
                    future.set_result(grants)
