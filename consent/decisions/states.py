"""A subject's current consent state rows: reading them (locked), their effective status, and writing them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select, text
from sqlalchemy import update as sa_update
from sqlalchemy.orm import Session

from consent import notices
from consent.errors import Conflict, NoticeOutdated
from consent.models import ConsentEvent, ConsentState, Notice

STATE = cast(Table, ConsentState.__table__)


def effective_status(row: ConsentState, floors: dict[str, int], now: datetime) -> tuple[str, str | None]:
    """The status as of ``now``: an active consent past its time or below its purpose's floor is expired."""
    if row.status == "active":
        if row.expires_at is not None and row.expires_at <= now:
            return "expired", "lifetime"
        floor = floors.get(row.purpose)
        if floor is not None and row.notice_version < floor:
            return "expired", "notice_changed"
        return "active", None
    return row.status, row.end_reason


def read_states(session: Session, tag: uuid.UUID) -> dict[str, ConsentState]:
    """The subject's state row per purpose (re-read from the database even if the session holds them)."""
    query = select(ConsentState).where(ConsentState.tag == tag).execution_options(populate_existing=True)
    rows = session.scalars(query)
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Opened:
    """A subject's link row, locked (and created on first use), with what a decision needs to know."""

    tag: uuid.UUID
    states: dict[str, ConsentState]
    current_version: int | None
    floors: dict[str, int]


def open_subject(session: Session, alias: bytes) -> Opened:
    """Lock or create the subject's tag and read its states, the current notice version and the floors.

    One statement for a first decision; a second one reads the states of a known subject after its row is
    locked (so they are the newest committed ones).
    """
    row = session.execute(_OPEN, {"alias": alias, "tag": uuid.uuid4()}).one()
    return Opened(
        tag=row.tag,
        states={} if row.created else read_states(session, row.tag),
        current_version=row.current_version,
        floors={purpose: int(version) for purpose, version in row.floors.items()},
    )


def check_notice(session: Session, version: int, purposes: Iterable[str], locale: str, current: int | None) -> Notice:
    """The notice a decision names, if it is the current one and offers the purposes in the locale.

    A decision that names a notice version, purpose or locale the current notice does not have is well-formed
    but does not fit what is published: 409, as a reference to a missing object is (the schema cannot say
    which purposes and locales a notice published later will have).
    """
    if current is None:
        raise Conflict("no privacy notice has been published yet; an operator must publish one first")
    notice = notices.get(session, current)
    if version > notice.version or version < 1:
        raise Conflict(f"there is no notice version {version}", current_version=notice.version)
    if version < notice.version:
        raise NoticeOutdated(
            f"notice version {version} has been replaced; show version {notice.version} and ask again",
            current_version=notice.version,
        )
    offered = notices.purposes_of(notice)
    unknown = sorted(set(purposes) - set(offered))
    if unknown:
        raise Conflict(f"the notice does not ask for the purposes {', '.join(unknown)}", offered=offered)
    locales = notices.locales_of(notice)
    if locale not in locales and locale.split("-")[0] not in locales:
        raise Conflict(f"the notice is not offered in locale {locale}", locales=locales)
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


def write_states(session: Session, tag: uuid.UUID, purposes: Iterable[str], values: dict[str, Any]) -> None:
    """Insert or replace whole state rows (every column in ``_UPSERT_COLUMNS`` must be in ``values``)."""
    names = sorted(purposes)
    if names:
        session.execute(_UPSERT, {"tag": tag, "purposes": names, **values})


def update_states(session: Session, tag: uuid.UUID, purposes: Iterable[str], values: dict[str, Any]) -> None:
    """Change existing state rows of a subject."""
    stmt = sa_update(STATE).where(STATE.c.tag == tag, STATE.c.purpose.in_(sorted(purposes))).values(**values)
    session.execute(stmt)


@dataclass(frozen=True, slots=True)
class Position:
    """Where an event stands in the ledger."""

    seq: int
    hash: str


def event_position(session: Session, decision_id: uuid.UUID) -> Position:
    """The ledger position of the event that recorded ``decision_id``."""
    row = session.execute(
        select(ConsentEvent.seq, ConsentEvent.hash).where(ConsentEvent.decision_id == decision_id)
    ).one()
    return Position(row.seq, bytes(row.hash).hex())
