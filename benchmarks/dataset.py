"""The benchmark dataset: merchants, stores and deals spread over Germany, bulk-loaded with COPY.

    python -m benchmarks.dataset --url postgresql://postgres@127.0.0.1:5432/geo_offers_bench --deals 1000000

Loads into an already migrated database, after whatever is there (ids continue), in one transaction: a
million deals take a few minutes on two cores, most of it H3 coverage (``benchmarks.fastcover``, the same cells
as the service's own cover) and index builds. Per million deals: 250,000 stores, 5,000 merchants, 90 % radius
areas (250 m to 5 km) and 10 % small polygons, about 40 % of deals without windows and the rest with weekly
windows of the kinds shops use (some crossing midnight), store time zone Europe/Berlin.

The load runs with ``session_replication_role = replica`` (superuser): that skips the change notifications and
the foreign-key triggers, which a million rows would otherwise fire one by one. The data is generated
consistent, and nothing is listening: load while no service runs; a service started afterwards reads the whole
index at start. The coverage table's indexes are dropped and rebuilt around the load (same names as the
migration), which is much faster than maintaining them row by row.
"""

from __future__ import annotations

import argparse
import io
import struct
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing import Pool
from typing import Any

import numpy as np
import orjson
import psycopg2
import shapely
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from benchmarks.fastcover import CellGeometry, circle_ewkb_hex, cover_circle
from benchmarks.germany import Geography
from geo_offers.places.categories import CATEGORIES
from geo_offers.places.coverage import cover

INDEX_RES = 8
DEALS_PER_STORE = 4
STORES_PER_MERCHANT = 50
CHUNK = 10_000
TIMEZONE = "Europe/Berlin"

RADII = np.array([250, 500, 1000, 2000, 3000, 5000])
RADIUS_WEIGHTS = np.array([0.2, 0.3, 0.25, 0.15, 0.07, 0.03])
POLYGON_SHARE = 0.1
STATUSES = ("active", "paused", "draft", "ended")
STATUS_WEIGHTS = np.array([0.92, 0.03, 0.03, 0.02])

_WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
_ALL_DAYS = [*_WEEKDAYS, "sat", "sun"]
#: (weight, windows): a deal without windows is live whenever it is valid.
WINDOWS: tuple[tuple[float, list[dict[str, Any]]], ...] = (
    (0.40, []),
    (0.10, [{"days": _WEEKDAYS, "start": "11:30", "end": "14:00"}]),
    (0.08, [{"days": _ALL_DAYS, "start": "16:00", "end": "19:00"}]),
    (0.07, [{"days": ["thu", "fri", "sat"], "start": "18:00", "end": "23:30"}]),
    (0.05, [{"days": ["fri", "sat"], "start": "22:00", "end": "03:00"}]),
    (0.05, [{"days": _ALL_DAYS, "start": "20:00", "end": "02:00"}]),
    (0.07, [{"days": ["sat", "sun"], "start": "09:00", "end": "18:00"}]),
    (0.06, [{"days": [*_WEEKDAYS, "sat"], "start": "07:00", "end": "10:30"}]),
    (0.08, [{"days": [*_WEEKDAYS, "sat"], "start": "09:00", "end": "20:00"}]),
    (0.04, [{"days": _WEEKDAYS, "start": "07:00", "end": "09:00"},
            {"days": _WEEKDAYS, "start": "17:00", "end": "19:00"}]),
)  # fmt: skip
_WINDOW_JSON = [orjson.dumps(w).decode() for _, w in WINDOWS]
_WINDOW_WEIGHTS = np.array([w for w, _ in WINDOWS]) / sum(w for w, _ in WINDOWS)

_STORE_WORDS = {
    "bakery": "Bäckerei", "books": "Buchhandlung", "cafe": "Café", "electronics": "Elektro", "fashion": "Mode",
    "groceries": "Markt", "health_beauty": "Drogerie", "home_garden": "Haus & Garten", "leisure": "Freizeit",
    "restaurant": "Restaurant", "services": "Service", "sports": "Sport", "toys": "Spielwaren", "other": "Laden",
}  # fmt: skip
_STREETS = ("Hauptstraße", "Bahnhofstraße", "Marktplatz", "Schillerstraße", "Gartenweg", "Lindenallee", "Ringstraße")
_OFFERS = ("2 für 1", "20 % Rabatt", "Gratis-Zugabe", "Happy Hour", "Mittagsangebot", "Treuebonus", "Wochenknaller")


@dataclass(frozen=True)
class Stores:
    """The stores deals can belong to: ids, positions, merchants, categories (index = store number)."""

    first_id: int
    lat: np.ndarray
    lon: np.ndarray
    merchant: np.ndarray
    category: np.ndarray


@dataclass(frozen=True)
class LoadStats:
    merchants: int
    stores: int
    deals: int
    cells: int
    seconds: float


def _point_hex(lat: float, lon: float) -> str:
    return struct.pack("<BIIdd", 1, 0x20000001, 4326, lon, lat).hex()


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def _progress_bar() -> Progress:
    """A progress bar on stderr: done/total, rate and time left (rich; a plain final line when not a terminal)."""
    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )


