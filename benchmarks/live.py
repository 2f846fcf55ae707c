"""Live area streams: publish-to-event time with many open streams, and the memory an idle stream costs.

    python -m benchmarks.live [--streams 1000] [--areas 100] [--publishes 100] [--deals 20000]

Creates database ``geo_offers_bench_live`` with ``--deals`` background deals, starts the service with 2 workers
(port 18650), and opens ``--streams`` Server-Sent Event streams of ``GET /v1/offers/area/{cell}/events`` from one
asyncio client over raw sockets (HTTP/1.1, chunked), spread over ``--areas`` areas around the dataset's stores
(most of resolution 5, some 4 and 3, as apps would choose). Memory: each worker's RSS and PSS before and after
the streams are open (all answered ``ready``), divided by the streams that worker holds (its
``geo_offers_live_streams`` on /metrics). Latency: ``--publishes`` deals, one after the other, each at a store in
a watched area; the clock starts when the publish answer (201) arrives and stops when the *last* stream of that
area (on either worker) has the ``deal`` event; p50 and max over the publishes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import statistics
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import h3.api.basic_int as h3
import httpx
import numpy as np
import orjson
import psycopg2

from benchmarks import dataset, report, subjects
from benchmarks.service import Service, drop_database, fresh_database

TARGET_P50_S = 1.0
TARGET_MAX_S = 2.0
GIVE_UP_S = 10.0


class Reader:
    """One open stream on a raw socket: decodes the chunked body and records when each deal event arrived."""

    def __init__(self, cell: str) -> None:
        self.cell = cell
        self.ready = asyncio.Event()
        self.seen: dict[int, float] = {}
        self.task: asyncio.Task[None] | None = None

    async def run(self, port: int, token: str) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        request = (
            f"GET /v1/offers/area/{self.cell}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
        )
        writer.write(request.encode())
        status = await reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"stream refused: {status!r} {await reader.read(500)!r}")
        while (await reader.readline()) not in (b"\r\n", b""):
            pass  # headers
        buffer = b""
        try:
            while True:
                size = int((await reader.readline()).strip() or b"0", 16)
                if size == 0:
                    return
                buffer += await reader.readexactly(size)
                await reader.readexactly(2)
                while b"\r\n\r\n" in buffer:
                    frame, buffer = buffer.split(b"\r\n\r\n", 1)
                    self._event(frame)
        finally:
            writer.close()

    def _event(self, frame: bytes) -> None:
        name, data = b"", b""
        for line in frame.split(b"\r\n"):
            if line.startswith(b"event: "):
                name = line[7:]
            elif line.startswith(b"data: "):
                data = line[6:]
        if name == b"ready":
            self.ready.set()
        elif name == b"deal":
            self.seen.setdefault(orjson.loads(data)["deal_id"], time.perf_counter())


def memory_kib(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of a process in KiB, from /proc/PID/smaps_rollup."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        parts = line.split()
        if parts and parts[0] in ("Rss:", "Pss:"):
            values[parts[0]] = float(parts[1])
    return values["Rss:"], values["Pss:"]


def streams_per_worker(base: str) -> dict[int, int]:
    """Open streams per worker pid, from /metrics (the gauge is per process)."""
    text = httpx.get(f"{base}/metrics", timeout=10).text
    counts = {}
    for line in text.splitlines():
        if line.startswith("geo_offers_live_streams{"):
            pid = int(line.split('pid="')[1].split('"')[0])
            counts[pid] = int(float(line.rsplit(" ", 1)[1]))
    return counts


def watched_areas(url: str, count: int, seed: int) -> list[tuple[float, float]]:
    """Store locations (lat, lon) of the dataset to centre the watched areas on."""
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT setseed(%s)", (seed / 1000,))
        cur.execute("SELECT ST_Y(location), ST_X(location) FROM stores ORDER BY random() LIMIT %s", (count,))
        return [(float(lat), float(lon)) for lat, lon in cur.fetchall()]


async def publish_all(
    base: str, merchant: str, places: list[tuple[float, float]], readers: dict[str, list[Reader]], n: int
) -> list[float]:
    """Publish ``n`` deals one after the other; seconds from each 201 until every stream of its area has it."""
    rng = np.random.default_rng(11)
    headers = {"Authorization": f"Bearer {merchant}"}
    now = datetime.now(UTC)
    delays = []
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        stores = []
        for lat, lon in places:
            body = {
                "name": "Live-Test",
                "address": "Teststraße 1, Berlin",
                "location": {"type": "Point", "coordinates": [lon, lat]},
                "timezone": "Europe/Berlin",
                "categories": ["cafe"],
            }
            created = await http.post("/v1/stores", json=body)
            # The deal's areas are the parents of its coverage cells: take the store's own resolution-8 cell's
            # (the coarse cell of the point itself can miss it near an edge, as H3 parents do not contain their
            # children exactly).
            cell5 = h3.cell_to_parent(h3.latlng_to_cell(lat, lon, 8), 5)
            stores.append((created.json()["id"], format(cell5, "x")))
        for _ in range(n):
            store_id, cell5 = stores[int(rng.integers(len(stores)))]
            deal = {
                "store_id": store_id,
                "title": "Live veröffentlicht",
                "description": "Live benchmark",
                "category": "cafe",
                "area": {"radius_m": 300},
                "valid_from": (now - timedelta(hours=1)).isoformat(),
                "valid_until": (now + timedelta(days=1)).isoformat(),
                "windows": [],
                "status": "active",
            }
            answer = await http.post("/v1/deals", json=deal)
            since = time.perf_counter()
            assert answer.status_code == 201, answer.text
            deal_id = answer.json()["id"]
            expecting = [r for cell, group in readers.items() if is_within(cell5, cell) for r in group]
            while not all(deal_id in r.seen for r in expecting):
                if time.perf_counter() - since > GIVE_UP_S:
                    break
                await asyncio.sleep(0.001)
            arrived = [r.seen.get(deal_id, float("inf")) for r in expecting]
            delays.append(max(arrived) - since if arrived else float("nan"))
            await asyncio.sleep(0.05)
    return delays


def is_within(cell5: str, area: str) -> bool:
    """Whether resolution-5 cell ``cell5`` lies in ``area`` (itself or an ancestor)."""
    child, parent = int(cell5, 16), int(area, 16)
    return int(h3.cell_to_parent(child, h3.get_resolution(parent))) == parent


async def run(args: argparse.Namespace, base: str, service: Service, app: str, merchant: str, url: str) -> None:
    rng = np.random.default_rng(7)
    centres = watched_areas(url, args.areas, seed=7)
    cells = []
    for lat, lon in centres:
        res = int(rng.choice([5, 4, 3], p=[0.8, 0.15, 0.05]))
        cells.append(format(h3.latlng_to_cell(lat, lon, res), "x"))
    warm = [Reader(cells[i % len(cells)]) for i in range(10)]  # code paths and the first areas warmed up
    for reader in warm:
        reader.task = asyncio.create_task(reader.run(args.port, app))
    await asyncio.wait_for(asyncio.gather(*(r.ready.wait() for r in warm)), 60)
    await asyncio.sleep(2)
    pids = service.worker_pids()
    before = {pid: memory_kib(pid) for pid in pids}
    counts_before = streams_per_worker(base)
    readers: dict[str, list[Reader]] = defaultdict(list)
    opened = time.perf_counter()
    for i in range(args.streams - len(warm)):
        reader = Reader(cells[i % len(cells)])
        reader.task = asyncio.create_task(reader.run(args.port, app))
        readers[reader.cell].append(reader)
        if i % 50 == 49:
            await asyncio.sleep(0.01)
    for reader in warm:
        readers[reader.cell].append(reader)
    everyone = [r for group in readers.values() for r in group]
    await asyncio.wait_for(asyncio.gather(*(r.ready.wait() for r in everyone)), 120)
    opening_s = time.perf_counter() - opened
    await asyncio.sleep(3)
    after = {pid: memory_kib(pid) for pid in pids}
    counts = streams_per_worker(base)
    print(f"\n== live streams: {len(everyone)} over {len(readers)} areas, 2 workers, {args.deals:,} background deals")
    print(f"  opened and ready in {opening_s:.1f} s; streams per worker: {counts}")
    for pid in pids:
        added = counts.get(pid, 0) - counts_before.get(pid, 0)
        rss = (after[pid][0] - before[pid][0]) / max(added, 1)
        pss = (after[pid][1] - before[pid][1]) / max(added, 1)
        print(
            f"  worker {pid}: RSS {before[pid][0] / 1024:.1f} -> {after[pid][0] / 1024:.1f} MiB, "
            f"PSS {before[pid][1] / 1024:.1f} -> {after[pid][1] / 1024:.1f} MiB; "
            f"per idle stream {rss:.1f} KiB RSS, {pss:.1f} KiB PSS ({added} streams)"
        )
    delays = await publish_all(base, merchant, centres, readers, args.publishes)
    finite = [d for d in delays if d != float("inf")]
    p50, worst = statistics.median(delays), max(delays)
    ok = p50 < TARGET_P50_S and worst < TARGET_MAX_S
    print(
        f"  publish -> event at every stream of the area: p50 {p50 * 1000:.1f} ms, "
        f"p90 {np.percentile(delays, 90) * 1000:.1f} ms, max {worst * 1000:.1f} ms over {len(delays)} publishes "
        f"({len(delays) - len(finite)} not seen within {GIVE_UP_S:g} s; target p50 < 1 s, max < 2 s: "
        f"{report.verdict(ok)})"
    )
    failed = [r for r in everyone if r.task is not None and r.task.done()]
    print(f"  streams that ended early: {len(failed)}")
    for reader in everyone:
        if reader.task is not None:
            reader.task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*(r.task for r in everyone if r.task is not None), return_exceptions=True)
    report.save("live", {"args": vars(args), "delays_s": delays, "memory_kib": {"before": before, "after": after}})


def main(argv: list[str] | None = None) -> int:
    """Run the live stream benchmark."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--areas", type=int, default=100)
    parser.add_argument("--publishes", type=int, default=100)
    parser.add_argument("--deals", type=int, default=20_000, help="background deals in the index")
    parser.add_argument("--port", type=int, default=18650)
    parser.add_argument("--database", default="geo_offers_bench_live")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # a socket per stream, here and in the service
    url = fresh_database(args.database)
    try:
        if args.deals:
            dataset.load(url, args.deals, seed=3)
        app = subjects.app_key(url)
        _, merchant = subjects.merchant_key(url)
        with Service(url, port=args.port, workers=2, name="live") as service:
            asyncio.run(run(args, service.base, service, app, merchant, url))
    finally:
        if not args.keep:
            drop_database(args.database)
    return 0


if __name__ == "__main__":
    sys.exit(main())
