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
            "detail": f"counters of people per deal or coarse cell and hour, no subject: a person adds at most one to "
            f"a figure per hour in each of the {settings.counting_bound} processes that may count them (P), "
            "de-duplicated in memory under a random key replaced every hour and never written; a figure is "
            f"published only when one of its hours counted k x P = {settings.k_anonymity * settings.counting_bound} "
            f"(at least k = {settings.k_anonymity} people), with differential-privacy noise of epsilon "
            f"{settings.dp_epsilon} per release, protecting a person per hour of activity",
        },
    ]


def _recipients() -> list[dict[str, str]]:
    return [
        {"recipient": "the person, through the app", "receives": "own consent state, ledger events, export"},
        {
            "recipient": "merchants (stores)",
            "receives": "aggregated counts of people (k-anonymous, noised); never a subject",
        },
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
        f"statistics count people: at most one per person, figure and hour in each counting process (P = "
        f"{settings.counting_bound}), de-duplicated in memory only under an hourly random key; no published figure "
        f"rests on fewer than {settings.k_anonymity} people; differential-privacy epsilon {settings.dp_epsilon} per "
        "release, per person and hour of activity",
        "consent ledger append-only in the database (trigger and privileges) and SHA-256 hash-chained",
        signing,
        "erasure deletes the pseudonym-to-ledger-tag link and the current state in one transaction",
        f"least privilege: the service runs as database role {settings.database_role or '(login role)'}",
        "API keys stored only as hashes, compared in constant time, revocable; every audit read is logged",
    ]


def statistics_privacy(settings: Settings) -> dict[str, Any]:
    """The rules of the published statistics, as every insight answer's `privacy` object states them."""
    bound = settings.counting_bound
    return {
        "unit": "one person's activity in one UTC hour",
        "k_people": settings.k_anonymity,
        "counting_processes": bound,
        "threshold": settings.k_anonymity * bound,
        "epsilon_per_release": settings.dp_epsilon,
        "deduplication": "in memory only: HMAC-SHA256 of the subject id under a random key replaced at every UTC "
        "hour, together with everyone seen under it; never written",
    }


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
        "statistics_privacy": statistics_privacy(settings),
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
