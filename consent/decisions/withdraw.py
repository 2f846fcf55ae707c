"""Withdrawal: as easy as granting (one call), effective for the very next request on every instance."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from consent import notices
from consent.decisions.receipts import Pending, Receipt, commit_now
from consent.decisions.states import effective_status, read_states, update_states
from consent.errors import Conflict, NotActive, NotFound
from consent.ledger import chain as ledger
from consent.pseudonyms import lock_tag, pseudonym
from consent.settings import ConsentSettings


def prepare_withdraw(
    session: Session,
    settings: ConsentSettings,
    subject_id: str,
    purposes: list[str] | None,
    gpc: bool,
    now: datetime,
) -> Pending:
    """End active consents (all of them when ``purposes`` is None): write the state and prepare the event."""
    tag = lock_tag(session, pseudonym(settings.pepper.get_secret_value(), subject_id))
    if tag is None:
        raise NotFound("no consent has been recorded for this subject")
    states = read_states(session, tag)
    floors = notices.floors(session)
    active = sorted(p for p, row in states.items() if effective_status(row, floors, now)[0] == "active")
    if purposes is None:
        targets = active
        if not targets:
            raise NotActive("this subject has no active consent to withdraw")
    else:
        targets = sorted(set(purposes))
        known = set(states) | set(notices.purposes_of(notices.current(session)))
        unknown = [p for p in targets if p not in known]
        if unknown:
            raise Conflict(
                f"neither the subject's consents nor the current notice know the purposes {', '.join(unknown)}"
            )
        inactive = [p for p in targets if p not in active]
        if inactive:
            raise NotActive(f"no active consent for {', '.join(inactive)}", purposes=inactive)
    decision_id = uuid.uuid4()
    update_states(
        session,
        tag,
        targets,
        {
            "decision_id": decision_id,
            "gpc": gpc,
            "decided_at": now,
            "status": "withdrawn",
            "ended_at": now,
            "end_reason": "withdrawn",
        },
    )
    document = ledger.event_document("withdraw", now, tag, targets, decision_id=decision_id, gpc=gpc)
    return Pending(
        document=document,
        occurred_at=now,
        receipt=Receipt(
            consent_id=decision_id,
            event="withdraw",
            purposes=targets,
            declined_purposes=[],
            precision_res=None,
            notice_version=None,
            notice_sha256=None,
            recorded_at=now,
            expires_at=None,
            ask_again_after=None,
            seq=0,
            hash="",
            gpc_seen=gpc,
        ),
    )


def withdraw(
    session: Session, settings: ConsentSettings, subject_id: str, purposes: list[str] | None, gpc: bool, now: datetime
) -> Receipt:
    """Withdraw on its own and commit (the routes group decisions through ``DecisionWriter``)."""
    return commit_now(session, prepare_withdraw(session, settings, subject_id, purposes, gpc, now))
