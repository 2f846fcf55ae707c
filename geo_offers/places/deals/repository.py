"""Deal queries: area geometry and H3 coverage are written in the same transaction as the deal itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import shapely
from shapely import MultiPolygon
from sqlalchemy import Row, Table, func, select, text
from sqlalchemy.orm import Session

from consent.errors import Conflict, InvalidInput, NotFound
from geo_offers.places import geometry
from geo_offers.places.coverage import cover
from geo_offers.places.models import Deal, DealCell
from geo_offers.places.stores.repository import get_store

DEALS_T = cast(Table, Deal.__table__)
DEAL_CELLS_T = cast(Table, DealCell.__table__)

DEAL_COLUMNS = (
    Deal.id,
    Deal.merchant_id,
    Deal.store_id,
    Deal.title,
    Deal.description,
    Deal.category,
    Deal.area_kind,
    Deal.radius_m,
    func.ST_AsGeoJSON(Deal.area).label("area_geojson"),
    select(func.count()).where(DealCell.deal_id == Deal.id).scalar_subquery().label("coverage_cells"),
    Deal.valid_from,
    Deal.valid_until,
    Deal.windows,
    Deal.status,
    Deal.max_redemptions,
    Deal.redemptions,
    Deal.frequency_rules,
    Deal.codes_left,
    Deal.created_at,
    Deal.updated_at,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DealRow:
    """A deal as the routes see it: its area as GeoJSON text and how many coverage cells it has."""

    id: int
    merchant_id: int
    store_id: int
    title: str
    description: str
    category: str
    area_kind: str
    radius_m: int | None
    area_geojson: str
    coverage_cells: int
    valid_from: datetime
    valid_until: datetime
    windows: list[dict[str, Any]]
    status: str
    max_redemptions: int | None
    redemptions: int
    frequency_rules: list[dict[str, Any]]
    codes_left: int | None
    created_at: datetime
    updated_at: datetime


def _record(row: Row[Any]) -> DealRow:
    return DealRow(**row._mapping)


_REWRITE_CELLS = text("INSERT INTO deal_cells (cell, deal_id) SELECT unnest(CAST(:cells AS bigint[])), :deal_id")


def build_area(
    area: dict[str, Any], store_lat: float, store_lon: float, cap_km2: float
) -> tuple[str, int | None, MultiPolygon]:
    """(kind, radius, geometry) of an area given as ``{"radius_m": N}`` or a GeoJSON (Multi)Polygon."""
    if "radius_m" in area:
        radius = int(area["radius_m"])
        return "radius", radius, geometry.circle(store_lat, store_lon, radius)
    polygon = geometry.parse_geojson_area(area)
    geometry.check_size(polygon, cap_km2)
    return "polygon", None, polygon


def _write_area(session: Session, deal_id: int, area: MultiPolygon, index_res: int) -> None:
    cells = cover(area, index_res)
    session.execute(
        DEALS_T.update().where(Deal.id == deal_id).values(area=func.ST_GeomFromWKB(shapely.to_wkb(area), 4326))
    )
    session.execute(DEAL_CELLS_T.delete().where(DealCell.deal_id == deal_id))
    session.execute(_REWRITE_CELLS, {"cells": cells, "deal_id": deal_id})


def get_deal(session: Session, merchant_id: int, deal_id: int) -> DealRow:
    """The merchant's deal, or NotFound (also for another merchant's deal)."""
    row = session.execute(
        select(*DEAL_COLUMNS).where(Deal.id == deal_id, Deal.merchant_id == merchant_id)
    ).one_or_none()
    if row is None:
        raise NotFound("deal not found")
    return _record(row)


def create_deal(
    session: Session, merchant_id: int, values: dict[str, Any], now: datetime, *, index_res: int, cap_km2: float
) -> DealRow:
    """Insert a deal of one of the merchant's stores, with its area and coverage."""
    store = get_store(session, merchant_id, values["store_id"])
    kind, radius, area = build_area(values["area"], store.lat, store.lon, cap_km2)
    deal_id = session.execute(
        DEALS_T.insert()
        .values(
            merchant_id=merchant_id,
            store_id=store.id,
            title=values["title"],
            description=values["description"],
            category=values["category"],
            area_kind=kind,
            radius_m=radius,
            area=func.ST_GeomFromWKB(shapely.to_wkb(area), 4326),
            valid_from=values["valid_from"],
            valid_until=values["valid_until"],
            windows=values["windows"],
            status=values["status"],
            max_redemptions=values["max_redemptions"],
            frequency_rules=values.get("frequency_rules", []),
            created_at=now,
            updated_at=now,
        )
        .returning(Deal.id)
    ).scalar_one()
    session.execute(_REWRITE_CELLS, {"cells": cover(area, index_res), "deal_id": deal_id})
    return get_deal(session, merchant_id, deal_id)


