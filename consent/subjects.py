"""Data-subject rights: access and portability (GDPR Art. 15, 20) and erasure (Art. 17).

Erasure appends an ``erase`` event and deletes the subject's current state and its pseudonym-to-tag link in one
transaction. The ledger keeps its earlier events (the chain must still verify, and they prove what was decided),
but with the link gone nothing connects them to the person: the pepper-keyed pseudonym no longer finds a tag.
A later grant by the same installation creates a fresh random tag, a new history that cannot be joined to the
old one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from consent import decisions
from consent.audit import events as audit
from consent.errors import NotFound
from consent.ledger import chain as ledger
from consent.models import ConsentState, SubjectLink
from consent.pseudonyms import lock_tag, pseudonym
from consent.settings import ConsentSettings


@dataclass(frozen=True, slots=True)
class Erasure:
    """The receipt of an erasure."""

    erasure_id: uuid.UUID
    recorded_at: datetime
    purposes: list[str]
    seq: int
    hash: str


def erase(session: Session, settings: ConsentSettings, subject_id: str, now: datetime) -> Erasure:
    """Unlink a subject from its ledger history and delete its current state; NotFound if nothing is held."""
    alias = pseudonym(settings.pepper.get_secret_value(), subject_id)
    tag = lock_tag(session, alias)
    if tag is None:
        raise NotFound("the service holds no data about this subject (never seen, or erased already)")
    purposes = sorted(session.scalars(select(ConsentState.purpose).where(ConsentState.tag == tag)))
    session.execute(delete(ConsentState).where(ConsentState.tag == tag))
    session.execute(delete(SubjectLink).where(SubjectLink.pseudonym == alias))
    erasure_id = uuid.uuid4()
    # Appended last: it holds the ledger head's row lock until commit (see consent.ledger.append).
    document = ledger.event_document("erase", now, tag, purposes, decision_id=erasure_id, reason="subject_request")
    appended = ledger.append(session, document, now)
    return Erasure(
        erasure_id=erasure_id, recorded_at=now, purposes=purposes, seq=appended.seq, hash=appended.hash.hex()
    )


@dataclass(frozen=True, slots=True)
class SubjectExport:
    """Everything the service holds about one subject."""

    tag: uuid.UUID | None
    linked_at: datetime | None
    state: decisions.SubjectState
    events: list[dict[str, Any]]


def export(session: Session, settings: ConsentSettings, subject_id: str, now: datetime) -> SubjectExport:
    """The subject's current state per purpose and every ledger event under its tag, with the chain hashes."""
    alias = pseudonym(settings.pepper.get_secret_value(), subject_id)
    link = session.scalars(select(SubjectLink).where(SubjectLink.pseudonym == alias)).one_or_none()
    state = decisions.subject_state(session, settings, subject_id, now)
    if link is None:
        return SubjectExport(tag=None, linked_at=None, state=state, events=[])
    events = [
        {
            "seq": row.seq,
            "occurred_at": row.occurred_at,
            "type": row.event_type,
            "purposes": list(row.purposes),
            "notice_version": row.notice_version,
            "document": orjson.loads(row.canonical),
            "canonical": row.canonical,
            "prev_hash": bytes(row.prev_hash).hex(),
            "hash": bytes(row.hash).hex(),
        }
        for row in audit.tag_events(session, link.tag)
    ]
    return SubjectExport(tag=link.tag, linked_at=link.created_at, state=state, events=events)
