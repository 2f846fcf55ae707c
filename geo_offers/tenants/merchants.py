"""Merchants: the tenants that own stores and deals."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent.errors import InvalidInput, NotFound
from geo_offers.tenants.models import Merchant


def create_merchant(session: Session, name: str) -> Merchant:
    """Create a merchant."""
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise InvalidInput("a merchant name has 1 to 200 characters")
    merchant = Merchant(name=name)
    session.add(merchant)
    session.flush()
    return merchant


def get_merchant(session: Session, merchant_id: int) -> Merchant:
    """The merchant with this id, or NotFound."""
    merchant = session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound(f"merchant {merchant_id} does not exist")
    return merchant


def list_merchants(session: Session, *, after: int = 0, limit: int = 100) -> list[Merchant]:
    """Merchants in id order, keyset-paginated."""
    stmt = select(Merchant).where(Merchant.id > after).order_by(Merchant.id).limit(limit)
    return list(session.scalars(stmt))
