"""geo-offers demo seed: load the demo data and print keys to try the API with."""

from __future__ import annotations

import sys

import typer

from geo_offers import demo
from geo_offers.kit.clock import utc_now
from geo_offers.kit.database import open_database
from geo_offers.settings import Settings

group = typer.Typer(name="demo", help="Demo data to try the API with.", no_args_is_help=True)


@group.command("seed")
def seed() -> int:
    """Load the demo data; prints four fresh demo API keys.

    Loads the demo notice, merchants, stores and deals once (a second run only prints new keys).
    """
    settings = Settings()
    with open_database(settings) as database, database.transaction() as session:
        seeded, issued = demo.seed(session, settings, utc_now())
    if seeded.loaded:
        print(f"demo data loaded: {seeded.stores} stores, {seeded.deals} deals", file=sys.stderr)
    else:
        print("demo data already present", file=sys.stderr)
    print(f"privacy notice version {seeded.notice_version} is current", file=sys.stderr)
    print("Demo API keys (shown once; paste one into /docs -> Authorize):")
    for role, key in (
        ("app", issued.app),
        ("merchant", issued.merchant),
        ("dpo", issued.dpo),
        ("admin", issued.admin),
    ):
        print(f"  {role:<9}{key}")
    return 0
