"""Store routes (merchant key; a merchant sees and changes only its own stores).

The routes are async and run their transaction with ``Database.run`` (one thread hop a request; see there why).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from geo_offers.kit.deps import DatabaseDep, MerchantKey, NowDep, ServicesDep, SettingsDep
from geo_offers.kit.params import After, RowId
from geo_offers.places.deals import repository as deals_repo
from geo_offers.places.stores import importer as store_import
from geo_offers.places.stores import repository as stores_repo
from geo_offers.places.stores.repository import StoreRow
from geo_offers.places.stores.schemas import (
    ImportFailure,
    ImportResult,
    PointOut,
    StoreCreate,
    StoreList,
    StorePublic,
    StoreUpdate,
)
from geo_offers.tenants.auth import Principal

router = APIRouter(prefix="/v1/stores", tags=["stores"])


def merchant_of(principal: Principal) -> int:
    """The merchant a merchant key is bound to."""
    assert principal.merchant_id is not None  # the merchant role always has one (database constraint)
    return principal.merchant_id


def store_public(row: StoreRow) -> StorePublic:
    """The API form of a store row."""
    return StorePublic(
        id=row.id,
        name=row.name,
        address=row.address,
        location=PointOut(coordinates=[row.lon, row.lat]),
        timezone=row.timezone,
        categories=list(row.categories),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_store(body: StoreCreate, principal: MerchantKey, db: DatabaseDep, now: NowDep) -> StorePublic:
    """Create a store at a GeoJSON Point (lon, lat)."""
    lon, lat = body.location.coordinates
    values = {
        "name": body.name,
        "address": body.address,
        "lon": lon,
        "lat": lat,
        "timezone": body.timezone,
        "categories": list(body.categories),
    }
    merchant_id = merchant_of(principal)
    return store_public(await db.run(lambda session: stores_repo.create_store(session, merchant_id, values, now)))


_FEATURE_COLLECTION = {
    "type": "object",
    "description": "A GeoJSON FeatureCollection of 1 to 100,000 Point features with the properties name, address, "
    "timezone (optional) and categories (optional list). Each feature is checked on its own; the answer lists "
    "those that failed.",
    "required": ["type", "features"],
    "properties": {
        "type": {"const": "FeatureCollection"},
        "features": {"type": "array", "minItems": 1, "maxItems": store_import.MAX_ROWS, "items": {}},
    },
}
_IMPORT_BODY = {
    "required": True,
    "content": {
        "application/geo+json": {"schema": _FEATURE_COLLECTION},
        "application/json": {"schema": _FEATURE_COLLECTION},
        "text/csv": {
            "schema": {
                "type": "string",
                "description": "UTF-8 CSV: the header name,address,lon,lat, optionally followed by ,timezone and "
                "then ,categories (semicolon-separated), then 1 to 100,000 rows. Each row is checked on its own; "
                "the answer lists those that failed.",
                "pattern": f"^\\ufeff?{store_import.CSV_HEADER.pattern}(\\r\\n|\\n|\\r)[\\s\\S]*[^\\r\\n][\\s\\S]*$",
            }
        },
    },
}


@router.post("/import", openapi_extra={"requestBody": _IMPORT_BODY})
async def import_stores(request: Request, principal: MerchantKey, services: ServicesDep) -> ImportResult:
    """Import up to 100,000 stores from GeoJSON or CSV. Each row is validated on its own; the answer names the
    rows that failed and why, and the valid rows go in as one transaction."""
    kind = store_import.kind_of(request.headers.get("content-type"))
    data = await request.body()
    merchant_id = merchant_of(principal)
    now = services.clock()

    def run() -> store_import.ImportOutcome:
        with services.db.transaction() as session:
            return store_import.import_stores(session, merchant_id, data, kind, now)

    outcome = await run_in_threadpool(run)
    return ImportResult(
        imported=len(outcome.store_ids),
        failed=[ImportFailure(row=row, errors=errors) for row, errors in outcome.failed],
        store_ids=outcome.store_ids,
    )


@router.get("")
async def list_stores(
    principal: MerchantKey,
    db: DatabaseDep,
    after: After = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> StoreList:
    """The merchant's stores in id order; pass `next_after` back as `after` for the next page."""
    merchant_id = merchant_of(principal)
    rows = await db.read(lambda session: stores_repo.list_stores(session, merchant_id, after=after, limit=limit))
    items = [store_public(r) for r in rows]
    return StoreList(items=items, next_after=items[-1].id if len(items) == limit else None)


@router.get("/{store_id:int}")
async def get_store(store_id: RowId, principal: MerchantKey, db: DatabaseDep) -> StorePublic:
    """One of the merchant's stores."""
    merchant_id = merchant_of(principal)
    return store_public(await db.read(lambda session: stores_repo.get_store(session, merchant_id, store_id)))


@router.patch("/{store_id:int}")
async def update_store(
    store_id: RowId,
    body: StoreUpdate,
    principal: MerchantKey,
    db: DatabaseDep,
    settings: SettingsDep,
    now: NowDep,
) -> StorePublic:
    """Change a store; radius areas of its deals move with a new location."""
    changes: dict[str, Any] = body.model_dump(exclude_unset=True, exclude={"location"})
    if body.location is not None:
        changes["lon"], changes["lat"] = body.location.coordinates
    merchant_id = merchant_of(principal)
    moved = body.location is not None

    def change(session: Session) -> StoreRow:
        row = stores_repo.update_store(session, merchant_id, store_id, changes, now)
        if moved:
            deals_repo.rebuild_radius_deals(session, store_id, row.lat, row.lon, now, index_res=settings.index_res)
        return row

    return store_public(await db.run(change))


@router.delete("/{store_id:int}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_store(store_id: RowId, principal: MerchantKey, db: DatabaseDep) -> Response:
    """Delete a store without deals (409 while it has some)."""
    merchant_id = merchant_of(principal)
    await db.run(lambda session: stores_repo.delete_store(session, merchant_id, store_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
