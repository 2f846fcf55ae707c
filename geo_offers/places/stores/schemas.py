"""Bodies of the store routes and of the bulk store import."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, field_validator

from consent.strict import JsonFloat, StrictModel
from geo_offers.places.categories import Category

Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


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
