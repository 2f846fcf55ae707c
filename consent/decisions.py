"""Grants, refusals and withdrawals: each one transaction that updates the state and appends its event."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, select, text
from sqlalchemy import update as sa_update
from sqlalchemy.orm import Session

from consent import ledger, notices
from consent.errors import Conflict, InvalidInput, NotActive, NotFound, NoticeOutdated
from consent.models import ConsentEvent, ConsentState, Notice
from consent.pseudonyms import find_tag, lock_tag, pseudonym
from consent.settings import ConsentSettings

STATE = cast(Table, ConsentState.__table__)


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the app keeps as proof of a decision (and what the ledger holds under ``seq``)."""

    consent_id: uuid.UUID
    event: str
    purposes: list[str]
    declined_purposes: list[str]
    precision_res: int | None
    notice_version: int | None
    notice_sha256: str | None
    recorded_at: datetime
    expires_at: datetime | None
    ask_again_after: datetime | None
    seq: int
    hash: str
    gpc_seen: bool
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    """A grant or a refusal as the app sends it."""

    subject_id: str
    notice_version: int
    purposes: list[str]
    source: str
    locale: str
    gpc: bool = False
    precision_res: int | None = None


def effective_status(row: ConsentState | Row[Any], floors: dict[str, int], now: datetime) -> tuple[str, str | None]:
    """The status as of ``now``: an active consent past its time or below its purpose's floor is expired."""
    if row.status == "active":
        if row.expires_at is not None and row.expires_at <= now:
            return "expired", "lifetime"
        floor = floors.get(row.purpose)
        if floor is not None and row.notice_version < floor:
            return "expired", "notice_changed"
        return "active", None
    return row.status, row.end_reason


def _states(session: Session, tag: uuid.UUID) -> dict[str, Row[Any]]:
    rows = session.execute(select(STATE).where(STATE.c.tag == tag))
    return {row.purpose: row for row in rows}


_OPEN = text(
    """
    WITH link AS (
        INSERT INTO subject_links (pseudonym, tag) VALUES (:alias, :tag)
        ON CONFLICT (pseudonym) DO UPDATE SET pseudonym = EXCLUDED.pseudonym
        RETURNING tag, (xmax = 0) AS created
    )
    SELECT link.tag, link.created,
           (SELECT max(version) FROM notices) AS current_version,
           (SELECT coalesce(json_object_agg(purpose, min_notice_version), '{}'::json) FROM purpose_floors) AS floors
      FROM link
    """
)


@dataclass(frozen=True, slots=True)
class _Opened:
    """A subject's link row, locked (and created on first use), with what a decision needs to know."""

    tag: uuid.UUID
    states: dict[str, Row[Any]]
    current_version: int | None
    floors: dict[str, int]


def _open(session: Session, alias: bytes) -> _Opened:
    """Lock or create the subject's tag and read its states, the current notice version and the floors.

    One statement for a first decision; a second one reads the states of a known subject after its row is
    locked (so they are the newest committed ones).
    """
    row = session.execute(_OPEN, {"alias": alias, "tag": uuid.uuid4()}).one()
    states = {} if row.created else _states(session, row.tag)
    return _Opened(row.tag, states, row.current_version, {k: int(v) for k, v in row.floors.items()})


def _check_notice(session: Session, version: int, purposes: Iterable[str], locale: str, current: int | None) -> Notice:
    if current is None:
        raise Conflict("no privacy notice has been published yet; an operator must publish one first")
    notice = notices.get(session, current)
    if version > notice.version or version < 1:
        raise InvalidInput(f"there is no notice version {version}", current_version=notice.version)
    if version < notice.version:
        raise NoticeOutdated(
            f"notice version {version} has been replaced; show version {notice.version} and ask again",
            current_version=notice.version,
        )
    offered = notices.purposes_of(notice)
    unknown = sorted(set(purposes) - set(offered))
    if unknown:
        raise InvalidInput(f"the notice does not ask for the purposes {', '.join(unknown)}", offered=offered)
    locales = notices.locales_of(notice)
    if locale not in locales and locale.split("-")[0] not in locales:
        raise InvalidInput(f"the notice is not offered in locale {locale}", locales=locales)
    return notice


_UPSERT_COLUMNS = (
    "status",
    "decision_id",
    "notice_version",
    "precision_res",
    "source",
    "locale",
    "gpc",
    "decided_at",
    "expires_at",
    "ended_at",
    "ask_again_after",
    "end_reason",
)
_UPSERT = text(
    f"""
    INSERT INTO consent_state (tag, purpose, {", ".join(_UPSERT_COLUMNS)})
    SELECT :tag, purpose, {", ".join(":" + c for c in _UPSERT_COLUMNS)}
      FROM unnest(CAST(:purposes AS text[])) AS purpose
    ON CONFLICT (tag, purpose) DO UPDATE SET {", ".join(f"{c} = EXCLUDED.{c}" for c in _UPSERT_COLUMNS)}
    """
)


def _write_states(session: Session, tag: uuid.UUID, purposes: Iterable[str], values: dict[str, Any]) -> None:
    """Insert or replace whole state rows (every column in ``_UPSERT_COLUMNS`` must be in ``values``)."""
    names = sorted(purposes)
    if names:
        session.execute(_UPSERT, {"tag": tag, "purposes": names, **values})


def update_states(session: Session, tag: uuid.UUID, purposes: Iterable[str], values: dict[str, Any]) -> None:
    """Change existing state rows of a subject."""
    stmt = sa_update(STATE).where(STATE.c.tag == tag, STATE.c.purpose.in_(sorted(purposes))).values(**values)
    session.execute(stmt)


