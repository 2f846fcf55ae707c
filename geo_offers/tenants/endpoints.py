"""Operator routes (admin key): merchants and API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from geo_offers.kit.deps import AdminKey, ServicesDep, SessionDep
from geo_offers.kit.params import After
from geo_offers.tenants import keys as key_repo
from geo_offers.tenants import merchants as merchant_repo
from geo_offers.tenants.schemas import (
    KeyCreate,
    KeyIssued,
    KeyList,
    KeyPublic,
    MerchantCreate,
    MerchantList,
    MerchantPublic,
)

router = APIRouter(prefix="/v1/admin", tags=["admin"])
KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{12}$", description="The 12 hex digits after `gok_`.")]


@router.post("/merchants", status_code=status.HTTP_201_CREATED)
def create_merchant(body: MerchantCreate, session: SessionDep, _: AdminKey) -> MerchantPublic:
    """Create a merchant (a tenant that owns stores and deals)."""
    merchant = merchant_repo.create_merchant(session, body.name)
    return MerchantPublic.model_validate(merchant, from_attributes=True)


@router.get("/merchants")
def list_merchants(
    session: SessionDep,
    _: AdminKey,
    after: After = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> MerchantList:
    """Merchants in id order; pass `next_after` back as `after` for the next page."""
    rows = merchant_repo.list_merchants(session, after=after, limit=limit)
    items = [MerchantPublic.model_validate(m, from_attributes=True) for m in rows]
    return MerchantList(items=items, next_after=items[-1].id if len(items) == limit else None)


@router.post("/keys", status_code=status.HTTP_201_CREATED)
def create_key(body: KeyCreate, session: SessionDep, _: AdminKey) -> KeyIssued:
    """Create an API key; the secret is in this answer only."""
    issued = key_repo.create_key(session, body.role, body.merchant_id, body.label)
    row = key_repo.get_key(session, issued.id)
    return KeyIssued(key=issued.key, **KeyPublic.model_validate(row, from_attributes=True).model_dump())


@router.get("/keys")
def list_keys(session: SessionDep, _: AdminKey) -> KeyList:
    """Every key, without secrets."""
    return KeyList(items=[KeyPublic.model_validate(k, from_attributes=True) for k in key_repo.list_keys(session)])


@router.post("/keys/{key_id}/revoke")
def revoke_key(key_id: KeyId, session: SessionDep, services: ServicesDep, _: AdminKey) -> KeyPublic:
    """Revoke a key: it stops working on the next request, on every instance."""
    row = key_repo.revoke_key(session, key_id, services.clock())
    session.commit()
    services.keys.invalidate(key_id)
    return KeyPublic.model_validate(row, from_attributes=True)
