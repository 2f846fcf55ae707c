"""Periodic jobs: consent expiry (and, as they land, retention and ledger checkpoints)."""

from __future__ import annotations

import argparse
from typing import Any

from consent import expiry
from geo_offers.clock import utc_now
from geo_offers.db import open_database
from geo_offers.settings import Settings


def register(groups: Any) -> None:
    """Add the ``consent`` command group."""
    consent = groups.add_parser("consent", help="consent jobs").add_subparsers(dest="action", required=True)
    expire = consent.add_parser("expire", help="write expiry events for consents past their time; print a summary")
    expire.set_defaults(handler=_expire)


def _expire(args: argparse.Namespace) -> int:
    with open_database(Settings()) as db:
        report = expiry.expire_due(db.sessions, utc_now())
    per_purpose = ", ".join(f"{p}: {n}" for p, n in sorted(report.purposes.items())) or "none"
    print(f"expired consents of {report.subjects} subjects in {report.events} events ({per_purpose})")
    return 0
