"""A deal's code pool as its store manages it: add codes (uploaded or generated), read the counts, withdraw the
unclaimed ones, and void the unclaimed codes of deals whose validity is over.

``deals.codes_left`` counts the available codes (NULL: the deal has no pool). It lives on the deal row because
that is where the index looks: a deal whose pool is empty is not matchable, and the deals trigger tells every
instance when the count reaches or leaves 0. Locks are taken pool row first, then codes, then the deal row,
in every writer here and in ``claims``, so writers of one deal never wait on each other in a circle.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from consent.errors import Conflict, NotFound
from geo_offers.codes import format as codes
from geo_offers.codes.schemas import CodePoolOut, GenerateSpec
from geo_offers.codes.sealing import CodeKeys

MAX_POOL = 1_000_000
_BATCH = 5_000
_GENERATE_ROUNDS = 5  # a collision of two generated codes is rare; five in a row means something is wrong

_DEAL = text("SELECT valid_until FROM deals WHERE id = :deal AND merchant_id = :merchant")
_NEW_POOL = text(
    """
    INSERT INTO code_pools (deal_id, merchant_id, source, alphabet, length, claim_tokens, tokens_at)
    VALUES (:deal, :merchant, :source, :alphabet, :length, :burst, :now)
    ON CONFLICT (deal_id) DO NOTHING
    """
)
_LOCK_POOL = text("SELECT source, alphabet, length FROM code_pools WHERE deal_id = :deal FOR UPDATE")
_POOL = text("SELECT source, alphabet, length FROM code_pools WHERE deal_id = :deal AND merchant_id = :merchant")
_SIZE = text("SELECT count(*) FROM deal_codes WHERE deal_id = :deal")
_INSERT = text(
    """
    INSERT INTO deal_codes (deal_id, merchant_id, code_hash, sealed)
    SELECT :deal, :merchant, t.digest, t.sealed
      FROM unnest(CAST(:digests AS bytea[]), CAST(:sealed AS bytea[])) AS t(digest, sealed)
    ON CONFLICT (merchant_id, code_hash) DO NOTHING
    RETURNING code_hash
    """
)
_COUNT_UP = text("UPDATE deals SET codes_left = coalesce(codes_left, 0) + :added WHERE id = :deal")
_COUNTS = text(
    """
    SELECT count(*) FILTER (WHERE claimed_at IS NULL AND sealed IS NOT NULL) AS available,
           count(*) FILTER (WHERE claimed_at IS NOT NULL AND used_at IS NULL) AS claimed,
           count(*) FILTER (WHERE used_at IS NOT NULL) AS used,
           count(*) FILTER (WHERE claimed_at IS NULL AND sealed IS NULL) AS void
      FROM deal_codes WHERE deal_id = :deal
    """
)
_WITHDRAW = text(
    "UPDATE deal_codes SET sealed = NULL WHERE deal_id = :deal AND claimed_at IS NULL AND sealed IS NOT NULL"
)
_EMPTY = text("UPDATE deals SET codes_left = 0 WHERE id = :deal")
_VOID_ENDED_CODES = text(
    """
    UPDATE deal_codes c SET sealed = NULL
      FROM deals d
     WHERE d.id = c.deal_id AND d.valid_until <= :now AND c.claimed_at IS NULL AND c.sealed IS NOT NULL
    """
)
_EMPTY_ENDED = text("UPDATE deals SET codes_left = 0 WHERE codes_left > 0 AND valid_until <= :now")


def _deal_valid_until(session: Session, merchant_id: int, deal_id: int) -> datetime:
    valid_until = session.execute(_DEAL, {"deal": deal_id, "merchant": merchant_id}).scalar_one_or_none()
    if valid_until is None:
        raise NotFound("deal not found")
    return valid_until  # type: ignore[no-any-return]


def add_codes(
    session: Session,
    keys: CodeKeys,
    merchant_id: int,
    deal_id: int,
    now: datetime,
    *,
    uploaded: list[str] | None,
    generate: GenerateSpec | None,
    burst: int,
) -> CodePoolOut:
    """Add the store's codes or generated ones to the deal's pool (made on first use); all or nothing."""
    if _deal_valid_until(session, merchant_id, deal_id) <= now:
        raise Conflict("the deal's validity is over: its codes could never be claimed", reason="deal-ended")
    source = "upload" if uploaded is not None else "generate"
    alphabet = length = None
    if generate is not None:
        alphabet = codes.canonical_alphabet(generate.alphabet) if generate.alphabet else None
        length = generate.length
    new = {"deal": deal_id, "merchant": merchant_id, "source": source, "burst": burst, "now": now}
    new |= {"alphabet": alphabet or codes.DEFAULT_ALPHABET, "length": length or codes.DEFAULT_LENGTH}
    if source == "upload":
        new |= {"alphabet": None, "length": None}
    session.execute(_NEW_POOL, new)
    pool = session.execute(_LOCK_POOL, {"deal": deal_id}).one()
    if pool.source != source:
        kept = "uploaded" if pool.source == "upload" else "generated"
        raise Conflict(f"this deal's pool holds {kept} codes; add more of the same kind", reason="other-source")
    if generate is not None and (alphabet or pool.alphabet, length or pool.length) != (pool.alphabet, pool.length):
        raise Conflict(
            f"this deal's codes are {pool.length} characters of {pool.alphabet}; generate more of the same form "
            "(or leave alphabet and length out)",
            reason="other-form",
        )
    wanted = len(uploaded) if uploaded is not None else generate.count if generate is not None else 0
    if session.execute(_SIZE, {"deal": deal_id}).scalar_one() + wanted > MAX_POOL:
        raise Conflict(f"a deal's pool holds at most {MAX_POOL:,} codes", reason="pool-full")
    if uploaded is not None:
        added = _upload(session, keys, merchant_id, deal_id, uploaded)
    else:
        added = _generate(session, keys, merchant_id, deal_id, pool.alphabet, pool.length, wanted)
    session.execute(_COUNT_UP, {"deal": deal_id, "added": added})
    return _summary(session, deal_id, pool, added)


def _insert(session: Session, keys: CodeKeys, merchant_id: int, deal_id: int, batch: list[str]) -> set[bytes]:
    digests = [keys.digest(codes.normalize(code)) for code in batch]
    sealed = [keys.seal(deal_id, code) for code in batch]
    params = {"deal": deal_id, "merchant": merchant_id, "digests": digests, "sealed": sealed}
    return {bytes(row[0]) for row in session.execute(_INSERT, params)}


def _batches(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _BATCH):
        yield items[start : start + _BATCH]


def _upload(session: Session, keys: CodeKeys, merchant_id: int, deal_id: int, uploaded: list[str]) -> int:
    added = 0
    for offset, batch in enumerate(_batches(uploaded)):
        inserted = _insert(session, keys, merchant_id, deal_id, batch)
        if len(inserted) < len(batch):
            taken = [
                offset * _BATCH + i
                for i, code in enumerate(batch)
                if keys.digest(codes.normalize(code)) not in inserted
            ]
            shown = ", ".join(f"codes[{i}]" for i in taken[:20]) + (" ..." if len(taken) > 20 else "")
            raise Conflict(
                f"{len(taken)} of these codes are codes of yours already (compared without case and hyphens): "
                f"{shown}; nothing was added",
                reason="duplicate-codes",
                positions=taken[:100],
            )
        added += len(inserted)
    return added


def _generate(
    session: Session, keys: CodeKeys, merchant_id: int, deal_id: int, alphabet: str, length: int, count: int
) -> int:
    added = 0
    for _ in range(_GENERATE_ROUNDS):
        missing = count - added
        if missing == 0:
            return added
        for batch in _batches([codes.generate(alphabet, length) for _ in range(missing)]):
            added += len(_insert(session, keys, merchant_id, deal_id, batch))
    if added < count:
        raise Conflict("could not generate enough distinct codes of this form; make them longer", reason="crowded")
    return added


def _summary(session: Session, deal_id: int, pool: Any, added: int | None) -> CodePoolOut:
    counts = session.execute(_COUNTS, {"deal": deal_id}).one()
    bits = codes.random_bits(pool.alphabet, pool.length) if pool.alphabet else None
    return CodePoolOut(
        deal_id=deal_id,
        source=pool.source,
        alphabet=pool.alphabet,
        length=pool.length,
        random_bits=round(bits, 1) if bits is not None else None,
        added=added,
        **counts._mapping,
    )


def pool_summary(session: Session, merchant_id: int, deal_id: int) -> CodePoolOut:
    """The counts of the merchant's deal's pool (NotFound: no such deal of theirs, or it has no codes)."""
    _deal_valid_until(session, merchant_id, deal_id)
    pool = session.execute(_POOL, {"deal": deal_id, "merchant": merchant_id}).one_or_none()
    if pool is None:
        raise NotFound("this deal has no one-time codes")
    return _summary(session, deal_id, pool, None)


def withdraw(session: Session, merchant_id: int, deal_id: int) -> CodePoolOut:
    """Void every code of the deal not yet handed out (claimed codes stay good); the deal leaves the index."""
    _deal_valid_until(session, merchant_id, deal_id)
    pool = session.execute(_LOCK_POOL, {"deal": deal_id}).one_or_none()
    if pool is None:
        raise NotFound("this deal has no one-time codes")
    session.execute(_WITHDRAW, {"deal": deal_id})
    session.execute(_EMPTY, {"deal": deal_id})
    return _summary(session, deal_id, pool, None)


def void_ended(session: Session, now: datetime) -> int:
    """Erase the sealed copies of unclaimed codes of deals whose validity is over; returns how many."""
    voided = session.execute(_VOID_ENDED_CODES, {"now": now}).rowcount  # type: ignore[attr-defined]
    session.execute(_EMPTY_ENDED, {"now": now})
    return int(voided)
