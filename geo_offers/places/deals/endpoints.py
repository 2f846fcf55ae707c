"""Deal routes (merchant key; a merchant sees and changes only its own deals).

The routes are async and run their transaction with ``Database.run`` (one thread hop a request; see there why).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Response, status

from geo_offers.kit.deps import DatabaseDep, MerchantKey, NowDep, SettingsDep
from geo_offers.kit.params import BIGINT_MAX, After, RowId
from geo_offers.places.deals import frequency
from geo_offers.places.deals import repository as deals_repo
from geo_offers.places.deals.repository import DealRow
from geo_offers.places.deals.schemas import DealCreate, DealList, DealPublic, DealUpdate, RadiusArea, Status
from geo_offers.places.stores.endpoints import merchant_of

router = APIRouter(prefix="/v1/deals", tags=["deals"])


def deal_public(row: DealRow) -> DealPublic:
    """The API form of a deal row."""
    geojson = orjson.loads(row.area_geojson)
    return DealPublic(
        id=row.id,
        store_id=row.store_id,
        title=row.title,
        description=row.description,
        category=row.category,
        area={"radius_m": row.radius_m} if row.area_kind == "radius" else geojson,
        area_geojson=geojson,
        coverage_cells=row.coverage_cells,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        windows=row.windows,
        status=row.status,
        max_redemptions=row.max_redemptions,
        redemptions=row.redemptions,
        frequency_rules=row.frequency_rules,
        codes_left=row.codes_left,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _area(body_area: Any) -> dict[str, Any]:
    if isinstance(body_area, RadiusArea):
        return {"radius_m": body_area.radius_m}
    dumped: dict[str, Any] = body_area.model_dump()
    return dumped


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_deal(
    body: DealCreate, principal: MerchantKey, db: DatabaseDep, settings: SettingsDep, now: NowDep
) -> DealPublic:
    """Create a deal of one of the merchant's stores; its H3 coverage is derived in the same transaction.

    Rules beyond the schema (422 when broken): `valid_until` is after `valid_from`; a window's start and end
    differ; a polygon's rings are closed, the polygon is valid (no self-intersection), does not cross the
    antimeridian and is under the area cap; a radius area's store is outside 5 degrees of the poles and the
    circle clear of the antimeridian; no frequency rule asks to be enforced by the server.
    """
    frequency.refuse_server_side(body.frequency_rules)
    values = body.model_dump(exclude={"area", "windows", "frequency_rules"})
    values["frequency_rules"] = frequency.stored(body.frequency_rules)
    values["area"] = _area(body.area)
    values["windows"] = [w.model_dump() for w in body.windows]
    merchant_id = merchant_of(principal)
    row = await db.run(
        lambda session: deals_repo.create_deal(
            session, merchant_id, values, now, index_res=settings.index_res, cap_km2=settings.area_cap_km2
        )
    )
    return deal_public(row)


@router.get("")
async def list_deals(
    principal: MerchantKey,
    db: DatabaseDep,
    after: After = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    store_id: Annotated[int | None, Query(ge=1, le=BIGINT_MAX)] = None,
    status: Status | None = None,
) -> DealList:
    """The merchant's deals in id order, optionally of one store or status."""
    merchant_id = merchant_of(principal)
    rows = await db.read(
        lambda session: deals_repo.list_deals(
            session, merchant_id, after=after, limit=limit, store_id=store_id, status=status
        )
    )
    items = [deal_public(r) for r in rows]
    return DealList(items=items, next_after=items[-1].id if len(items) == limit else None)


@router.get("/{deal_id:int}")
async def get_deal(deal_id: RowId, principal: MerchantKey, db: DatabaseDep) -> DealPublic:
    """One of the merchant's deals."""
    merchant_id = merchant_of(principal)
    return deal_public(await db.read(lambda session: deals_repo.get_deal(session, merchant_id, deal_id)))


@router.patch("/{deal_id:int}")
async def update_deal(
    deal_id: RowId,
    body: DealUpdate,
    principal: MerchantKey,
    db: DatabaseDep,
    settings: SettingsDep,
    now: NowDep,
) -> DealPublic:
    """Change a deal (publish with `status: active`, pause with `paused`); visible to every instance at once.

    The changed deal keeps the rules of a new one, with the fields left out as they were. Rules beyond the
    schema (422 when broken): `valid_until` is after `valid_from`; a window's start and end differ; a polygon's
    rings are closed, the polygon is valid (no self-intersection), does not cross the antimeridian and is under
    the area cap; a radius area's store is outside 5 degrees of the poles and the circle clear of the
    antimeridian; no frequency rule asks to be enforced by the server.
    """
    frequency.refuse_server_side(body.frequency_rules)
    changes: dict[str, Any] = body.model_dump(exclude_unset=True, exclude={"area", "windows", "frequency_rules"})
    if body.area is not None:
        changes["area"] = _area(body.area)
    if body.windows is not None:
        changes["windows"] = [w.model_dump() for w in body.windows]
    if body.frequency_rules is not None:
        changes["frequency_rules"] = frequency.stored(body.frequency_rules)
    merchant_id = merchant_of(principal)
    row = await db.run(
        lambda session: deals_repo.update_deal(
            session, merchant_id, deal_id, changes, now, index_res=settings.index_res, cap_km2=settings.area_cap_km2
        )
    )
    return deal_public(row)


@router.delete("/{deal_id:int}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_deal(deal_id: RowId, principal: MerchantKey, db: DatabaseDep) -> Response:
    """Delete a deal and its coverage."""
    merchant_id = merchant_of(principal)
    await db.run(lambda session: deals_repo.delete_deal(session, merchant_id, deal_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
