"""Bodies of the offer routes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from consent.schemas import SubjectId
from consent.strict import Integer, JsonFloat, Pattern, StrictModel
from geo_offers.places.categories import Category
from geo_offers.places.cell_patterns import cell_pattern

#: The coarsest cell a match takes; coarser areas are the area catalogue's.
COARSEST_MATCH_RES = 5
MATCH_CELL = cell_pattern(range(COARSEST_MATCH_RES, 16))

_RULES = "Rules the app applies on the device before showing the deal (README, 'Frequency rules')."
_CODES = "True: redeem with a one-time code claimed at the till (POST /v1/offers/{deal_id}/codes)."


class LatLon(StrictModel):
    """A precise position; it is snapped to the consented H3 cell at once and never stored or logged."""

    lat: JsonFloat = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: JsonFloat = Field(ge=-180, le=180, allow_inf_nan=False)


class MatchRequest(StrictModel):
    """The subject and exactly one of `cell` (preferred) and `location`."""

    # null counts as left out. Stated with if/then/else rather than oneOf, which client generators read as a
    # choice between two models.
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"required": ["cell"], "properties": {"cell": {"type": "string"}}},
            "then": {"not": {"required": ["location"], "properties": {"location": {"type": "object"}}}},
            "else": {"required": ["location"], "properties": {"location": {"type": "object"}}},
        }
    )

    subject_id: SubjectId
    cell: Annotated[str, StringConstraints(max_length=16), Pattern(MATCH_CELL)] | None = Field(
        default=None,
        description="H3 cell of resolution 5 or finer computed on the device (preferred); coarsened to the "
        "consented resolution.",
        examples=["871f1d489ffffff"],
    )
    location: LatLon | None = Field(default=None, description="Alternative to `cell`; never stored.")
    categories: list[Category] | None = Field(
        default=None, min_length=1, max_length=14, description="Only these categories, in order of preference."
    )
    limit: Annotated[int, Integer(ge=1, le=50)] = 10

    @model_validator(mode="after")
    def _one_position(self) -> MatchRequest:
        if (self.cell is None) == (self.location is None):
            raise ValueError("send exactly one of cell and location")
        return self


class StoreRef(BaseModel):
    id: int
    name: str
    address: str


class Offer(BaseModel):
    deal_id: int
    title: str
    description: str
    category: str
    store: StoreRef
    valid_until: str
    distance_band: Literal["under_1km", "1_to_3km", "3_to_10km", "over_10km"] = Field(
        description="Distance from the cell centre to the store, coarsely."
    )
    window_ends_at: str | None = Field(description="When the current weekly window closes; null without windows.")
    frequency_rules: list[dict[str, Any]] = Field(description=_RULES)
    one_time_codes: bool = Field(description=_CODES)


class MatchResponse(BaseModel):
    cell: str = Field(description="The cell actually used, at most as fine as the consent allows.")
    resolution: int
    offers: list[Offer]


class StorePlace(BaseModel):
    id: int
    name: str
    address: str
    location: dict[str, object] = Field(description="GeoJSON Point (lon, lat) of the store.")
    timezone: str


class AreaDeal(BaseModel):
    deal_id: int
    title: str
    description: str
    category: str
    store: StorePlace
    windows: list[dict[str, object]] = Field(description="Weekly windows in the store's time zone; empty: always.")
    valid_from: str
    valid_until: str
    cells: list[str] = Field(description="The deal's coverage, compacted H3 cells.")
    frequency_rules: list[dict[str, Any]] = Field(description=_RULES)
    one_time_codes: bool = Field(description=_CODES)


class AreaCatalogue(BaseModel):
    cell: str
    resolution: int
    index_resolution: int = Field(description="Resolution of the coverage cells before compaction.")
    deals: list[AreaDeal]
    next_after: int | None = Field(description="Pass as `after` for the next page; null on the last page.")
