"""Bodies of the offer event route."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from consent.strict import StrictModel

EventType = Literal["impression", "click", "redeem"]


class EventRequest(StrictModel):
    """One event of an offer the app showed; it carries no subject id."""

    type: EventType
    offer_analytics: bool = Field(
        default=True,
        description="Whether the person granted `offer_analytics`. Send false when not: a redeem then still uses "
        "up one of the deal's redemptions but nothing is counted, and impressions and clicks are dropped.",
    )


class EventAccepted(BaseModel):
    deal_id: int
    type: EventType
    counted: bool = Field(description="Whether the event went into the (hourly, subject-free) counters.")
    redemptions: int | None = Field(default=None, description="For a redeem: the deal's redemptions so far.")
    max_redemptions: int | None = Field(default=None, description="For a redeem: the deal's quota, if any.")
