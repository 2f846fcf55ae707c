"""HTTP routes of the consent service, built against dependencies the host application provides.

``consent`` does not know how callers authenticate or where sessions come from: the app hands in a ``Ports``
of FastAPI dependencies (each caller dependency admits only its role and returns an object with ``key_id``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Response, status
from sqlalchemy.orm import Session
from starlette.convertors import Convertor, register_url_convertor

from consent import decisions, notices
from consent.decisions import Decision, DecisionWriter, Receipt
from consent.decisions.writer import Decide
from consent.models import Notice
from consent.pseudonyms import pseudonym
from consent.records.lifecycle import record_id
from consent.schemas import (
    DeclineBody,
    GrantBody,
    LedgerPosition,
    NoticeCreate,
    NoticeDocumentOut,
    NoticeOut,
    PurposeOut,
    PurposeStateOut,
    ReceiptOut,
    RecordLink,
    SubjectId,
    SubjectStateOut,
    WithdrawBody,
)
from consent.settings import ConsentSettings


@dataclass(frozen=True)
class Ports:
    """FastAPI dependencies supplied by the host app."""

    session: Callable[..., Any]
    settings: Callable[..., Any]
    now: Callable[..., Any]
    app_caller: Callable[..., Any]
    admin_caller: Callable[..., Any]
    notice_reader: Callable[..., Any]
    writer: Callable[..., Any]


async def _decide(writer: DecisionWriter, settings: ConsentSettings, subject_id: str, decide: Decide) -> Receipt:
    """Hand a decision to the process's group-commit writer; its receipt once the commit is durable."""
    order = pseudonym(settings.pepper.get_secret_value(), subject_id)
    return await asyncio.wrap_future(writer.submit(decide, order))


class SubjectSegment(Convertor[str]):
    """A path segment that may be a subject id: anything but a lower-case word, which names an action.

    Without it ``GET /v1/consents/decline`` reached the subject route (a 422 for the id "decline") where the
    decline action's resource should answer 405. Every id, valid or not (an e-mail address, a phone number),
    still reaches the route and its check.
    """

    regex = "[^/]*[^a-z/][^/]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("subject", SubjectSegment())


def _gpc(value: str | None) -> bool:
    return value is not None and value.strip() == "1"


def receipt_out(receipt: Receipt, subject_id: str) -> ReceiptOut:
    """The API form of a receipt, linked to the consent records (ISO/IEC TS 27560) it opened."""
    opened = [] if receipt.event == "withdraw" else [*receipt.purposes, *receipt.declined_purposes]
    link = f"/v1/consents/{subject_id}/record"
    return ReceiptOut(
        consent_id=receipt.consent_id,
        event=receipt.event,
        purposes=receipt.purposes,
        declined_purposes=receipt.declined_purposes,
        precision_res=receipt.precision_res,
        notice_version=receipt.notice_version,
        notice_sha256=receipt.notice_sha256,
        recorded_at=receipt.recorded_at,
        granted_at=receipt.recorded_at if receipt.event == "grant" else None,
        expires_at=receipt.expires_at,
        ask_again_after=receipt.ask_again_after,
        gpc_seen=receipt.gpc_seen,
        replayed=receipt.replayed,
        ledger=LedgerPosition(seq=receipt.seq, hash=receipt.hash),
        records=[
            RecordLink(purpose=p, record_id=f"urn:uuid:{record_id(receipt.consent_id, p)}") for p in sorted(opened)
        ],
        record_url=f"{link}?consent_id={receipt.consent_id}" if opened else link,
    )


def notice_out(notice: Notice, locale: str | None) -> NoticeOut:
    """A notice in one locale (the requested one, its language, or the first offered)."""
    content = notice.content
    locales = sorted(content["texts"])
    chosen = locale if locale in locales else (locale or "").split("-")[0]
    if chosen not in locales:
        chosen = locales[0]
    return NoticeOut(
        version=notice.version,
        published_at=notice.published_at,
        sha256=notice.sha256.hex(),
        locale=chosen,
        locales=locales,
        text=content["texts"][chosen],
        purposes=[
            PurposeOut(id=p["id"], title=p["title"][chosen], description=p["description"][chosen])
            for p in content["purposes"]
        ],
        fresh_consent_for=list(notice.fresh_consent_for),
    )


GPC_HEADER = Header(alias="Sec-GPC", description="Global Privacy Control; `1` refuses unnamed purposes.")


