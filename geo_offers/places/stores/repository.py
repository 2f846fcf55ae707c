"""Store queries. Every statement is scoped to one merchant: another merchant's ids are simply not found."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, func, select, text
from sqlalchemy.orm import Session

from consent.errors import Conflict, NotFound
from geo_offers.places.models import Deal, Store

STORES_T = cast(Table, Store.__table__)

STORE_COLUMNS = (
    Store.id,
    Store.merchant_id,
    Store.name,
    Store.address,
    func.ST_X(Store.location).label("lon"),
    func.ST_Y(Store.location).label("lat"),
    Store.timezone,
    Store.categories,
    Store.created_at,
    Store.updated_at,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreRow:
    """A store as the routes see it: its point as lon/lat."""

    id: int
    merchant_id: int
    name: str
    address: str
    lon: float
    lat: float
    timezone: str
    categories: list[str]
    created_at: datetime
    updated_at: datetime


def _record(row: Row[Any]) -> StoreRow:
    return StoreRow(**row._mapping)


def _point(lon: float, lat: float) -> Any:
    return func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)


def get_store(session: Session, merchant_id: int, store_id: int, *, lock: bool = False) -> StoreRow:
    """The merchant's store, or NotFound (also for another merchant's store)."""
    stmt = select(*STORE_COLUMNS).where(Store.id == store_id, Store.merchant_id == merchant_id)
    if lock:
        stmt = stmt.with_for_update(of=Store)
    row = session.execute(stmt).one_or_none()
    if row is None:
        raise NotFound("store not found")
    return _record(row)


def create_store(session: Session, merchant_id: int, values: dict[str, Any], now: datetime) -> StoreRow:
    """Insert one store; ``values`` holds name, address, lon, lat, timezone, categories."""
    return insert_stores(session, merchant_id, [values], now)[0]


def insert_stores(
    session: Session,
    merchant_id: int,
    rows: Sequence[dict[str, Any]],
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> list[StoreRow]:
    """Insert many stores in one statement per 5,000 rows; returns them in input order."""
    out: list[StoreRow] = []
    for start in range(0, len(rows), 5000):
        chunk = rows[start : start + 5000]
        result = session.execute(
            text(
                """
                INSERT INTO stores (merchant_id, name, address, location, timezone, categories, created_at, updated_at)
                SELECT :merchant_id, r.name, r.address, ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326), r.timezone,
                       string_to_array(r.categories, ','), :now, :now
                  FROM unnest(CAST(:names AS text[]), CAST(:addresses AS text[]), CAST(:lons AS float8[]),
                              CAST(:lats AS float8[]), CAST(:zones AS text[]), CAST(:cats AS text[]))
                       WITH ORDINALITY AS r(name, address, lon, lat, timezone, categories, n)
                 ORDER BY r.n
                RETURNING id
                """
            ),
            {
                "merchant_id": merchant_id,
                "now": now,
                "names": [r["name"] for r in chunk],
                "addresses": [r["address"] for r in chunk],
                "lons": [r["lon"] for r in chunk],
                "lats": [r["lat"] for r in chunk],
                "zones": [r["timezone"] for r in chunk],
                "cats": [",".join(r["categories"]) for r in chunk],
            },
        )
        ids = [row.id for row in result]
        fetched = {row.id: _record(row) for row in session.execute(select(*STORE_COLUMNS).where(Store.id.in_(ids)))}
        out.extend(fetched[i] for i in ids)
        if progress is not None:
            progress(len(out))
    return out


def list_stores(session: Session, merchant_id: int, *, after: int, limit: int) -> list[StoreRow]:
    """The merchant's stores in id order after ``after``."""
    stmt = (
        select(*STORE_COLUMNS).where(Store.merchant_id == merchant_id, Store.id > after).order_by(Store.id).limit(limit)
    )
    return [_record(row) for row in session.execute(stmt)]


def update_store(session: Session, merchant_id: int, store_id: int, changes: dict[str, Any], now: datetime) -> StoreRow:
    """Apply changes (location as lon/lat) to the merchant's store; returns the new row."""
    get_store(session, merchant_id, store_id, lock=True)
    values: dict[str, Any] = {k: v for k, v in changes.items() if k not in ("lon", "lat")}
    if "lon" in changes:
        values["location"] = _point(changes["lon"], changes["lat"])
    values["updated_at"] = now
    session.execute(STORES_T.update().where(Store.id == store_id).values(**values))
    return get_store(session, merchant_id, store_id)


def delete_store(session: Session, merchant_id: int, store_id: int) -> None:
    """Delete the merchant's store; Conflict while deals still refer to it."""
    get_store(session, merchant_id, store_id, lock=True)
    deals = session.scalar(select(func.count()).select_from(Deal).where(Deal.store_id == store_id))
    if deals:
        raise Conflict(f"the store still has {deals} deals; delete them first", deals=deals)
    session.execute(STORES_T.delete().where(Store.id == store_id))
