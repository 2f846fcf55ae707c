"""Subject ids -> keyed pseudonyms -> random ledger tags.

The raw subject id (the app's installation UUID) is never stored: only ``HMAC-SHA256(pepper, id)``, and that
only in ``subject_links``, which maps it to a random tag. Events and state carry the tag. Erasure deletes the
link, after which nothing connects the person to the remaining events.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent.models import SubjectLink

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_NIL_OR_MAX = {"00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"}
_HEX = "[0-9a-fA-F]"
#: What ``normalise_subject_id`` takes, as the OpenAPI document states it: a hyphenated UUID in either case,
#: neither the nil nor the max UUID (tests/test_patterns.py holds the two to the same answers).
SUBJECT_ID_PATTERN = (
    "^(?!0{8}-0{4}-0{4}-0{4}-0{12}$)(?![fF]{8}-[fF]{4}-[fF]{4}-[fF]{4}-[fF]{12}$)"
    f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}$"
)


def normalise_subject_id(value: str) -> str:
    """The canonical (lower-case, hyphenated) form of an installation id; ValueError for anything else.

    E-mail addresses, phone numbers, advertising ids in other shapes and the nil UUID are refused: the
    service only accepts an app-scoped random identifier.
    """
    candidate = value.lower()
    if not _UUID.match(candidate) or candidate in _NIL_OR_MAX:
        raise ValueError("subject_id must be the app's random installation id, a UUID like 6f1c2d9e-8a43-...")
    return candidate


def pseudonym(pepper: str, subject_id: str) -> bytes:
    """``HMAC-SHA256(pepper, subject_id)`` of the normalised id."""
    return hmac.new(pepper.encode(), normalise_subject_id(subject_id).encode(), hashlib.sha256).digest()


def find_tag(session: Session, alias: bytes) -> uuid.UUID | None:
    """The ledger tag linked to a pseudonym, if any."""
    return session.scalars(select(SubjectLink.tag).where(SubjectLink.pseudonym == alias)).one_or_none()


def lock_tag(session: Session, alias: bytes) -> uuid.UUID | None:
    """The tag, with the link row locked until the transaction ends (serialises a subject's decisions)."""
    stmt = select(SubjectLink.tag).where(SubjectLink.pseudonym == alias).with_for_update()
    return session.scalars(stmt).one_or_none()
