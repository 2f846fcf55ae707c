"""Redeeming a deal: one atomic increment against its quota, on the asynchronous pool.

When the increment uses up the quota, the deals trigger notifies every instance and the index feed drops
the deal, so it is no longer matched anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from consent.errors import Conflict, NotFound
from geo_offers.insights.counter import Fetch
from geo_offers.insights.live import DealNotLive

_REDEEM = """
UPDATE deals SET redemptions = redemptions + 1
 WHERE id = %(id)s AND status = 'active' AND valid_from <= %(now)s AND valid_until > %(now)s
   AND (max_redemptions IS NULL OR redemptions < max_redemptions)
RETURNING redemptions, max_redemptions
"""
_STATE = "SELECT status, valid_from, valid_until, redemptions, max_redemptions FROM deals WHERE id = %(id)s"


@dataclass(frozen=True, slots=True)
class Redeemed:
    """The deal's redemptions after this one, and its quota (None: unlimited)."""

    redemptions: int
    max_redemptions: int | None


async def redeem(fetch: Fetch, deal_id: int, now: datetime) -> Redeemed:
    """Use up one redemption, or say why not: NotFound, DealNotLive, or Conflict when the quota is used up."""
    rows = await fetch(_REDEEM, {"id": deal_id, "now": now})
    if rows:
        redemptions, max_redemptions = rows[0]
        return Redeemed(redemptions=int(redemptions), max_redemptions=max_redemptions)
    state = await fetch(_STATE, {"id": deal_id})
    if not state:
        raise NotFound("deal not found")
    status, valid_from, valid_until, redemptions, max_redemptions = state[0]
    if max_redemptions is not None and redemptions >= max_redemptions:
        raise Conflict(
            f"the deal's {max_redemptions} redemptions are used up",
            reason="quota-used-up",
            redemptions=redemptions,
            max_redemptions=max_redemptions,
        )
    # The event route checked that the deal is live a moment ago; it may have changed since.
    if status != "active":
        raise DealNotLive(f"the deal is {status}, not active", reason="not-active", deal_status=status)
    if now < valid_from or now >= valid_until:
        raise DealNotLive("the deal is outside its validity dates", reason="not-valid-now")
    raise Conflict("the deal changed meanwhile; retry", reason="changed")
