"""Mixed load on loopback: match, consent grants and merchant routes together, against the real service.

    PATH=.venv/bin:$PATH python benchmarks/load.py [--rate 100] [--seconds 20] [--port N]

Creates a database of its own on the test server (GEO_OFFERS_TEST_ADMIN_URL, default the local one), seeds a
merchant with stores and deals around Berlin and a few hundred consenting subjects, and starts `geo-offers serve
--workers 2`. Then, at most a minute of load in three phases, with a small asyncio HTTP/1.1 keep-alive client:

1. target: an open-loop fixed rate (default 100 requests/s) of 70 % match, 15 % consent grants, 15 % merchant
   reads and writes. Must answer without a single error.
2. saturation: a closed loop of 64 connections as fast as the service answers, same mix. Anything but 2xx must
   be 503 (or 429): no other 5xx, no dropped connection.
3. beyond the rate limit: the service restarted with a per-key limit of 20 requests/s (burst 20); the same
   closed loop must get graceful 429 problem+json with Retry-After, never a 5xx other than 503.

Prints a table per phase (throughput, p50/p99 per kind, error rate, statuses) and exits 1 if a rule is broken.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import h3.api.basic_int as h3  # noqa: E402

from benchmarks.service import drop_database, fresh_database  # noqa: E402
from tests.helpers import deal_body, notice_body, store_body  # noqa: E402

BERLIN = (52.52, 13.405)


# --- a minimal HTTP/1.1 keep-alive client -------------------------------------------------------------------


class Connection:
    """One keep-alive connection; answers are read by Content-Length (the service always sends it)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: Any = None
    ) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        payload = json.dumps(body).encode() if body is not None else b""
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(payload)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body is not None:
            lines.append("Content-Type: application/json")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        try:
            status_line = await self.reader.readuntil(b"\r\n")
            status = int(status_line.split()[1])
            answer_headers: dict[str, str] = {}
            while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
                name, _, value = line.decode().partition(":")
                answer_headers[name.strip().lower()] = value.strip()
            content = await self.reader.readexactly(int(answer_headers.get("content-length", "0")))
        except (asyncio.IncompleteReadError, ConnectionError):
            self.close()
            raise
        if answer_headers.get("connection", "").lower() == "close":
            self.close()
        return status, answer_headers, content

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


# --- the service and its data -------------------------------------------------------------------------------


