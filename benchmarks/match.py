"""Match throughput and latency against the stack's ceiling and a naive PostGIS match, in one run.

    python -m benchmarks.match [--sizes 100000,1000000] [--seconds 10] [--runs 3]

Creates database ``geo_offers_bench_match`` (dropped first), loads the dataset size by size (each size adds to
the previous one), starts ``geo-offers serve`` with 2 workers and drives it with wrk from a separate process on
loopback (32 keep-alive connections). Per size, in rotation for ``--runs`` rounds after a warm-up:
``GET /bench/trivial`` (the ceiling), ``POST /v1/offers/match`` and ``POST /bench/naive-match`` (one ST_DWithin
query per request), each with random consenting subjects and resolution-7 cells drawn from the same
distribution as the stores. Prints medians with their spread, the ratios against the targets, each worker's
RSS and PSS (proportional set size: the shared index counts by its share) after the load, the time to ready at
the first start (one process builds the machine's index snapshot, the others map it) and after a restart (the
snapshot kept, checked and caught up). Raw figures go to .local/bench/match-*.json. ``--reuse`` keeps a database
from an earlier ``--keep`` run and loads only the deals it lacks.
"""

from __future__ import annotations

import argparse
import sys
import time

import h3.api.basic_int as h3
import numpy as np
import orjson

from benchmarks import dataset, profile, report, subjects, wrk
from benchmarks.germany import Geography
from benchmarks.service import Service, drop_database, drop_snapshots, fresh_database, url_of

TARGET_TRIVIAL_SHARE = 0.6
TARGET_NAIVE_FACTOR = 3.0
TARGET_P99_MS = 10.0
TARGET_RSS_MIB = 600.0
TARGET_PSS_MIB = 300.0
TARGET_READY_S = 15.0


def match_bodies(subject_pool: list[str], cells: int, seed: int) -> list[bytes]:
    """Match requests: a random consenting subject and a res-7 cell where people (and stores) are."""
    rng = np.random.default_rng(seed)
    points = Geography().sample(rng, cells)
    chosen = rng.integers(0, len(subject_pool), cells)
    return [
        orjson.dumps({"subject_id": subject_pool[int(s)], "cell": format(h3.latlng_to_cell(lat, lon, 7), "x")})
        for (lat, lon), s in zip(points, chosen, strict=True)
    ]


