"""The consent ledger: append-only, hash-chained events, and the verification of the chain.

Each event is a canonical JSON document (see ``consent.canonical``); ``hash = SHA-256(prev_hash || canonical)``
with 32 zero bytes before the first event. Appends are serialised by the row lock on ``ledger_head`` (one
statement advances the head and inserts the event), and a trigger refuses any insert that does not continue the
chain, so concurrent writers can never fork it. Verification recomputes every hash, checks that the columns
used for filtering say what the hashed document says, and that the head row points at the last event.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from consent.canonical import GENESIS, canonical_json, chain_hash, iso

EVENT_TYPES = ("grant", "decline", "withdraw", "expire", "erase")

_APPEND = text(
    """
    WITH head AS (
        UPDATE ledger_head
           SET seq = seq + 1, prev_hash = hash, hash = sha256(hash || convert_to(CAST(:canonical AS text), 'UTF8'))
         WHERE id = 1
     RETURNING seq, prev_hash, hash
    )
    INSERT INTO consent_events
        (seq, occurred_at, event_type, tag, decision_id, purposes, notice_version, canonical, prev_hash, hash)
    SELECT head.seq, :occurred_at, :event_type, :tag, :decision_id, :purposes, :notice_version, :canonical,
           head.prev_hash, head.hash
      FROM head
    RETURNING seq, hash
    """
)


# Appends and COMMIT in one round trip (see ``append_all_and_commit``): one statement per event, each advancing
# the head and inserting the event with the hash computed by the server, then the new events' positions are
# left in a session setting and read by the last statement (a multi-statement query answers only its last
# statement's result); the closing BEGIN opens an empty transaction for the session's own COMMIT to end.
# (Committing without waiting for the WAL flush and flushing afterwards looked faster, but PostgreSQL commits a
# transaction that wrote no WAL of its own asynchronously, so the later flush was not guaranteed: the
# durability test in tests/faults caught acknowledged grants lost by a crash. The commit here is synchronous.)
_APPEND_ONE = """
    WITH head AS (
        UPDATE ledger_head
           SET seq = seq + 1, prev_hash = hash,
               hash = sha256(hash || convert_to(CAST(%(canonical_{n})s AS text), 'UTF8'))
         WHERE id = 1
     RETURNING seq, prev_hash, hash
    )
    INSERT INTO consent_events
        (seq, occurred_at, event_type, tag, decision_id, purposes, notice_version, canonical, prev_hash, hash)
    SELECT head.seq, %(occurred_at_{n})s, %(event_type_{n})s, %(tag_{n})s, %(decision_id_{n})s, %(purposes_{n})s,
           %(notice_version_{n})s, %(canonical_{n})s, head.prev_hash, head.hash
      FROM head;
"""
_POSITIONS_AND_COMMIT = """
    SELECT set_config('consent.appended', (
        SELECT string_agg(seq::text || ':' || encode(hash, 'hex'), ',' ORDER BY seq)
          FROM consent_events
         WHERE seq > (SELECT seq FROM ledger_head WHERE id = 1) - %(count)s), false);
    COMMIT;
    BEGIN;
    SELECT current_setting('consent.appended')
"""


@dataclass(frozen=True, slots=True)
class Appended:
    """Where an event landed: its sequence number and chain hash."""

    seq: int
    hash: bytes


def event_document(
    event_type: str,
    occurred_at: datetime,
    tag: uuid.UUID,
    purposes: Iterable[str],
    **details: Any,
) -> dict[str, Any]:
    """The document that is hashed; ``details`` with a value of None are left out."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type}")
    document: dict[str, Any] = {
        "v": 1,
        "type": event_type,
        "at": iso(occurred_at),
        "tag": str(tag),
        "purposes": sorted(purposes),
    }
    for name, value in details.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            value = iso(value)
        elif isinstance(value, uuid.UUID):
            value = str(value)
        elif isinstance(value, (set, frozenset, tuple)):
            value = sorted(value)
        document[name] = value
    return document


def append(session: Session, document: dict[str, Any], occurred_at: datetime) -> Appended:
    """Append one event in the session's transaction; call it last, just before commit (it holds the lock)."""
    canonical = canonical_json(document)
    row = session.execute(
        _APPEND,
        {
            "canonical": canonical,
            "occurred_at": occurred_at,
            "event_type": document["type"],
            "tag": uuid.UUID(document["tag"]),
            "decision_id": uuid.UUID(document["decision_id"]) if "decision_id" in document else None,
            "purposes": document["purposes"],
            "notice_version": document.get("notice_version"),
        },
    ).one()
    return Appended(seq=row.seq, hash=bytes(row.hash))


# Writers of one process take turns before they queue for the head row: a crowd of backends waiting on one
# row lock costs the server more than the appends themselves.
_appending = threading.Lock()


def append_and_commit(session: Session, document: dict[str, Any], occurred_at: datetime) -> Appended:
    """Append one event and commit the session's transaction in one round trip (see ``append_all_and_commit``)."""
    (appended,) = append_all_and_commit(session, [(document, occurred_at)])
    return appended


