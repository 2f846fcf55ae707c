"""Handing a code to an app (the claim) and marking it at the till: each one transaction of the caller's session.

A claim takes, in this order, the deal's pool row (its token bucket: the per-deal rate limit, shared by every
instance), the deal row (one fewer code left; when that reaches 0 the deals trigger notifies every instance and
the index feed drops the deal, exactly as for a used-up quota) and one available code with ``FOR UPDATE SKIP
LOCKED``. Claims of one deal therefore queue on the pool row, and a code row locked by anything else (a store
withdrawing its codes) is skipped rather than waited for, so no code is ever handed out twice. Whatever fails
rolls the whole claim back: the token, the count and the code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from consent.errors import Conflict, InvalidInput, NotFound, RateLimited
from geo_offers.codes import format as codes
from geo_offers.codes.errors import CodeAlreadyUsed, CodeExpired, CodeMistyped, CodeNotClaimed, CodesUsedUp
from geo_offers.codes.sealing import CodeKeys
from geo_offers.codes.settings import CodeSettings

_ELAPSED = "greatest(0, extract(epoch FROM CAST(:now AS timestamptz) - tokens_at))"
_TAKE_TOKEN = text(
    f"""
    UPDATE code_pools
       SET claim_tokens = least(:burst, claim_tokens + :rate * {_ELAPSED}) - 1,
           tokens_at = greatest(tokens_at, :now)
     WHERE deal_id = :deal AND least(:burst, claim_tokens + :rate * {_ELAPSED}) >= 1
    RETURNING deal_id
    """
)
_BUCKET = text(
    f"SELECT least(:burst, claim_tokens + :rate * {_ELAPSED}) AS tokens FROM code_pools WHERE deal_id = :deal"
)
_TAKE_COUNT = text(
    """
    UPDATE deals SET codes_left = codes_left - 1
     WHERE id = :deal AND status = 'active' AND valid_from <= :now AND valid_until > :now AND codes_left > 0
    RETURNING valid_until
    """
)
_DEAL_STATE = text("SELECT status, valid_from, valid_until, codes_left FROM deals WHERE id = :deal")
_TAKE_CODE = text(
    """
    SELECT id, sealed FROM deal_codes
     WHERE deal_id = :deal AND claimed_at IS NULL AND sealed IS NOT NULL
     ORDER BY id LIMIT 1
       FOR UPDATE SKIP LOCKED
    """
)
_HAND_OUT = text("UPDATE deal_codes SET claimed_at = :hour, sealed = NULL WHERE id = :id")
_MARK = text(
    """
    UPDATE deal_codes c SET used_at = :hour
      FROM deals d
     WHERE c.merchant_id = :merchant AND c.code_hash = :digest
       AND c.claimed_at IS NOT NULL AND c.used_at IS NULL
       AND (CAST(:hint AS bigint) IS NULL OR c.deal_id = :hint)
       AND d.id = c.deal_id AND d.valid_until > :now
    RETURNING c.deal_id, d.store_id, d.title
    """
)
_CODE_STATE = text(
    """
    SELECT c.deal_id, c.claimed_at, c.used_at, d.valid_until
      FROM deal_codes c JOIN deals d ON d.id = c.deal_id
     WHERE c.merchant_id = :merchant AND c.code_hash = :digest
    """
)
_GENERATED_FORMS = text(
    "SELECT DISTINCT alphabet, length FROM code_pools WHERE merchant_id = :merchant AND source = 'generate'"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Claimed:
    """A code handed out, and until when it is good."""

    deal_id: int
    code: str
    expires_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Marked:
    """A code marked at the till: its deal and the hour of the mark."""

    deal_id: int
    store_id: int
    title: str
    used_at: datetime


def whole_hour(moment: datetime) -> datetime:
    """The start of the UTC hour of ``moment``: codes keep no finer times."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def claim(session: Session, keys: CodeKeys, deal_id: int, now: datetime, limits: CodeSettings) -> Claimed:
    """Hand one available code of a live deal to the caller, or say why not (nothing changes then)."""
    bucket = {"deal": deal_id, "now": now, "rate": limits.code_claims_per_deal_per_s}
    bucket["burst"] = limits.code_claims_per_deal_burst
    if session.execute(_TAKE_TOKEN, bucket).first() is None:
        tokens = session.execute(_BUCKET, bucket).scalar_one_or_none()
        if tokens is None:
            _refuse_deal(session, deal_id, now)
            raise Conflict("this deal has no one-time codes", reason="no-codes")
        retry = max(1, math.ceil((1.0 - float(tokens)) / limits.code_claims_per_deal_per_s))
        raise RateLimited("codes of this deal are being claimed too fast; retry shortly", retry_after_s=retry)
    valid_until = session.execute(_TAKE_COUNT, {"deal": deal_id, "now": now}).scalar_one_or_none()
    if valid_until is None:
        _refuse_deal(session, deal_id, now)
        raise Conflict("the deal changed meanwhile; retry", reason="changed")
    row = session.execute(_TAKE_CODE, {"deal": deal_id}).one_or_none()
    if row is None:  # every available code is locked by a store withdrawing them right now
        raise Conflict("the deal's codes are being changed; retry", reason="changed")
    session.execute(_HAND_OUT, {"id": row.id, "hour": whole_hour(now)})
    return Claimed(deal_id=deal_id, code=keys.open(deal_id, bytes(row.sealed)), expires_at=valid_until)


