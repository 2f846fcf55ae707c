"""geo-offers stores import FILE --merchant M: the bulk import of POST /v1/stores/import from a file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from sqlalchemy import select

from consent.errors import NotFound
from geo_offers.kit.clock import utc_now
from geo_offers.kit.database import open_database
from geo_offers.places.stores import importer as store_import
from geo_offers.settings import Settings
from geo_offers.tenants.models import Merchant

EXIT_SOME_FAILED = 3

group = typer.Typer(name="stores", help="Stores: import them in bulk from a file.", no_args_is_help=True)


class ImportBar:
    """The importer's progress as one rich bar per stage (rows checked, then stores inserted), on stderr."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(stage, total=total)
        self.progress.update(self.tasks[stage], completed=done, total=total)


@group.command(
    "import",
    epilog=f"Exit status {EXIT_SOME_FAILED} when any row failed (the valid rows are imported all the same).",
)
def import_(
    file: Annotated[
        Path,
        typer.Argument(
            help="A GeoJSON FeatureCollection of Points, or a CSV with the columns name, address, lon, lat and "
            "optionally timezone and categories (separated by ;).",
            metavar="FILE",
            show_default=False,
        ),
    ],
    merchant: Annotated[int, typer.Option(metavar="ID", help="The id of the merchant that owns the stores.")],
) -> int:
    """Import stores from a GeoJSON or CSV file; prints the new store ids.

    The format follows the file's extension; the ids are printed one per line. Every row is checked on its own;
    failed rows are listed on stderr with their reasons, and the valid rows go in as one transaction.
    """
    data = file.read_bytes()
    kind = store_import.kind_of(None, file.name)
    columns = (TextColumn("{task.description:<16}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with open_database(Settings()) as database, database.transaction() as session:
        if session.scalar(select(Merchant.id).where(Merchant.id == merchant)) is None:
            raise NotFound(f"merchant {merchant} not found")
        with Progress(*columns, console=Console(stderr=True)) as progress:
            outcome = store_import.import_stores(session, merchant, data, kind, utc_now(), progress=ImportBar(progress))
    for row, errors in outcome.failed:
        print(f"row {row}: {'; '.join(errors)}", file=sys.stderr)
    rows = len(outcome.store_ids) + len(outcome.failed)
    print(f"{rows} rows: imported {len(outcome.store_ids)} stores, {len(outcome.failed)} rows failed", file=sys.stderr)
    sys.stdout.write("".join(f"{store_id}\n" for store_id in outcome.store_ids))
    return EXIT_SOME_FAILED if outcome.failed else 0
