"""Reading consent records out of the database: one subject's, or the officer's streamed export.

The export reads the ledger grouped by subject tag (a server-side cursor ordered by tag, then sequence), so
memory stays bounded by one subject's history however long the ledger is. A record is exported when one of its
states is proven by an event the filter selects, with the same per-purpose reading of ``type``, ``purpose`` and
``by`` as the listing (``consent.audit.decisions``); the record then comes whole, with states outside the filter.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, and_, literal, select, true
from sqlalchemy.orm import Session

from consent.audit import events as audit
from consent.models import ConsentEvent, Notice
from consent.records import lifecycle
from consent.records.jsonld import Profile, record_document
from consent.records.lifecycle import LedgerEvent, NoticeInfo, Record


def notices(session: Session | Connection) -> dict[int, NoticeInfo]:
    """Every published notice by version (a handful; read once per request)."""
    rows = session.execute(
        select(Notice.version, Notice.published_at, Notice.sha256, Notice.fresh_consent_for, Notice.content)
    )
    return {
        row.version: NoticeInfo(
            version=row.version,
            published_at=row.published_at,
            sha256=bytes(row.sha256).hex(),
            fresh_consent_for=tuple(row.fresh_consent_for),
            content=row.content,
        )
        for row in rows
    }


def _event(row: Any) -> LedgerEvent:
    return LedgerEvent(
        seq=row.seq, at=row.occurred_at, hash=bytes(row.hash).hex(), document=orjson.loads(row.canonical)
    )


def subject_records(session: Session, tag: uuid.UUID, known: Mapping[int, NoticeInfo], now: datetime) -> list[Record]:
    """Every record of one subject tag, oldest first."""
    timeline = sorted(known.values(), key=lambda n: n.version)
    return lifecycle.build(tag, (_event(row) for row in audit.tag_events(session, tag)), timeline, now)


def stream_records(
    connection: Connection,
    where: Sequence[Any],
    wanted: audit.EventFilter,
    profile: Profile,
    known: Mapping[int, NoticeInfo],
    now: datetime,
    batch: int = 2000,
) -> Iterator[dict[str, Any]]:
    """The records an officer's filter selects, grouped by subject, as JSON-LD nodes (without ``@context``)."""
    matched = and_(true(), *where) if where else literal(True)
    tags = select(ConsentEvent.tag).where(*where) if where else None
    query = select(*audit.EVENT_COLUMNS, matched.label("matched"))
    if tags is not None:
        query = query.where(ConsentEvent.tag.in_(tags))
    query = query.order_by(ConsentEvent.tag, ConsentEvent.seq)
    result = connection.execution_options(stream_results=True, yield_per=batch).execute(query)
    timeline = sorted(known.values(), key=lambda n: n.version)
    kinds = lifecycle.filter_kinds(wanted.types, wanted.by)
    for tag, rows in itertools.groupby(result, key=lambda row: row.tag):
        history = list(rows)
        seqs = {row.seq for row in history if row.matched}
        for record in lifecycle.build(tag, (_event(row) for row in history), timeline, now):
            if record.matches(seqs, kinds, wanted.purpose):
                yield record_document(record, profile, known)


def graph_chunks(nodes: Iterator[dict[str, Any]], context_url: str, every: int = 200) -> Iterator[bytes]:
    """A JSON-LD document ``{"@context": ..., "@graph": [...]}`` written in chunks as the nodes come."""
    yield b'{"@context":' + orjson.dumps(context_url) + b',"@graph":['
    buffer: list[bytes] = []
    first = True
    for node in nodes:
        buffer.append((b"" if first else b",") + orjson.dumps(node))
        first = False
        if len(buffer) >= every:
            yield b"".join(buffer)
            buffer = []
    buffer.append(b"]}\n")
    yield b"".join(buffer)
