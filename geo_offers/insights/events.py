"""Offer events (app key): impressions, clicks and redemptions, counted as people only with their consent.

The request names the subject so that the consent gate, not the app, decides whether the person is counted
(asked anew on every request, so a withdrawal counts from the next one); the id goes no further than the gate's
query and the counter's hourly keyed hash (``people.py``), and is never stored. Events on a deal that is not
live are refused before anything is counted or used up (``live.py``).
"""

from __future__ import annotations

from fastapi import APIRouter, status

from geo_offers.insights import live, redemptions
from geo_offers.insights.schemas import EventAccepted, EventRequest
from geo_offers.kit.deps import AppKey, ServicesDep
from geo_offers.kit.params import RowId

router = APIRouter(prefix="/v1/offers", tags=["offers"])


@router.post("/{deal_id:int}/events", status_code=status.HTTP_202_ACCEPTED)
async def offer_event(deal_id: RowId, body: EventRequest, _: AppKey, services: ServicesDep) -> EventAccepted:
    """Report an impression, click or redemption of a deal by a person. The person is counted (once per deal,
    `type` and hour) only with an active `offer_analytics` consent, which the service looks up itself; the
    subject id is never stored.

    A deal that is not live is refused with 409 `/problems/deal-not-live` (draft, paused or ended, outside its
    validity dates, or for a redeem outside its weekly windows in the store's time zone), and nothing is counted.
    A redeem also uses up one of the deal's `max_redemptions` at once, with or without analytics consent (409
    `/problems/conflict` with `reason` `quota-used-up` when none are left); when the last one is used, the deal
    stops being matched on every instance.
    """
    now = services.clock()
    fetch = services.pool.fetch
    await live.ensure_live(fetch, deal_id, body.type, now)
    counted = await services.gate.analytics(body.subject_id, now)
    answer = EventAccepted(deal_id=deal_id, type=body.type, counted=counted)
    if body.type == "redeem":
        done = await redemptions.redeem(fetch, deal_id, now)
        answer.redemptions, answer.max_redemptions = done.redemptions, done.max_redemptions
    if counted:
        services.counter.event(body.subject_id, deal_id, body.type, now)
    return answer
