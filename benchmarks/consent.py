"""Consent write throughput (grants and withdrawals per second) and the ledger's chain verification rate.

    python -m benchmarks.consent [--clients 1,8,32] [--seconds 10] [--runs 3] [--events 200000]

Creates database ``geo_offers_bench_consent``, starts ``geo-offers serve`` with 2 workers and drives it with wrk
on loopback. For each client count: ``POST /v1/consents`` for fresh subjects (each a new subject link, two state
rows and a ledger event, one transaction) for ``--seconds``, then ``POST /v1/consents/withdraw`` of those
subjects for half as long (so the granted subjects do not run out). Then the ledger is topped up to
``--events`` events with valid synthetic grant events appended by COPY (continuing the chain), and
``consent.ledger.verify`` recomputes the whole chain in a REPEATABLE READ transaction: events per second.
"""

from __future__ import annotations

import argparse
import io
import secrets
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg2
from sqlalchemy import create_engine

from benchmarks import report, subjects, wrk
from benchmarks.service import Service, drop_database, fresh_database
from consent.canonical import canonical_json, chain_hash, iso
from consent.ledger import chain as ledger
from geo_offers.kit.database import sqlalchemy_url

TARGET_GRANTS_PER_S = 1000.0
TARGET_GRANTS_PER_HEALTHZ = 0.08
TARGET_VERIFY_PER_S = 100_000.0

_GRANT = r"""
local n = 0
local prefix, version, auth
init = function(args) prefix = args[1]; version = args[2]; auth = args[3] end
request = function()
  n = n + 1
  local body = string.format('{"subject_id":"%s-4000-8000-%012x","notice_version":%s,' ..
    '"purposes":["location_offers","offer_analytics"],"source":"benchmark","locale":"de-DE"}', prefix, n, version)
  return wrk.format("POST", "/v1/consents", {["Content-Type"] = "application/json", ["Authorization"] = auth}, body)
end
"""

_WITHDRAW = r"""
local n = 0
local answered = 0
local prefix, limit, auth
init = function(args) prefix = args[1]; limit = tonumber(args[2]); auth = args[3] end
request = function()
  n = n + 1
  local body = string.format('{"subject_id":"%s-4000-8000-%012x"}', prefix, n)
  return wrk.format("POST", "/v1/consents/withdraw",
    {["Content-Type"] = "application/json", ["Authorization"] = auth}, body)
end
response = function(status, headers, body)
  answered = answered + 1
  if answered >= limit then wrk.thread:stop() end
end
"""


def write_phase(base: str, token: str, version: int, clients: int, seconds: float) -> tuple[wrk.Result, wrk.Result]:
    """Grants for fresh subjects, then withdrawals of the subjects surely granted."""
    prefix = f"{secrets.token_hex(4)}-{secrets.token_hex(2)}"
    auth = f"Bearer {token}"
    granted = wrk.run_script(base, _GRANT, [prefix, str(version), auth], seconds=seconds, connections=clients)
    # Requests still in flight when wrk stopped may be the last ones issued: leave them out.
    surely = granted.requests - granted.errors - clients
    withdrawn = wrk.run_script(
        base, _WITHDRAW, [prefix, str(max(surely, 1)), auth], seconds=seconds / 2, connections=clients
    )
    if withdrawn.requests >= surely:
        print(f"  (withdrawals ran out of granted subjects with {clients} clients: that rate is a lower bound)")
    return granted, withdrawn


