"""What an app sends (a ``Decision``), what it keeps as proof (a ``Receipt``), and a decision between the two
(``Pending``: written, its ledger event not yet appended)."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from consent.ledger import chain as ledger
from consent.ledger.chain import Appended


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Pending:
    """A decision whose state rows are written in the open transaction and whose ledger event is still to be
    appended: its receipt lacks only the ledger position (``seq`` 0, empty ``hash``)."""

    document: dict[str, Any]
    occurred_at: datetime
    receipt: Receipt

    def settle(self, appended: Appended) -> Receipt:
        """The receipt, once the event is in the ledger at ``appended``."""
        return dataclasses.replace(self.receipt, seq=appended.seq, hash=appended.hash.hex())


#: What deciding leaves: a receipt already (a repeat of the current state, nothing to write) or a pending event.
Outcome = Receipt | Pending


def commit_now(session: Session, outcome: Outcome) -> Receipt:
    """Append a pending decision's event and commit it on its own (no group): the receipt, durable."""
    if isinstance(outcome, Receipt):
        return outcome
    return outcome.settle(ledger.append_and_commit(session, outcome.document, outcome.occurred_at))
