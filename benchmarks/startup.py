"""Start-up and memory of the shared deal index, without request load: time to ready and PSS per worker.

    python -m benchmarks.startup --database geo_offers_bench_match [--workers 2] [--restarts 2]

Takes a database that already holds the deals (such as one kept by ``python -m benchmarks.match --keep``), empties
the benchmarks' snapshot directory and starts ``geo-offers serve`` (2 workers): the first start builds the
machine's index snapshot once, the workers map it. Then it restarts the service ``--restarts`` times with the
snapshot kept. Per start: seconds until ``/readyz`` answers in every worker, how many index builds and snapshot
mappings the workers report (``/metrics``), and each worker's PSS, RSS and peak RSS. Mapped snapshots are
touched page by page when mapped, so the PSS right after start is what the index costs under load too.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import urllib.request

from benchmarks import report
from benchmarks.service import Service, drop_snapshots, url_of

_COUNT = re.compile(r'geo_offers_internal_total\{kind="(index_snapshot_builds|index_snapshot_maps)"\} ([0-9.e+]+)')
TARGET_READY_S = 15.0
TARGET_PSS_MIB = 300.0


def snapshot_counts(service: Service) -> dict[str, int]:
    """Index builds and snapshot mappings summed over the workers (published every 5 s by each)."""
    with urllib.request.urlopen(service.base + "/metrics", timeout=10) as response:
        text = response.read().decode()
    return {kind: int(float(value)) for kind, value in _COUNT.findall(text)}


def main(argv: list[str] | None = None) -> int:
    """Start the service once without a snapshot and then again with it kept."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", required=True, help="a database that holds the deals")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8733)
    parser.add_argument("--restarts", type=int, default=2)
    args = parser.parse_args(argv)
    drop_snapshots()
    results = []
    for start in range(1 + args.restarts):
        service = Service(url_of(args.database), port=args.port, workers=args.workers, name="startup")
        began = time.monotonic()
        service.start()
        ready_s = time.monotonic() - began
        try:
            time.sleep(6)  # every worker publishes its counts every 5 s
            counts = snapshot_counts(service)
            memory = service.memory()
        finally:
            service.stop()
        label = "first start (no snapshot)" if start == 0 else f"restart {start} (snapshot kept)"
        verdict = report.verdict(ready_s < TARGET_READY_S)
        print(
            f"{label}: ready after {ready_s:.1f} s (target < 15 s: {verdict}); index builds "
            f"{counts.get('index_snapshot_builds', 0)}, snapshot mappings {counts.get('index_snapshot_maps', 0)}"
        )
        for m in memory:
            met = report.verdict(m.pss_mib < TARGET_PSS_MIB)
            print(
                f"  worker {m.pid}: PSS {m.pss_mib:,.0f} MiB (target < 300: {met}), "
                f"RSS {m.rss_mib:,.0f} MiB, peak RSS {m.hwm_mib:,.0f} MiB"
            )
        results.append({"start": start, "ready_s": ready_s, "counts": counts, "memory": [m.__dict__ for m in memory]})
    path = report.save("startup", {"args": vars(args), "starts": results})
    print(f"raw figures: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