def update_deal(
    session: Session,
    merchant_id: int,
    deal_id: int,
    changes: dict[str, Any],
    now: datetime,
    *,
    index_res: int,
    cap_km2: float,
) -> DealRow:
    """Apply a partial update; the area and coverage are rebuilt when the area or the store changes."""
    current = session.execute(
        select(Deal.id, Deal.store_id, Deal.area_kind, Deal.radius_m, Deal.valid_from, Deal.valid_until)
        .where(Deal.id == deal_id, Deal.merchant_id == merchant_id)
        .with_for_update()
    ).one_or_none()
    if current is None:
        raise NotFound("deal not found")
    valid_from = changes.get("valid_from", current.valid_from)
    valid_until = changes.get("valid_until", current.valid_until)
    if valid_until <= valid_from:
        raise InvalidInput("valid_until must be after valid_from")
    values = {k: v for k, v in changes.items() if k != "area"}
    store = get_store(session, merchant_id, changes.get("store_id", current.store_id))
    # A radius area moves with its store; a polygon stays where it was drawn.
    if "area" in changes or ("store_id" in changes and current.area_kind == "radius"):
        spec = changes.get("area") or {"radius_m": current.radius_m}
        kind, radius, area = build_area(spec, store.lat, store.lon, cap_km2)
        values.update(area_kind=kind, radius_m=radius)
        _write_area(session, deal_id, area, index_res)
    values["updated_at"] = now
    session.execute(DEALS_T.update().where(Deal.id == deal_id).values(**values))
    return get_deal(session, merchant_id, deal_id)


def rebuild_radius_deals(
    session: Session, store_id: int, lat: float, lon: float, now: datetime, *, index_res: int
) -> int:
    """Move the radius areas of a store's deals with the store; returns how many were rebuilt.

    A place where a deal's radius cannot go (near a pole, across the antimeridian) is a Conflict: the store's
    new location is valid on its own, it is the store's existing deals that cannot follow it.
    """
    rows = session.execute(
        select(Deal.id, Deal.radius_m).where(Deal.store_id == store_id, Deal.area_kind == "radius").with_for_update()
    ).all()
    for row in rows:
        assert row.radius_m is not None
        try:
            area = geometry.circle(lat, lon, row.radius_m)
        except InvalidInput as error:
            raise Conflict(f"deal {row.id} has a radius area that cannot move there: {error.detail}") from error
        _write_area(session, row.id, area, index_res)
        session.execute(DEALS_T.update().where(Deal.id == row.id).values(updated_at=now))
    return len(rows)


def delete_deal(session: Session, merchant_id: int, deal_id: int) -> None:
    """Delete the merchant's deal (its coverage goes with it)."""
    result = session.execute(DEALS_T.delete().where(Deal.id == deal_id, Deal.merchant_id == merchant_id))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound("deal not found")


def list_deals(
    session: Session,
    merchant_id: int,
    *,
    after: int,
    limit: int,
    store_id: int | None = None,
    status: str | None = None,
) -> list[DealRow]:
    """The merchant's deals in id order after ``after``, optionally of one store or status."""
    stmt = select(*DEAL_COLUMNS).where(Deal.merchant_id == merchant_id, Deal.id > after)
    if store_id is not None:
        stmt = stmt.where(Deal.store_id == store_id)
    if status is not None:
        stmt = stmt.where(Deal.status == status)
    return [_record(row) for row in session.execute(stmt.order_by(Deal.id).limit(limit))]
