"""Signed checkpoints of the ledger: Ed25519 signatures over ``(seq, head hash)`` made with a key kept outside
the database.

Anyone with database access can rewrite the whole ledger and recompute every hash, so a chain that verifies
proves only that nobody edited it carelessly. A checkpoint signed with a key the database never sees fixes the
head at a moment; an export (or the live table) whose hash at that sequence number differs has been rewritten.
Before signing, the events since the previous checkpoint are verified, so a checkpoint never blesses a broken
chain.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from consent.canonical import GENESIS, canonical_json, iso, parse_iso
from consent.errors import Conflict
from consent.ledger import chain as ledger
from consent.models import ConsentEvent, LedgerCheckpoint


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedCheckpoint:
    """A checkpoint as stored, listed and handed to ``verify-export``."""

    seq: int
    head_hash: bytes
    signed_at: datetime
    key_id: str
    public_key: bytes
    document: str
    signature: bytes

    def to_json(self) -> dict[str, Any]:
        """The JSON form (hex for bytes), as the API lists it and the CLI prints it."""
        return {
            "seq": self.seq,
            "head_hash": self.head_hash.hex(),
            "signed_at": iso(self.signed_at),
            "key_id": self.key_id,
            "public_key": self.public_key.hex(),
            "document": self.document,
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SignedCheckpoint:
        """The inverse of :meth:`to_json`; ValueError on a malformed object."""
        try:
            return cls(
                seq=int(data["seq"]),
                head_hash=bytes.fromhex(data["head_hash"]),
                signed_at=parse_iso(data["signed_at"]),
                key_id=str(data["key_id"]),
                public_key=bytes.fromhex(data["public_key"]),
                document=str(data["document"]),
                signature=bytes.fromhex(data["signature"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"not a ledger checkpoint: {error}") from error

    @classmethod
    def from_row(cls, row: LedgerCheckpoint) -> SignedCheckpoint:
        """From the ORM row."""
        return cls(
            seq=row.seq,
            head_hash=bytes(row.head_hash),
            signed_at=row.signed_at,
            key_id=row.key_id,
            public_key=bytes(row.public_key),
            document=row.document,
            signature=bytes(row.signature),
        )


def _decode_text_key(data: bytes) -> bytes:
    stripped = data.strip()
    try:
        return bytes.fromhex(stripped.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        pass
    try:
        return base64.b64decode(stripped, validate=True)
    except binascii.Error as error:
        raise ValueError("the key is neither PEM, hex nor base64") from error


def load_private_key(data: bytes) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM (PKCS#8) or the 32-byte seed in hex or base64; ValueError otherwise."""
    if b"-----BEGIN" in data:
        key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the signing key must be an Ed25519 key")
        return key
    raw = _decode_text_key(data)
    if len(raw) != 32:
        raise ValueError("an Ed25519 seed has 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(raw)


def load_public_key(data: bytes) -> bytes:
    """The raw 32-byte Ed25519 public key from PEM (SubjectPublicKeyInfo), hex or base64; ValueError otherwise."""
    if b"-----BEGIN" in data:
        key = serialization.load_pem_public_key(data)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the public key must be an Ed25519 key")
        return public_bytes(key)
    raw = _decode_text_key(data)
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key has 32 bytes")
    return raw


def public_bytes(key: Ed25519PublicKey) -> bytes:
    """The raw 32 bytes of a public key."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_pem(key: Ed25519PrivateKey) -> str:
    """The PEM form of the public half, to publish."""
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem.decode("ascii")


def private_pem(key: Ed25519PrivateKey) -> bytes:
    """The unencrypted PKCS#8 PEM form of a private key (for a key file readable by the operator only)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def key_id_of(public_key: bytes) -> str:
    """A short fingerprint of a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def checkpoint_document(seq: int, head_hash: bytes, signed_at: datetime, key_id: str) -> str:
    """The canonical text that is signed."""
    return canonical_json(
        {
            "v": 1,
            "type": "ledger_checkpoint",
            "seq": seq,
            "head_hash": head_hash.hex(),
            "signed_at": iso(signed_at),
            "key_id": key_id,
        }
    )


def check_signature(checkpoint: SignedCheckpoint, trusted_key: bytes | None = None) -> str | None:
    """What is wrong with a checkpoint (fields, key, signature), or None.

    Without ``trusted_key`` the checkpoint's own public key is used, which proves only that the checkpoint is
    intact; pin the published key to prove who signed it.
    """
    if trusted_key is not None and checkpoint.public_key != trusted_key:
        return f"signed with key {checkpoint.key_id}, not with the trusted key {key_id_of(trusted_key)}"
    if key_id_of(checkpoint.public_key) != checkpoint.key_id:
        return "the key id does not belong to the public key"
    expected = checkpoint_document(checkpoint.seq, checkpoint.head_hash, checkpoint.signed_at, checkpoint.key_id)
    if checkpoint.document != expected:
        return "the signed document does not state this sequence number and hash"
    try:
        Ed25519PublicKey.from_public_bytes(checkpoint.public_key).verify(
            checkpoint.signature, checkpoint.document.encode("utf-8")
        )
    except (InvalidSignature, ValueError):
        return "the signature is not valid"
    return None


def latest(session: Session) -> SignedCheckpoint | None:
    """The newest checkpoint (highest sequence number), if any."""
    row = session.scalars(
        select(LedgerCheckpoint).order_by(LedgerCheckpoint.seq.desc(), LedgerCheckpoint.id.desc()).limit(1)
    ).one_or_none()
    return SignedCheckpoint.from_row(row) if row is not None else None


def page(session: Session, after: int, limit: int) -> tuple[list[tuple[int, SignedCheckpoint]], int | None]:
    """Checkpoints in the order they were made, with their ids, and the next cursor."""
    rows = list(
        session.scalars(
            select(LedgerCheckpoint).where(LedgerCheckpoint.id > after).order_by(LedgerCheckpoint.id).limit(limit + 1)
        )
    )
    items = [(row.id, SignedCheckpoint.from_row(row)) for row in rows[:limit]]
    return items, (rows[limit - 1].id if len(rows) > limit else None)


def create(session: Session, key: Ed25519PrivateKey, now: datetime, *, force: bool = False) -> SignedCheckpoint | None:
    """Verify the events since the last checkpoint, then sign the head; None when the head is already signed."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('geo_offers.ledger_checkpoints'))"))
    head = session.execute(text("SELECT seq, hash FROM ledger_head WHERE id = 1")).one()
    if head.seq == 0:
        raise Conflict("the ledger is empty; there is nothing to sign yet")
    previous = latest(session)
    if previous is not None and previous.seq == head.seq and not force:
        return None
    start, prev = 0, GENESIS
    if previous is not None and previous.seq <= head.seq:
        problem = check_signature(previous)
        stored = session.scalar(select(ConsentEvent.hash).where(ConsentEvent.seq == previous.seq))
        if problem is None and (stored is None or bytes(stored) != previous.head_hash):
            problem = "the ledger no longer has the signed hash at its sequence number"
        if problem is not None:
            raise Conflict(f"checkpoint at seq {previous.seq}: {problem}; refusing to sign", seq=previous.seq)
        start, prev = previous.seq, previous.head_hash
    expected = start + 1
    for row in ledger.stream_rows(session.connection(), after=start, through=head.seq):
        problem = ledger.check_row(row, expected, prev)
        if problem is not None:
            raise Conflict(f"event {expected}: {problem}; refusing to sign", seq=expected)
        prev, expected = bytes(row.hash), expected + 1
    if expected - 1 != head.seq or prev != bytes(head.hash):
        raise Conflict("the ledger head does not point at the last event; refusing to sign")
    public = public_bytes(key.public_key())
    key_id = key_id_of(public)
    document = checkpoint_document(head.seq, prev, now, key_id)
    signed = SignedCheckpoint(
        seq=head.seq,
        head_hash=prev,
        signed_at=now,
        key_id=key_id,
        public_key=public,
        document=document,
        signature=key.sign(document.encode("utf-8")),
    )
    session.add(
        LedgerCheckpoint(
            seq=signed.seq,
            head_hash=signed.head_hash,
            signed_at=signed.signed_at,
            key_id=signed.key_id,
            public_key=signed.public_key,
            document=signed.document,
            signature=signed.signature,
        )
    )
    session.flush()
    return signed


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerCheck:
    """The chain check plus the checkpoints compared with it."""

    chain: ledger.Verification
    checkpoints_checked: int
    ok: bool
    first_bad_seq: int | None
    problem: str | None


