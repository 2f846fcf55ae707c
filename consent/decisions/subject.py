"""A subject's consent as of now, per purpose: active, withdrawn, declined, expired or none."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from consent import notices
from consent.decisions.states import effective_status, read_states
from consent.pseudonyms import find_tag, pseudonym
from consent.settings import ConsentSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class PurposeState:
    """One purpose of a subject as of now."""

    purpose: str
    status: str
    reason: str | None = None
    consent_id: uuid.UUID | None = None
    notice_version: int | None = None
    precision_res: int | None = None
    decided_at: datetime | None = None
    expires_at: datetime | None = None
    ended_at: datetime | None = None
    ask_again_after: datetime | None = None


@dataclass(frozen=True, slots=True)
class SubjectState:
    """Every purpose of the current notice (and any other the subject decided on), with its status now."""

    current_notice_version: int
    purposes: list[PurposeState] = field(default_factory=list)


def subject_state(session: Session, settings: ConsentSettings, subject_id: str, now: datetime) -> SubjectState:
    """Per purpose: active, withdrawn, declined, expired or none."""
    notice = notices.current(session)
    tag = find_tag(session, pseudonym(settings.pepper.get_secret_value(), subject_id))
    states = read_states(session, tag) if tag is not None else {}
    floors = notices.floors(session)
    result: list[PurposeState] = []
    for purpose in dict.fromkeys([*notices.purposes_of(notice), *sorted(states)]):
        row = states.get(purpose)
        if row is None:
            result.append(PurposeState(purpose=purpose, status="none"))
            continue
        status, reason = effective_status(row, floors, now)
        result.append(
            PurposeState(
                purpose=purpose,
                status=status,
                reason=reason,
                consent_id=row.decision_id,
                notice_version=row.notice_version,
                precision_res=row.precision_res,
                decided_at=row.decided_at,
                expires_at=row.expires_at,
                ended_at=row.ended_at,
                ask_again_after=row.ask_again_after,
            )
        )
    return SubjectState(notice.version, result)
