"""Client load during a fault: threads sending one kind of request each, every answer recorded.

A probe is a name and a function that sends one request and answers ``(status, body)``. Each probe runs in its
own thread without pause (a short sleep after an error) and every outcome is kept: when it was sent, how long it
took, its status, whether a 503 was problem+json with Retry-After. Consent writes keep their receipts, so the
scenario can check afterwards that no acknowledged write is missing from the ledger.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.faults.durability import Ack

Probe = tuple[str, Callable[[], tuple[int, Any]]]
CLIENT_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Outcome:
    probe: str
    sent: float
    seconds: float
    status: int  # 0: no HTTP answer (refused, reset, or the client's own timeout)
    well_formed: bool  # a 503 is problem+json with Retry-After (True for every other status)


@dataclass
class Record:
    outcomes: list[Outcome] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, outcome: Outcome, body: Any) -> None:
        with self.lock:
            self.outcomes.append(outcome)
            if 200 <= outcome.status < 300 and isinstance(body, dict) and "ledger" in body:
                ledger = body["ledger"]
                ack = Ack("", body["event"], body["purposes"], body["consent_id"], ledger["seq"], ledger["hash"],
                          body["replayed"])  # fmt: skip
                self.acks.append(ack)

    def window(self, start: float, end: float, probe: str | None = None) -> list[Outcome]:
        with self.lock:
            return [o for o in self.outcomes if start <= o.sent < end and (probe is None or o.probe == probe)]

    def first_ok_after(self, moment: float, probe: str) -> float | None:
        """Seconds from ``moment`` until a request of ``probe`` sent after it succeeded."""
        with self.lock:
            oks = [
                o.sent + o.seconds
                for o in self.outcomes
                if o.probe == probe and o.sent >= moment and 200 <= o.status < 300
            ]
        return min(oks) - moment if oks else None


def _run(name: str, send: Callable[[], tuple[int, Any]], record: Record, stop: threading.Event) -> None:
    while not stop.is_set():
        sent = time.monotonic()
        try:
            status, body = send()
        except (OSError, http.client.HTTPException):
            status, body = 0, None
        seconds = time.monotonic() - sent
        well_formed = True
        if status == 503:
            well_formed = (
                isinstance(body, dict)
                and body.get("_content_type", "").startswith("application/problem+json")
                and bool(body.get("_retry_after"))
            )
        record.add(Outcome(name, sent, seconds, status, well_formed), body)
        if status == 0 or status >= 500:
            time.sleep(0.05)


@contextmanager
def running(probes: list[Probe], record: Record) -> Iterator[None]:
    """Run every probe in its own thread for the length of the block."""
    stop = threading.Event()
    threads = [threading.Thread(target=_run, args=(n, s, record, stop), daemon=True) for n, s in probes]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=CLIENT_TIMEOUT_S + 5)


def summary(outcomes: list[Outcome]) -> dict[str, Any]:
    """Answered, by status, slowest answer, malformed 503s, unanswered."""
    statuses: dict[int, int] = {}
    for o in outcomes:
        statuses[o.status] = statuses.get(o.status, 0) + 1
    return {
        "requests": len(outcomes),
        "answered": sum(o.status != 0 for o in outcomes),
        "by_status": dict(sorted(statuses.items())),
        "slowest_s": round(max((o.seconds for o in outcomes), default=0.0), 3),
        "malformed_503": sum(not o.well_formed for o in outcomes),
    }
