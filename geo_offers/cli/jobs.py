"""Periodic jobs: consent expiry and retention of insight counters."""

from __future__ import annotations

import argparse
from typing import Any

from consent import expiry
from geo_offers.codes import repository as codes
from geo_offers.insights import retention
from geo_offers.kit.clock import utc_now
from geo_offers.kit.database import open_database
from geo_offers.settings import Settings


def register(groups: Any) -> None:
    """Add the ``consent`` and ``retention`` command groups."""
    consent = groups.add_parser("consent", help="consent jobs").add_subparsers(dest="action", required=True)
    expire = consent.add_parser("expire", help="write expiry events for consents past their time; print a summary")
    expire.set_defaults(handler=_expire)
    keep = groups.add_parser("retention", help="retention jobs").add_subparsers(dest="action", required=True)
    roll = keep.add_parser(
        "run",
        help="roll hourly insight counters past the retention window into daily ones, delete expired ones, "
        "void unclaimed one-time codes of ended deals",
    )
    roll.set_defaults(handler=_retention)


def _expire(args: argparse.Namespace) -> int:
    with open_database(Settings()) as db:
        report = expiry.expire_due(db.sessions, utc_now())
    per_purpose = ", ".join(f"{p}: {n}" for p, n in sorted(report.purposes.items())) or "none"
    print(f"expired consents of {report.subjects} subjects in {report.events} events ({per_purpose})")
    return 0


def _retention(args: argparse.Namespace) -> int:
    settings = Settings()
    with open_database(settings) as db, db.transaction() as session:
        now = utc_now()
        report = retention.run(session, settings, now)
        voided = codes.void_ended(session, now)
    print(report.summary())
    print(f"voided {voided} one-time codes never handed out whose deals' validity is over")
    return 0