def top_up_ledger(url: str, events: int) -> int:
    """Append synthetic, valid grant events until the ledger holds ``events``; returns how many were added."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT seq, hash FROM ledger_head WHERE id = 1 FOR UPDATE")
            seq, head = cur.fetchone()
            head = bytes(head)
            missing: int = events - seq
            if missing <= 0:
                return 0
            # Each row is checked by verification afterwards; the per-row chain trigger is skipped for speed.
            cur.execute("SET session_replication_role = replica")
            now = datetime.now(UTC)
            rows = io.StringIO()
            for i in range(missing):
                seq += 1
                at = now + timedelta(microseconds=i)
                tag, decision = uuid.uuid4(), uuid.uuid4()
                document = ledger.event_document(
                    "grant",
                    at,
                    tag,
                    subjects.PURPOSES,
                    decision_id=decision,
                    granted=subjects.PURPOSES,
                    precision_res=7,
                    notice_version=1,
                    notice_sha256="0" * 64,
                    source="benchmark",
                    locale="de-DE",
                    gpc=False,
                    expires_at=at + timedelta(days=365),
                )
                canonical = canonical_json(document)
                digest = chain_hash(head, canonical)
                escaped = canonical.replace("\\", "\\\\")
                rows.write(
                    f"{seq}\t{iso(at)}\tgrant\t{tag}\t{decision}\t{{location_offers,offer_analytics}}\t1\t"
                    f"{escaped}\t\\\\x{head.hex()}\t\\\\x{digest.hex()}\n"
                )
                head_prev, head = head, digest
            rows.seek(0)
            cur.copy_expert(
                "COPY consent_events (seq, occurred_at, event_type, tag, decision_id, purposes, notice_version,"
                " canonical, prev_hash, hash) FROM STDIN",
                rows,
            )
            cur.execute(
                "UPDATE ledger_head SET seq = %s, prev_hash = %s, hash = %s WHERE id = 1",
                (seq, head_prev, head),
            )
        conn.commit()
    finally:
        conn.close()
    return missing


def verify_rate(url: str) -> tuple[float, int, bool]:
    """(events per second, events checked, chain ok) of one full verification."""
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                started = time.perf_counter()
                result = ledger.verify(conn)
                seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    return result.events_checked / seconds, result.events_checked, result.ok


def main(argv: list[str] | None = None) -> int:
    """Run the consent benchmark."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="1,8,32", help="comma-separated concurrent client counts")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each grant phase")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=200_000, help="ledger size for the verification rate")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8741)
    parser.add_argument("--database", default="geo_offers_bench_consent")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.clients.split(",")]
    if not wrk.available():
        print("wrk is not installed (apt install wrk); scripts/bench installs it", file=sys.stderr)
        return 2
    url = fresh_database(args.database)
    try:
        version = subjects.notice_version(url)
        token = subjects.app_key(url)
        grants: dict[int, list[wrk.Result]] = {c: [] for c in levels}
        withdrawals: dict[int, list[wrk.Result]] = {c: [] for c in levels}
        healthz: list[wrk.Result] = []
        with Service(url, port=args.port, workers=args.workers, name="consent") as service:
            write_phase(service.base, token, version, 8, 2.0)  # warm-up
            for _ in range(args.runs):
                for clients in levels:
                    granted, withdrawn = write_phase(service.base, token, version, clients, args.seconds)
                    grants[clients].append(granted)
                    withdrawals[clients].append(withdrawn)
                # the stack's own ceiling in the same run, against the same service, as many clients
                healthz.append(wrk.get(service.base, "/healthz", seconds=args.seconds, connections=max(levels)))
        print(f"\n== consent writes: {args.workers} workers, {args.runs} runs per level")
        print(report.HEADER)
        for clients in levels:
            print(report.row(f"grant, {clients} clients", grants[clients]))
            print(report.row(f"withdraw, {clients} clients", withdrawals[clients]))
        best = statistics.median(r.rps for r in grants[max(levels)])
        ok = best >= TARGET_GRANTS_PER_S
        print(report.row(f"GET /healthz, {max(levels)} clients", healthz))
        print(f"  grants/s with {max(levels)} clients = {best:,.0f}  (target >= 1,000: {report.verdict(ok)})")
        ceiling = statistics.median(r.rps for r in healthz)
        share = best / ceiling
        print(
            f"  grants / healthz = {best:,.0f} / {ceiling:,.0f} = {share:.3f}"
            f"  (target >= {TARGET_GRANTS_PER_HEALTHZ}: {report.verdict(share >= TARGET_GRANTS_PER_HEALTHZ)})"
        )

        added = top_up_ledger(url, args.events)
        rates = []
        checked, chain_ok = 0, True
        for _ in range(args.runs):
            rate, checked, good = verify_rate(url)
            rates.append(rate)
            chain_ok = chain_ok and good
        print(f"\n== chain verification: {checked:,} events ({added:,} synthetic), chain ok: {chain_ok}")
        median = statistics.median(rates)
        print(
            f"  events/s = {report.spread(rates)}  (target >= 100,000: {report.verdict(median >= TARGET_VERIFY_PER_S)})"
        )
        path = report.save(
            "consent",
            {
                "args": vars(args),
                "grants": {c: [r.__dict__ | {"rps": r.rps} for r in rs] for c, rs in grants.items()},
                "withdrawals": {c: [r.__dict__ | {"rps": r.rps} for r in rs] for c, rs in withdrawals.items()},
                "healthz": [r.__dict__ | {"rps": r.rps} for r in healthz],
                "verify_events": checked,
                "verify_rates": rates,
                "chain_ok": chain_ok,
            },
        )
        print(f"\nraw figures: {path}")
    finally:
        if not args.keep:
            drop_database(args.database)
    return 0


if __name__ == "__main__":
    sys.exit(main())
