"""API schemas of the audit routes (dpo key) and the data-subject routes (app key)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from consent.schemas import LedgerPosition, SubjectStateOut


class DecisionOut(BaseModel):
    purpose: str
    decision: Literal["grant", "decline", "withdraw", "expire", "erase"]
    by: Literal["person", "gpc", "service"] = Field(
        description="`gpc`: a refusal implied by Global Privacy Control, not named by the person."
    )


class EventOut(BaseModel):
    seq: int
    occurred_at: datetime
    type: str = Field(description="The event's type; what it decided per purpose is in `decisions`.")
    tag: uuid.UUID = Field(description="Random ledger tag of the subject; unlinkable once the subject is erased.")
    decision_id: uuid.UUID | None
    purposes: list[str]
    notice_version: int | None
    decisions: list[DecisionOut] = Field(description="What the event decided about each purpose, and who decided.")
    document: dict[str, Any] = Field(description="The hashed event document, parsed.")
    canonical: str = Field(description="The exact text that was hashed.")
    prev_hash: str
    hash: str


class EventPage(BaseModel):
    items: list[EventOut]
    next_after: int | None = Field(description="Pass back as `after` for the next page; null on the last page.")


class VerifyOut(BaseModel):
    ok: bool
    events_checked: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None
    problem: str | None
    checkpoints_checked: int = Field(description="Signed checkpoints whose hash matched the recomputed chain.")


class CheckpointOut(BaseModel):
    id: int
    seq: int
    head_hash: str
    signed_at: str
    key_id: str
    public_key: str = Field(description="Raw Ed25519 public key, hex; pin the published one when verifying.")
    document: str = Field(description="The canonical text that was signed.")
    signature: str
    trusted: bool | None = Field(description="Signed with the pinned key (null when no key is pinned).")


class CheckpointPage(BaseModel):
    items: list[CheckpointOut]
    next_after: int | None


class PurposeDayOut(BaseModel):
    grants: int
    declines: int = Field(description="Refusals, by the person or implied by Global Privacy Control.")
    declines_by_gpc: int = Field(description="The part of `declines` implied by Global Privacy Control.")
    withdrawals: int
    expiries: int
    erasures: int
    active_end_of_day: int = Field(description="Consents active at the end of the day (UTC).")


class DayOut(BaseModel):
    day: date
    events: dict[str, int] = Field(description="Events of the day by type, each event counted once.")
    purposes: dict[str, PurposeDayOut]


class SummaryOut(BaseModel):
    since: date
    until: date
    timezone: str = "UTC"
    days: list[DayOut]


class AccessOut(BaseModel):
    id: int
    at: datetime
    key_id: str | None = Field(description="The calling key; null when the call had no valid key (401).")
    method: str
    route: str
    params: list[str] = Field(description="Names of the query parameters used (never their values).")
    status: int = Field(description="The HTTP status the call was answered with (401, 403, 422, ... included).")


class AccessPage(BaseModel):
    items: list[AccessOut]
    next_after: int | None


class ProcessingRecordOut(BaseModel):
    generated_at: datetime
    controller: str
    dpo_contact: str
    processing: str
    legal_basis: str
    data_subjects: str
    purposes: list[dict[str, Any]]
    current_notice_version: int
    data_categories: list[dict[str, str]]
    recipients: list[dict[str, str]]
    transfers_to_third_countries: str
    retention: list[dict[str, str]]
    technical_measures: list[str]
    statistics_privacy: dict[str, Any] = Field(
        description="The rules of the published statistics: the unit protected (a person's activity in one hour), "
        "k people per figure, P counting processes, the threshold k x P, epsilon per release, how people are "
        "de-duplicated; the same as every insight answer's `privacy` object."
    )
    processes: list[dict[str, Any]] = Field(
        description="The processing per purpose in W3C DPV terms, as JSON-LD `dpv:Process` nodes: the same terms "
        "the consent records use (read them with the context `dpv_context`)."
    )
    dpv_context: str = Field(default="", description="URL of the JSON-LD context of `processes`.")
    notice_versions: list[dict[str, Any]]


class ErasureOut(BaseModel):
    erased: bool = True
    erasure_id: uuid.UUID = Field(description="Id of the erasure event; keep it as the receipt.")
    recorded_at: datetime
    purposes: list[str] = Field(description="Purposes whose state was deleted.")
    ledger: LedgerPosition


class SubjectEventOut(BaseModel):
    seq: int
    occurred_at: datetime
    type: str
    purposes: list[str]
    notice_version: int | None
    document: dict[str, Any]
    canonical: str
    prev_hash: str
    hash: str


class SubjectExportOut(BaseModel):
    format: str = "geo-offers-subject-export/1"
    exported_at: datetime
    held: bool = Field(description="False when the service holds nothing about this subject.")
    ledger_tag: uuid.UUID | None = Field(description="The random tag the subject's ledger events carry.")
    linked_since: datetime | None
    state: SubjectStateOut
    events: list[SubjectEventOut]
    not_held: list[str] = Field(description="What the service does not keep about anyone.")
