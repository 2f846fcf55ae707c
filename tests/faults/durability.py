"""Durability under faults: no acknowledged consent decision is ever lost.

Runs a PRIVATE PostgreSQL cluster (initdb into a temp directory, its own port; the shared server is never
touched) and the real service (`geo-offers serve`) against it. Several client threads grant and withdraw consent
all the time and record every 2xx receipt. Meanwhile the script

  1. kills the service with SIGKILL and starts it again,
  2. restarts PostgreSQL with `pg_ctl restart -m fast`, then with `-m immediate` (a crash: recovery from WAL),
  3. stops PostgreSQL for a few seconds and starts it again, measuring how fast requests fail while it is down
     (503 problem+json with Retry-After) and how long the service takes to answer 2xx again by itself.

Afterwards every acknowledged receipt must be in the ledger (same sequence number, hash and decision id), the
chain must verify, and the current-state table must agree with the last ledger event of every subject and purpose.

    python -m tests.faults.durability [--seconds-between 3] [--clients 4] [--outage 5]

Exit status 0 when nothing was lost and every check passed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
PURPOSES = ["location_offers", "offer_analytics"]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the private cluster ------------------------------------------------------------------------------------


class Cluster:
    """A throwaway PostgreSQL cluster owned by the ``postgres`` OS user when run as root."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.root = Path(tempfile.mkdtemp(prefix="geo-offers-faults-"))
        self.data = self.root / "data"
        self.logfile = self.root / "postgres.log"
        self.as_postgres = os.geteuid() == 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(a) for a in args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def init(self) -> None:
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = self.data / "postgresql.conf"
        with options.open("a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.root}'\n"
                "fsync = on\nsynchronous_commit = on\nmax_connections = 100\nshared_buffers = 64MB\n"
            )
        self.start()

    def start(self) -> None:
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.logfile, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop", check=False)

    def restart(self, mode: str) -> None:
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.logfile, "-m", mode, "-w", "-t", "60", "restart")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def sql(url: str, statement: str) -> list[tuple[Any, ...]]:
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


# --- the service --------------------------------------------------------------------------------------------


