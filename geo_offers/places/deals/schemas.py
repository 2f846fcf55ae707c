"""Bodies of the deal routes: areas, weekly windows, validity and status."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from consent.strict import Integer, JsonTime, Omittable, StrictModel, Text
from geo_offers.places.categories import Category
from geo_offers.places.deals.frequency import FrequencyRules
from geo_offers.places.geometry import MAX_RADIUS_M, MIN_RADIUS_M
from geo_offers.places.schedule import DAYS, parse_clock

Title = Annotated[str, StringConstraints(max_length=120), Text()]
Description = Annotated[str, StringConstraints(max_length=2000), Text(filled=False)]
_CLOCK = "([01][0-9]|2[0-3]):[0-5][0-9]"
MAX_WINDOWS = 28
Redemptions = Annotated[int, Integer(ge=1, le=100_000_000)]


class Window(StrictModel):
    """A weekly window in the store's time zone; an end not after the start runs past midnight. Start and end
    differ (00:00 to 24:00 is the whole day)."""

    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        min_length=1, max_length=7, json_schema_extra={"uniqueItems": True}
    )
    start: str = Field(examples=["15:00"], pattern=f"^{_CLOCK}$")
    end: str = Field(examples=["17:30"], pattern=f"^({_CLOCK}|24:00)$")

    @model_validator(mode="after")
    def _times(self) -> Window:
        start = parse_clock(self.start, allow_24=False)
        end = parse_clock(self.end, allow_24=True)
        if start == end:
            raise ValueError("a window needs different start and end (00:00 to 24:00 is a whole day)")
        if len(set(self.days)) != len(self.days):
            raise ValueError("each day may appear once in a window")
        self.days = sorted(self.days, key=DAYS.index)
        return self


class RadiusArea(StrictModel):
    radius_m: Annotated[int, Integer(ge=MIN_RADIUS_M, le=MAX_RADIUS_M)]


class GeoJSONArea(StrictModel):
    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list[Any] = Field(min_length=1)


Area = RadiusArea | GeoJSONArea
_RULES = (
    "Frequency rules the app enforces on the device (max_shows, redeem_cooldown, once_per_device); the server "
    "hands them out with the deal and never counts per person."
)
Status = Literal["draft", "active", "paused", "ended"]


class DealCreate(StrictModel):
    store_id: Annotated[int, Integer(ge=1)]
    title: Title
    description: Description = ""
    category: Category
    area: Area
    valid_from: JsonTime
    valid_until: JsonTime
    windows: list[Window] = Field(default_factory=list, max_length=MAX_WINDOWS)
    status: Status = "draft"
    max_redemptions: Redemptions | None = None
    frequency_rules: FrequencyRules = Field(default_factory=list, description=_RULES)

    @model_validator(mode="after")
    def _validity(self) -> DealCreate:
        if self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self


class DealUpdate(StrictModel):
    """The fields to change; a field left out stays as it is. Only `max_redemptions` may be null (no quota)."""

    store_id: Omittable[Annotated[int, Integer(ge=1)]] = None
    title: Omittable[Title] = None
    description: Omittable[Description] = None
    category: Omittable[Category] = None
    area: Omittable[Area] = None
    valid_from: Omittable[JsonTime] = None
    valid_until: Omittable[JsonTime] = None
    windows: Omittable[Annotated[list[Window], Field(max_length=MAX_WINDOWS)]] = None
    status: Omittable[Status] = None
    max_redemptions: Redemptions | None = None
    frequency_rules: Omittable[FrequencyRules] = Field(default=None, description=_RULES + " `[]` clears them.")


class DealPublic(BaseModel):
    id: int
    store_id: int
    title: str
    description: str
    category: str
    area: dict[str, Any] = Field(description="{'radius_m': N} or the GeoJSON polygon as given.")
    area_geojson: dict[str, Any] = Field(description="The stored area as a GeoJSON MultiPolygon.")
    coverage_cells: int = Field(description="How many H3 cells at the index resolution the area touches.")
    valid_from: datetime
    valid_until: datetime
    windows: list[dict[str, Any]]
    status: str
    max_redemptions: int | None
    redemptions: int
    frequency_rules: list[dict[str, Any]] = Field(description="Rules the app enforces on the device.")
    codes_left: int | None = Field(description="One-time codes not yet handed out; null: the deal has no codes.")
    created_at: datetime
    updated_at: datetime


class DealList(BaseModel):
    items: list[DealPublic]
    next_after: int | None
