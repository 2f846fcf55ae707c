"""Bodies of the store routes and of the bulk store import."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, WithJsonSchema

from consent.strict import JsonFloat, Omittable, StrictModel, Text
from geo_offers.places.categories import Category

Text200 = Annotated[str, StringConstraints(max_length=200), Text()]
Address = Annotated[str, StringConstraints(max_length=500), Text()]
#: IANA zone names (with a region, or UTC): the document lists them all, so a client can offer the choice.
ZONES = sorted(zone for zone in available_timezones() if "/" in zone or zone == "UTC")
_ZONE_SET = frozenset(ZONES)


def _timezone(value: str) -> str:
    if value not in _ZONE_SET:
        raise ValueError("timezone must be an IANA zone name such as Europe/Berlin")
    return value


TimeZone = Annotated[
    str,
    AfterValidator(_timezone),
    WithJsonSchema({"type": "string", "enum": ZONES, "description": "An IANA time zone name."}),
]
Longitude = Annotated[JsonFloat, Field(ge=-180, le=180, allow_inf_nan=False)]
Latitude = Annotated[JsonFloat, Field(ge=-90, le=90, allow_inf_nan=False)]


class PointIn(StrictModel):
    """A GeoJSON Point, [lon, lat]."""

    type: Literal["Point"]
    coordinates: tuple[Longitude, Latitude] = Field(examples=[[13.405, 52.52]])


class StoreCreate(StrictModel):
    name: Text200
    address: Address
    location: PointIn
    timezone: TimeZone = "Europe/Berlin"
    categories: list[Category] = Field(default_factory=list, max_length=10)


class StoreUpdate(StrictModel):
    """The fields to change; a field left out stays as it is (none may be null)."""

    name: Omittable[Text200] = None
    address: Omittable[Address] = None
    location: Omittable[PointIn] = None
    timezone: Omittable[TimeZone] = None
    categories: Omittable[Annotated[list[Category], Field(max_length=10)]] = None


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
