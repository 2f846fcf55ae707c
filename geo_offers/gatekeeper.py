"""The consent question on the hot path, asked of the database on every request (no cache)."""

from __future__ import annotations

from datetime import datetime

from consent import gate
from consent.errors import ConsentRequired
from consent.pseudonyms import pseudonym
from geo_offers.pgasync import AsyncPool

LOCATION = "location_offers"
ANALYTICS = "offer_analytics"


class Gatekeeper:
    """Asks ``consent.gate`` for a subject's permissions through the asynchronous pool."""

    def __init__(self, pool: AsyncPool, pepper: str) -> None:
        self._pool = pool
        self._pepper = pepper

    async def permissions(self, subject_id: str, now: datetime) -> gate.Grants:
        """Every purpose the subject may be used for right now."""
        alias = pseudonym(self._pepper, subject_id)
        found = await gate.lookup_many(self._pool.fetch, [alias], now)
        return found.get(alias, {})

    async def location_precision(self, subject_id: str, now: datetime) -> tuple[int, bool]:
        """The finest allowed resolution and whether the request may be counted; ConsentRequired otherwise."""
        grants = await self.permissions(subject_id, now)
        location = grants.get(LOCATION)
        if location is None or location.precision_res is None:
            raise ConsentRequired("this subject has no active consent to match offers to its location")
        return location.precision_res, ANALYTICS in grants
