"""Offer events (app key): impressions, clicks and redemptions, counted without any subject id."""

from __future__ import annotations

from fastapi import APIRouter, status

from consent.errors import NotFound
from geo_offers.insights import redemptions
from geo_offers.insights.schemas import EventAccepted, EventRequest
from geo_offers.kit.deps import AppKey, ServicesDep
from geo_offers.kit.params import RowId

router = APIRouter(prefix="/v1/offers", tags=["offers"])


@router.post("/{deal_id:int}/events", status_code=status.HTTP_202_ACCEPTED)
async def offer_event(deal_id: RowId, body: EventRequest, _: AppKey, services: ServicesDep) -> EventAccepted:
    """Count an impression, click or redemption of a deal in its hourly counter (no subject id is sent).

    A redeem also uses up one of the deal's `max_redemptions` at once (409 problem+json when they are used
    up or the deal is not live); when the last one is used, the deal stops being matched on every instance.
    The app sends `offer_analytics: false` for people without that consent: nothing is counted then.
    """
    now = services.clock()
    fetch = services.pool.fetch
    answer = EventAccepted(deal_id=deal_id, type=body.type, counted=body.offer_analytics)
    if body.type == "redeem":
        done = await redemptions.redeem(fetch, deal_id, now)
        answer.redemptions, answer.max_redemptions = done.redemptions, done.max_redemptions
    elif not await redemptions.deal_exists(fetch, deal_id):
        raise NotFound("deal not found")
    if body.offer_analytics:
        services.counter.event(deal_id, body.type, now)
    return answer
