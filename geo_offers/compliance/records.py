"""Consent records in the international structure (ISO/IEC TS 27560:2023 in W3C DPV terms, JSON-LD).

``GET /v1/consents/{subject_id}/record`` (app key) answers the person's consent receipt: a copy of every record
held about them. The JSON-LD context and the JSON Schema the records follow are served here too, without a key,
so a JSON-LD processor reads a record with nothing fetched from anyone else. The officer's export of the same
records is ``format=dpv`` on ``/v1/audit/consent-events/export`` (see ``audit.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.orm import Session

from consent.audit import events as audit
from consent.canonical import iso
from consent.pseudonyms import find_tag, pseudonym
from consent.records import read, vocabulary
from consent.records.jsonld import Profile, receipt_document
from consent.records.schema import SCHEMA
from consent.schemas import SubjectId
from geo_offers.compliance import dpv_terms
from geo_offers.kit.deps import AppKey, NowDep, SessionDep, SettingsDep
from geo_offers.services import Services
from geo_offers.settings import Settings

JSON_LD = "application/ld+json"

router = APIRouter(tags=["records"])


def context_url(request: Request) -> str:
    """The absolute URL of the served context, as this request reached the service."""
    return str(request.base_url).rstrip("/") + vocabulary.CONTEXT_PATH


def record_profile(request: Request, settings: Settings) -> Profile:
    """The records' profile for this deployment and this request's base URL."""
    return dpv_terms.profile(settings, context_url(request))


@router.get(
    vocabulary.CONTEXT_PATH,
    summary="The JSON-LD context of consent records",
    response_class=JSONResponse,
    responses={200: {"content": {JSON_LD: {}}}},
)
async def record_context() -> JSONResponse:
    """The `@context` every consent record and receipt names: DPV and Dublin Core prefixes and the types of the
    terms used. Served by the service itself so reading a record needs nothing from a third party."""
    return JSONResponse(vocabulary.CONTEXT, media_type=JSON_LD, headers={"Cache-Control": "public, max-age=86400"})


@router.get(vocabulary.SCHEMA_PATH, summary="The JSON Schema of consent records and receipts")
async def record_schema() -> dict[str, Any]:
    """A JSON Schema (2020-12) of the records and receipts, written from the ISO/IEC TS 27560 to DPV mapping."""
    return SCHEMA


@router.get(
    "/v1/consents/{subject_id}/record",
    tags=["consents"],
    response_class=JSONResponse,
    responses={200: {"content": {JSON_LD: {}}, "description": "A dpv:ConsentReceipt holding the records."}},
)
def consent_record(
    subject_id: SubjectId,
    request: Request,
    _: AppKey,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    consent_id: Annotated[
        uuid.UUID | None,
        Query(description="Only the records of this decision (the `consent_id` of a grant or refusal receipt)."),
    ] = None,
) -> JSONResponse:
    """The person's consent records after ISO/IEC TS 27560:2023 in W3C DPV terms (JSON-LD), as a consent receipt:
    one record per purpose decision, with the notice (version, SHA-256, language), the controller, the
    pseudonymous principal (the random ledger tag), every state (given, refused, withdrawn, expired) with when, by
    whom and how, and the ledger event (sequence number and chain hash) that proves it. Nothing held: no records.
    """
    tag = find_tag(session, pseudonym(settings.consent.pepper.get_secret_value(), subject_id))
    known = read.notices(session)
    records = read.subject_records(session, tag, known, now) if tag is not None else []
    if consent_id is not None:
        records = [r for r in records if r.decision_id == consent_id]
    document = receipt_document(records, record_profile(request, settings), known, now)
    return JSONResponse(document, media_type=JSON_LD)


def officer_export(
    request: Request, session: Session, services: Services, wanted: audit.EventFilter, now: datetime
) -> StreamingResponse:
    """The officer's ``format=dpv`` export: ``{"@context", "@graph": [records]}``, streamed subject by subject."""
    settings = services.settings
    where = audit.conditions(session, settings.consent.pepper.get_secret_value(), wanted)
    known = read.notices(session)
    profile = record_profile(request, settings)
    engine = services.db.engine

    def chunks() -> Iterator[bytes]:
        with engine.connect() as connection:
            nodes = read.stream_records(connection, where, wanted, profile, known, now)
            yield from read.graph_chunks(nodes, profile.context_url)

    stamp = iso(now)[:19].replace(":", "").replace("-", "")
    headers = {"Content-Disposition": f'attachment; filename="consent-records-{stamp}.jsonld"'}
    return StreamingResponse(chunks(), media_type=JSON_LD, headers=headers)
