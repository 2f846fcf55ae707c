"""Authentication of API keys, with a per-process cache that revocations clear at once."""

from __future__ import annotations

import hmac
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from consent.errors import Unauthorized
from geo_offers.kit.problems import translate_db_error
from geo_offers.tenants.keys import hash_key, parse_key_id
from geo_offers.tenants.models import ApiKey

_DUMMY_HASH = hash_key("gok_000000000000_" + "0" * 43)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key id (never the secret), its role and, for merchant keys, the merchant."""

    key_id: str
    role: str
    merchant_id: int | None


@dataclass(frozen=True, slots=True)
class _Entry:
    secret_hash: bytes | None  # None: no key with this id (cached too, so probing costs no queries)
    principal: Principal | None
    revoked: bool
    fetched: float


class KeyStore:
    """Checks keys against their stored hashes.

    Rows are cached per process for at most ``ttl`` seconds and only while ``trust_cache()`` says the
    invalidation feed (LISTEN/NOTIFY on key changes) is connected; a change notification drops the entry.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        ttl: float,
        trust_cache: Callable[[], bool],
        max_entries: int = 10_000,
    ) -> None:
        self._sessions = sessions
        self._ttl = ttl
        self._max = max_entries
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._trust_cache = trust_cache
        # Bumped by every invalidation: a row read before a revocation arrived must not be cached after it.
        self._generation = 0

    def invalidate(self, key_id: str) -> None:
        """Forget one key (called on NOTIFY and by the revoking request itself)."""
        self._generation += 1
        self._cache.pop(key_id, None)

    def clear(self) -> None:
        """Forget every key (called when the invalidation feed reconnects)."""
        self._generation += 1
        self._cache.clear()

    async def authenticate(self, token: str | None) -> Principal:
        """The principal behind a bearer token, or Unauthorized; compares hashes in constant time."""
        if not token:
            raise Unauthorized("send an API key as 'Authorization: Bearer <key>'")
        key_id = parse_key_id(token)
        entry = await self._entry(key_id) if key_id else None
        presented = hash_key(token)
        if entry is None or entry.secret_hash is None or entry.principal is None:
            hmac.compare_digest(presented, _DUMMY_HASH)  # same work whether or not the id exists
            raise Unauthorized("the API key is not valid")
        if not hmac.compare_digest(presented, entry.secret_hash) or entry.revoked:
            raise Unauthorized("the API key is not valid")
        return entry.principal

    async def _entry(self, key_id: str) -> _Entry:
        now = time.monotonic()
        trusted = self._trust_cache()
        if trusted:
            cached = self._cache.get(key_id)
            if cached is not None and now - cached.fetched < self._ttl:
                return cached
        generation = self._generation
        try:
            entry = await run_in_threadpool(self._load, key_id, now)
        except SQLAlchemyError as exc:
            # The match fast path answers outside FastAPI's error handlers: say 503 here, not a bare 500.
            domain = translate_db_error(exc)
            if domain is None:
                raise
            raise domain from exc
        if trusted and generation == self._generation:
            self._cache[key_id] = entry
            self._cache.move_to_end(key_id)
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
        return entry

    def _load(self, key_id: str, now: float) -> _Entry:
        with self._sessions() as session:
            row = session.scalars(select(ApiKey).where(ApiKey.id == key_id)).one_or_none()
            if row is None:
                return _Entry(None, None, False, now)
            principal = Principal(key_id=row.id, role=row.role, merchant_id=row.merchant_id)
            return _Entry(row.secret_hash, principal, row.revoked_at is not None, now)