def build_router(ports: Ports) -> APIRouter:
    """The ``/v1/notices`` and ``/v1/consents`` routes."""
    router = APIRouter(prefix="/v1")
    session_dep = Depends(ports.session, scope="function")

    @router.get("/notices/current", tags=["notices"])
    def current_notice(
        _: Any = Depends(ports.app_caller),
        session: Session = session_dep,
        locale: Annotated[str | None, Query(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")] = None,
    ) -> NoticeOut:
        """The notice to show before asking: version, purposes, locales, text and hash."""
        return notice_out(notices.current(session), locale)

    @router.get("/notices/{version}", tags=["notices"])
    def notice_document(
        version: Annotated[int, Path(ge=1, le=2_000_000_000)],
        _: Any = Depends(ports.notice_reader),
        session: Session = session_dep,
    ) -> NoticeDocumentOut:
        """The exact published document of a version, to prove what a person saw."""
        notice = notices.get(session, version)
        return NoticeDocumentOut(version=notice.version, sha256=notice.sha256.hex(), canonical=notice.canonical)

    @router.post("/notices", tags=["notices"], status_code=status.HTTP_201_CREATED)
    def publish_notice(
        body: NoticeCreate,
        caller: Any = Depends(ports.admin_caller),
        session: Session = session_dep,
        now: datetime = Depends(ports.now),
    ) -> NoticeOut:
        """Publish the next notice version (immutable once published).

        Rules beyond the schema (422 when broken): purpose ids are unique and include location_offers and
        offer_analytics; every title and description has exactly the locales of `texts`; `fresh_consent_for`
        names purposes of this notice.
        """
        notice = notices.publish(
            session,
            [p.model_dump() for p in body.purposes],
            dict(body.texts),
            list(body.fresh_consent_for),
            caller.key_id,
            now,
        )
        return notice_out(notice, None)

    replayed: dict[int | str, dict[str, Any]] = {
        200: {"model": ReceiptOut, "description": "The earlier receipt: the request repeats the current state."}
    }

    @router.post("/consents", tags=["consents"], status_code=status.HTTP_201_CREATED, responses=replayed)
    async def grant(
        body: GrantBody,
        response: Response,
        _: Any = Depends(ports.app_caller),
        writer: DecisionWriter = Depends(ports.writer),
        settings: ConsentSettings = Depends(ports.settings),
        now: datetime = Depends(ports.now),
        sec_gpc: Annotated[str | None, GPC_HEADER] = None,
    ) -> ReceiptOut:
        """Record a person's opt-in for one or more purposes of the current notice; answers the receipt.

        201 for a new decision; 200 with the earlier receipt when the request repeats the current state.
        """
        decision = Decision(
            subject_id=body.subject_id,
            notice_version=body.notice_version,
            purposes=list(body.purposes),
            source=body.source,
            locale=body.locale,
            gpc=_gpc(sec_gpc),
            precision_res=body.precision_res,
        )
        receipt = await _decide(
            writer, settings, body.subject_id, lambda s: decisions.prepare_grant(s, settings, decision, now)
        )
        if receipt.replayed:
            response.status_code = status.HTTP_200_OK
        return receipt_out(receipt, body.subject_id)

    @router.post("/consents/decline", tags=["consents"], status_code=status.HTTP_201_CREATED, responses=replayed)
    async def decline(
        body: DeclineBody,
        response: Response,
        _: Any = Depends(ports.app_caller),
        writer: DecisionWriter = Depends(ports.writer),
        settings: ConsentSettings = Depends(ports.settings),
        now: datetime = Depends(ports.now),
        sec_gpc: Annotated[str | None, GPC_HEADER] = None,
    ) -> ReceiptOut:
        """Record a refusal, so the app does not ask again before `ask_again_after`."""
        decision = Decision(
            subject_id=body.subject_id,
            notice_version=body.notice_version,
            purposes=list(body.purposes or []),
            source=body.source,
            locale=body.locale,
            gpc=_gpc(sec_gpc),
        )
        receipt = await _decide(
            writer, settings, body.subject_id, lambda s: decisions.prepare_decline(s, settings, decision, now)
        )
        if receipt.replayed:
            response.status_code = status.HTTP_200_OK
        return receipt_out(receipt, body.subject_id)

    @router.post("/consents/withdraw", tags=["consents"])
    async def withdraw(
        body: WithdrawBody,
        _: Any = Depends(ports.app_caller),
        writer: DecisionWriter = Depends(ports.writer),
        settings: ConsentSettings = Depends(ports.settings),
        now: datetime = Depends(ports.now),
        sec_gpc: Annotated[str | None, GPC_HEADER] = None,
    ) -> ReceiptOut:
        """Withdraw some or all purposes; effective on the very next request, on every instance."""
        purposes = list(body.purposes) if body.purposes is not None else None
        gpc = _gpc(sec_gpc)
        receipt = await _decide(
            writer,
            settings,
            body.subject_id,
            lambda s: decisions.prepare_withdraw(s, settings, body.subject_id, purposes, gpc, now),
        )
        return receipt_out(receipt, body.subject_id)

    @router.get("/consents/{subject_id:subject}", tags=["consents"])
    def subject_state(
        subject_id: SubjectId,
        _: Any = Depends(ports.app_caller),
        session: Session = session_dep,
        settings: ConsentSettings = Depends(ports.settings),
        now: datetime = Depends(ports.now),
    ) -> SubjectStateOut:
        """The current state per purpose: active, withdrawn, declined, expired or none."""
        state = decisions.subject_state(session, settings, subject_id, now)
        return SubjectStateOut(
            current_notice_version=state.current_notice_version,
            purposes=[PurposeStateOut.model_validate(p, from_attributes=True) for p in state.purposes],
        )

    return router