@dataclass
class World:
    url: str
    app_keys: list[str]
    merchant_key: str
    deal_ids: list[int]
    store_ids: list[int]
    subjects: list[str]
    notice: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Service:
    def __init__(self, url: str, port: int, extra_env: dict[str, str] | None = None) -> None:
        env = {
            **os.environ,
            "GEO_OFFERS_DATABASE_URL": url,
            "GEO_OFFERS_ENVIRONMENT": "test",
            "GEO_OFFERS_LOG_LEVEL": "WARNING",
            "GEO_OFFERS_RATE_LIMIT_PER_S": "100000",
            "GEO_OFFERS_RATE_LIMIT_BURST": "100000",
            **(extra_env or {}),
        }
        self.port = port
        self.process = subprocess.Popen(
            ["geo-offers", "serve", "--workers", "2", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the service did not become ready")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


def cli(url: str, *args: str) -> str:
    env = {**os.environ, "GEO_OFFERS_DATABASE_URL": url}
    return subprocess.run(["geo-offers", *args], env=env, check=True, capture_output=True, text=True).stdout.strip()


async def seed(url: str, port: int, stores: int, subjects: int) -> World:
    merchant = cli(url, "merchants", "create", "Load GmbH")
    admin = cli(url, "keys", "create", "--role", "admin")
    merchant_key = cli(url, "keys", "create", "--role", "merchant", "--merchant", merchant)
    app_keys = [cli(url, "keys", "create", "--role", "app") for _ in range(4)]
    conn = Connection(port)
    status, _, content = await conn.request("POST", "/v1/notices", {"Authorization": f"Bearer {admin}"}, notice_body())
    assert status == 201, content
    notice = json.loads(content)["version"]
    rng = random.Random(7)
    store_ids, deal_ids = [], []
    merchant_headers = {"Authorization": f"Bearer {merchant_key}"}
    for _ in range(stores):
        lat, lon = BERLIN[0] + rng.uniform(-0.1, 0.1), BERLIN[1] + rng.uniform(-0.15, 0.15)
        status, _, content = await conn.request("POST", "/v1/stores", merchant_headers, store_body(lon, lat))
        assert status == 201, content
        store_ids.append(json.loads(content)["id"])
        body = deal_body(store_ids[-1], area={"radius_m": rng.choice([500, 1000, 3000])})
        status, _, content = await conn.request("POST", "/v1/deals", merchant_headers, body)
        assert status == 201, content
        deal_ids.append(json.loads(content)["id"])
    people = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(subjects)]
    for i, subject in enumerate(people):
        body = {
            "subject_id": subject,
            "notice_version": notice,
            "purposes": ["location_offers", "offer_analytics"],
            "source": "load",
            "locale": "de-DE",
        }
        status, _, content = await conn.request(
            "POST", "/v1/consents", {"Authorization": f"Bearer {app_keys[i % 4]}"}, body
        )
        assert status in (200, 201), content
    conn.close()
    return World(url, app_keys, merchant_key, deal_ids, store_ids, people, notice)


# --- the load -----------------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    started: float = 0.0
    ended: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    dropped: int = 0
    bad_problems: int = 0
    details: dict[str, int] = field(default_factory=dict)

    def record(self, kind: str, status: int, headers: dict[str, str], content: bytes, elapsed: float) -> None:
        self.latencies.setdefault(kind, []).append(elapsed)
        if status >= 500:
            detail = f"{kind} {status}: {json.loads(content).get('detail', '')}"
            self.details[detail] = self.details.get(detail, 0) + 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status >= 400:
            problem = headers.get("content-type", "").startswith("application/problem+json")
            needs_retry = status in (429, 503)
            if not problem or (needs_retry and "retry-after" not in headers):
                self.bad_problems += 1

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    def errors(self) -> int:
        return sum(n for s, n in self.statuses.items() if s >= 400) + self.dropped


def one_request(world: World, rng: random.Random) -> tuple[str, str, str, dict[str, str], Any]:
    """(kind, method, path, headers, body) of the mix: 70 % match, 15 % consent, 15 % merchant."""
    roll = rng.random()
    app = {"Authorization": f"Bearer {rng.choice(world.app_keys)}"}
    if roll < 0.70:
        lat, lon = BERLIN[0] + rng.uniform(-0.1, 0.1), BERLIN[1] + rng.uniform(-0.15, 0.15)
        cell = format(h3.latlng_to_cell(lat, lon, 8), "x")
        return "match", "POST", "/v1/offers/match", app, {"subject_id": rng.choice(world.subjects), "cell": cell}
    if roll < 0.85:
        body = {
            "subject_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "notice_version": world.notice,
            "purposes": ["location_offers"],
            "source": "load",
            "locale": "de-DE",
        }
        return "consent", "POST", "/v1/consents", app, body
    merchant = {"Authorization": f"Bearer {world.merchant_key}"}
    choice = rng.random()
    if choice < 0.4:
        return "merchant", "GET", f"/v1/deals?limit=20&after={rng.choice(world.deal_ids) - 1}", merchant, None
    if choice < 0.8:
        return "merchant", "GET", f"/v1/stores/{rng.choice(world.store_ids)}", merchant, None
    body = {"title": f"Angebot {rng.randint(1, 10**6)}"}
    return "merchant", "PATCH", f"/v1/deals/{rng.choice(world.deal_ids)}", merchant, body


async def send(conn: Connection, world: World, rng: random.Random, phase: Phase) -> None:
    kind, method, path, headers, body = one_request(world, rng)
    started = time.perf_counter()
    try:
        status, answer_headers, content = await asyncio.wait_for(conn.request(method, path, headers, body), 15)
    except (OSError, asyncio.IncompleteReadError, TimeoutError):
        conn.close()
        phase.dropped += 1
        return
    phase.record(kind, status, answer_headers, content, time.perf_counter() - started)


async def open_loop(port: int, world: World, rate: float, seconds: float, phase: Phase, pool: int = 64) -> None:
    """A fixed arrival rate, whatever the answers take (up to ``pool`` requests in flight)."""
    rng = random.Random(1)
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(pool):
        idle.put_nowait(Connection(port))
    tasks: set[asyncio.Task[None]] = set()

    async def one() -> None:
        conn = await idle.get()
        try:
            await send(conn, world, rng, phase)
        finally:
            idle.put_nowait(conn)

    phase.started = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = phase.started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    phase.ended = time.perf_counter()
    while not idle.empty():
        idle.get_nowait().close()


async def closed_loop(port: int, world: World, connections: int, seconds: float, phase: Phase) -> None:
    """``connections`` clients, each sending its next request as soon as the last is answered."""
    deadline = time.perf_counter() + seconds

    async def client(seed: int) -> None:
        rng = random.Random(seed)
        conn = Connection(port)
        while time.perf_counter() < deadline:
            await send(conn, world, rng, phase)
        conn.close()

    phase.started = time.perf_counter()
    await asyncio.gather(*(client(seed) for seed in range(connections)))
    phase.ended = time.perf_counter()


def report(phase: Phase) -> dict[str, Any]:
    duration = phase.ended - phase.started
    per_kind = {}
    for kind, values in sorted(phase.latencies.items()):
        ordered = sorted(values)
        per_kind[kind] = {
            "n": len(ordered),
            "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
        }
    return {
        "phase": phase.name,
        "seconds": round(duration, 1),
        "requests": phase.total + phase.dropped,
        "throughput_rps": round(phase.total / duration, 1),
        "error_rate": round(phase.errors() / max(1, phase.total + phase.dropped), 4),
        "statuses": dict(sorted(phase.statuses.items())),
        "dropped": phase.dropped,
        "not_problem_json": phase.bad_problems,
        "server_errors": phase.details,
        "latency": per_kind,
    }


def print_report(result: dict[str, Any]) -> None:
    print(
        f"\n{result['phase']}: {result['requests']} requests in {result['seconds']} s = "
        f"{result['throughput_rps']} req/s, error rate {result['error_rate']:.2%}, statuses {result['statuses']}, "
        f"dropped {result['dropped']}"
    )
    for detail, count in result["server_errors"].items():
        print(f"  {count} x {detail}")
    for kind, figures in result["latency"].items():
        print(f"  {kind:<9} n={figures['n']:<6} p50 {figures['p50_ms']:>7} ms   p99 {figures['p99_ms']:>7} ms")


async def run(args: argparse.Namespace) -> int:
    name = f"geo_offers_load_{uuid.uuid4().hex[:8]}"
    url = fresh_database(name)
    results: list[dict[str, Any]] = []
    failures: list[str] = []
    try:
        port = args.port or free_port()
        service = Service(url, port)
        try:
            world = await seed(url, port, args.stores, args.subjects)
            target = Phase(f"target ({args.rate:.0f} req/s open loop)")
            await open_loop(port, world, args.rate, args.seconds, target)
            saturation = Phase("saturation (64 connections, closed loop)")
            await closed_loop(port, world, 64, args.saturation_seconds, saturation)
        finally:
            service.stop()
        limited_service = Service(url, port, {"GEO_OFFERS_RATE_LIMIT_PER_S": "20", "GEO_OFFERS_RATE_LIMIT_BURST": "20"})
        try:
            limited = Phase("beyond the rate limit (20/s per key and worker, 64 connections)")
            await closed_loop(port, world, 64, args.limit_seconds, limited)
        finally:
            limited_service.stop()
        for phase in (target, saturation, limited):
            results.append(report(phase))
            print_report(results[-1])
        if target.errors():
            failures.append(f"errors at the target load: {target.statuses}, dropped {target.dropped}")
        for phase in (saturation, limited):
            bad = {s: n for s, n in phase.statuses.items() if s >= 500 and s != 503}
            if bad or phase.dropped or phase.bad_problems:
                failures.append(f"{phase.name}: 5xx {bad}, dropped {phase.dropped}, bad problems {phase.bad_problems}")
        if limited.statuses.get(429, 0) == 0:
            failures.append("the rate limit never answered 429")
    finally:
        drop_database(name)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100.0, help="target requests per second (phase 1)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of phase 1")
    parser.add_argument("--saturation-seconds", type=float, default=15.0)
    parser.add_argument("--limit-seconds", type=float, default=10.0)
    parser.add_argument("--stores", type=int, default=200)
    parser.add_argument("--subjects", type=int, default=300)
    parser.add_argument("--port", type=int, default=0, help="port of the service (default: any free one)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if args.seconds + args.saturation_seconds + args.limit_seconds > 60:
        parser.error("the load phases must fit in a minute")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
