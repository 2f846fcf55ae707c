"""Match latency at a given rate, the way apps load the service: open loop at 25, 50 and 75 % of saturation.

    python -m benchmarks.latency [--deals 1000000] [--seconds 20] [--runs 3] [--database NAME --keep|--reuse]

Loads the benchmark dataset (or reuses a database kept by an earlier run with ``--reuse``), grants 2,000
subjects both purposes (so every match is counted, as in production), starts the service with 2 workers, finds
the saturation throughput of ``POST /v1/offers/match`` with wrk (closed loop, 32 connections, median of
``--runs``), then sends matches at fixed rates of 25, 50 and 75 % of it with the open-loop client
(``benchmarks.openloop``: latency counted from when each request was due, no coordinated omission) and prints
p50/p99/p99.9 per rate, median of ``--runs`` with the spread. The target: p99 under 10 ms at 50 %.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import psycopg2

from benchmarks import dataset, openloop, report, subjects, wrk
from benchmarks.match import match_bodies
from benchmarks.service import Service, drop_database, fresh_database
from benchmarks.service import url_of as database_url

TARGET_P99_MS_AT_HALF = 10.0
SHARES = (0.25, 0.5, 0.75)


def deals_in(url: str) -> int:
    """How many deals a database holds (0 when it does not exist or is not migrated)."""
    try:
        conn = psycopg2.connect(url)
    except psycopg2.OperationalError:
        return 0
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM deals")
            row = cur.fetchone()
            return int(row[0]) if row else 0
    except psycopg2.Error:
        return 0
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    """Run the latency benchmark."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each fixed-rate run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8761)
    parser.add_argument("--database", default="geo_offers_bench_latency")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="use the database as it is if it holds the deals")
    args = parser.parse_args(argv)
    if not wrk.available():
        print("wrk is not installed (apt install wrk); scripts/bench installs it", file=sys.stderr)
        return 2
    url = database_url(args.database)
    if not (args.reuse and deals_in(url) >= args.deals):
        url = fresh_database(args.database)
        stats = dataset.load(url, args.deals, seed=args.deals)
        print(f"loaded {stats.deals:,} deals ({stats.cells:,} cells) in {stats.seconds:.0f} s", file=sys.stderr)
    try:
        pool = subjects.subject_ids(2000, seed=11)
        subjects.grant_all(url, pool, purposes=subjects.PURPOSES)
        token = subjects.app_key(url)
        bodies = match_bodies(pool, 20_000, seed=12)
        auth = {"Authorization": f"Bearer {token}"}
        with Service(url, port=args.port, workers=args.workers, name="latency") as service:
            wrk.post_bodies(service.base, "/v1/offers/match", bodies, token, seconds=3, connections=32)  # warm-up
            saturation = [
                wrk.post_bodies(service.base, "/v1/offers/match", bodies, token, seconds=10, connections=32)
                for _ in range(args.runs)
            ]
            ceiling = statistics.median(r.rps for r in saturation)
            runs: dict[float, list[openloop.OpenLoopResult]] = {share: [] for share in SHARES}
            for _ in range(args.runs):
                for share in SHARES:
                    runs[share].append(
                        openloop.run(
                            service.base,
                            "POST",
                            "/v1/offers/match",
                            bodies,
                            rate=ceiling * share,
                            seconds=args.seconds,
                            headers=auth,
                        )
                    )
                    time.sleep(1)
        print(f"\n== match latency at a given rate: {args.deals:,} deals, {args.workers} workers, every match counted")
        print(report.HEADER)
        print(report.row("match, saturation (wrk)", saturation))
        columns = ("answered/s", 12), ("p50 ms", 18), ("p99 ms", 20), ("p99.9 ms", 20), ("late", 6), ("5xx", 5)
        print(f"  {'rate':<28} " + " ".join(f"{name:>{width}}" for name, width in columns))
        for share in SHARES:
            results = runs[share]
            print(
                f"  {f'{share:.0%} of saturation ({ceiling * share:,.0f}/s)':<28}"
                f" {report.spread([r.achieved for r in results]):>12}"
                f" {report.spread([r.percentile(50) for r in results], '{:.2f}'):>18}"
                f" {report.spread([r.percentile(99) for r in results], '{:.2f}'):>20}"
                f" {report.spread([r.percentile(99.9) for r in results], '{:.2f}'):>20}"
                f" {sum(r.late for r in results):>6} {sum(r.errors for r in results):>5}"
            )
        half = statistics.median(r.percentile(99) for r in runs[0.5])
        print(
            f"  match p99 at 50 % of saturation = {half:.2f} ms"
            f"  (target < {TARGET_P99_MS_AT_HALF:g} ms: {report.verdict(half < TARGET_P99_MS_AT_HALF)})"
        )
        path = report.save(
            "latency",
            {
                "args": vars(args),
                "saturation": [r.__dict__ | {"rps": r.rps} for r in saturation],
                "open_loop": {
                    str(share): [
                        {
                            "rate": r.rate,
                            "achieved": r.achieved,
                            "p50_ms": r.percentile(50),
                            "p99_ms": r.percentile(99),
                            "p999_ms": r.percentile(99.9),
                            "late": r.late,
                            "errors": r.errors,
                            "statuses": r.statuses,
                        }
                        for r in results
                    ]
                    for share, results in runs.items()
                },
            },
        )
        print(f"\nraw figures: {path}")
    finally:
        if not args.keep:
            drop_database(args.database)
    return 0


if __name__ == "__main__":
    sys.exit(main())