# --- deal chunks, built in worker processes -------------------------------------------------------------------

_stores: Stores | None = None
_geometry: CellGeometry | None = None


def _init_worker(stores: Stores) -> None:
    global _stores, _geometry
    _stores = stores
    _geometry = CellGeometry(INDEX_RES)


def _star_polygon(rng: np.random.Generator, lat: float, lon: float) -> shapely.MultiPolygon:
    """A small simple polygon around a store: 6 to 10 vertices at sorted angles, 150 m to 1.5 km out."""
    n = int(rng.integers(6, 11))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    reach = rng.uniform(300, 1500) * rng.uniform(0.5, 1.0, n)
    dlat = reach * np.cos(angles) / 111_195.0
    dlon = reach * np.sin(angles) / (111_195.0 * np.cos(np.radians(lat)))
    ring = [(lon + x, lat + y) for x, y in zip(dlon, dlat, strict=True)]
    return shapely.MultiPolygon([shapely.Polygon([*ring, ring[0]])])


def build_chunk(task: tuple[int, int, int, int, float]) -> tuple[str, str, int]:
    """(deals TSV, deal_cells TSV, number of cells) for deals ``first_id .. first_id + n - 1``."""
    seed, first_id, n, store_count, now = task
    assert _stores is not None and _geometry is not None
    stores, geometry = _stores, _geometry
    rng = np.random.default_rng(seed)
    store_idx = rng.integers(0, store_count, n)
    lat, lon = stores.lat[store_idx], stores.lon[store_idx]
    polygon = rng.random(n) < POLYGON_SHARE
    radius = rng.choice(RADII, n, p=RADIUS_WEIGHTS).astype(float)
    circles = circle_ewkb_hex(lat, lon, radius)
    status = rng.choice(len(STATUSES), n, p=STATUS_WEIGHTS)
    window = rng.choice(len(WINDOWS), n, p=_WINDOW_WEIGHTS)
    valid_from = now - rng.uniform(3600, 60 * 86_400, n)
    valid_until = now + rng.uniform(3 * 86_400, 120 * 86_400, n)
    odd = rng.random(n)
    expired = odd < 0.01
    valid_until[expired] = now - rng.uniform(2 * 86_400, 30 * 86_400, int(expired.sum()))
    valid_from[expired] = valid_until[expired] - 30 * 86_400
    future = (odd >= 0.01) & (odd < 0.02)
    valid_from[future] = now + rng.uniform(86_400, 10 * 86_400, int(future.sum()))
    valid_until[future] = valid_from[future] + 30 * 86_400
    quota = np.where(rng.random(n) < 0.1, rng.integers(100, 1000, n), 0)
    own_category = rng.random(n) < 0.8
    other_category = rng.integers(0, len(CATEGORIES), n)
    offer = rng.integers(0, len(_OFFERS), n)
    created = _iso(now)

    deals = io.StringIO()
    cells_out = io.StringIO()
    cell_count = 0
    for i in range(n):
        deal_id = first_id + i
        s = int(store_idx[i])
        category = CATEGORIES[int(stores.category[s] if own_category[i] else other_category[i])]
        if polygon[i]:
            area = _star_polygon(rng, float(lat[i]), float(lon[i]))
            cells = cover(area, INDEX_RES)
            area_hex = shapely.to_wkb(shapely.set_srid(area, 4326), hex=True, include_srid=True)
            kind, radius_text = "polygon", "\\N"
        else:
            cells = cover_circle(geometry, float(lat[i]), float(lon[i]), float(radius[i]))
            area_hex, kind, radius_text = circles[i], "radius", str(int(radius[i]))
        title = f"{_OFFERS[offer[i]]} #{deal_id}"
        deals.write(
            f"{deal_id}\t{int(stores.merchant[s])}\t{stores.first_id + s}\t{title}\t"
            f"Angebot für Kundinnen und Kunden in der Nähe, solange der Vorrat reicht\t{category}\t{kind}\t"
            f"{radius_text}\t{area_hex}\t{_iso(valid_from[i])}\t{_iso(valid_until[i])}\t{_WINDOW_JSON[window[i]]}\t"
            f"{STATUSES[status[i]]}\t{int(quota[i]) if quota[i] else chr(92) + 'N'}\t0\t{created}\t{created}\n"
        )
        cells_out.write("".join(f"{c}\t{deal_id}\n" for c in cells))
        cell_count += len(cells)
    return deals.getvalue(), cells_out.getvalue(), cell_count


# --- the load --------------------------------------------------------------------------------------------------

DEAL_COPY = (
    "COPY deals (id, merchant_id, store_id, title, description, category, area_kind, radius_m, area, valid_from,"
    " valid_until, windows, status, max_redemptions, redemptions, created_at, updated_at) FROM STDIN"
)
_DROP_CELL_INDEXES = """
ALTER TABLE deal_cells DROP CONSTRAINT pk_deal_cells;
DROP INDEX ix_deal_cells_deal_id;
"""
_CREATE_CELL_INDEXES = """
ALTER TABLE deal_cells ADD CONSTRAINT pk_deal_cells PRIMARY KEY (cell, deal_id);
CREATE INDEX ix_deal_cells_deal_id ON deal_cells (deal_id);
"""


