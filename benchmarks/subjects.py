"""Who the benchmarks act as: a published notice, API keys, and a pool of subjects that granted consent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import numpy as np

from consent import decisions, notices
from consent.decisions import Decision
from geo_offers.kit.database import Database
from geo_offers.settings import Settings
from geo_offers.tenants import keys as key_repo
from geo_offers.tenants import merchants as merchant_repo

PURPOSES = ("location_offers", "offer_analytics")


def _settings(url: str) -> Settings:
    return Settings(database_url=url, database_role="")


def subject_ids(n: int, seed: int) -> list[str]:
    """``n`` random installation ids (UUID v4), the same for the same seed."""
    rng = np.random.default_rng(seed)
    return [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n)]


def notice_version(url: str) -> int:
    """The current notice version, publishing a benchmark notice first if there is none."""
    settings = _settings(url)
    db = Database(settings)
    try:
        with db.transaction() as session:
            current = notices.current_version(session)
            if current is not None:
                return current
            purposes = [
                {"id": p, "title": {"de": p, "en": p}, "description": {"de": f"Zweck {p}", "en": f"Purpose {p}"}}
                for p in PURPOSES
            ]
            texts = {"de": "Datenschutzhinweis (Benchmark)", "en": "Privacy notice (benchmark)"}
            return notices.publish(session, purposes, texts, [], "benchmark", datetime.now(UTC)).version
    finally:
        db.dispose()


def grant_all(url: str, subjects: list[str], precision_res: int = 7, purposes: tuple[str, ...] = PURPOSES) -> None:
    """Grant ``purposes`` (default both) for every subject through the consent module (ledger events included)."""
    settings = _settings(url)
    version = notice_version(url)
    db = Database(settings)
    try:
        for start in range(0, len(subjects), 500):
            with db.transaction() as session:
                now = datetime.now(UTC)
                for subject in subjects[start : start + 500]:
                    request = Decision(
                        subject_id=subject,
                        notice_version=version,
                        purposes=list(purposes),
                        source="benchmark",
                        locale="de-DE",
                        precision_res=precision_res,
                    )
                    decisions.grant(session, settings.consent, request, now)
    finally:
        db.dispose()


def app_key(url: str) -> str:
    """A new app key."""
    db = Database(_settings(url))
    try:
        with db.transaction() as session:
            return key_repo.create_key(session, "app", label="benchmark").key
    finally:
        db.dispose()


def merchant_key(url: str) -> tuple[int, str]:
    """A new merchant and a key for it."""
    db = Database(_settings(url))
    try:
        with db.transaction() as session:
            merchant = merchant_repo.create_merchant(session, "Benchmark-Händler (live)")
            return merchant.id, key_repo.create_key(session, "merchant", merchant.id, label="benchmark").key
    finally:
        db.dispose()