class Service:
    """`geo-offers serve` as a child process (one worker: the process that SIGKILL hits is the server)."""

    def __init__(self, env: dict[str, str], port: int, logfile: Path) -> None:
        self.env = env
        self.port = port
        self.logfile = logfile
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        started = time.monotonic()
        with self.logfile.open("ab") as out:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                ["geo-offers", "serve", "--port", str(self.port)], env=self.env, stdout=out, stderr=out
            )
        self.wait_ready()
        return time.monotonic() - started

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                status, _, _ = request(self.port, "GET", "/readyz", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the service did not become ready")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


def request(
    port: int, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, timeout: float = 10
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=payload, headers=all_headers)
        answer = conn.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        conn.close()


# --- the load -----------------------------------------------------------------------------------------------


@dataclass
class Ack:
    subject: str
    event: str
    purposes: list[str]
    consent_id: str
    seq: int
    hash: str
    replayed: bool


@dataclass
class Tally:
    acks: list[Ack] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    refused_connections: int = 0
    timeouts: int = 0
    bad_503: list[str] = field(default_factory=list)
    other_5xx: list[str] = field(default_factory=list)
    failure_latencies: list[float] = field(default_factory=list)
    last_ok: float = 0.0
    ok_times: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def client_loop(port: int, key: str, notice: int, tally: Tally, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    subjects = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(8)]
    headers = {"Authorization": f"Bearer {key}"}
    while not stop.is_set():
        subject = rng.choice(subjects)
        purposes = rng.sample(PURPOSES, rng.randint(1, 2))
        if rng.random() < 0.55:
            event = "grant"
            body: dict[str, Any] = {
                "subject_id": subject,
                "notice_version": notice,
                "purposes": purposes,
                "source": "faults",
                "locale": "de-DE",
                "precision_res": rng.choice([6, 7]),
            }
            path = "/v1/consents"
        else:
            event = "withdraw"
            body = {"subject_id": subject, "purposes": purposes}
            path = "/v1/consents/withdraw"
        started = time.monotonic()
        try:
            status, answer_headers, content = request(port, "POST", path, body, headers, timeout=15)
        except (ConnectionError, http.client.RemoteDisconnected, http.client.IncompleteRead):
            with tally.lock:
                tally.refused_connections += 1
            time.sleep(0.05)
            continue
        except TimeoutError:
            with tally.lock:
                tally.timeouts += 1
            continue
        except OSError:
            with tally.lock:
                tally.refused_connections += 1
            time.sleep(0.05)
            continue
        elapsed = time.monotonic() - started
        with tally.lock:
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            if 200 <= status < 300:
                receipt = json.loads(content)
                tally.acks.append(
                    Ack(
                        subject,
                        receipt["event"],
                        receipt["purposes"],
                        receipt["consent_id"],
                        receipt["ledger"]["seq"],
                        receipt["ledger"]["hash"],
                        receipt["replayed"],
                    )
                )
                tally.last_ok = time.monotonic()
                tally.ok_times.append(tally.last_ok)
            elif status == 503:
                tally.failure_latencies.append(elapsed)
                problem_ok = answer_headers.get("content-type", "").startswith("application/problem+json")
                if not problem_ok or "retry-after" not in answer_headers:
                    tally.bad_503.append(content[:200].decode(errors="replace"))
                time.sleep(0.05)
            elif status >= 500:
                tally.other_5xx.append(f"{status} {content[:200]!r}")
        if event == "withdraw" and status in (404, 409):
            continue  # nothing to withdraw: fine


# --- checks -------------------------------------------------------------------------------------------------


def check_ledger(url: str, acks: list[Ack]) -> tuple[int, list[str]]:
    """How many acknowledgements are found in the ledger, and what is wrong."""
    import psycopg2

    problems: list[str] = []
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT seq, encode(hash, 'hex'), decision_id::text, event_type FROM consent_events")
            events = {row[0]: row[1:] for row in cur.fetchall()}
    finally:
        conn.close()
    found = 0
    for ack in acks:
        event = events.get(ack.seq)
        if event is None:
            problems.append(f"acknowledged seq {ack.seq} is missing")
            continue
        digest, decision, kind = event
        if digest != ack.hash or decision != ack.consent_id or kind != ack.event:
            problems.append(f"seq {ack.seq}: ledger has {kind}/{decision}/{digest[:12]}, receipt said {ack.event}")
            continue
        found += 1
    return found, problems


def check_chain(url: str) -> Any:
    from sqlalchemy import create_engine

    from consent.ledger.chain import verify

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://"))
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            return verify(conn)
    finally:
        engine.dispose()


STATE_OF_EVENT = {"grant": "active", "withdraw": "withdrawn", "decline": "declined", "expire": "expired"}


def check_state(url: str) -> list[str]:
    """The current-state table says, for every subject and purpose, what its last ledger event says."""
    rows = sql(
        url,
        """
        WITH last AS (
            SELECT DISTINCT ON (e.tag, p.purpose) e.tag, p.purpose, e.event_type, e.decision_id
              FROM consent_events e, unnest(e.purposes) AS p(purpose)
             WHERE e.event_type IN ('grant', 'withdraw', 'decline', 'expire')
             ORDER BY e.tag, p.purpose, e.seq DESC
        )
        SELECT coalesce(l.tag, s.tag)::text, coalesce(l.purpose, s.purpose), l.event_type, s.status,
               l.decision_id::text, s.decision_id::text
          FROM last l FULL JOIN consent_state s ON s.tag = l.tag AND s.purpose = l.purpose
        """,
    )
    problems = []
    for tag, purpose, event_type, status, event_decision, state_decision in rows:
        if event_type is None or STATE_OF_EVENT.get(event_type) != status:
            problems.append(f"{tag[:8]}/{purpose}: ledger says {event_type}, state says {status}")
        elif event_type == "grant" and event_decision != state_decision:
            problems.append(f"{tag[:8]}/{purpose}: state names another decision than the last grant")
    return problems


# --- the scenario -------------------------------------------------------------------------------------------


@contextmanager
def load(port: int, key: str, notice: int, clients: int, tally: Tally) -> Iterator[None]:
    stop = threading.Event()
    threads = [
        threading.Thread(target=client_loop, args=(port, key, notice, tally, stop, seed), daemon=True)
        for seed in range(clients)
    ]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)


def longest_gap(tally: Tally, since: float) -> float:
    """The longest time without any 2xx answer after ``since`` (how long clients saw the fault)."""
    with tally.lock:
        times = [since, *(t for t in tally.ok_times if t > since)]
    return max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)


