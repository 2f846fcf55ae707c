"""Consent records from the ledger: one record per purpose decision, with every state it went through.

A grant or a refusal of a purpose opens a record (ISO/IEC TS 27560 "consent record"); what happens to that purpose
afterwards is added to the same record as a new state, each with the ledger event that proves it:

- a grant opens a record in state *given*, or *renewed* when the purpose's previous consent was still in force;
- a refusal (in the app, or implied by Global Privacy Control inside a grant) opens a record in state *refused*;
- a withdrawal, a refusal or an erasure of a purpose whose consent is in force adds *withdrawn* to its record;
- the end of a consent's lifetime, or a notice that asks everyone again for the purpose, adds *expired* at the
  moment it lapsed, proven by the expiry job's event once that has run (the gate treats it as expired at once);
- a later decision on the same purpose replaces the record (``replaces`` / ``replaced_by``).

Everything is read from the hashed ledger documents and the published notices, so a record states nothing the
ledger cannot prove, and it is the same whether the person or the officer asks.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from consent.audit.decisions import DecidedBy, DecisionType, Kind, PurposeDecision, wanted_kinds
from consent.canonical import parse_iso
from consent.records import vocabulary as v


@dataclass(frozen=True, slots=True)
class LedgerEvent:
    """One ledger event as the records need it."""

    seq: int
    at: datetime
    hash: str
    document: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NoticeInfo:
    """What a record names of a published notice."""

    version: int
    published_at: datetime
    sha256: str
    fresh_consent_for: tuple[str, ...]
    content: dict[str, Any]


@dataclass(slots=True, kw_only=True)
class State:
    """One state of a record: what, when, who indicated it, how, and the ledger event that proves it."""

    state: str
    at: datetime
    by_person: bool
    method: str
    gpc: bool | None = None
    until: datetime | None = None
    precision_res: int | None = None
    seq: int | None = None
    hash: str | None = None
    decision: PurposeDecision | None = None


@dataclass(slots=True, kw_only=True)
class Record:
    """The consent record of one purpose decision."""

    record_id: uuid.UUID
    tag: uuid.UUID
    purpose: str
    decision_id: uuid.UUID
    notice_version: int
    locale: str
    created: datetime
    expires_at: datetime | None
    states: list[State] = field(default_factory=list)
    replaces: uuid.UUID | None = None
    replaced_by: uuid.UUID | None = None

    @property
    def current(self) -> str:
        """The state in force now (the last one)."""
        return self.states[-1].state

    @property
    def in_force(self) -> bool:
        """True while the consent may be relied on."""
        return self.current in (v.GIVEN, v.RENEWED)

    def matches(self, seqs: set[int], kinds: Sequence[Kind] | None, purpose: str | None) -> bool:
        """True when one of the record's states is proven by an event in ``seqs`` with a decision of ``kinds``."""
        if purpose is not None and purpose != self.purpose:
            return False
        for state in self.states:
            if state.seq is None or state.seq not in seqs:
                continue
            if kinds is None or (
                state.decision is not None
                and any(k.decision == state.decision.decision and k.by == state.decision.by for k in kinds)
            ):
                return True
        return False


@dataclass(frozen=True, slots=True)
class _Proof:
    """The ledger event a state stands on."""

    seq: int
    hash: str
    at: datetime
    gpc: bool

    def state(self, state: str, method: str, decision: PurposeDecision, **details: Any) -> State:
        return State(
            state=state,
            at=self.at,
            by_person=True,
            method=method,
            gpc=self.gpc,
            seq=self.seq,
            hash=self.hash,
            decision=decision,
            **details,
        )


def record_id(decision_id: uuid.UUID, purpose: str) -> uuid.UUID:
    """The stable id of the record a decision opened for a purpose (so a receipt can name it)."""
    return uuid.uuid5(decision_id, purpose)


def _lapse(record: Record, notices: Sequence[NoticeInfo]) -> tuple[datetime, str] | None:
    ends: list[tuple[datetime, str]] = []
    if record.expires_at is not None:
        ends.append((record.expires_at, "the consent's lifetime ended"))
    for notice in notices:
        if notice.version > record.notice_version and record.purpose in notice.fresh_consent_for:
            ends.append((notice.published_at, f"notice version {notice.version} asks everyone again"))
    return min(ends) if ends else None


def _settle(record: Record, notices: Sequence[NoticeInfo], moment: datetime) -> None:
    """Add the expiry a consent in force reached by ``moment`` (proven later by the expiry job's event)."""
    if not record.in_force:
        return
    lapse = _lapse(record, notices)
    if lapse is not None and lapse[0] <= moment:
        record.states.append(State(state=v.EXPIRED, at=lapse[0], by_person=False, method=lapse[1]))


