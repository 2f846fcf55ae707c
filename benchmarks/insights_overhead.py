"""What counting costs matching: the same match, for a subject with and without `offer_analytics` consent.

Usage: python benchmarks/insights_overhead.py [--requests 20000] [--concurrency 32] [--deals 200]

Creates a throwaway database (GEO_OFFERS_TEST_ADMIN_URL, a superuser URL; default the local server), seeds one
store with N deals around it, and drives the app in process through its ASGI interface (lifespan included).
Rounds alternate between a subject whose matches are counted and one whose are not (location consent only),
so both see the same machine state; the counter flushes in the background as in production. Prints
throughput and p50/p99 of each and the overhead of counting, and the cost of one ``Counter.served`` call.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import timeit
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import h3.api.basic_int as h3  # noqa: E402
import httpx  # noqa: E402

from benchmarks.service import drop_database, fresh_database  # noqa: E402
from geo_offers.app import create_app  # noqa: E402
from geo_offers.insights.counter import Counter  # noqa: E402
from geo_offers.kit.database import Database  # noqa: E402
from geo_offers.settings import Settings  # noqa: E402
from geo_offers.tenants.keys import create_key  # noqa: E402
from geo_offers.tenants.merchants import create_merchant  # noqa: E402
from tests.helpers import deal_body, notice_body, store_body  # noqa: E402

LAT, LON = 52.52, 13.405


async def drive(client: httpx.AsyncClient, body: dict[str, object], n: int, concurrency: int) -> list[float]:
    """Send ``n`` matches with ``concurrency`` in flight; return each latency in seconds."""
    latencies: list[float] = []

    async def worker(count: int) -> None:
        for _ in range(count):
            start = time.perf_counter()
            response = await client.post("/v1/offers/match", json=body)
            latencies.append(time.perf_counter() - start)
            assert response.status_code == 200, response.text

    share = [n // concurrency + (1 if i < n % concurrency else 0) for i in range(concurrency)]
    await asyncio.gather(*(worker(c) for c in share))
    return latencies


def summary(name: str, latencies: list[float], seconds: float) -> float:
    ordered = sorted(latencies)
    rate = len(ordered) / seconds
    p50 = ordered[len(ordered) // 2] * 1000
    p99 = ordered[int(len(ordered) * 0.99)] * 1000
    print(f"{name:<22} {rate:8.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")
    return rate


async def main(args: argparse.Namespace) -> None:
    name = f"geo_offers_bench_{uuid.uuid4().hex[:8]}"
    url = fresh_database(name)
    try:
        settings = Settings(environment="test", database_url=url, rate_limit_per_s=1e9, rate_limit_burst=10**9)
        db = Database(settings)
        with db.transaction() as session:
            merchant = create_merchant(session, "Bench GmbH").id
            keys = {
                role: create_key(session, role, merchant if role == "merchant" else None).key
                for role in ("app", "merchant", "admin")
            }
        db.dispose()
        app = create_app(settings, log=False)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                auth = {role: {"Authorization": f"Bearer {key}"} for role, key in keys.items()}
                assert (await client.post("/v1/notices", json=notice_body(), headers=auth["admin"])).status_code == 201
                store = await client.post("/v1/stores", json=store_body(LON, LAT), headers=auth["merchant"])
                store_id = store.json()["id"]
                for _ in range(args.deals):
                    made = await client.post("/v1/deals", json=deal_body(store_id), headers=auth["merchant"])
                    assert made.status_code == 201, made.text
                subjects = {}
                for label, purposes in (
                    ("counted", ["location_offers", "offer_analytics"]),
                    ("not counted", ["location_offers"]),
                ):
                    subject = str(uuid.uuid4())
                    body: dict[str, object] = {
                        "subject_id": subject,
                        "notice_version": 1,
                        "purposes": purposes,
                        "source": "bench",
                        "locale": "de-DE",
                        "precision_res": 8,
                    }
                    assert (await client.post("/v1/consents", json=body, headers=auth["app"])).status_code == 201
                    subjects[label] = subject
                await asyncio.sleep(1.0)  # let the index feed apply the new deals
                client.headers.update(auth["app"])
                cell = format(h3.latlng_to_cell(LAT, LON, 8), "x")
                bodies: dict[str, dict[str, object]] = {
                    label: {"subject_id": s, "cell": cell} for label, s in subjects.items()
                }
                for body in bodies.values():  # warm up
                    await drive(client, body, 500, args.concurrency)
                results: dict[str, list[float]] = {label: [] for label in bodies}
                elapsed = dict.fromkeys(bodies, 0.0)
                rounds = 6
                for _ in range(rounds):
                    for label, body in bodies.items():
                        start = time.perf_counter()
                        results[label] += await drive(client, body, args.requests // rounds, args.concurrency)
                        elapsed[label] += time.perf_counter() - start
                answer = await client.post("/v1/offers/match", json=bodies["counted"])
                served = len(answer.json()["offers"])
                print(
                    f"match of a res-8 cell, {served} offers an answer, {args.deals} deals, "
                    f"concurrency {args.concurrency}, {args.requests} requests each, in process (ASGI)"
                )
                counted = summary("counted", results["counted"], elapsed["counted"])
                plain = summary("not counted", results["not counted"], elapsed["not counted"])
                print(f"overhead of counting: {(plain / counted - 1) * 100:+.1f} % time per request")
                counter: Counter = app.state.services.counter
                print(f"counter rows written by the background flush: {counter.flushed_rows}")
        now = datetime.now(UTC)
        ids = list(range(served))
        cell_int = h3.latlng_to_cell(LAT, LON, 8)
        # A person seen the first time this hour (every figure new: a hash per call, a set entry per figure) and
        # one seen before (the hash and the look-ups only).
        people = [str(uuid.uuid4()) for _ in range(20_000)]
        probe = Counter(lambda sql, params: asyncio.sleep(0, []), 5.0)
        fresh = iter(people * 5)
        per_call = (
            min(timeit.repeat(lambda: probe.served(next(fresh), ids, cell_int, now), number=20_000, repeat=5)) / 20_000
        )
        print(f"Counter.served with {served} deals, a person new this hour: {per_call * 1e6:.2f} µs a call")
        probe = Counter(lambda sql, params: asyncio.sleep(0, []), 5.0)
        again = people[0]
        per_call = min(timeit.repeat(lambda: probe.served(again, ids, cell_int, now), number=20_000, repeat=5)) / 20_000
        print(f"Counter.served with {served} deals, a person counted already: {per_call * 1e6:.2f} µs a call")
    finally:
        drop_database(name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--deals", type=int, default=200)
    os.environ.setdefault("GEO_OFFERS_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    asyncio.run(main(parser.parse_args()))
