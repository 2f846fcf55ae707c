"""Insight counters (no subject, no fine cell, no exact time) and the privacy-budget log."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import TIMESTAMP
from sqlalchemy.orm import Mapped, mapped_column

from geo_offers.kit.orm import Base

Timestamp = TIMESTAMP(timezone=True)
KINDS = ("served", "impression", "click", "redeem")
_KINDS_CHECK = "kind IN ('served', 'impression', 'click', 'redeem')"
# An H3 cell index at resolution 6: mode 1 (cell), resolution digits 52-55 = 6, digits 7..15 unused (all ones).
RES6_CELL_CHECK = "(cell >> 59) & 15 = 1 AND (cell >> 52) & 15 = 6 AND cell & 134217727 = 134217727"


class DealHourCount(Base):
    """How often a deal was served (or seen, clicked, redeemed) in one UTC hour."""

    __tablename__ = "deal_hour_counts"
    __table_args__ = (
        CheckConstraint(_KINDS_CHECK, name="kind"),
        CheckConstraint("count > 0", name="positive"),
        CheckConstraint("extract(epoch FROM hour) = floor(extract(epoch FROM hour) / 3600) * 3600", name="whole_hour"),
        Index("ix_deal_hour_counts_hour", "hour"),
    )

    deal_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("deals.id", ondelete="CASCADE"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(Timestamp, primary_key=True)
    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


class DealDayCount(Base):
    """Hourly counters past the retention window, rolled up per day in the store's time zone."""

    __tablename__ = "deal_day_counts"
    __table_args__ = (
        CheckConstraint(_KINDS_CHECK, name="kind"),
        CheckConstraint("count > 0", name="positive"),
        CheckConstraint("peak BETWEEN 0 AND count", name="peak"),
        Index("ix_deal_day_counts_day", "day"),
    )

    deal_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("deals.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    # The largest hourly counter rolled into the day: a daily figure is published only when it reaches k * P.
    peak: Mapped[int] = mapped_column(BigInteger, server_default="0")


class ActivityCount(Base):
    """Match requests of consenting people per resolution-6 cell and UTC hour of a week (Monday 0:00 = 0)."""

    __tablename__ = "activity_counts"
    __table_args__ = (
        CheckConstraint(RES6_CELL_CHECK, name="res6_cell"),
        CheckConstraint("extract(isodow FROM week) = 1", name="monday"),
        CheckConstraint("hour_of_week BETWEEN 0 AND 167", name="hour_of_week"),
        CheckConstraint("count > 0", name="positive"),
        Index("ix_activity_counts_week", "week"),
    )

    cell: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    week: Mapped[date] = mapped_column(Date, primary_key=True)
    hour_of_week: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


class PrivacyBudgetEntry(Base):
    """One insight release: who asked, which figures, at what epsilon and k (append-only)."""

    __tablename__ = "privacy_budget_log"
    __table_args__ = (
        CheckConstraint("epsilon > 0 AND k > 0 AND figures >= suppressed AND suppressed >= 0", name="sane"),
        Index("ix_privacy_budget_log_merchant_id_id", "merchant_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    released_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    key_id: Mapped[str] = mapped_column(Text)
    merchant_id: Mapped[int | None] = mapped_column(BigInteger)
    figure: Mapped[str] = mapped_column(Text)
    mechanism: Mapped[str] = mapped_column(Text)
    epsilon: Mapped[float] = mapped_column(Double)
    k: Mapped[int] = mapped_column(Integer)
    figures: Mapped[int] = mapped_column(Integer)
    suppressed: Mapped[int] = mapped_column(Integer)
