"""What a competent engineer would write without our index: two single-query matches, timed in PostgreSQL.

    python -m benchmarks.baselines [--deals 1000000] [--clients 4] [--seconds 10] [--runs 3] [--reuse]

The database-side ceiling of each query, with pgbench (prepared statements, ``--clients`` clients), on the
benchmark dataset, for resolution-7 cells drawn at store locations (20,000 of them, in a helper table the
script adds):

- **coverage B-tree**: the deals whose resolution-8 coverage holds one of the cell's seven children
  (``deal_cells.cell = ANY(children)``, the B-tree the service writes anyway), live now, ranked by distance from
  the cell centre to the store in SQL, first 20;
- **GiST area**: the deals whose area contains the cell centre (``ST_Intersects`` on the GiST index of
  ``deals.area``), live now, ranked the same way.

These are the alternatives to the in-memory index; compare their transactions per second with the match
throughput of ``benchmarks.match`` through the whole application (HTTP, auth, consent gate, counting).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import h3.api.basic_int as h3
import numpy as np
import psycopg2
from psycopg2.extras import execute_values

from benchmarks import dataset, report
from benchmarks.latency import deals_in
from benchmarks.service import drop_database, fresh_database
from benchmarks.service import url_of as database_url

CELLS = 20_000
_LIVE = """
       d.status = 'active' AND d.valid_from <= now() AND d.valid_until > now()
   AND (d.max_redemptions IS NULL OR d.redemptions < d.max_redemptions)
"""
_DISTANCE = "ST_Distance(s.location::geography, ST_SetSRID(ST_MakePoint(b.lon, b.lat), 4326)::geography)"
QUERIES = {
    "coverage B-tree": f"""
\\set i random(1, {CELLS})
SELECT d.id, min({_DISTANCE}) AS metres
  FROM bench_cells b
  JOIN deal_cells c ON c.cell = ANY(b.children)
  JOIN deals d ON d.id = c.deal_id
  JOIN stores s ON s.id = d.store_id
 WHERE b.id = :i AND {_LIVE}
 GROUP BY d.id
 ORDER BY metres
 LIMIT 20;
""",
    "GiST area": f"""
\\set i random(1, {CELLS})
SELECT d.id, {_DISTANCE} AS metres
  FROM bench_cells b
  JOIN deals d ON ST_Intersects(d.area, ST_SetSRID(ST_MakePoint(b.lon, b.lat), 4326))
  JOIN stores s ON s.id = d.store_id
 WHERE b.id = :i AND {_LIVE}
 ORDER BY metres
 LIMIT 20;
""",
}


def add_cells(url: str, seed: int = 21) -> None:
    """The helper table of sample cells: resolution-7 cells of random stores, their children and centre."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS bench_cells")
            cur.execute("CREATE TABLE bench_cells (id int PRIMARY KEY, children bigint[], lon float8, lat float8)")
            cur.execute(f"SELECT ST_Y(location), ST_X(location) FROM stores ORDER BY random() LIMIT {CELLS}")
            stores = cur.fetchall()
            rng = np.random.default_rng(seed)
            rows = []
            for n, index in enumerate(rng.integers(0, len(stores), CELLS), 1):
                lat, lon = stores[int(index)]
                cell = h3.latlng_to_cell(lat, lon, 7)
                centre_lat, centre_lon = h3.cell_to_latlng(cell)
                rows.append((n, [int(c) for c in h3.cell_to_children(cell, 8)], centre_lon, centre_lat))
            execute_values(cur, "INSERT INTO bench_cells VALUES %s", rows)
            cur.execute("ANALYZE bench_cells")
        conn.commit()
    finally:
        conn.close()


def pgbench(url: str, script: str, *, clients: int, seconds: float) -> float:
    """Transactions per second of one pgbench run of ``script`` (prepared statements)."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
        path = f.name
    try:
        done = subprocess.run(
            ["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(clients, 2)), "-T",
             str(int(seconds)), "-f", path, url],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    finally:
        Path(path).unlink()
    found = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", done.stdout)
    if found is None:
        raise RuntimeError(f"pgbench said:\n{done.stdout}\n{done.stderr}")
    return float(found.group(1))


def main(argv: list[str] | None = None) -> int:
    """Run the baselines."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", default="geo_offers_bench_latency", help="shared with benchmarks.latency")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="use the database as it is if it holds the deals")
    args = parser.parse_args(argv)
    url = database_url(args.database)
    if not (args.reuse and deals_in(url) >= args.deals):
        url = fresh_database(args.database)
        stats = dataset.load(url, args.deals, seed=args.deals)
        print(f"loaded {stats.deals:,} deals ({stats.cells:,} cells) in {stats.seconds:.0f} s", file=sys.stderr)
    try:
        add_cells(url)
        rates: dict[str, list[float]] = {name: [] for name in QUERIES}
        for script in QUERIES.values():
            pgbench(url, script, clients=args.clients, seconds=3)  # warm the caches
        for _ in range(args.runs):
            for name, script in QUERIES.items():
                rates[name].append(pgbench(url, script, clients=args.clients, seconds=args.seconds))
        print(f"\n== single-query matches in PostgreSQL: {args.deals:,} deals, pgbench -M prepared -c {args.clients}")
        for name, values in rates.items():
            print(f"  {name:<18} {report.spread(values)} transactions/s")
        path = report.save("baselines", {"args": vars(args), "tps": rates, "medians": {
            name: statistics.median(values) for name, values in rates.items()
        }})  # fmt: skip
        print(f"\nraw figures: {path}")
    finally:
        if not args.keep:
            drop_database(args.database)
    return 0


if __name__ == "__main__":
    sys.exit(main())
