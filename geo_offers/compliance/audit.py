"""Audit routes (dpo key, read-only): the ledger, its exports and integrity proofs, the summary, the processing
record and the access log. Every call, refused ones included, is logged with its outcome (see
``geo_offers.compliance.access_log``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator, Field
from starlette.responses import StreamingResponse

from consent import notices
from consent.audit import events as audit
from consent.audit import summary
from consent.audit.decisions import DecidedBy, decisions_of
from consent.canonical import iso
from consent.errors import InvalidInput
from consent.ledger import checkpoints, export
from consent.schemas import PurposeId, SubjectId
from consent.strict import IsoText
from geo_offers.compliance import processing_record, records
from geo_offers.compliance.access_log import AuditedRoute, Auditor
from geo_offers.compliance.schemas import (
    AccessOut,
    AccessPage,
    CheckpointOut,
    CheckpointPage,
    DayOut,
    DecisionOut,
    EventOut,
    EventPage,
    ProcessingRecordOut,
    PurposeDayOut,
    SummaryOut,
    VerifyOut,
)
from geo_offers.compliance.signing import trusted_public_key
from geo_offers.kit.deps import NowDep, ServicesDep, SessionDep, SettingsDep
from geo_offers.kit.params import After


def _to_utc(moment: datetime) -> datetime:
    # Any offset Python accepts (up to ±23:59) is turned into UTC, which the database always accepts.
    if moment.tzinfo is None:
        raise ValueError("times need an offset, such as 2026-11-01T00:00:00Z")
    return moment.astimezone(UTC)


UtcTime = Annotated[datetime, IsoText, AfterValidator(_to_utc)]
UtcDay = Annotated[date, IsoText]
HttpStatus = Annotated[int, Field(ge=100, le=599)]

router = APIRouter(prefix="/v1/audit", tags=["audit"], route_class=AuditedRoute)

MAX_SUMMARY_DAYS = 366
EventType = Literal["grant", "decline", "withdraw", "expire", "erase"]


Limit = Annotated[int, Query(ge=1, le=1000)]


def event_filter(
    since: Annotated[UtcTime | None, Query(description="Events at or after this time (with offset).")] = None,
    until: Annotated[UtcTime | None, Query(description="Events before this time (with offset).")] = None,
    type: Annotated[
        list[EventType] | None,
        Query(
            description="Decisions (repeatable): events that hold such a decision about some purpose, or about "
            "`purpose` when given. A refusal implied by Global Privacy Control inside a grant event is a `decline`."
        ),
    ] = None,
    purpose: Annotated[
        PurposeId | None, Query(description="Events that decided this purpose (with `type`: decided it so).")
    ] = None,
    notice_version: Annotated[int | None, Query(ge=1, le=2_000_000_000)] = None,
    subject: Annotated[
        SubjectId | None, Query(description="The subject id the person gave; the service looks up its pseudonym.")
    ] = None,
    by: Annotated[
        list[DecidedBy] | None,
        Query(
            description="Who decided (repeatable): `person` in the app, `gpc` (a refusal implied by Global Privacy "
            "Control), `service` (an expiry)."
        ),
    ] = None,
) -> audit.EventFilter:
    """The filters shared by the listing and the export."""
    return audit.EventFilter(
        since=since,
        until=until,
        types=tuple(type or ()),
        purpose=purpose,
        notice_version=notice_version,
        subject_id=subject,
        by=tuple(by or ()),
    )


Filter = Annotated[audit.EventFilter, Depends(event_filter)]


def event_out(row: Any) -> EventOut:
    """The API form of a ledger row."""
    item = export.record(row)
    document = orjson.loads(row.canonical)
    return EventOut(
        seq=row.seq,
        occurred_at=row.occurred_at,
        type=row.event_type,
        tag=row.tag,
        decision_id=row.decision_id,
        purposes=item["purposes"],
        notice_version=row.notice_version,
        decisions=[DecisionOut(purpose=d.purpose, decision=d.decision, by=d.by) for d in decisions_of(document)],
        document=document,
        canonical=row.canonical,
        prev_hash=item["prev_hash"],
        hash=item["hash"],
    )


@router.get("/consent-events")
def consent_events(
    wanted: Filter,
    _: Auditor,
    session: SessionDep,
    settings: SettingsDep,
    after: After = 0,
    limit: Limit = 100,
) -> EventPage:
    """The consent ledger in sequence order, filtered; pass `next_after` back as `after` for the next page."""
    pepper = settings.consent.pepper.get_secret_value()
    rows, next_after = audit.event_page(session, pepper, wanted, after, limit)
    return EventPage(items=[event_out(row) for row in rows], next_after=next_after)


@router.get(
    "/consent-events/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/csv": {}, "application/jsonl": {}, "application/ld+json": {}},
            "description": "The events (or, for `format=dpv`, the consent records), streamed.",
        }
    },
)
def export_consent_events(
    wanted: Filter,
    _: Auditor,
    session: SessionDep,
    services: ServicesDep,
    now: NowDep,
    request: Request,
    format: Annotated[Literal["csv", "jsonl", "dpv"], Query()] = "jsonl",
) -> StreamingResponse:
    """The filtered ledger as CSV or JSON Lines, streamed from a server-side cursor, with `seq`, `prev_hash`,
    `hash` and the hashed `canonical` text of every event. The first line (both formats) is a JSON header saying
    what the file holds: `scope` `full` or `filtered` with the `filter`, and the ledger `head` it was taken at.
    Check it offline with `geo-offers ledger verify-export FILE [--checkpoint CHECKPOINTS.json --public-key KEY]`.

    `format=dpv`: the consent records the filter touches, after ISO/IEC TS 27560:2023 in W3C DPV terms
    (JSON-LD, one record per purpose decision, each state with the ledger event that proves it).
    """
    if format == "dpv":
        return records.officer_export(request, session, services, wanted, now)
    query = audit.events_query(audit.conditions(session, services.settings.consent.pepper.get_secret_value(), wanted))
    engine = services.db.engine
    described = export.describe_filter(wanted)

    def chunks() -> Iterator[bytes]:
        # One snapshot: the head named in the header and the events exported agree.
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection, connection.begin():
            yield from export.stream(connection, query, format, described, now)

    stamp = iso(now)[:19].replace(":", "").replace("-", "")
    headers = {"Content-Disposition": f'attachment; filename="consent-events-{stamp}.{format}"'}
    return StreamingResponse(chunks(), media_type=export.MEDIA_TYPES[format], headers=headers)


@router.get("/ledger/verify")
def verify_ledger(_: Auditor, services: ServicesDep) -> VerifyOut:
    """Recompute the whole chain from one snapshot and compare it with every signed checkpoint."""
    trusted = trusted_public_key(services.settings)
    engine = services.db.engine
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        result = checkpoints.verify_ledger(conn, trusted)
    chain = result.chain
    return VerifyOut(
        ok=result.ok,
        events_checked=chain.events_checked,
        head_seq=chain.head_seq,
        head_hash=chain.head_hash,
        first_bad_seq=result.first_bad_seq,
        problem=result.problem,
        checkpoints_checked=result.checkpoints_checked,
    )


@router.get("/ledger/checkpoints")
def list_checkpoints(
    _: Auditor, session: SessionDep, settings: SettingsDep, after: After = 0, limit: Limit = 100
) -> CheckpointPage:
    """Signed checkpoints, oldest first. Save them (or this page) for `verify-export --checkpoint`."""
    trusted = trusted_public_key(settings)
    items, next_after = checkpoints.page(session, after, limit)
    return CheckpointPage(
        items=[
            CheckpointOut(
                id=ident,
                **cp.to_json(),
                trusted=None if trusted is None else checkpoints.check_signature(cp, trusted) is None,
            )
            for ident, cp in items
        ],
        next_after=next_after,
    )


@router.get("/summary")
def daily_summary(
    _: Auditor,
    session: SessionDep,
    now: NowDep,
    since: Annotated[UtcDay | None, Query(description="First day (UTC), default 29 days before `until`.")] = None,
    until: Annotated[UtcDay | None, Query(description="Last day (UTC), inclusive; default today.")] = None,
) -> SummaryOut:
    """Per UTC day: grants, refusals, withdrawals, expiries and erasures, and active consents per purpose.

    Rule beyond the schema (422 when broken): `since` is not after `until`, and they are at most 366 days apart.
    """
    last = until or now.date()
    first = since or last - timedelta(days=29)
    if first > last:
        raise InvalidInput("since must not be after until")
    if (last - first).days >= MAX_SUMMARY_DAYS:
        raise InvalidInput(f"at most {MAX_SUMMARY_DAYS} days at a time")
    purposes = notices.purposes_of(notices.current(session))
    days = summary.summary(session, first, last, purposes)
    return SummaryOut(
        since=first,
        until=last,
        days=[
            DayOut(
                day=d.day,
                events=d.events,
                purposes={p: PurposeDayOut.model_validate(v, from_attributes=True) for p, v in d.purposes.items()},
            )
            for d in days
        ],
    )


@router.get("/processing-record")
def processing(
    _: Auditor, session: SessionDep, settings: SettingsDep, now: NowDep, request: Request
) -> ProcessingRecordOut:
    """The GDPR Art. 30 record of this processing, generated from the running configuration and the notices."""
    document = processing_record.record(session, settings, now)
    return ProcessingRecordOut.model_validate({**document, "dpv_context": records.context_url(request)})


@router.get("/access-log")
def access_log(
    _: Auditor,
    session: SessionDep,
    after: After = 0,
    limit: Limit = 100,
    since: Annotated[UtcTime | None, Query()] = None,
    until: Annotated[UtcTime | None, Query()] = None,
    key_id: Annotated[str | None, Query(pattern=r"^[0-9a-f]{12}$")] = None,
    status: Annotated[
        list[HttpStatus] | None, Query(description="Only calls answered with these statuses (repeatable).")
    ] = None,
) -> AccessPage:
    """Who (which key; none for a call without a valid key) called which audit route, when, and with what
    outcome (the HTTP status: refusals are logged too); this call included."""
    rows, next_after = audit.access_page(session, since, until, key_id, after, limit, tuple(status or ()))
    return AccessPage(items=[AccessOut.model_validate(r, from_attributes=True) for r in rows], next_after=next_after)
