"""What a data-protection officer reads: ledger events by filter, page by page, and the audit access log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, select
from sqlalchemy.orm import Session

from consent.audit import decisions
from consent.models import AuditAccess, ConsentEvent
from consent.pseudonyms import find_tag, pseudonym

#: The columns of an exported or listed event; with them anyone can recompute the chain offline.
EVENT_COLUMNS = (
    ConsentEvent.seq,
    ConsentEvent.occurred_at,
    ConsentEvent.event_type,
    ConsentEvent.tag,
    ConsentEvent.decision_id,
    ConsentEvent.purposes,
    ConsentEvent.notice_version,
    ConsentEvent.canonical,
    ConsentEvent.prev_hash,
    ConsentEvent.hash,
)


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events to read; every field is optional. ``subject_id`` is the raw id the person gave.

    ``types``, ``purpose`` and ``by`` are read per purpose (see ``consent.audit.decisions``): an event matches
    when it holds one decision that satisfies all three.
    """

    since: datetime | None = None
    until: datetime | None = None
    types: tuple[str, ...] = ()
    purpose: str | None = None
    notice_version: int | None = None
    subject_id: str | None = None
    by: tuple[str, ...] = ()

    @property
    def is_complete(self) -> bool:
        """True when nothing is filtered out (the export is then the whole chain)."""
        return not (
            self.since or self.until or self.types or self.purpose or self.notice_version or self.subject_id or self.by
        )


def conditions(session: Session, pepper: str, wanted: EventFilter) -> list[ColumnElement[bool]]:
    """SQL conditions for a filter; the subject id becomes its pseudonym, then its ledger tag, here."""
    where: list[ColumnElement[bool]] = []
    if wanted.since is not None:
        where.append(ConsentEvent.occurred_at >= wanted.since)
    if wanted.until is not None:
        where.append(ConsentEvent.occurred_at < wanted.until)
    if wanted.types or wanted.purpose is not None or wanted.by:
        where.append(decisions.condition(wanted.types, wanted.purpose, wanted.by))
    if wanted.notice_version is not None:
        where.append(ConsentEvent.notice_version == wanted.notice_version)
    if wanted.subject_id is not None:
        tag = find_tag(session, pseudonym(pepper, wanted.subject_id))
        # No link: never seen, or erased. Either way no event can be attributed to the person any more.
        where.append(ConsentEvent.tag == tag if tag is not None else false())
    return where


def events_query(where: Sequence[ColumnElement[bool]], after: int = 0) -> Select[*tuple[Any, ...]]:
    """Events matching ``where`` after sequence number ``after``, in sequence order."""
    return select(*EVENT_COLUMNS).where(and_(ConsentEvent.seq > after, *where)).order_by(ConsentEvent.seq)


def event_page(
    session: Session, pepper: str, wanted: EventFilter, after: int, limit: int
) -> tuple[list[Any], int | None]:
    """One page of events and the cursor of the next page (None on the last page)."""
    rows = list(session.execute(events_query(conditions(session, pepper, wanted), after).limit(limit + 1)))
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].seq
    return rows, None


def record_access(
    session: Session,
    *,
    key_id: str | None,
    method: str,
    route: str,
    params: Sequence[str],
    status: int,
    now: datetime,
) -> None:
    """Log one audit call and its outcome (``key_id`` None: no valid key) in the session's transaction."""
    session.add(
        AuditAccess(at=now, key_id=key_id, method=method, route=route, params=sorted(set(params)), status=status)
    )
    session.flush()


def access_page(
    session: Session,
    since: datetime | None,
    until: datetime | None,
    key_id: str | None,
    after: int,
    limit: int,
    status: Sequence[int] = (),
) -> tuple[list[AuditAccess], int | None]:
    """One page of the access log in id (time) order, and the next cursor."""
    stmt = select(AuditAccess).where(AuditAccess.id > after)
    if status:
        stmt = stmt.where(AuditAccess.status.in_(status))
    if since is not None:
        stmt = stmt.where(AuditAccess.at >= since)
    if until is not None:
        stmt = stmt.where(AuditAccess.at < until)
    if key_id is not None:
        stmt = stmt.where(AuditAccess.key_id == key_id)
    rows = list(session.scalars(stmt.order_by(AuditAccess.id).limit(limit + 1)))
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].id
    return rows, None


def tag_events(session: Session, tag: uuid.UUID) -> list[Any]:
    """Every event carrying a ledger tag, in order."""
    return list(session.execute(select(*EVENT_COLUMNS).where(ConsentEvent.tag == tag).order_by(ConsentEvent.seq)))
