"""Console sessions: a random token in an HttpOnly cookie; the API key sealed in PostgreSQL under that token.

Why a table and not memory: the service runs several workers and instances, and any of them must find the
session, and a sign-out must end it everywhere at once. Why not the raw key in the table: the row keeps
``HMAC(token, "id")`` as its id and the key encrypted (AES-256-GCM) under ``HMAC(token, "seal")``. The token
exists only in the browser's cookie, so a copy of the database opens no key, a stolen cookie is useless once the
row is gone (sign-out, expiry, idling), and no server-side secret has to be shared or rotated. The CSRF token of
the session is ``HMAC(token, "csrf")``: the page can show it, and only the holder of the cookie can derive it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from geo_offers.console.models import ConsoleSession
from geo_offers.tenants.auth import Principal

COOKIE = "geo_console"
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
_NONCE = 12
#: last_seen is written at most this often, so reading pages does not turn into a write per request.
TOUCH_EVERY = timedelta(seconds=60)


def new_token() -> str:
    """A fresh 256-bit session token for the cookie."""
    return secrets.token_urlsafe(32)


def well_formed(token: str | None) -> bool:
    """Whether a cookie value can be a token at all (anything else is ignored without a query)."""
    return token is not None and TOKEN_PATTERN.match(token) is not None


def _derive(token: str, purpose: bytes) -> bytes:
    return hmac.new(token.encode(), b"geo-offers console " + purpose, hashlib.sha256).digest()


def session_id(token: str) -> bytes:
    """The row id of a token's session."""
    return _derive(token, b"id")


def csrf_token(token: str) -> str:
    """The CSRF token of a session: put in every form, compared on every write."""
    return _derive(token, b"csrf").hex()


def csrf_matches(token: str, presented: str | None) -> bool:
    """Constant-time comparison of a presented CSRF token with the session's."""
    return presented is not None and hmac.compare_digest(csrf_token(token).encode(), presented.encode())


def seal(token: str, api_key: str) -> bytes:
    """The API key encrypted under the token's sealing key, bound to the session id."""
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(_derive(token, b"seal")).encrypt(nonce, api_key.encode(), session_id(token))


def unseal(token: str, sealed: bytes) -> str | None:
    """The API key of a sealed value, or None when the token does not open it."""
    try:
        plain = AESGCM(_derive(token, b"seal")).decrypt(sealed[:_NONCE], sealed[_NONCE:], session_id(token))
    except InvalidTag:
        return None
    return plain.decode()


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The person behind a console request: the role and merchant of their key, and the key itself."""

    role: str
    merchant_id: int | None
    key_id: str
    api_key: str
    csrf: str


@dataclass(frozen=True, slots=True)
class Lifetimes:
    """How long a session lasts at most, and how long it survives without a request."""

    absolute: timedelta
    idle: timedelta


def open_session(session: Session, principal: Principal, api_key: str, now: datetime, life: Lifetimes) -> str:
    """Store a new session for a checked key and return its token; expired sessions are purged on the way."""
    session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
    token = new_token()
    session.add(
        ConsoleSession(
            id=session_id(token),
            key_id=principal.key_id,
            role=principal.role,
            merchant_id=principal.merchant_id,
            sealed=seal(token, api_key),
            created_at=now,
            last_seen=now,
            expires_at=now + life.absolute,
        )
    )
    session.flush()
    return token


def load_session(session: Session, token: str, now: datetime, life: Lifetimes) -> SignedIn | None:
    """The live session of a token, or None (unknown, expired or idle too long: the row is deleted then)."""
    if not well_formed(token):
        return None
    ident = session_id(token)
    row = session.scalars(select(ConsoleSession).where(ConsoleSession.id == ident)).one_or_none()
    if row is None:
        return None
    if now >= row.expires_at or now - row.last_seen >= life.idle:
        session.execute(delete(ConsoleSession).where(ConsoleSession.id == ident))
        return None
    api_key = unseal(token, row.sealed)
    if api_key is None:
        return None
    if now - row.last_seen >= TOUCH_EVERY:
        session.execute(update(ConsoleSession).where(ConsoleSession.id == ident).values(last_seen=now))
    return SignedIn(
        role=row.role, merchant_id=row.merchant_id, key_id=row.key_id, api_key=api_key, csrf=csrf_token(token)
    )


def close_session(session: Session, token: str) -> None:
    """Delete a token's session (sign-out, or the key stopped working)."""
    if well_formed(token):
        session.execute(delete(ConsoleSession).where(ConsoleSession.id == session_id(token)))
