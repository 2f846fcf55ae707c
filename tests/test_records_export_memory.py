"""The officer's consent-record export (``format=dpv``) streams subject by subject: a real server's peak RSS stays
bounded while it writes the records of 20,000 subjects."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest

from geo_offers.kit.database import Database
from tests.helpers import Keys, make_settings, notice_body
from tests.test_audit_export_memory import _free_port, _load_events, _peak_rss_kib

SUBJECTS = 20_000


@pytest.mark.slow
def test_the_record_export_streams_in_bounded_memory(fresh_database_url: str, tmp_path: Path) -> None:
    _load_events(fresh_database_url, SUBJECTS)  # one grant of location_offers per subject, under notice 1
    db = Database(make_settings(fresh_database_url))
    keys = Keys(db)
    dpo, admin = keys.headers("dpo"), keys.headers("admin")
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
    path = tmp_path / "records.jsonld"
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
        assert httpx.post(f"{base}/v1/notices", json=notice_body(), headers=admin).status_code == 201
        url = f"{base}/v1/audit/consent-events/export"
        assert httpx.get(url, params={"format": "dpv", "type": "erase"}, headers=dpo).status_code == 200
        before = _peak_rss_kib(server.pid)
        started = time.monotonic()
        with httpx.stream("GET", url, params={"format": "dpv"}, headers=dpo, timeout=300) as response:
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
        f"\nrecord export of {SUBJECTS} subjects: {size_mib:.1f} MiB in {seconds:.1f} s; server peak RSS "
        f"{before / 1024:.1f} -> {after / 1024:.1f} MiB (+{growth_mib:.1f} MiB)"
    )
    graph = orjson.loads(path.read_bytes())["@graph"]
    assert len(graph) == SUBJECTS and all(r["go:currentStatus"] == "dpv:ConsentGiven" for r in graph)
    assert growth_mib < 25, f"peak RSS grew by {growth_mib:.1f} MiB for a {size_mib:.1f} MiB export"
