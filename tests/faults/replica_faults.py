"""Faults of a primary-and-standby fleet and what clients saw: the standby down, the primary down, the standby
lagging, and a frozen database (every process of a cluster stopped with SIGSTOP, connections left open).

Each fault runs under the same client load: matches at a standby reader and at the primary reader, area
catalogues and readiness at a standby reader, and consent grants of new subjects. For each it reports the
requests sent during the fault, how many got an answer, the answers by status, the slowest answer, 503s that
were not problem+json with Retry-After, and how long after the fault ended the affected requests succeeded again.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.faults.fleet import Fleet
from tests.faults.load import Probe, Record, running, summary


def probes(fleet: Fleet, subject: str) -> list[Probe]:
    reader, primary = fleet.readers[0], fleet.instances[0]
    last = fleet.instances[-1]
    return [
        ("match at standby reader", lambda: fleet.match(reader, subject)),
        ("match at primary reader", lambda: fleet.match(primary, subject)),
        ("area at standby reader", lambda: fleet.area(reader)),
        ("readyz at standby reader", lambda: fleet.call(reader, "GET", "/readyz")),
        ("consent grant", lambda: fleet.grant(last, str(uuid.uuid4()))),
    ]


def _report(record: Record, start: float, end: float, recovered_from: float) -> dict[str, Any]:
    kinds = sorted({o.probe for o in record.window(start, end)})
    out: dict[str, Any] = {}
    for kind in kinds:
        figures = summary(record.window(start, end, kind))
        if any(status >= 500 or status == 0 for status in figures["by_status"]):
            recovery = record.first_ok_after(recovered_from, kind)
            figures["recovered_s"] = None if recovery is None else round(recovery, 2)
        out[kind] = figures
    return out


def standby_down(fleet: Fleet, record: Record, outage: float) -> dict[str, Any]:
    fleet.pair.standby.stop("immediate")
    start = time.monotonic()  # the fault's figures count from when it took effect
    time.sleep(outage)
    fleet.pair.standby.start()
    back = time.monotonic()
    reachable = _wait_read_reachable(fleet)
    time.sleep(1.0)
    result = _report(record, start, back, back)
    result["standby started to reads back on it (s)"] = reachable
    return result


def primary_down(fleet: Fleet, record: Record, outage: float) -> dict[str, Any]:
    fleet.pair.primary.stop("immediate")
    start = time.monotonic()
    time.sleep(outage)
    fleet.pair.primary.start()
    back = time.monotonic()
    _wait_ok(record, back, "consent grant")
    time.sleep(1.0)
    result = _report(record, start, back, back)
    result["standby streaming again after (s)"] = _wait_streaming(fleet, back)
    return result


def lagging(fleet: Fleet, record: Record, limit: float) -> dict[str, Any]:
    """Replay paused on the standby while consent grants keep writing WAL on the primary."""
    reader = fleet.readers[0]
    start = time.monotonic()
    fleet.pair.pause_replay()
    unready_after = highest = None
    while time.monotonic() - start < limit + 4.0:
        status, _ = fleet.call(reader, "GET", "/readyz", timeout=5)
        highest = max(highest or 0.0, _lag_metric(fleet))
        if status == 503 and unready_after is None:
            unready_after = time.monotonic() - start
        time.sleep(0.1)
    fleet.pair.resume_replay()
    back = time.monotonic()
    ready_again = None
    while time.monotonic() - back < 30:
        if fleet.call(reader, "GET", "/readyz", timeout=5)[0] == 200:
            ready_again = time.monotonic() - back
            break
        time.sleep(0.05)
    time.sleep(1.0)
    result = _report(record, start, back, back)
    result["replay paused to /readyz 503 (s)"] = None if unready_after is None else round(unready_after, 2)
    result["highest lag on /metrics (s)"] = None if highest is None else round(highest, 2)
    result["replay resumed to /readyz 200 (s)"] = None if ready_again is None else round(ready_again, 2)
    return result


def frozen(fleet: Fleet, record: Record, outage: float, which: str) -> dict[str, Any]:
    cluster = fleet.pair.primary if which == "primary" else fleet.pair.standby
    pids = fleet.pair.freeze(cluster)
    start = time.monotonic()
    time.sleep(outage)
    fleet.pair.thaw(pids)
    back = time.monotonic()
    if which == "primary":
        _wait_ok(record, back, "consent grant")
    time.sleep(2.0)
    return _report(record, start, back, back)


def _lag_metric(fleet: Fleet) -> float:
    status, text = fleet.call(fleet.readers[0], "GET", "/metrics", timeout=5)
    for line in str(text).splitlines() if status == 200 else []:
        if line.startswith("geo_offers_read_database_lag_seconds "):
            return float(line.split()[1])
    return 0.0


def _wait_ok(record: Record, since: float, probe: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and record.first_ok_after(since, probe) is None:
        time.sleep(0.05)


def _wait_read_reachable(fleet: Fleet, timeout: float = 60.0) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        status, body = fleet.call(fleet.readers[0], "GET", "/readyz", timeout=5)
        if status == 200 and body["read_database"].get("reachable"):
            return round(time.monotonic() - started, 2)
        time.sleep(0.05)
    return None


def _wait_streaming(fleet: Fleet, since: float, timeout: float = 60.0) -> float | None:
    while time.monotonic() - since < timeout:
        try:
            if fleet.pair.streaming():
                return round(time.monotonic() - since, 2)
        except Exception:  # noqa: BLE001 - the primary may still be starting
            pass
        time.sleep(0.1)
    return None


def run_all(fleet: Fleet, outage: float, max_lag: float) -> tuple[dict[str, Any], Record]:
    """Every fault in turn under one continuous load; the record holds every answer and receipt."""
    subject = str(uuid.uuid4())
    assert fleet.grant(fleet.instances[0], subject)[0] in (200, 201)
    record = Record()
    results: dict[str, Any] = {}
    with running(probes(fleet, subject), record):
        time.sleep(1.0)
        results["standby down"] = standby_down(fleet, record, outage)
        results["primary down"] = primary_down(fleet, record, outage)
        results["standby lagging"] = lagging(fleet, record, max_lag)
        results["primary frozen (SIGSTOP)"] = frozen(fleet, record, outage, "primary")
        results["standby frozen (SIGSTOP)"] = frozen(fleet, record, outage, "standby")
    return results, record