class _Builder:
    def __init__(self, tag: uuid.UUID, notices: Sequence[NoticeInfo]) -> None:
        self.tag = tag
        self.notices = notices
        self.open: dict[str, Record] = {}
        self.records: list[Record] = []

    def _open(self, event: LedgerEvent, purpose: str, first: State) -> None:
        doc = event.document
        decision_id = uuid.UUID(doc["decision_id"])
        expires = doc.get("expires_at") if first.state != v.REFUSED else None
        record = Record(
            record_id=record_id(decision_id, purpose),
            tag=self.tag,
            purpose=purpose,
            decision_id=decision_id,
            notice_version=int(doc["notice_version"]),
            locale=str(doc.get("locale", "")),
            created=event.at,
            expires_at=parse_iso(expires) if expires else None,
            states=[first],
        )
        previous = self.open.get(purpose)
        if previous is not None:
            previous.replaced_by = record.record_id
            record.replaces = previous.record_id
        self.open[purpose] = record
        self.records.append(record)

    def _end(self, purpose: str, state: State) -> None:
        record = self.open.get(purpose)
        if record is not None and record.in_force:
            record.states.append(state)

    def apply(self, event: LedgerEvent) -> None:
        doc = event.document
        kind = doc["type"]
        for purpose in doc.get("purposes", ()):
            if purpose in self.open:
                _settle(self.open[purpose], self.notices, event.at)
        proof = _Proof(seq=event.seq, hash=event.hash, at=event.at, gpc=bool(doc.get("gpc", False)))
        source = doc.get("source", "app")
        if kind == "grant":
            for purpose in doc.get("granted", ()):
                previous = self.open.get(purpose)
                renewed = previous is not None and previous.in_force
                self._open(
                    event,
                    purpose,
                    proof.state(
                        v.RENEWED if renewed else v.GIVEN,
                        f"explicit choice per purpose in the app ({source})",
                        PurposeDecision(purpose, "grant", "person"),
                        until=parse_iso(doc["expires_at"]) if doc.get("expires_at") else None,
                        precision_res=doc.get("precision_res"),
                    ),
                )
            self._refuse(event, doc.get("declined") or (), "gpc", proof)
        elif kind == "decline":
            self._refuse(event, doc.get("purposes", ()), "person", proof)
        elif kind in ("withdraw", "erase"):
            how = "withdrawal in the app" if kind == "withdraw" else "erasure of the subject (GDPR Art. 17)"
            decided: DecisionType = "withdraw" if kind == "withdraw" else "erase"
            for purpose in doc.get("purposes", ()):
                self._end(purpose, proof.state(v.WITHDRAWN, how, PurposeDecision(purpose, decided, "person")))
        elif kind == "expire":
            for purpose in doc.get("purposes", ()):
                self._expired(purpose, event, str(doc.get("reason", "")), proof)

    def _refuse(self, event: LedgerEvent, purposes: Iterable[str], by: DecidedBy, proof: _Proof) -> None:
        how = (
            "Global Privacy Control (Sec-GPC: 1) sent with a grant: it refuses every purpose the person did not name"
            if by == "gpc"
            else f"refusal in the app ({event.document.get('source', 'app')})"
        )
        for purpose in purposes:
            decision = PurposeDecision(purpose, "decline", by)
            self._end(purpose, proof.state(v.WITHDRAWN, how, decision))
            self._open(event, purpose, proof.state(v.REFUSED, how, decision))

    def _expired(self, purpose: str, event: LedgerEvent, reason: str, proof: _Proof) -> None:
        record = self.open.get(purpose)
        if record is None:
            return
        decision = PurposeDecision(purpose, "expire", "service")
        last = record.states[-1]
        if last.state == v.EXPIRED and last.seq is None:  # already lapsed: the job's event is its proof
            last.seq, last.hash, last.decision = proof.seq, proof.hash, decision
            return
        if record.in_force:
            lapse = _lapse(record, self.notices)
            at = lapse[0] if lapse is not None and lapse[0] <= event.at else event.at
            method = lapse[1] if lapse is not None else f"expired ({reason})"
            record.states.append(
                State(
                    state=v.EXPIRED,
                    at=at,
                    by_person=False,
                    method=method,
                    seq=event.seq,
                    hash=event.hash,
                    decision=decision,
                )
            )

    def finish(self, now: datetime) -> list[Record]:
        for record in self.open.values():
            _settle(record, self.notices, now)
        return self.records


def build(tag: uuid.UUID, events: Iterable[LedgerEvent], notices: Sequence[NoticeInfo], now: datetime) -> list[Record]:
    """Every record of one subject tag from its ledger events (in sequence order), as of ``now``."""
    builder = _Builder(tag, notices)
    for event in events:
        builder.apply(event)
    return builder.finish(now)


def filter_kinds(types: Sequence[str], by: Sequence[str]) -> list[Kind] | None:
    """The decision kinds a filter asks for, or None when it does not filter by decision."""
    return wanted_kinds(types, by) if types or by else None
