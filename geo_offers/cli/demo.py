"""``geo-offers demo seed``: load the demo data and print keys to try the API with."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from geo_offers import demo
from geo_offers.kit.clock import utc_now
from geo_offers.kit.database import open_database
from geo_offers.settings import Settings


def register(groups: Any) -> None:
    """Add the ``demo`` command."""
    cmd = groups.add_parser("demo", help="demo data").add_subparsers(dest="action", required=True)
    seed = cmd.add_parser("seed", help="load demo merchants, stores and deals; print fresh demo keys")
    seed.set_defaults(handler=_seed)


def _seed(args: argparse.Namespace) -> int:
    settings = Settings()
    with open_database(settings) as db, db.transaction() as session:
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
