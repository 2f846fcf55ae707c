"""Whether a deal is live for an offer event: refused events are neither counted nor take a redemption.

An app can only show, and a person only click or redeem, a deal that is live: active, inside its validity dates,
and, for a redeem, inside one of its weekly windows in the store's time zone (a deal without windows is open at
any time of its validity). Anything else is refused with 409 ``/problems/deal-not-live`` and a ``reason``, so a
click on a draft or a redemption at 3 a.m. of a lunch deal never reaches a store's figures.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from consent.errors import Conflict, NotFound
from geo_offers.insights.counter import Fetch
from geo_offers.places.schedule import compile_windows, local_now

EXPLANATION = (
    "The deal is not live for this event: `reason` says why (`not-active` with the deal's `deal_status`: draft, paused "
    "or ended; `not-valid-now`: before `valid_from` or from `valid_until` on; `outside-windows`: a redeem outside "
    "the deal's weekly windows in the store's time zone). Nothing was counted and no redemption was used."
)

_STATE = """
SELECT d.status, d.valid_from, d.valid_until, d.windows, s.timezone
  FROM deals d JOIN stores s ON s.id = d.store_id
 WHERE d.id = %(id)s
"""


class DealNotLive(Conflict):
    slug = "deal-not-live"
    title = "The deal is not live"


async def ensure_live(fetch: Fetch, deal_id: int, event_type: str, now: datetime) -> None:
    """NotFound for an unknown deal; DealNotLive unless the deal is live now for this event type."""
    rows = await fetch(_STATE, {"id": deal_id})
    if not rows:
        raise NotFound("deal not found")
    status, valid_from, valid_until, windows, timezone = rows[0]
    refuse_unless_live(status, valid_from, valid_until, windows, timezone, event_type, now)


def refuse_unless_live(
    status: str,
    valid_from: datetime,
    valid_until: datetime,
    windows: list[dict[str, Any]],
    timezone: str,
    event_type: str,
    now: datetime,
) -> None:
    """DealNotLive (with the reason) unless a deal in this state is live at ``now`` for the event type."""
    if status != "active":
        raise DealNotLive(f"the deal is {status}, not active", reason="not-active", deal_status=status)
    if now < valid_from or now >= valid_until:
        raise DealNotLive(
            "the deal is outside its validity dates",
            reason="not-valid-now",
            valid_from=valid_from.isoformat(),
            valid_until=valid_until.isoformat(),
        )
    if event_type == "redeem" and windows:
        schedule = compile_windows(windows)
        local = local_now(now, timezone)
        if schedule.end_if_open(local.second_of_week) is None:
            raise DealNotLive(
                f"the deal is not redeemable at this time ({local.local:%a %H:%M} in {timezone}): outside its "
                "weekly windows",
                reason="outside-windows",
                timezone=timezone,
            )
