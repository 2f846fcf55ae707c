"""Bodies of the offer event route, answers of the insight routes and of the privacy-budget audit route."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from consent.schemas import SubjectId
from consent.strict import StrictModel

EventType = Literal["impression", "click", "redeem"]


class EventRequest(StrictModel):
    """One event of an offer the app showed, and whose it was (the id is asked about, never stored)."""

    subject_id: SubjectId = Field(
        description="The person's app-scoped installation id, as in a match. The event is counted only when this "
        "person has granted `offer_analytics` (asked anew on every request), at most once per deal, `type` and "
        "hour; the id itself is never stored."
    )
    type: EventType = Field(description="What happened: the offer was shown, clicked or redeemed.")


class EventAccepted(BaseModel):
    deal_id: int
    type: EventType
    counted: bool = Field(
        description="Whether the person is in this hour's counter of the event's `type` (false without "
        "`offer_analytics` consent); a person is counted once per deal, `type` and hour however often they send it."
    )
    redemptions: int | None = Field(default=None, description="For a redeem: the deal's redemptions so far.")
    max_redemptions: int | None = Field(default=None, description="For a redeem: the deal's quota, if any.")


class FigureOut(BaseModel):
    count: int | None = Field(description="The noised count of people (summed per hour); null when suppressed.")
    suppressed: bool = Field(
        description="True when the figure cannot be shown to rest on k people: none of the hours it sums counted "
        "`threshold` (k x P)."
    )


class TypeFigures(BaseModel):
    """One figure per type: `served` (the deal was in a match answer) and each event `type` an app reports."""

    served: FigureOut = Field(description="People to whom the deal was in a match answer (once per person and hour).")
    impression: FigureOut
    click: FigureOut
    redeem: FigureOut


class DayRow(BaseModel):
    day: date = Field(description="A day in the store's time zone.")
    counts: TypeFigures


class WeekRow(BaseModel):
    week_start: date = Field(description="Monday, in the store's time zone.")
    week_end: date
    counts: TypeFigures


class GrowthOut(BaseModel):
    percent: float | None = Field(description="Change of the last complete week against the one before, in %.")
    suppressed: bool = Field(description="True when either week is suppressed or the earlier one is zero.")


class Growth(BaseModel):
    served: GrowthOut
    impression: GrowthOut
    click: GrowthOut
    redeem: GrowthOut


class HourRow(BaseModel):
    hour_of_week: int = Field(description="0 = Monday 0:00-1:00 ... 167 = Sunday 23:00-24:00, local time.")
    weekday: str
    hour: int
    counts: TypeFigures


class HoursOfWeek(BaseModel):
    since: datetime = Field(description="Start of the complete weeks summed up (UTC Monday 0:00).")
    until: datetime
    hours: list[HourRow]


class PrivacyParams(BaseModel):
    mechanism: str
    epsilon: float = Field(
        description="Privacy budget of this release, all its figures together, protecting one person's activity in "
        "one hour (the `unit`)."
    )
    epsilon_per_figure: dict[str, float] = Field(description="Epsilon of each group of figures.")
    sensitivity: int = Field(
        description="How much one person's hour can change the figures of one group together (L1): P for activity, "
        "4 x P for a deal (served, impression, click, redeem); the noise is scaled to it."
    )
    counting_processes: int = Field(
        description="P: processes that may each count one person once in an hour (workers x instances)."
    )
    k: int = Field(description="People a published figure rests on at least; the others are suppressed.")
    threshold: int = Field(
        description="k x P: a figure is published only when one of the hourly counters it sums reaches this, which "
        "only k different people can make."
    )
    unit: str = Field(description="What the guarantee protects.")
    deterministic: bool = Field(description="The same figure always gets the same noise; repeating gains nothing.")
    data_until: datetime = Field(description="Only periods that ended before this time are published.")


class DealInsights(BaseModel):
    deal_id: int
    timezone: str
    privacy: PrivacyParams
    days: list[DayRow]
    weeks: list[WeekRow] = Field(description="The last two complete weeks, from the noised daily counts.")
    growth_week_over_week: Growth
    hours_of_week: HoursOfWeek


class ActivityHour(BaseModel):
    hour_of_week: int = Field(description="0 = Monday 0:00-1:00 ... 167 = Sunday 23:00-24:00, local time.")
    weekday: str
    hour: int
    requests: FigureOut = Field(
        description="Consenting people who asked for offers in the cell (each at most once an hour, in one cell)."
    )


class ActivityInsights(BaseModel):
    cell: str
    resolution: int
    timezone: str = Field(description="Time zone of the merchant's nearest store; hours are local to it.")
    privacy: PrivacyParams
    since: datetime
    until: datetime
    hours: list[ActivityHour]


class BudgetEntry(BaseModel):
    id: int
    released_at: datetime
    key_id: str = Field(description="The API key id that asked (never its secret).")
    merchant_id: int | None
    figure: str = Field(description="Which figures were released.")
    mechanism: str
    epsilon: float
    k: int
    figures: int
    suppressed: int


class BudgetLog(BaseModel):
    items: list[BudgetEntry]
    next_after: int | None = Field(description="Pass as `after` for the next page; null on the last page.")


Confidence = Literal["none", "low", "medium", "high"]


class SuggestedWindow(BaseModel):
    windows: list[dict[str, object]] = Field(
        description="Ready to use as a deal's `windows` (local time of `timezone`); a run of a day or more is cut "
        "at midnight."
    )
    hours_of_week: list[int] = Field(description="The hours of the week (0 = Monday 0:00) the window rests on.")
    requests: int = Field(description="Sum of the published (noised) counts of those hours.")
    mean_requests: float
    margin_sd: float = Field(
        description="How far the window's mean stands above the threshold, in standard deviations of the noise "
        "of that mean."
    )
    confidence: Confidence = Field(
        description="high: at least 3 noise SDs above the threshold; medium: at least 1.5; low: less, or the "
        "suggestion rests on fewer than 6 published hours."
    )


class SuggestionBasis(BaseModel):
    figures: str = Field(description="The published figures the suggestion is computed from, and nothing else.")
    cell: str
    resolution: int
    since: datetime
    until: datetime
    hours_published: int
    hours_suppressed: int = Field(description="Hours under k: known only to be quieter than any published hour.")
    busiest_requests: int | None
    threshold: int | None = Field(description="An hour joins a window when its count reaches this (half the busiest).")
    noise_sd: float = Field(description="Standard deviation of the noise on one figure.")
    hours: list[ActivityHour] = Field(description="The published figures themselves, as the activity route gives them.")


class SuggestedWindows(BaseModel):
    store_id: int
    timezone: str = Field(description="Time zone of the figures and windows (the store's, or its nearest sibling's).")
    windows: list[SuggestedWindow] = Field(description="Busiest first; empty when every hour is suppressed.")
    confidence: Confidence = Field(description="The confidence of the busiest window; none without any window.")
    rests_on: SuggestionBasis
    privacy: PrivacyParams = Field(description="The parameters of the activity release the suggestion reads.")
    additional_epsilon: float = Field(
        description="Privacy budget the suggestion spends beyond the release it reads: none, it is post-processing."
    )
