"""A deal's code pool and its codes. No column names or points to a person: a code is random, and who claimed
it is not known (the claim carries no subject id); times are whole hours."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Double,
    ForeignKey,
    Identity,
    Index,
    LargeBinary,
    SmallInteger,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import TIMESTAMP
from sqlalchemy.orm import Mapped, mapped_column

from geo_offers.kit.orm import Base

Timestamp = TIMESTAMP(timezone=True)
WHOLE_HOUR = "extract(epoch FROM {0}) = floor(extract(epoch FROM {0}) / 3600) * 3600"


class CodePool(Base):
    """How a deal's codes are made (uploaded, or generated with an alphabet and length) and its claim bucket."""

    __tablename__ = "code_pools"
    __table_args__ = (
        CheckConstraint("source IN ('upload', 'generate')", name="source"),
        CheckConstraint(
            "(source = 'generate') = (alphabet IS NOT NULL) AND (alphabet IS NULL) = (length IS NULL)",
            name="generated",
        ),
        Index("ix_code_pools_merchant_id", "merchant_id"),
    )

    deal_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("deals.id", ondelete="CASCADE"), primary_key=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("merchants.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(Text)
    alphabet: Mapped[str | None] = mapped_column(Text)
    length: Mapped[int | None] = mapped_column(SmallInteger)
    # The deal's claim rate limit, a token bucket shared by every instance (the pool row is locked by each claim).
    claim_tokens: Mapped[float] = mapped_column(Double)
    tokens_at: Mapped[datetime] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class DealCode(Base):
    """One code: available (sealed copy kept), claimed (handed out; digest only), used, or void (never handed
    out and its sealed copy erased)."""

    __tablename__ = "deal_codes"
    __table_args__ = (
        UniqueConstraint("merchant_id", "code_hash"),
        CheckConstraint("octet_length(code_hash) = 32", name="digest"),
        CheckConstraint("claimed_at IS NULL OR sealed IS NULL", name="claimed_not_kept"),
        CheckConstraint("used_at IS NULL OR claimed_at IS NOT NULL", name="used_after_claim"),
        CheckConstraint(WHOLE_HOUR.format("claimed_at"), name="claimed_hour"),
        CheckConstraint(WHOLE_HOUR.format("used_at"), name="used_hour"),
        Index("ix_deal_codes_deal_id", "deal_id"),
        Index(
            "ix_deal_codes_available",
            "deal_id",
            "id",
            postgresql_where=text("claimed_at IS NULL AND sealed IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    deal_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("deals.id", ondelete="CASCADE"))
    merchant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("merchants.id", ondelete="CASCADE"))
    code_hash: Mapped[bytes] = mapped_column(LargeBinary)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    claimed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    used_at: Mapped[datetime | None] = mapped_column(Timestamp)