def _event_position(session: Session, decision_id: uuid.UUID) -> tuple[int, str]:
    row = session.execute(
        select(ConsentEvent.seq, ConsentEvent.hash).where(ConsentEvent.decision_id == decision_id)
    ).one()
    return row.seq, bytes(row.hash).hex()


def grant(session: Session, settings: ConsentSettings, request: Decision, now: datetime) -> Receipt:
    """Record a grant; a repeat of the current state answers the existing receipt and writes nothing."""
    precision = request.precision_res or settings.default_precision_res
    if precision > settings.max_precision_res:
        raise InvalidInput(f"precision_res may not be finer than {settings.max_precision_res}")
    if not request.purposes:
        raise InvalidInput("grant at least one purpose (a refusal goes to /v1/consents/decline)")
    opened = _open(session, pseudonym(settings.pepper.get_secret_value(), request.subject_id))
    tag, states, floors = opened.tag, opened.states, opened.floors
    notice = _check_notice(session, request.notice_version, request.purposes, request.locale, opened.current_version)
    granted = sorted(set(request.purposes))
    # Global Privacy Control is never consent: it refuses every purpose the request does not name.
    declined = sorted(set(notices.purposes_of(notice)) - set(granted)) if request.gpc else []

    current = [states.get(p) for p in granted]
    if all(
        row is not None
        and effective_status(row, floors, now)[0] == "active"
        and row.notice_version == notice.version
        and row.precision_res == precision
        and row.decision_id == current[0].decision_id  # type: ignore[union-attr]
        for row in current
    ) and all(p in states and states[p].status == "declined" for p in declined):
        first = current[0]
        assert first is not None
        seq, digest = _event_position(session, first.decision_id)
        return Receipt(
            first.decision_id,
            "grant",
            granted,
            declined,
            precision,
            notice.version,
            notice.sha256.hex(),
            first.decided_at,
            first.expires_at,
            None,
            seq,
            digest,
            request.gpc,
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
    _write_states(
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
    _write_states(
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
    appended = ledger.append_and_commit(session, document, now)
    return Receipt(
        decision_id,
        "grant",
        granted,
        declined,
        precision,
        notice.version,
        notice.sha256.hex(),
        now,
        expires_at,
        ask_again,
        appended.seq,
        appended.hash.hex(),
        request.gpc,
    )


def decline(session: Session, settings: ConsentSettings, request: Decision, now: datetime) -> Receipt:
    """Record a refusal (it also ends any active consent for those purposes)."""
    opened = _open(session, pseudonym(settings.pepper.get_secret_value(), request.subject_id))
    tag, states = opened.tag, opened.states
    notice = _check_notice(session, request.notice_version, request.purposes, request.locale, opened.current_version)
    refused = sorted(set(request.purposes or notices.purposes_of(notice)))
    rows = [states.get(p) for p in refused]
    if all(
        row is not None
        and row.status == "declined"
        and row.notice_version == notice.version
        and row.ask_again_after is not None
        and row.ask_again_after > now
        and row.decision_id == rows[0].decision_id  # type: ignore[union-attr]
        for row in rows
    ):
        first = rows[0]
        assert first is not None
        seq, digest = _event_position(session, first.decision_id)
        return Receipt(
            first.decision_id,
            "decline",
            [],
            refused,
            None,
            notice.version,
            notice.sha256.hex(),
            first.decided_at,
            None,
            first.ask_again_after,
            seq,
            digest,
            request.gpc,
            replayed=True,
        )
    decision_id = uuid.uuid4()
    ask_again = now + timedelta(days=settings.ask_again_after_days)
    _write_states(
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
    appended = ledger.append_and_commit(session, document, now)
    return Receipt(
        decision_id,
        "decline",
        [],
        refused,
        None,
        notice.version,
        notice.sha256.hex(),
        now,
        None,
        ask_again,
        appended.seq,
        appended.hash.hex(),
        request.gpc,
    )


def withdraw(
    session: Session,
    settings: ConsentSettings,
    subject_id: str,
    purposes: list[str] | None,
    gpc: bool,
    now: datetime,
) -> Receipt:
    """End active consents (all of them when ``purposes`` is None); effective for the very next request."""
    tag = lock_tag(session, pseudonym(settings.pepper.get_secret_value(), subject_id))
    if tag is None:
        raise NotFound("no consent has been recorded for this subject")
    states = _states(session, tag)
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
            raise InvalidInput(f"unknown purposes {', '.join(unknown)}")
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
    appended = ledger.append_and_commit(session, document, now)
    return Receipt(
        decision_id,
        "withdraw",
        targets,
        [],
        None,
        None,
        None,
        now,
        None,
        None,
        appended.seq,
        appended.hash.hex(),
        gpc,
    )


@dataclass(frozen=True, slots=True)
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
    current_notice_version: int
    purposes: list[PurposeState] = field(default_factory=list)


def subject_state(session: Session, settings: ConsentSettings, subject_id: str, now: datetime) -> SubjectState:
    """Per purpose: active, withdrawn, declined, expired or none."""
    notice = notices.current(session)
    alias = pseudonym(settings.pepper.get_secret_value(), subject_id)
    tag = find_tag(session, alias)
    states = _states(session, tag) if tag is not None else {}
    floors = notices.floors(session)
    result: list[PurposeState] = []
    for purpose in dict.fromkeys([*notices.purposes_of(notice), *sorted(states)]):
        row = states.get(purpose)
        if row is None:
            result.append(PurposeState(purpose, "none"))
            continue
        status, reason = effective_status(row, floors, now)
        result.append(
            PurposeState(
                purpose,
                status,
                reason,
                row.decision_id,
                row.notice_version,
                row.precision_res,
                row.decided_at,
                row.expires_at,
                row.ended_at,
                row.ask_again_after,
            )
        )
    return SubjectState(notice.version, result)