def _next_id(cur: Any, table: str) -> int:
    cur.execute(f"SELECT COALESCE(max(id), 0) + 1 FROM {table}")
    value: int = cur.fetchone()[0]
    return value


def _copy(cur: Any, sql: str, text: str) -> None:
    cur.copy_expert(sql, io.StringIO(text))


def _make_stores(cur: Any, rng: np.random.Generator, count: int, merchants: int, geo: Geography) -> Stores:
    first_merchant = _next_id(cur, "merchants")
    _copy(
        cur,
        "COPY merchants (id, name) FROM STDIN",
        "".join(f"{first_merchant + m}\tBenchmark-Händler {first_merchant + m}\n" for m in range(merchants)),
    )
    first_store = _next_id(cur, "stores")
    points = geo.sample(rng, count)
    merchant = first_merchant + rng.integers(0, merchants, count)
    category = rng.integers(0, len(CATEGORIES), count)
    street = rng.integers(0, len(_STREETS), count)
    number = rng.integers(1, 200, count)
    rows = io.StringIO()
    for i in range(count):
        lat, lon = float(points[i, 0]), float(points[i, 1])
        name = CATEGORIES[category[i]]
        rows.write(
            f"{first_store + i}\t{int(merchant[i])}\t{_STORE_WORDS[name]} {first_store + i}\t"
            f"{_STREETS[street[i]]} {number[i]}, {geo.city_of(lat, lon)}\t{_point_hex(lat, lon)}\t{TIMEZONE}\t"
            f"{{{name}}}\n"
        )
    columns = "id, merchant_id, name, address, location, timezone, categories"
    _copy(cur, f"COPY stores ({columns}) FROM STDIN", rows.getvalue())
    return Stores(first_store, points[:, 0].copy(), points[:, 1].copy(), merchant, category)


def _chunks(
    seed: int, first_id: int, deals: int, stores: int, now: float
) -> Iterator[tuple[int, int, int, int, float]]:
    for k, start in enumerate(range(0, deals, CHUNK)):
        yield seed * 1_000_003 + k, first_id + start, min(CHUNK, deals - start), stores, now


def deal_count(url: str) -> int:
    """How many deals the database holds."""
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM deals")
        row = cur.fetchone()
    return int(row[0]) if row else 0


def load(url: str, deals: int, *, seed: int = 1, jobs: int = 2, now: datetime | None = None) -> LoadStats:
    """Add ``deals`` deals (and their stores and merchants) to a migrated database, in one transaction."""
    started = time.monotonic()
    moment = (now or datetime.now(UTC)).timestamp()
    rng = np.random.default_rng(seed)
    store_count = max(1, deals // DEALS_PER_STORE)
    merchant_count = max(1, store_count // STORES_PER_MERCHANT)
    conn = psycopg2.connect(url)
    cells_total = 0
    try:
        with conn.cursor() as cur:
            cur.execute("SET session_replication_role = replica")
            cur.execute("SET maintenance_work_mem = '512MB'")
            stores = _make_stores(cur, rng, store_count, merchant_count, Geography())
            sys.stderr.write(f"[stores] {store_count:,} stores of {merchant_count:,} merchants\n")
            cur.execute(_DROP_CELL_INDEXES)
            first_deal = _next_id(cur, "deals")
            done = 0
            with Pool(jobs, initializer=_init_worker, initargs=(stores,)) as pool, _progress_bar() as bar:
                task = bar.add_task("[deals]", total=deals)
                for deal_rows, cell_rows, cells in pool.imap(
                    build_chunk, _chunks(seed, first_deal, deals, store_count, moment)
                ):
                    _copy(cur, DEAL_COPY, deal_rows)
                    _copy(cur, "COPY deal_cells (cell, deal_id) FROM STDIN", cell_rows)
                    done += deal_rows.count("\n")
                    cells_total += cells
                    bar.update(task, completed=done)
            sys.stderr.write(f"[index] rebuilding the coverage indexes over {cells_total:,} new cells\n")
            cur.execute(_CREATE_CELL_INDEXES)
            for table in ("merchants", "stores", "deals"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
    finally:
        conn.close()
    analyze(url)
    return LoadStats(merchant_count, store_count, deals, cells_total, time.monotonic() - started)


def analyze(url: str) -> None:
    """VACUUM ANALYZE the loaded tables, so plans and index-only scans are what production would see."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for table in ("merchants", "stores", "deals", "deal_cells"):
                cur.execute(f"VACUUM ANALYZE {table}")
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    """Command line: load N deals into a migrated database."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="superuser URL of a migrated database")
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2, help="processes computing coverage")
    args = parser.parse_args(argv)
    stats = load(args.url, args.deals, seed=args.seed, jobs=args.jobs)
    print(
        f"loaded {stats.deals:,} deals ({stats.cells:,} coverage cells), {stats.stores:,} stores, "
        f"{stats.merchants:,} merchants in {stats.seconds:,.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
