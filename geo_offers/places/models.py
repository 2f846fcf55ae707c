"""Stores, deals and the H3 coverage of deal areas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Identity, Index, Integer, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TIMESTAMP
from sqlalchemy.orm import Mapped, mapped_column

from geo_offers.kit.orm import Base

Timestamp = TIMESTAMP(timezone=True)


class Store(Base):
    __tablename__ = "stores"
    __table_args__ = (
        Index("ix_stores_merchant_id_id", "merchant_id", "id"),
        Index("ix_stores_location", "location", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("merchants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text)
    address: Mapped[str] = mapped_column(Text)
    location: Mapped[WKBElement] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False, nullable=False), nullable=False
    )
    timezone: Mapped[str] = mapped_column(Text)
    categories: Mapped[list[str]] = mapped_column(ARRAY(Text))
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class Deal(Base):
    __tablename__ = "deals"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'active', 'paused', 'ended')", name="status"),
        CheckConstraint("area_kind IN ('radius', 'polygon')", name="area_kind"),
        CheckConstraint(
            "(area_kind = 'radius') = (radius_m IS NOT NULL) AND (radius_m IS NULL OR radius_m BETWEEN 50 AND 50000)",
            name="radius",
        ),
        CheckConstraint("valid_from < valid_until", name="validity"),
        CheckConstraint("max_redemptions IS NULL OR max_redemptions > 0", name="quota"),
        CheckConstraint("jsonb_typeof(frequency_rules) = 'array'", name="frequency_rules"),
        CheckConstraint("codes_left IS NULL OR codes_left >= 0", name="codes_left"),
        Index("ix_deals_merchant_id_id", "merchant_id", "id"),
        Index("ix_deals_store_id", "store_id"),
        Index("ix_deals_area", "area", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("merchants.id", ondelete="CASCADE"))
    store_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("stores.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text)
    area_kind: Mapped[str] = mapped_column(Text)
    radius_m: Mapped[int | None] = mapped_column(Integer)
    area: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=False, nullable=False), nullable=False
    )
    valid_from: Mapped[datetime] = mapped_column(Timestamp)
    valid_until: Mapped[datetime] = mapped_column(Timestamp)
    windows: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(Text)
    max_redemptions: Mapped[int | None] = mapped_column(Integer)
    redemptions: Mapped[int] = mapped_column(Integer, server_default="0")
    # Enforced on the device (places/deals/frequency.py); the server only hands them out.
    frequency_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    # Codes of the deal's pool not yet handed out (NULL: the deal has no codes); 0 takes it out of the index.
    codes_left: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class DealCell(Base):
    """One H3 cell (at the index resolution) that a deal's area touches."""

    __tablename__ = "deal_cells"
    __table_args__ = (Index("ix_deal_cells_deal_id", "deal_id"),)

    cell: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    deal_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("deals.id", ondelete="CASCADE"), primary_key=True)


class DealChangeHead(Base):
    """The one row that numbers the transactions changing deals or stores (see ``DealChange``)."""

    __tablename__ = "deal_change_head"
    __table_args__ = (CheckConstraint("one", name="one_row"),)

    one: Mapped[bool] = mapped_column(Boolean, primary_key=True, server_default=text("true"))
    seq: Mapped[int] = mapped_column(BigInteger)


class DealChange(Base):
    """A deal (or a store, and so its deals) changed in transaction number ``seq``: written by the triggers.

    Transactions take their numbers in commit order, so a reader on the primary or on a standby that has
    applied everything up to N finds every later change with ``seq > N``. Pruned by the retention job.
    """

    __tablename__ = "deal_changes"
    __table_args__ = (
        CheckConstraint("(deal_id IS NULL) <> (store_id IS NULL)", name="one_subject"),
        Index("ix_deal_changes_seq", "seq"),
        Index("ix_deal_changes_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    deal_id: Mapped[int | None] = mapped_column(BigInteger)
    store_id: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