def bench_size(args: argparse.Namespace, url: str, deals: int, token: str, bodies: list[bytes]) -> dict[str, object]:
    """Start the service on the loaded database and measure the three endpoints."""
    drop_snapshots()  # the first start builds the index
    started = time.monotonic()
    service = Service(url, port=args.port, workers=args.workers, name="match")
    service.start()
    ready_s = time.monotonic() - started
    try:
        verdict = report.verdict(ready_s < TARGET_READY_S)
        print(f"\n== {deals:,} deals: ready after {ready_s:.1f} s (index in every worker; target < 15 s: {verdict})")
        runs: dict[str, list[wrk.Result]] = {"trivial": [], "match": [], "naive": []}

        def once(name: str, seconds: float) -> wrk.Result:
            c = args.connections
            if name == "trivial":
                return wrk.get(service.base, "/bench/trivial", seconds=seconds, connections=c)
            path = "/v1/offers/match" if name == "match" else "/bench/naive-match"
            return wrk.post_bodies(service.base, path, bodies, token, seconds=seconds, connections=c)

        for name in runs:
            once(name, args.warmup)
        for _ in range(args.runs):
            for name, results in runs.items():
                results.append(once(name, args.seconds))
        memory = service.memory()
        stacks = None
        if args.profile:
            stacks = profile.record(service.worker_pids()[0], args.seconds, lambda: once("match", args.seconds))
    finally:
        service.stop()
    # A restart: the snapshot the first start wrote is kept; checked, mapped and caught up.
    started = time.monotonic()
    service.start()
    restart_s = time.monotonic() - started
    restart_memory = service.memory()
    service.stop()

    def median_rps(name: str) -> float:
        return float(np.median([r.rps for r in runs[name]]))

    share = median_rps("match") / median_rps("trivial")
    factor = median_rps("match") / median_rps("naive")
    p99 = float(np.median([r.p99_ms for r in runs["match"]]))
    print(f"  {args.workers} workers, {args.connections} connections, {args.runs} x {args.seconds:g} s per endpoint")
    print(report.HEADER)
    labels = {"trivial": "GET /bench/trivial", "match": "POST /v1/offers/match", "naive": "POST /bench/naive-match"}
    for name, results in runs.items():
        print(report.row(labels[name], results))
    print(f"  match / trivial = {share:.2f}  (target >= {TARGET_TRIVIAL_SHARE}: {report.verdict(share >= 0.6)})")
    print(f"  match / naive   = {factor:.1f}  (target >= {TARGET_NAIVE_FACTOR:g}: {report.verdict(factor >= 3)})")
    print(f"  match p99       = {p99:.2f} ms  (target < {TARGET_P99_MS:g} ms: {report.verdict(p99 < 10)})")
    for m in memory:
        # The targets are with the index loaded; the peak (VmHWM) includes the load's sort buffers.
        verdict = report.verdict(m.pss_mib < TARGET_PSS_MIB)
        print(
            f"  worker {m.pid}: PSS {m.pss_mib:,.0f} MiB (target < 300: {verdict}), RSS {m.rss_mib:,.0f} MiB, "
            f"peak RSS during the load {m.hwm_mib:,.0f} MiB"
        )
    print(
        f"  restart with the snapshot kept: ready after {restart_s:.1f} s "
        f"(target < 15 s: {report.verdict(restart_s < TARGET_READY_S)}); PSS after it "
        + ", ".join(f"{m.pss_mib:,.0f}" for m in restart_memory)
        + " MiB"
    )
    if stacks is not None:
        profile.print_hotspots(stacks)
    elif args.profile:
        print("  (py-spy is not installed next to this Python: no profile)")
    return {
        "deals": deals,
        "ready_s": ready_s,
        "restart_ready_s": restart_s,
        "restart_memory": [m.__dict__ for m in restart_memory],
        "runs": {name: [r.__dict__ | {"rps": r.rps} for r in results] for name, results in runs.items()},
        "match_over_trivial": share,
        "match_over_naive": factor,
        "match_p99_ms": p99,
        "memory": [m.__dict__ for m in memory],
    }


def main(argv: list[str] | None = None) -> int:
    """Run the match benchmark."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated deal counts, ascending")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measured run")
    parser.add_argument("--warmup", type=float, default=2.0, help="length of the warm-up run per endpoint")
    parser.add_argument("--runs", type=int, default=3, help="measured runs per endpoint (median and spread)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8731)
    parser.add_argument("--subjects", type=int, default=2000, help="consenting subjects the requests cycle through")
    parser.add_argument("--cells", type=int, default=20_000, help="distinct match requests cycled through")
    parser.add_argument("--database", default="geo_offers_bench_match")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="use the database of an earlier --keep run as it is")
    parser.add_argument(
        "--without-analytics",
        action="store_true",
        help="subjects grant location_offers only, so nothing is counted (to measure what counting costs)",
    )
    parser.add_argument("--profile", action="store_true", help="also record one worker with py-spy under load")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if not wrk.available():
        print("wrk is not installed (apt install wrk); scripts/bench installs it", file=sys.stderr)
        return 2

    url = url_of(args.database) if args.reuse else fresh_database(args.database)
    try:
        pool = subjects.subject_ids(args.subjects, seed=11)
        purposes = ("location_offers",) if args.without_analytics else subjects.PURPOSES
        subjects.grant_all(url, pool, purposes=purposes)
        token = subjects.app_key(url)
        bodies = match_bodies(pool, args.cells, seed=12)
        loaded = dataset.deal_count(url) if args.reuse else 0
        results = []
        for size in sizes:
            if size > loaded:
                stats = dataset.load(url, size - loaded, seed=size)
                print(f"loaded {stats.deals:,} deals ({stats.cells:,} cells) in {stats.seconds:.0f} s", file=sys.stderr)
                loaded = size
            elif size < loaded:
                continue  # a reused database already holds more
            results.append(bench_size(args, url, size, token, bodies))
        path = report.save("match", {"args": vars(args), "sizes": results})
        print(f"\nraw figures: {path}")
    finally:
        if not args.keep:
            drop_database(args.database)
    return 0


if __name__ == "__main__":
    sys.exit(main())