def verify_ledger(connection: Connection, trusted_key: bytes | None = None) -> LedgerCheck:
    """Recompute the chain and compare it with every signed checkpoint (run in one REPEATABLE READ snapshot)."""
    stored = [
        SignedCheckpoint.from_row(row)
        for row in Session(bind=connection).scalars(select(LedgerCheckpoint).order_by(LedgerCheckpoint.seq))
    ]
    for checkpoint in stored:
        problem = check_signature(checkpoint, trusted_key)
        if problem is not None:
            chain = ledger.verify(connection)
            return LedgerCheck(
                chain=chain,
                checkpoints_checked=0,
                ok=False,
                first_bad_seq=checkpoint.seq,
                problem=f"checkpoint at seq {checkpoint.seq}: {problem}",
            )
    by_seq: dict[int, list[SignedCheckpoint]] = {}
    for checkpoint in stored:
        by_seq.setdefault(checkpoint.seq, []).append(checkpoint)
    mismatch: list[int] = []

    def rows() -> Any:
        for row in ledger.stream_rows(connection):
            if any(bytes(row.hash) != c.head_hash for c in by_seq.get(row.seq, ())):
                mismatch.append(row.seq)
                return
            yield row

    head = connection.execute(text("SELECT seq, hash FROM ledger_head WHERE id = 1")).one()
    chain = ledger.verify_rows(rows(), (head.seq, bytes(head.hash)))
    if mismatch:
        seq = mismatch[0]
        problem = f"the chain up to event {seq} differs from the one signed at that point: history was rewritten"
        return LedgerCheck(chain=chain, checkpoints_checked=0, ok=False, first_bad_seq=seq, problem=problem)
    if not chain.ok:
        return LedgerCheck(
            chain=chain, checkpoints_checked=0, ok=False, first_bad_seq=chain.first_bad_seq, problem=chain.problem
        )
    beyond = [c.seq for c in stored if c.seq > chain.head_seq]
    if beyond:
        problem = f"a checkpoint signed event {beyond[0]}, but the ledger ends at {chain.head_seq}: events were removed"
        return LedgerCheck(
            chain=chain, checkpoints_checked=0, ok=False, first_bad_seq=chain.head_seq + 1, problem=problem
        )
    return LedgerCheck(chain=chain, checkpoints_checked=len(stored), ok=True, first_bad_seq=None, problem=None)


def parse_checkpoints(data: bytes) -> list[SignedCheckpoint]:
    """Checkpoints from a JSON file: one object, a list, or the ``{"items": [...]}`` page the API answers."""
    loaded = orjson.loads(data)
    if isinstance(loaded, dict) and "items" in loaded:
        loaded = loaded["items"]
    items = loaded if isinstance(loaded, list) else [loaded]
    if not items or not all(isinstance(item, dict) for item in items):
        raise ValueError("the checkpoint file holds no checkpoint objects")
    return [SignedCheckpoint.from_json(item) for item in items]
