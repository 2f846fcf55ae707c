"""What an app sends (a ``Decision``) and what it keeps as proof (a ``Receipt``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True, kw_only=True)
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """A grant or a refusal as the app sends it."""

    subject_id: str
    notice_version: int
    purposes: list[str]
    source: str
    locale: str
    gpc: bool = False
    precision_res: int | None = None
