"""Publish-to-visible time across instances: a deal published (or paused) through instance A, until instance B's
match answers show it (or stop showing it).

    python -m benchmarks.freshness [--trials 100] [--deals 100000]

Creates database ``geo_offers_bench_fresh`` with ``--deals`` background deals, starts two separate services
(``geo-offers serve``, one worker each, ports 8751 and 8752) on it, and per trial: creates a store at a spot of
its own (far from the dataset, so the answer holds only this deal), asks B once (B now caches an empty
answer for that cell), publishes an active deal through A, and polls B's match every 2 ms until the deal is in
the answer; then pauses it through A and polls B until it is gone. The clock starts when A's answer arrives.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import h3.api.basic_int as h3
import numpy as np
import orjson

from benchmarks import dataset, report, subjects
from benchmarks.service import Service, drop_database, fresh_database

POLL_S = 0.002
GIVE_UP_S = 5.0
TARGET_P50_S = 1.0
TARGET_MAX_S = 2.0


class Client:
    """A keep-alive HTTP/1.1 connection to one instance, with one key."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """Send one request; (status, parsed JSON body)."""
        self.conn.request(method, path, body=orjson.dumps(body) if body is not None else None, headers=self.headers)
        response = self.conn.getresponse()
        data = response.read()
        return response.status, orjson.loads(data) if data else None


def _visible(b: Client, subject: str, cell: str, deal_id: int) -> bool:
    status, answer = b.call("POST", "/v1/offers/match", {"subject_id": subject, "cell": cell})
    if status != 200:
        raise RuntimeError(f"match answered {status}: {answer}")
    return any(offer["deal_id"] == deal_id for offer in answer["offers"])


def _wait(b: Client, subject: str, cell: str, deal_id: int, present: bool, since: float) -> float:
    while _visible(b, subject, cell, deal_id) != present:
        if time.perf_counter() - since > GIVE_UP_S:
            return float("inf")
        time.sleep(POLL_S)
    return time.perf_counter() - since


def trial(a: Client, b: Client, subject: str, rng: np.random.Generator) -> tuple[float, float]:
    """(seconds until a published deal is visible on B, seconds until its pause is visible on B)."""
    lon, lat = float(rng.uniform(-40.0, -20.0)), float(rng.uniform(-30.0, -10.0))  # South Atlantic: empty
    store = {
        "name": "Frischetest",
        "address": "Teststraße 1, Berlin",
        "location": {"type": "Point", "coordinates": [lon, lat]},
        "timezone": "Europe/Berlin",
        "categories": ["cafe"],
    }
    status, created = a.call("POST", "/v1/stores", store)
    assert status == 201, created
    cell = format(h3.latlng_to_cell(lat, lon, 7), "x")
    now = datetime.now(UTC)
    deal = {
        "store_id": created["id"],
        "title": "Frisch veröffentlicht",
        "description": "Freshness benchmark",
        "category": "cafe",
        "area": {"radius_m": 1000},
        "valid_from": (now - timedelta(hours=1)).isoformat(),
        "valid_until": (now + timedelta(days=1)).isoformat(),
        "windows": [],
        "status": "active",
    }
    assert not _visible(b, subject, cell, -1)  # B now holds a cached answer for this cell
    status, published = a.call("POST", "/v1/deals", deal)
    since = time.perf_counter()
    assert status == 201, published
    shown = _wait(b, subject, cell, published["id"], True, since)
    status, paused = a.call("PATCH", f"/v1/deals/{published['id']}", {"status": "paused"})
    since = time.perf_counter()
    assert status == 200, paused
    hidden = _wait(b, subject, cell, published["id"], False, since)
    return shown, hidden


def _summary(label: str, values: list[float]) -> str:
    finite = [v for v in values if v != float("inf")]
    p50 = statistics.median(values)
    worst = max(values)
    ok = p50 < TARGET_P50_S and worst < TARGET_MAX_S
    return (
        f"  {label:<8} p50 {p50 * 1000:8.1f} ms   p90 {np.percentile(values, 90) * 1000:8.1f} ms   "
        f"max {worst * 1000:8.1f} ms   ({len(values) - len(finite)} not seen within {GIVE_UP_S:g} s; "
        f"target p50 < 1 s, max < 2 s: {report.verdict(ok)})"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the freshness benchmark."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--deals", type=int, default=100_000, help="background deals in the index")
    parser.add_argument("--ports", default="8751,8752")
    parser.add_argument("--database", default="geo_offers_bench_fresh")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    port_a, port_b = (int(p) for p in args.ports.split(","))
    url = fresh_database(args.database)
    try:
        if args.deals:
            dataset.load(url, args.deals, seed=3)
        subject = subjects.subject_ids(1, seed=99)[0]
        subjects.grant_all(url, [subject])
        app_token = subjects.app_key(url)
        _, merchant_token = subjects.merchant_key(url)
        rng = np.random.default_rng(5)
        shown: list[float] = []
        hidden: list[float] = []
        with (
            Service(url, port=port_a, workers=1, name="fresh-a"),
            Service(url, port=port_b, workers=1, name="fresh-b"),
        ):
            a, b = Client(port_a, merchant_token), Client(port_b, app_token)
            for _ in range(args.trials):
                s, h = trial(a, b, subject, rng)
                shown.append(s)
                hidden.append(h)
        print(f"\n== freshness over {args.trials} trials (two instances, {args.deals:,} background deals)")
        print(_summary("publish", shown))
        print(_summary("pause", hidden))
        path = report.save("freshness", {"args": vars(args), "publish_s": shown, "pause_s": hidden})
        print(f"\nraw figures: {path}")
    finally:
        if not args.keep:
            drop_database(args.database)
    return 0


if __name__ == "__main__":
    sys.exit(main())
