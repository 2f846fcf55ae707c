"""The ledger export streams: 100,000 events leave a real server with its peak RSS barely moving."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from consent.canonical import GENESIS, canonical_json, chain_hash
from consent.ledger import chain as ledger
from consent.ledger.export_check import verify_file
from geo_offers.kit.database import Database
from tests.audit_env import superuser
from tests.helpers import Keys, make_settings

EVENTS = 100_000


def _load_events(url: str, n: int) -> None:
    """``n`` valid, chained grant events, hashed here and loaded with COPY (the per-row chain trigger is off for
    the load only; the export check below recomputes every link)."""
    buffer = io.StringIO()
    prev = GENESIS
    start = datetime(2026, 11, 23, tzinfo=UTC)
    for seq in range(1, n + 1):
        at = start + timedelta(milliseconds=seq)
        tag = uuid.uuid4()
        document = ledger.event_document(
            "grant",
            at,
            tag,
            ["location_offers"],
            decision_id=uuid.uuid4(),
            granted=["location_offers"],
            precision_res=7,
            notice_version=1,
            source="onboarding",
            locale="de-DE",
            gpc=False,
            expires_at=at + timedelta(days=365),
        )
        canonical = canonical_json(document)
        digest = chain_hash(prev, canonical)
        row = [str(seq), at.isoformat(), "grant", str(tag), document["decision_id"], "{location_offers}", "1"]
        row += [canonical.replace("\\", "\\\\"), "\\\\x" + prev.hex(), "\\\\x" + digest.hex()]  # COPY text escapes
        buffer.write("\t".join(row) + "\n")
        prev = digest
    buffer.seek(0)
    conn = superuser(url)
    with conn.cursor() as cur:
        cur.execute("ALTER TABLE consent_events DISABLE TRIGGER consent_events_chain")
        cur.copy_expert(
            "COPY consent_events (seq, occurred_at, event_type, tag, decision_id, purposes, notice_version, "
            "canonical, prev_hash, hash) FROM STDIN",
            buffer,
        )
        cur.execute("ALTER TABLE consent_events ENABLE TRIGGER consent_events_chain")
        cur.execute("UPDATE ledger_head SET seq = %s, hash = %s", (n, prev))
    conn.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.slow
def test_export_of_100000_events_streams_in_bounded_memory(fresh_database_url: str, tmp_path: Path) -> None:
    _load_events(fresh_database_url, EVENTS)
    db = Database(make_settings(fresh_database_url))
    dpo = Keys(db).headers("dpo")
    db.dispose()
    port = _free_port()
    env = {**os.environ, "GEO_OFFERS_DATABASE_URL": fresh_database_url, "GEO_OFFERS_ENVIRONMENT": "test"}
    server = subprocess.Popen(
        [sys.executable, "-c", "from geo_offers.cli import main; main()", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        url = f"{base}/v1/audit/consent-events/export"
        assert httpx.get(url, params={"format": "jsonl", "type": "erase"}, headers=dpo).status_code == 200
        before = _peak_rss_kib(server.pid)
        path = tmp_path / "ledger.jsonl"
        started = time.monotonic()
        with httpx.stream("GET", url, params={"format": "jsonl"}, headers=dpo, timeout=120) as response:
            assert response.status_code == 200
            with path.open("wb") as handle:
                for chunk in response.iter_bytes():
                    handle.write(chunk)
        seconds = time.monotonic() - started
        after = _peak_rss_kib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=10)
    size_mib = path.stat().st_size / 2**20
    growth_mib = (after - before) / 1024
    print(
        f"\nexport of {EVENTS} events: {size_mib:.1f} MiB in {seconds:.1f} s; server peak RSS "
        f"{before / 1024:.1f} -> {after / 1024:.1f} MiB (+{growth_mib:.1f} MiB)"
    )
    check = verify_file(path)
    assert check.ok and check.complete and check.events == EVENTS and check.from_genesis and check.segments == 1
    assert size_mib > 40
    assert growth_mib < 25, f"peak RSS grew by {growth_mib:.1f} MiB for a {size_mib:.1f} MiB export"
