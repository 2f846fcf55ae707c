"""Bodies of the store and deal routes."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from consent.strict import JsonFloat, JsonInt, JsonTime, StrictModel
from geo_offers.categories import Category
from geo_offers.geometry import MAX_RADIUS_M, MIN_RADIUS_M
from geo_offers.schedule import DAYS, parse_clock

Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


def _timezone(value: str) -> str:
    try:
        if "/" not in value and value != "UTC":
            raise ValueError
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("timezone must be an IANA zone name such as Europe/Berlin") from exc
    return value


TimeZone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_timezone)]


class PointIn(StrictModel):
    """A GeoJSON Point, [lon, lat]."""

    type: Literal["Point"]
    coordinates: list[JsonFloat] = Field(min_length=2, max_length=2, examples=[[13.405, 52.52]])

    @field_validator("coordinates")
    @classmethod
    def _in_range(cls, value: list[float]) -> list[float]:
        lon, lat = value
        if not (math.isfinite(lon) and math.isfinite(lat)) or not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError("coordinates are [lon, lat] with lon in [-180, 180] and lat in [-90, 90]")
        return value


class StoreCreate(StrictModel):
    name: Text200
    address: Address
    location: PointIn
    timezone: TimeZone = "Europe/Berlin"
    categories: list[Category] = Field(default_factory=list, max_length=10)


class StoreUpdate(StrictModel):
    name: Text200 | None = None
    address: Address | None = None
    location: PointIn | None = None
    timezone: TimeZone | None = None
    categories: list[Category] | None = Field(default=None, max_length=10)


class PointOut(BaseModel):
    type: Literal["Point"] = "Point"
    coordinates: list[float]


class StorePublic(BaseModel):
    id: int
    name: str
    address: str
    location: PointOut
    timezone: str
    categories: list[str]
    created_at: datetime
    updated_at: datetime


class StoreList(BaseModel):
    items: list[StorePublic]
    next_after: int | None = Field(description="Pass as `after` for the next page; null on the last page.")


class ImportFailure(BaseModel):
    row: int = Field(description="1-based feature index (GeoJSON) or line number (CSV).")
    errors: list[str]


class ImportResult(BaseModel):
    imported: int
    failed: list[ImportFailure]
    store_ids: list[int] = Field(description="Ids of the imported stores, in input order.")


class Window(StrictModel):
    """A weekly window in the store's time zone; an end not after the start runs past midnight."""

    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(min_length=1, max_length=7)
    start: str = Field(examples=["15:00"], pattern=r"^\d\d:\d\d$")
    end: str = Field(examples=["17:30"], pattern=r"^\d\d:\d\d$")

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
    radius_m: JsonInt = Field(ge=MIN_RADIUS_M, le=MAX_RADIUS_M)


class GeoJSONArea(StrictModel):
    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list[Any] = Field(min_length=1)


Area = RadiusArea | GeoJSONArea
Status = Literal["draft", "active", "paused", "ended"]


def _windows_unique(windows: list[Window]) -> list[Window]:
    if len(windows) > 28:
        raise ValueError("at most 28 windows")
    return windows


class DealCreate(StrictModel):
    store_id: JsonInt = Field(ge=1)
    title: Title
    description: Description = ""
    category: Category
    area: Area
    valid_from: JsonTime
    valid_until: JsonTime
    windows: Annotated[list[Window], AfterValidator(_windows_unique)] = Field(default_factory=list)
    status: Status = "draft"
    max_redemptions: JsonInt | None = Field(default=None, ge=1, le=100_000_000)

    @model_validator(mode="after")
    def _validity(self) -> DealCreate:
        if self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self


class DealUpdate(StrictModel):
    store_id: JsonInt | None = Field(default=None, ge=1)
    title: Title | None = None
    description: Description | None = None
    category: Category | None = None
    area: Area | None = None
    valid_from: JsonTime | None = None
    valid_until: JsonTime | None = None
    windows: Annotated[list[Window], AfterValidator(_windows_unique)] | None = None
    status: Status | None = None
    max_redemptions: JsonInt | None = Field(default=None, ge=1, le=100_000_000)


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
    created_at: datetime
    updated_at: datetime


class DealList(BaseModel):
    items: list[DealPublic]
    next_after: int | None
