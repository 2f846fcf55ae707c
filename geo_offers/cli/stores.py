"""``geo-offers stores import FILE --merchant M``: the bulk import of ``POST /v1/stores/import`` from a file."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from consent.errors import NotFound
from geo_offers.kit.clock import utc_now
from geo_offers.kit.database import open_database
from geo_offers.places.stores import importer as store_import
from geo_offers.settings import Settings
from geo_offers.tenants.models import Merchant

EXIT_SOME_FAILED = 3


def register(groups: Any) -> None:
    """Add the ``stores`` command."""
    stores = groups.add_parser("stores", help="stores").add_subparsers(dest="action", required=True)
    imp = stores.add_parser(
        "import",
        help="import stores from GeoJSON or CSV (by file extension); prints the new store ids, one per line",
        description="Valid rows go in as one transaction; failed rows are listed on stderr with their reasons "
        f"and the exit status is {EXIT_SOME_FAILED} when any row failed.",
    )
    imp.add_argument("file", type=Path)
    imp.add_argument("--merchant", type=int, required=True, help="the merchant that owns the stores")
    imp.set_defaults(handler=_import)


class ProgressBar:
    """A one-line progress bar on stderr."""

    def __init__(self, label: str, width: int = 30) -> None:
        self.label = label
        self.width = width
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        filled = self.width * done // max(total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        end = "\n" if done >= total else ""
        print(f"\r{self.label} [{bar}] {done}/{total}", end=end, file=sys.stderr, flush=True)


def _import(args: argparse.Namespace) -> int:
    data = args.file.read_bytes()
    kind = store_import.kind_of(None, args.file.name)
    with open_database(Settings()) as db, db.transaction() as session:
        if session.scalar(select(Merchant.id).where(Merchant.id == args.merchant)) is None:
            raise NotFound(f"merchant {args.merchant} not found")
        outcome = store_import.import_stores(
            session, args.merchant, data, kind, utc_now(), progress=ProgressBar("importing stores")
        )
    for row, errors in outcome.failed:
        print(f"row {row}: {'; '.join(errors)}", file=sys.stderr)
    print(f"imported {len(outcome.store_ids)} stores, {len(outcome.failed)} rows failed", file=sys.stderr)
    sys.stdout.write("".join(f"{store_id}\n" for store_id in outcome.store_ids))
    return EXIT_SOME_FAILED if outcome.failed else 0
