"""Privacy notices: versioned, immutable once published, each with the SHA-256 of its canonical text."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from consent.canonical import canonical_json, iso
from consent.errors import Conflict, InvalidInput, NotFound
from consent.models import Notice, PurposeFloor
from consent.purposes import CORE_PURPOSES


def purposes_of(notice: Notice) -> list[str]:
    """The purpose ids a notice asks for, in its order."""
    return [p["id"] for p in notice.content["purposes"]]


def locales_of(notice: Notice) -> list[str]:
    """The locales a notice is written in."""
    return sorted(notice.content["texts"])


def publish(
    session: Session,
    purposes: list[dict[str, Any]],
    texts: dict[str, str],
    fresh_consent_for: list[str],
    published_by: str,
    now: datetime,
) -> Notice:
    """Publish the next version. Purposes named in ``fresh_consent_for`` need a new grant from everyone."""
    ids = [p["id"] for p in purposes]
    if len(set(ids)) != len(ids):
        raise InvalidInput("each purpose may appear once")
    missing = [p for p in CORE_PURPOSES if p not in ids]
    if missing:
        raise InvalidInput(f"a notice must ask for the purposes {', '.join(missing)}")
    locales = set(texts)
    for purpose in purposes:
        for field in ("title", "description"):
            if set(purpose[field]) != locales:
                raise InvalidInput(f"purpose {purpose['id']} needs a {field} in exactly the locales of the texts")
    unknown = sorted(set(fresh_consent_for) - set(ids))
    if unknown:
        raise InvalidInput(f"fresh_consent_for names purposes the notice does not ask for: {', '.join(unknown)}")

    # One publisher at a time, so versions are consecutive.
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('geo_offers.notices'))"))
    version = (session.scalar(select(func.max(Notice.version))) or 0) + 1
    fresh = sorted(set(fresh_consent_for)) if version > 1 else []
    document = {
        "version": version,
        "published_at": iso(now),
        "purposes": purposes,
        "texts": texts,
        "fresh_consent_for": fresh,
    }
    canonical = canonical_json(document)
    notice = Notice(
        version=version,
        published_at=now,
        content=document,
        canonical=canonical,
        sha256=hashlib.sha256(canonical.encode("utf-8")).digest(),
        fresh_consent_for=fresh,
        published_by=published_by,
    )
    session.add(notice)
    for purpose_id in fresh:
        stmt = insert(PurposeFloor).values(purpose=purpose_id, min_notice_version=version)
        session.execute(stmt.on_conflict_do_update(index_elements=["purpose"], set_={"min_notice_version": version}))
    session.flush()
    return notice


# Published notices never change, so they are cached per process (per database engine) by version; only
# "which version is current" is asked of the database each time (an index-only lookup).
_cache: WeakKeyDictionary[Engine, dict[int, Notice]] = WeakKeyDictionary()


def current_version(session: Session) -> int | None:
    """The newest published version, or None."""
    version: int | None = session.scalar(select(func.max(Notice.version)))
    return version


def current(session: Session) -> Notice:
    """The newest notice, or Conflict when none has been published yet."""
    version = current_version(session)
    if version is None:
        raise Conflict("no privacy notice has been published yet; an operator must publish one first")
    return get(session, version)


def get(session: Session, version: int) -> Notice:
    """The notice with this version, or NotFound."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    known = _cache.setdefault(engine, {})
    notice = known.get(version)
    if notice is None:
        notice = session.get(Notice, version)
        if notice is None:
            raise NotFound(f"there is no notice version {version}")
        session.expunge(notice)
        known[version] = notice
    return notice


def floors(session: Session) -> dict[str, int]:
    """Per purpose, the oldest notice version whose consents still count."""
    return {row.purpose: row.min_notice_version for row in session.execute(select(PurposeFloor.__table__))}
