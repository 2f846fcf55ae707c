"""Console sign-in sessions: one row per signed-in browser, holding the API key only in sealed form."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, LargeBinary, Text
from sqlalchemy.dialects.postgresql import TIMESTAMP
from sqlalchemy.orm import Mapped, mapped_column

from geo_offers.kit.orm import Base


class ConsoleSession(Base):
    """``id`` is a keyed hash of the cookie's token; ``sealed`` is the API key encrypted under a key that only that
    token yields. The row alone opens nothing, the cookie alone finds nothing, and deleting the row signs out."""

    __tablename__ = "console_sessions"
    __table_args__ = (
        CheckConstraint("role IN ('merchant', 'dpo')", name="role"),
        CheckConstraint("octet_length(id) = 32", name="id_length"),
    )

    id: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    key_id: Mapped[str] = mapped_column(Text, ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(Text)
    merchant_id: Mapped[int | None] = mapped_column(BigInteger)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True), index=True)