def append_all_and_commit(session: Session, events: Sequence[tuple[dict[str, Any], datetime]]) -> list[Appended]:
    """Append events in order and commit the session's transaction, all in one round trip to the server.

    The first append takes the ledger head's row lock, which every other writer waits for until this
    transaction ends; sending the appends and COMMIT together keeps that wait to the server's own work (no
    client round trip or Python scheduling inside it), which is what bounds the write rate of the service. A
    group of decisions appended at once shares that wait and one WAL flush. The events are durable when this
    returns. Must be the last writes of the transaction.
    """
    if not events:
        raise ValueError("nothing to append")
    statements: list[str] = []
    params: dict[str, Any] = {"count": len(events)}
    for n, (document, occurred_at) in enumerate(events):
        statements.append(_APPEND_ONE.format(n=n))
        params.update(
            {
                f"canonical_{n}": canonical_json(document),
                f"occurred_at_{n}": occurred_at,
                f"event_type_{n}": document["type"],
                f"tag_{n}": str(document["tag"]),
                f"decision_id_{n}": document.get("decision_id"),
                f"purposes_{n}": list(document["purposes"]),
                f"notice_version_{n}": document.get("notice_version"),
            }
        )
    connection = session.connection()
    with _appending:
        positions = connection.exec_driver_sql("".join(statements) + _POSITIONS_AND_COMMIT, params).scalar_one()
    appended = []
    for position in str(positions).split(","):
        seq, _, digest = position.partition(":")
        appended.append(Appended(seq=int(seq), hash=bytes.fromhex(digest)))
    return appended


@dataclass(frozen=True, slots=True, kw_only=True)
class Verification:
    """The answer of a chain check."""

    ok: bool
    events_checked: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None
    problem: str | None


# Columns as text in the canonical spellings, so checking them costs string comparisons only.
VERIFY_COLUMNS = """
    seq, canonical, prev_hash, hash, event_type, tag::text,
    COALESCE(decision_id::text, ''), purposes, notice_version,
    to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
"""


class VerifyRow(NamedTuple):
    """One event as the chain check reads it (``VERIFY_COLUMNS``, in that order)."""

    seq: int
    canonical: str
    prev_hash: bytes
    hash: bytes
    event_type: str
    tag: str
    decision_id: str
    purposes: list[str]
    notice_version: int | None
    at: str


def check_row(row: VerifyRow, expected_seq: int, prev: bytes) -> str | None:
    """What is wrong with one event given its predecessor's hash, or None."""
    if row.seq != expected_seq:
        return f"sequence gap: expected {expected_seq}, found {row.seq}"
    if bytes(row.prev_hash) != prev:
        return "prev_hash does not match the previous event's hash"
    if chain_hash(prev, row.canonical) != bytes(row.hash):
        return "hash does not match the event's content"
    try:
        document = orjson.loads(row.canonical)
    except orjson.JSONDecodeError:
        return "the event is not valid JSON"
    if (
        document.get("type") != row.event_type
        or document.get("tag") != row.tag
        or document.get("decision_id", "") != row.decision_id
        or document.get("purposes") != list(row.purposes)
        or document.get("notice_version") != row.notice_version
        or document.get("at") != row.at
    ):
        return "indexed columns disagree with the hashed content"
    return None


def verify_rows(rows: Iterable[VerifyRow], head: tuple[int, bytes] | None = None) -> Verification:
    """Check a stream of events in sequence order (and, if given, the stored head against the last event)."""
    prev = GENESIS
    expected = 1
    checked = 0
    for row in rows:
        problem = check_row(row, expected, prev)
        if problem is not None:
            return Verification(
                ok=False,
                events_checked=checked,
                head_seq=expected - 1,
                head_hash=prev.hex(),
                first_bad_seq=expected,
                problem=problem,
            )
        prev = bytes(row.hash)
        checked += 1
        expected += 1
    last_seq = expected - 1
    if head is not None and (head[0] != last_seq or bytes(head[1]) != (prev if last_seq else GENESIS)):
        problem = "the stored head does not point at the last event (events were removed or added outside)"
        return Verification(
            ok=False,
            events_checked=checked,
            head_seq=last_seq,
            head_hash=prev.hex(),
            first_bad_seq=last_seq + 1,
            problem=problem,
        )
    return Verification(
        ok=True, events_checked=checked, head_seq=last_seq, head_hash=prev.hex(), first_bad_seq=None, problem=None
    )


def stream_rows(
    connection: Connection, batch: int = 20_000, after: int = 0, through: int | None = None
) -> Iterator[VerifyRow]:
    """Events after ``after`` (up to ``through``) in sequence order through a server-side cursor (constant memory)."""
    raw: Any = connection.connection.dbapi_connection
    upper = "" if through is None else " AND seq <= %(through)s"
    with raw.cursor(name=f"ledger_verify_{uuid.uuid4().hex[:8]}") as cur:
        cur.itersize = batch
        cur.execute(
            f"SELECT {VERIFY_COLUMNS} FROM consent_events WHERE seq > %(after)s{upper} ORDER BY seq",
            {"after": after, "through": through},
        )
        yield from map(VerifyRow._make, cur)


def verify(connection: Connection) -> Verification:
    """Recompute the whole chain.

    Run it in a REPEATABLE READ transaction, so the head and the events come from one snapshot.
    """
    head = connection.execute(text("SELECT seq, hash FROM ledger_head WHERE id = 1")).one()
    return verify_rows(stream_rows(connection), (head.seq, bytes(head.hash)))
