"""Grants and refusals: each one transaction that updates the subject's state and appends its ledger event."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from consent import notices
from consent.decisions.receipts import Decision, Outcome, Pending, Receipt, commit_now
from consent.decisions.states import check_notice, effective_status, event_position, open_subject, write_states
from consent.errors import InvalidInput
from consent.ledger import chain as ledger
from consent.pseudonyms import pseudonym
from consent.settings import ConsentSettings


def prepare_grant(session: Session, settings: ConsentSettings, request: Decision, now: datetime) -> Outcome:
    """Write a grant's state rows and prepare its ledger event; a repeat of the current state answers the
    existing receipt and writes nothing."""
    precision = request.precision_res or settings.default_precision_res
    if precision > settings.max_precision_res:
        raise InvalidInput(f"precision_res may not be finer than {settings.max_precision_res}")
    if not request.purposes:
        raise InvalidInput("grant at least one purpose (a refusal goes to /v1/consents/decline)")
    opened = open_subject(session, pseudonym(settings.pepper.get_secret_value(), request.subject_id))
    tag, states, floors = opened.tag, opened.states, opened.floors
    notice = check_notice(session, request.notice_version, request.purposes, request.locale, opened.current_version)
    granted = sorted(set(request.purposes))
    # Global Privacy Control is never consent: it refuses every purpose the request does not name.
    declined = sorted(set(notices.purposes_of(notice)) - set(granted)) if request.gpc else []

    current = [states.get(p) for p in granted]
    first = current[0]
    if all(
        row is not None
        and first is not None
        and effective_status(row, floors, now)[0] == "active"
        and row.notice_version == notice.version
        and row.precision_res == precision
        and row.decision_id == first.decision_id
        for row in current
    ) and all(p in states and states[p].status == "declined" for p in declined):
        assert first is not None
        position = event_position(session, first.decision_id)
        return Receipt(
            consent_id=first.decision_id,
            event="grant",
            purposes=granted,
            declined_purposes=declined,
            precision_res=precision,
            notice_version=notice.version,
            notice_sha256=notice.sha256.hex(),
            recorded_at=first.decided_at,
            expires_at=first.expires_at,
            ask_again_after=None,
            seq=position.seq,
            hash=position.hash,
            gpc_seen=request.gpc,
            replayed=True,
        )

    decision_id = uuid.uuid4()
    expires_at = now + timedelta(days=settings.consent_lifetime_days)
    ask_again = now + timedelta(days=settings.ask_again_after_days) if declined else None
    common = {
        "decision_id": decision_id,
        "notice_version": notice.version,
        "source": request.source,
        "locale": request.locale,
        "gpc": request.gpc,
        "decided_at": now,
    }
    write_states(
        session,
        tag,
        granted,
        {
            **common,
            "status": "active",
            "precision_res": precision,
            "expires_at": expires_at,
            "ended_at": None,
            "ask_again_after": None,
            "end_reason": None,
        },
    )
    write_states(
        session,
        tag,
        declined,
        {
            **common,
            "status": "declined",
            "precision_res": None,
            "expires_at": None,
            "ended_at": now,
            "ask_again_after": ask_again,
            "end_reason": "declined_by_gpc",
        },
    )
    document = ledger.event_document(
        "grant",
        now,
        tag,
        granted + declined,
        decision_id=decision_id,
        granted=granted,
        declined=declined or None,
        precision_res=precision,
        notice_version=notice.version,
        notice_sha256=notice.sha256.hex(),
        source=request.source,
        locale=request.locale,
        gpc=request.gpc,
        expires_at=expires_at,
        ask_again_after=ask_again,
    )
    return Pending(
        document=document,
        occurred_at=now,
        receipt=Receipt(
            consent_id=decision_id,
            event="grant",
            purposes=granted,
            declined_purposes=declined,
            precision_res=precision,
            notice_version=notice.version,
            notice_sha256=notice.sha256.hex(),
            recorded_at=now,
            expires_at=expires_at,
            ask_again_after=ask_again,
            seq=0,
            hash="",
            gpc_seen=request.gpc,
        ),
    )


def prepare_decline(session: Session, settings: ConsentSettings, request: Decision, now: datetime) -> Outcome:
    """Write a refusal's state rows (it also ends any active consent for those purposes) and prepare its event."""
    opened = open_subject(session, pseudonym(settings.pepper.get_secret_value(), request.subject_id))
    tag, states = opened.tag, opened.states
    notice = check_notice(session, request.notice_version, request.purposes, request.locale, opened.current_version)
    refused = sorted(set(request.purposes or notices.purposes_of(notice)))
    rows = [states.get(p) for p in refused]
    first = rows[0]
    if all(
        row is not None
        and first is not None
        and row.status == "declined"
        and row.notice_version == notice.version
        and row.ask_again_after is not None
        and row.ask_again_after > now
        and row.decision_id == first.decision_id
        for row in rows
    ):
        assert first is not None
        position = event_position(session, first.decision_id)
        return Receipt(
            consent_id=first.decision_id,
            event="decline",
            purposes=[],
            declined_purposes=refused,
            precision_res=None,
            notice_version=notice.version,
            notice_sha256=notice.sha256.hex(),
            recorded_at=first.decided_at,
            expires_at=None,
            ask_again_after=first.ask_again_after,
            seq=position.seq,
            hash=position.hash,
            gpc_seen=request.gpc,
            replayed=True,
        )
    decision_id = uuid.uuid4()
    ask_again = now + timedelta(days=settings.ask_again_after_days)
    write_states(
        session,
        tag,
        refused,
        {
            "decision_id": decision_id,
            "notice_version": notice.version,
            "source": request.source,
            "locale": request.locale,
            "gpc": request.gpc,
            "decided_at": now,
            "status": "declined",
            "precision_res": None,
            "expires_at": None,
            "ended_at": now,
            "ask_again_after": ask_again,
            "end_reason": "declined",
        },
    )
    document = ledger.event_document(
        "decline",
        now,
        tag,
        refused,
        decision_id=decision_id,
        notice_version=notice.version,
        notice_sha256=notice.sha256.hex(),
        source=request.source,
        locale=request.locale,
        gpc=request.gpc,
        ask_again_after=ask_again,
    )
    return Pending(
        document=document,
        occurred_at=now,
        receipt=Receipt(
            consent_id=decision_id,
            event="decline",
            purposes=[],
            declined_purposes=refused,
            precision_res=None,
            notice_version=notice.version,
            notice_sha256=notice.sha256.hex(),
            recorded_at=now,
            expires_at=None,
            ask_again_after=ask_again,
            seq=0,
            hash="",
            gpc_seen=request.gpc,
        ),
    )


def grant(session: Session, settings: ConsentSettings, request: Decision, now: datetime) -> Receipt:
    """Record a grant on its own and commit it (the routes group decisions through ``DecisionWriter``)."""
    return commit_now(session, prepare_grant(session, settings, request, now))


def decline(session: Session, settings: ConsentSettings, request: Decision, now: datetime) -> Receipt:
    """Record a refusal on its own and commit it."""
    return commit_now(session, prepare_decline(session, settings, request, now))