def _refuse_deal(session: Session, deal_id: int, now: datetime) -> None:
    """Raise why a deal's codes cannot be claimed now (returns when nothing is wrong with the deal)."""
    state = session.execute(_DEAL_STATE, {"deal": deal_id}).one_or_none()
    if state is None:
        raise NotFound("deal not found")
    if state.status != "active":
        raise Conflict(f"the deal is {state.status}, not active", reason="not-active")
    if now < state.valid_from or now >= state.valid_until:
        raise Conflict("the deal is outside its validity dates", reason="not-valid-now")
    if state.codes_left == 0:
        raise CodesUsedUp("every code of this deal has been handed out")


def mark(session: Session, keys: CodeKeys, merchant_id: int, entered: str, now: datetime) -> Marked:
    """Mark a claimed code of one of the merchant's deals as used, or say precisely why not."""
    try:
        hint, code = codes.parse_till_input(entered)
    except ValueError as error:
        raise InvalidInput(str(error)) from error
    digest = keys.digest(code)
    hour = whole_hour(now)
    params = {"merchant": merchant_id, "digest": digest, "hint": hint, "now": now, "hour": hour}
    row = session.execute(_MARK, params).one_or_none()
    if row is not None:
        return Marked(deal_id=row.deal_id, store_id=row.store_id, title=row.title, used_at=hour)
    state = session.execute(_CODE_STATE, params).one_or_none()
    if state is None or (hint is not None and state.deal_id != hint):
        if _mistyped(session, merchant_id, code):
            raise CodeMistyped("the code's check character does not match: it was probably mistyped; check it again")
        # Another merchant's code answers the same: whether it exists elsewhere is not this merchant's business.
        raise NotFound("no code like this was handed out for your deals")
    if state.used_at is not None:
        raise CodeAlreadyUsed("this code was used already", deal_id=state.deal_id, used_at=state.used_at.isoformat())
    if state.claimed_at is None:
        raise CodeNotClaimed("this code of yours was never handed to an app", deal_id=state.deal_id)
    raise CodeExpired(
        "the code's deal ended; the code is no longer good",
        deal_id=state.deal_id,
        valid_until=state.valid_until.isoformat(),
    )


def _mistyped(session: Session, merchant_id: int, code: str) -> bool:
    """Whether the code has the form of the merchant's generated codes but fails every such check."""
    alphabets = [
        row.alphabet
        for row in session.execute(_GENERATED_FORMS, {"merchant": merchant_id})
        if row.length == len(code) and set(code) <= set(row.alphabet)
    ]
    return bool(alphabets) and not any(codes.check_holds(code, alphabet) for alphabet in alphabets)
