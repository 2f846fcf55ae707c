"""The expiry job: writes an ``expire`` event for every consent past its time or below its purpose's floor.

Reads already treat such consents as expired (see ``decisions.effective_status``); this job makes the ledger and
the state table say so too, in small transactions so grants are never blocked for long.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from consent import notices
from consent.decisions.states import effective_status, update_states
from consent.ledger import chain as ledger
from consent.models import ConsentState, SubjectLink

_DUE = text(
    """
    SELECT DISTINCT s.tag
      FROM consent_state s
      LEFT JOIN purpose_floors f ON f.purpose = s.purpose
     WHERE s.status = 'active'
       AND (s.expires_at <= :now OR s.notice_version < f.min_notice_version)
     LIMIT :limit
    """
)


@dataclass
class ExpiryReport:
    """What one run did."""

    subjects: int = 0
    events: int = 0
    purposes: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _expire_subject(
    session: Session, tag: uuid.UUID, floors: dict[str, int], now: datetime, report: ExpiryReport
) -> None:
    # Lock the subject like every decision does, then re-read: a grant may have renewed it meanwhile.
    session.execute(select(SubjectLink.tag).where(SubjectLink.tag == tag).with_for_update()).first()
    rows = session.scalars(select(ConsentState).where(ConsentState.tag == tag)).all()
    by_reason: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        status, reason = effective_status(row, floors, now)
        if row.status == "active" and status == "expired" and reason is not None:
            by_reason[reason].append(row.purpose)
    for reason, purposes in sorted(by_reason.items()):
        update_states(session, tag, purposes, {"status": "expired", "ended_at": now, "end_reason": reason})
        document = ledger.event_document("expire", now, tag, purposes, reason=reason)
        ledger.append(session, document, now)
        report.events += 1
        for purpose in purposes:
            report.purposes[purpose] += 1
    if by_reason:
        report.subjects += 1


def expire_due(sessions: sessionmaker[Session], now: datetime, batch: int = 200) -> ExpiryReport:
    """Expire everything that is due, ``batch`` subjects a transaction."""
    report = ExpiryReport()
    while True:
        with sessions() as session, session.begin():
            floors = notices.floors(session)
            tags = list(session.scalars(_DUE, {"now": now, "limit": batch}))
            if not tags:
                return report
            before = report.subjects
            for tag in tags:
                _expire_subject(session, tag, floors, now, report)
            if report.subjects == before:
                return report  # what looked due was renewed in the meantime
