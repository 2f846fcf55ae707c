"""ORM models of the consent service: notices, pseudonym links, current state and the ledger."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TIMESTAMP, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Timestamp = TIMESTAMP(timezone=True)


class ConsentBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Notice(ConsentBase):
    """A published privacy notice; immutable (the database refuses UPDATE and DELETE)."""

    __tablename__ = "notices"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    published_at: Mapped[datetime] = mapped_column(Timestamp)
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    canonical: Mapped[str] = mapped_column(Text)
    sha256: Mapped[bytes] = mapped_column(LargeBinary)
    fresh_consent_for: Mapped[list[str]] = mapped_column(ARRAY(Text))
    published_by: Mapped[str] = mapped_column(Text)


class PurposeFloor(ConsentBase):
    """The oldest notice version whose consents still count, per purpose (raised by fresh-consent notices)."""

    __tablename__ = "purpose_floors"

    purpose: Mapped[str] = mapped_column(Text, primary_key=True)
    min_notice_version: Mapped[int] = mapped_column(Integer)


class SubjectLink(ConsentBase):
    """HMAC pseudonym of a subject id -> random ledger tag. Erasure deletes the row and with it the link."""

    __tablename__ = "subject_links"

    pseudonym: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    tag: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())


class ConsentState(ConsentBase):
    """The current decision per subject tag and purpose, updated in the same transaction as its event."""

    __tablename__ = "consent_state"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'withdrawn', 'declined', 'expired')", name="status"),
        CheckConstraint("precision_res IS NULL OR precision_res BETWEEN 0 AND 8", name="precision"),
        Index("ix_consent_state_active_expiry", "expires_at", postgresql_where=text("status = 'active'")),
    )

    tag: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("subject_links.tag", ondelete="CASCADE"), primary_key=True
    )
    purpose: Mapped[str] = mapped_column(Text, primary_key=True)
    status: Mapped[str] = mapped_column(Text)
    decision_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    notice_version: Mapped[int] = mapped_column(Integer)
    precision_res: Mapped[int | None] = mapped_column(SmallInteger)
    source: Mapped[str] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(Text)
    gpc: Mapped[bool] = mapped_column(Boolean)
    decided_at: Mapped[datetime] = mapped_column(Timestamp)
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp)
    ended_at: Mapped[datetime | None] = mapped_column(Timestamp)
    ask_again_after: Mapped[datetime | None] = mapped_column(Timestamp)
    end_reason: Mapped[str | None] = mapped_column(Text)


class ConsentEvent(ConsentBase):
    """One ledger entry: ``hash = SHA-256(prev_hash || canonical)``; append-only, enforced by triggers."""

    __tablename__ = "consent_events"
    __table_args__ = (
        Index("ix_consent_events_tag", "tag"),
        Index("ix_consent_events_occurred_at", "occurred_at"),
        Index("ix_consent_events_decision_id", "decision_id"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(Timestamp)
    event_type: Mapped[str] = mapped_column(Text)
    tag: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    decision_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    purposes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    notice_version: Mapped[int | None] = mapped_column(Integer)
    canonical: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerHead(ConsentBase):
    """The chain head (one row); appending updates it under its row lock, which serialises writers."""

    __tablename__ = "ledger_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerCheckpoint(ConsentBase):
    """A signed statement "the chain had head ``head_hash`` at ``seq``"; append-only like the ledger.

    ``document`` is the canonical JSON that was signed with Ed25519; the private key never enters the database.
    """

    __tablename__ = "ledger_checkpoints"
    __table_args__ = (Index("ix_ledger_checkpoints_seq", "seq"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[bytes] = mapped_column(LargeBinary)
    signed_at: Mapped[datetime] = mapped_column(Timestamp)
    key_id: Mapped[str] = mapped_column(Text)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    document: Mapped[str] = mapped_column(Text)
    signature: Mapped[bytes] = mapped_column(LargeBinary)


class AuditAccess(ConsentBase):
    """One call to an audit route: which key (none without a valid key), which route, when, the names (not
    values) of its filters, and the HTTP status it was answered with (refusals included)."""

    __tablename__ = "audit_access_log"
    __table_args__ = (
        Index("ix_audit_access_log_at", "at"),
        CheckConstraint("status BETWEEN 100 AND 599", name="status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(Timestamp)
    key_id: Mapped[str | None] = mapped_column(Text)
    method: Mapped[str] = mapped_column(Text)
    route: Mapped[str] = mapped_column(Text)
    params: Mapped[list[str]] = mapped_column(ARRAY(Text))
    status: Mapped[int] = mapped_column(SmallInteger)
