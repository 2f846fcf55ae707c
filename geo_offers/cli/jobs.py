"""Periodic jobs: consent expiry, retention of insight counters and of one-time codes."""

from __future__ import annotations

import typer

from consent import expiry
from geo_offers.codes import repository as codes
from geo_offers.insights import retention as retention_job
from geo_offers.kit.clock import utc_now
from geo_offers.kit.database import open_database
from geo_offers.settings import Settings

consent = typer.Typer(name="consent", help="Consent jobs (run daily).", no_args_is_help=True)
retention = typer.Typer(
    name="retention", help="Retention of insight counters and one-time codes (run daily).", no_args_is_help=True
)


@consent.command("expire")
def expire() -> int:
    """Expire consents past their time; prints what it did.

    Writes one expiry event per subject whose consent ran out.
    """
    with open_database(Settings()) as database:
        report = expiry.expire_due(database.sessions, utc_now())
    per_purpose = ", ".join(f"{p}: {n}" for p, n in sorted(report.purposes.items())) or "none"
    print(f"expired consents of {report.subjects} subjects in {report.events} events ({per_purpose})")
    return 0


@retention.command("run")
def run() -> int:
    """Apply the retention rules to insight counters; prints what it did.

    Rolls hourly counters past the retention window into daily ones, deletes what is past its time, and voids
    the one-time codes never handed out of deals whose validity is over.
    """
    settings = Settings()
    with open_database(settings) as database, database.transaction() as session:
        now = utc_now()
        report = retention_job.run(session, settings, now)
        voided = codes.void_ended(session, now)
    print(report.summary())
    print(f"voided {voided} one-time codes never handed out whose deals' validity is over")
    return 0
