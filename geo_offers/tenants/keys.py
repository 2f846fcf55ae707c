"""API keys: generation, hashing and the repository functions behind `keys create/revoke/list`.

A key looks like ``gok_<id>_<secret>``: the 12-hex-digit id names the key in listings and revocations, and the
whole key is stored only as its SHA-256 (keys are 256-bit random, so a fast hash is as strong as a slow one).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from consent.errors import InvalidInput, NotFound
from geo_offers.tenants.models import ApiKey, Merchant

Role = Literal["app", "merchant", "dpo", "admin"]
ROLES: tuple[Role, ...] = ("app", "merchant", "dpo", "admin")
KEY_PATTERN = re.compile(r"^gok_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A freshly created key: the secret is in ``key`` and is never available again."""

    id: str
    key: str
    role: Role
    merchant_id: int | None


def hash_key(key: str) -> bytes:
    """SHA-256 of the whole key string."""
    return hashlib.sha256(key.encode()).digest()


def parse_key_id(key: str) -> str | None:
    """The id part of a well-formed key, or None."""
    match = KEY_PATTERN.match(key)
    return match.group(1) if match else None


def create_key(session: Session, role: str, merchant_id: int | None = None, label: str = "") -> IssuedKey:
    """Create a key; a merchant key must name an existing merchant, other roles must not name one."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
    if (role == "merchant") != (merchant_id is not None):
        raise InvalidInput("a merchant key needs a merchant id, and only a merchant key may have one")
    if merchant_id is not None and session.get(Merchant, merchant_id) is None:
        raise NotFound(f"merchant {merchant_id} does not exist")
    key_id = secrets.token_hex(6)
    key = f"gok_{key_id}_{secrets.token_urlsafe(32)}"
    session.add(ApiKey(id=key_id, secret_hash=hash_key(key), role=role, merchant_id=merchant_id, label=label))
    session.flush()
    return IssuedKey(id=key_id, key=key, role=role, merchant_id=merchant_id)


def get_key(session: Session, key_id: str) -> ApiKey:
    """The key row with this id, or NotFound."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"key {key_id} does not exist")
    return row


def revoke_key(session: Session, key_id: str, now: datetime) -> ApiKey:
    """Mark a key revoked (idempotent); the database trigger tells every instance to drop it."""
    row = get_key(session, key_id)
    if row.revoked_at is None:
        session.execute(update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=now))
        session.refresh(row)
    return row


def list_keys(session: Session, merchant_id: int | None = None) -> list[ApiKey]:
    """Every key (never their secrets), newest first."""
    stmt = select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id)
    if merchant_id is not None:
        stmt = stmt.where(ApiKey.merchant_id == merchant_id)
    return list(session.scalars(stmt))