def wait_for_ok(tally: Tally, since: float, timeout: float = 60.0) -> float:
    """Seconds from ``since`` until a client got a 2xx."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tally.last_ok > since:
            return tally.last_ok - since
        time.sleep(0.02)
    raise RuntimeError("the service did not recover")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg-port", type=int, default=54400)
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds-between", type=float, default=3.0, help="steady load between faults")
    parser.add_argument("--outage", type=float, default=5.0, help="seconds PostgreSQL stays down in step 3")
    args = parser.parse_args(argv)

    cluster = Cluster(args.pg_port)
    service: Service | None = None
    try:
        log(f"private cluster in {cluster.root} on port {args.pg_port}")
        cluster.init()
        sql(cluster.url(), "CREATE DATABASE geo_offers")
        url = cluster.url("geo_offers")
        sql(url, "CREATE EXTENSION postgis")
        env = {
            **os.environ,
            "GEO_OFFERS_DATABASE_URL": url,
            "GEO_OFFERS_ENVIRONMENT": "test",
            "GEO_OFFERS_RATE_LIMIT_PER_S": "100000",
            "GEO_OFFERS_RATE_LIMIT_BURST": "100000",
            "GEO_OFFERS_DB_CONNECT_TIMEOUT_S": "2",
            "GEO_OFFERS_LOG_LEVEL": "WARNING",
        }
        subprocess.run(["geo-offers", "db", "upgrade"], env=env, check=True, capture_output=True)
        admin = subprocess.run(
            ["geo-offers", "keys", "create", "--role", "admin"], env=env, check=True, capture_output=True, text=True
        ).stdout.strip()
        app = subprocess.run(
            ["geo-offers", "keys", "create", "--role", "app"], env=env, check=True, capture_output=True, text=True
        ).stdout.strip()
        service = Service(env, args.port, cluster.root / "service.log")
        service.start()
        notice_body = {
            "purposes": [{"id": p, "title": {"de": p, "en": p}, "description": {"de": p, "en": p}} for p in PURPOSES],
            "texts": {"de": "Hinweis", "en": "Notice"},
            "fresh_consent_for": [],
        }
        status, _, content = request(
            args.port, "POST", "/v1/notices", notice_body, {"Authorization": f"Bearer {admin}"}
        )
        assert status == 201, content
        notice = json.loads(content)["version"]

        tally = Tally()
        figures: dict[str, float] = {}
        with load(args.port, app, notice, args.clients, tally):
            time.sleep(args.seconds_between)
            log("1. SIGKILL the service and start it again")
            killed = time.monotonic()
            service.kill()
            service.start()
            figures["SIGKILL: kill to first 2xx of the new process (s)"] = wait_for_ok(tally, killed)
            time.sleep(args.seconds_between)
            for mode in ("fast", "immediate"):
                log(f"2. pg_ctl restart -m {mode}")
                begun = time.monotonic()
                cluster.restart(mode)
                ready = time.monotonic()
                figures[f"restart -m {mode}: PostgreSQL ready to first 2xx (s)"] = wait_for_ok(tally, ready)
                time.sleep(args.seconds_between)
                figures[f"restart -m {mode}: longest time without a 2xx (s)"] = longest_gap(tally, begun)
            log(f"3. PostgreSQL down for {args.outage:.0f} s")
            tally.failure_latencies.clear()
            cluster.stop("immediate")
            time.sleep(args.outage)
            outage_latencies = list(tally.failure_latencies)
            cluster.start()
            ready = time.monotonic()
            figures["outage: PostgreSQL ready to first 2xx (s)"] = wait_for_ok(tally, ready)
            time.sleep(args.seconds_between)

        log("checking the ledger")
        found, problems = check_ledger(url, tally.acks)
        verification = check_chain(url)
        state_problems = check_state(url)
        acked = len(tally.acks)
        print()
        print(f"acknowledged (2xx receipts): {acked} ({sum(not a.replayed for a in tally.acks)} new decisions)")
        print(f"found in the ledger:         {found}")
        print(f"lost:                        {acked - found}")
        print(f"chain verifies:              {verification.ok} ({verification.events_checked} events)")
        print(f"state agrees with ledger:    {not state_problems}")
        print(f"answers by status:           {dict(sorted(tally.statuses.items()))}")
        print(f"refused connections:         {tally.refused_connections} (while the service was down)")
        print(f"client timeouts (15 s):      {tally.timeouts}")
        print(f"503 during the outage:       {len(outage_latencies)}")
        if outage_latencies:
            ordered = sorted(outage_latencies)
            print(
                f"503 latency max / median:    {ordered[-1] * 1000:.0f} ms / {ordered[len(ordered) // 2] * 1000:.0f} ms"
            )
        print(f"503 not problem+json or without Retry-After: {len(tally.bad_503)}")
        print(f"other 5xx:                   {len(tally.other_5xx)}")
        for name, value in figures.items():
            print(f"{name + ':':<55}{value:.2f}")
        failures = problems + state_problems + tally.bad_503 + tally.other_5xx
        if not verification.ok:
            failures.append(f"chain: {verification.problem} at {verification.first_bad_seq}")
        if tally.timeouts:
            failures.append(f"{tally.timeouts} requests hung for 15 s")
        if outage_latencies and max(outage_latencies) > 5.0:
            failures.append("a request took over 5 s to fail while the database was down")
        if not outage_latencies:
            failures.append("no request saw the outage")
        for failure in failures[:20]:
            print("FAIL:", failure)
        return 1 if failures else 0
    finally:
        if service is not None:
            service.stop()
        cluster.destroy()


if __name__ == "__main__":
    sys.exit(main())
