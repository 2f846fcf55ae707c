"""The GDPR Art. 30 record of processing activities, generated from the running configuration and the notices.

Nothing here is typed by hand per deployment except the controller and DPO contact settings: purposes come from
the current notice, periods and limits from the settings, so the record cannot drift from what the service does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent import notices
from consent.models import Notice
from geo_offers.compliance import dpv_terms
from geo_offers.compliance.signing import trusted_public_key
from geo_offers.settings import Settings

LEGAL_BASIS = "consent, GDPR Art. 6(1)(a), given per purpose (Art. 7); location data per EDPB guidelines 04/2020"


def _categories(settings: Settings) -> list[dict[str, str]]:
    consent = settings.consent
    return [
        {
            "category": "installation pseudonym",
            "detail": "HMAC-SHA256 of the app's random installation id under a secret pepper; the id itself is "
            "never stored",
        },
        {
            "category": "consent decisions",
            "detail": "per purpose: granted, refused, withdrawn or expired, with times, notice version, locale, "
            "where in the app it was decided and whether Global Privacy Control was sent",
        },
        {
            "category": "coarse location",
            "detail": f"an H3 cell of resolution {consent.default_precision_res} by default and never finer than "
            f"{consent.max_precision_res}, used for the one request and not stored; a lat/lon is snapped to it "
            "at once",
        },
        {
            "category": "anonymous statistics",
            "detail": f"counters per deal or coarse cell and hour, no subject; published from {settings.k_anonymity} "
            "events up",
        },
    ]


def _recipients() -> list[dict[str, str]]:
    return [
        {"recipient": "the person, through the app", "receives": "own consent state, ledger events, export"},
        {"recipient": "merchants (stores)", "receives": "aggregated, k-anonymous counts only; never a subject"},
        {"recipient": "data-protection officer", "receives": "the consent ledger, exports, integrity proofs"},
    ]


def _retention(settings: Settings) -> list[dict[str, str]]:
    consent = settings.consent
    return [
        {"data": "active consent", "period": f"until withdrawn, or {consent.consent_lifetime_days} days"},
        {"data": "a refusal", "period": f"remembered {consent.ask_again_after_days} days so the app does not nag"},
        {
            "data": "consent ledger events",
            "period": "kept as proof of consent for the life of the service; after erasure no longer linkable "
            "to the person",
        },
        {"data": "anonymous statistics", "period": f"{settings.retention_days} days"},
        {"data": "coarse location of a request", "period": "not stored"},
        {"data": "audit access log", "period": "kept as evidence of who read audit data"},
    ]


def _measures(settings: Settings) -> list[str]:
    consent = settings.consent
    pinned = trusted_public_key(settings)
    signing = (
        "ledger checkpoints signed with Ed25519, key kept outside the database"
        + (" (published key pinned)" if pinned is not None else "")
        if settings.ledger_signing_key_file is not None or settings.ledger_signing_key is not None or pinned
        else "ledger checkpoints: no signing key configured"
    )
    return [
        "pseudonymisation: subject ids only as keyed HMAC-SHA256"
        + (" (WARNING: development pepper in use)" if consent.uses_dev_pepper else ""),
        f"data minimisation: location precision ceiling H3 resolution {consent.max_precision_res}, "
        "coordinates never stored or logged",
        f"k-anonymity: no published figure below {settings.k_anonymity} events; differential-privacy "
        f"epsilon {settings.dp_epsilon}",
        "consent ledger append-only in the database (trigger and privileges) and SHA-256 hash-chained",
        signing,
        "erasure deletes the pseudonym-to-ledger-tag link and the current state in one transaction",
        f"least privilege: the service runs as database role {settings.database_role or '(login role)'}",
        "API keys stored only as hashes, compared in constant time, revocable; every audit read is logged",
    ]


def record(session: Session, settings: Settings, now: datetime) -> dict[str, Any]:
    """The record as a JSON-ready document."""
    current = notices.current(session)
    versions = session.execute(
        select(Notice.version, Notice.published_at, Notice.sha256, Notice.fresh_consent_for).order_by(Notice.version)
    ).all()
    return {
        "generated_at": now,
        "controller": settings.controller or "not configured (GEO_OFFERS_CONTROLLER)",
        "dpo_contact": settings.dpo_contact or "not configured (GEO_OFFERS_DPO_CONTACT)",
        "processing": "matching a consenting app user's coarse location to nearby offers; anonymous statistics",
        "legal_basis": LEGAL_BASIS,
        "data_subjects": "users of the mobile app who opted in to at least one purpose",
        "purposes": [
            {"id": p["id"], "title": p["title"], "description": p["description"]} for p in current.content["purposes"]
        ],
        "current_notice_version": current.version,
        "data_categories": _categories(settings),
        "recipients": _recipients(),
        "transfers_to_third_countries": "none by the service",
        "retention": _retention(settings),
        "technical_measures": _measures(settings),
        "processes": dpv_terms.process_nodes(settings, current.content),
        "notice_versions": [
            {
                "version": v.version,
                "published_at": v.published_at,
                "sha256": bytes(v.sha256).hex(),
                "fresh_consent_for": list(v.fresh_consent_for),
            }
            for v in versions
        ],
    }
