"""The two promises on a primary-and-standby fleet, measured: withdrawal effective on the very next match at
every instance, and a published or paused deal visible at the standby-reading instances within a second; and
what the choice of where the consent gate reads costs (consent writes with and without a synchronous standby,
match throughput at each kind of instance).
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from typing import Any

import psycopg2

from tests.faults.fleet import Fleet, Instance


def withdrawal_trials(fleet: Fleet, trials: int) -> dict[str, Any]:
    """Grant through one instance, withdraw through the next, match at every other one at once: a 200 there is
    a stale answer. Before the withdrawal, the next instance must match (200), so a 403 is not for another
    reason."""
    instances = fleet.instances
    stale = {i.name: 0 for i in instances}
    checked = {i.name: 0 for i in instances}
    unexpected: list[str] = []
    for trial in range(trials):
        subject = str(uuid.uuid4())
        writer = instances[trial % len(instances)]
        withdrawer = instances[(trial + 1) % len(instances)]
        status, body = fleet.grant(writer, subject)
        if status not in (200, 201):
            unexpected.append(f"grant {status} {body}")
            continue
        status, body = fleet.match(withdrawer, subject)
        if status != 200:
            unexpected.append(f"match before withdrawal {status} {body}")
        status, body = fleet.withdraw(withdrawer, subject)
        if status != 200:
            unexpected.append(f"withdraw {status} {body}")
            continue
        for other in instances:
            if other is withdrawer:
                continue
            status, body = fleet.match(other, subject)
            checked[other.name] += 1
            if status == 200:
                stale[other.name] += 1
            elif status != 403:
                unexpected.append(f"match after withdrawal {status} {body}")
    return {"trials": trials, "matches_checked": checked, "stale": stale, "unexpected": unexpected[:10]}


def _first_seen(
    fleet: Fleet, readers: list[Instance], subject: str, since: float, want: bool, deal: int
) -> list[float]:
    """Seconds from ``since`` until each reader's match shows (``want``) or no longer shows the deal."""
    seen: dict[str, float] = {}
    deadline = since + 10.0
    while len(seen) < len(readers) and time.monotonic() < deadline:
        for reader in readers:
            if reader.name in seen:
                continue
            offers = fleet.offers(reader, subject)
            if offers is not None and (deal in offers) == want:
                seen[reader.name] = time.monotonic() - since
        time.sleep(0.005)
    return [seen.get(r.name, float("inf")) for r in readers]


def freshness(fleet: Fleet, rounds: int) -> dict[str, Any]:
    """Publish through the primary-reading instance, wait until every standby reader matches the deal; pause
    it, wait until none does. Times are from the write's acknowledgement to the first answer that shows it."""
    subject = str(uuid.uuid4())
    primary = fleet.instances[0]
    assert fleet.grant(primary, subject)[0] in (200, 201)
    published: list[float] = []
    paused: list[float] = []
    for _ in range(rounds):
        deal, acknowledged = fleet.publish(primary)
        published += _first_seen(fleet, fleet.readers, subject, acknowledged, True, deal)
        acknowledged = fleet.pause(primary, deal)
        paused += _first_seen(fleet, fleet.readers, subject, acknowledged, False, deal)
    return {"publish": _spread(published), "pause": _spread(paused)}


def _spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p90_ms": round(ordered[int(len(ordered) * 0.9) - 1] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def _closed_loop(work: Any, clients: int, seconds: float) -> tuple[int, list[float], int]:
    """Run ``work()`` (answers a status) from ``clients`` threads for ``seconds``: completed, latencies, errors."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def run() -> None:
        while time.monotonic() < stop:
            started = time.monotonic()
            status = work()
            elapsed = time.monotonic() - started
            with lock:
                if status < 300:
                    latencies.append(elapsed)
                else:
                    errors[0] += 1

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies), latencies, errors[0]


def _rate(work: Any, clients: int, seconds: float) -> dict[str, float]:
    done, latencies, errors = _closed_loop(work, clients, seconds)
    ordered = sorted(latencies) or [0.0]
    return {
        "per_s": round(done / seconds, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, 2),
        "errors": errors,
    }


def gate_costs(fleet: Fleet, seconds: float, clients: int) -> dict[str, Any]:
    """Consent grants (new subjects) with an asynchronous standby and with a synchronous one at remote_apply;
    matches at the primary-reading and at a standby-reading instance (the gate asks the primary either way)."""
    writer = fleet.instances[0]
    figures: dict[str, Any] = {}

    def grant() -> int:
        return fleet.grant(writer, str(uuid.uuid4()))[0]

    for label, synchronous in (("consent grants, asynchronous standby", False), ("consent grants, remote_apply", True)):
        fleet.pair.synchronous(synchronous)
        time.sleep(0.5)
        figures[f"{label}, 1 client"] = _rate(grant, 1, seconds)
        figures[f"{label}, {clients} clients"] = _rate(grant, clients, seconds)
    fleet.pair.synchronous(True)
    for mode in ("on", "remote_apply"):
        figures[f"bare commits on the primary, synchronous_commit = {mode}"] = commit_latency(fleet, mode, 300)
    fleet.pair.synchronous(False)
    subject = str(uuid.uuid4())
    assert fleet.grant(writer, subject)[0] in (200, 201)
    fleet.pair.wait_caught_up()  # the gate-on-standby instance must see the grant before it is timed
    gate_standby = [fleet.gate_on_standby] if fleet.gate_on_standby else []
    for instance in (fleet.instances[0], fleet.readers[0], *gate_standby):
        figures[f"matches at {instance.name}, {clients} clients"] = _rate(
            lambda i=instance: fleet.match(i, subject)[0], clients, seconds
        )
    return figures


def gate_on_standby_trials(fleet: Fleet, trials: int) -> dict[str, Any]:
    """The option not taken: grant and withdraw through the primary reader, match at once at the instance whose
    gate asks the standby; with an asynchronous standby and with remote_apply. A 200 right after an acknowledged
    withdrawal is stale; a 403 right after an acknowledged grant is a grant not seen yet."""
    assert fleet.gate_on_standby is not None
    writer, reader = fleet.instances[0], fleet.gate_on_standby
    figures: dict[str, Any] = {}
    for label, synchronous in (("asynchronous standby", False), ("remote_apply", True)):
        fleet.pair.synchronous(synchronous)
        time.sleep(0.5)
        stale = unseen = 0
        for _ in range(trials):
            subject = str(uuid.uuid4())
            assert fleet.grant(writer, subject)[0] in (200, 201)
            unseen += fleet.match(reader, subject)[0] == 403
            assert fleet.withdraw(writer, subject)[0] == 200
            stale += fleet.match(reader, subject)[0] == 200
        figures[label] = {"trials": trials, "stale after withdrawal": stale, "grant not seen yet": unseen}
    fleet.pair.synchronous(False)
    return figures


def synchronous_standby_down(fleet: Fleet, requests: int = 5) -> dict[str, Any]:
    """With remote_apply to the standby, stop the standby and grant: how long writes wait and what they answer
    (the request deadline ends each wait with 503; PostgreSQL has committed them locally all the same)."""
    writer = fleet.instances[0]
    fleet.pair.synchronous(True)
    fleet.pair.standby.stop("immediate")
    answers: list[tuple[int, float]] = []
    try:
        for _ in range(requests):
            started = time.monotonic()
            status, _ = fleet.grant(writer, str(uuid.uuid4()))
            answers.append((status, round(time.monotonic() - started, 2)))
    finally:
        fleet.pair.synchronous(False)
        fleet.pair.standby.start()
        fleet.pair.wait_caught_up()
    after = fleet.grant(writer, str(uuid.uuid4()))[0]
    return {"answers (status, seconds)": answers, "first grant after the standby was made asynchronous": after}


def commit_latency(fleet: Fleet, mode: str, commits: int) -> dict[str, float]:
    """One-row INSERT and COMMIT on the primary, one after the other, with ``synchronous_commit = mode`` (``on``:
    local WAL flush only, the standby asynchronous; ``remote_apply``: until the standby shows it)."""
    conn = psycopg2.connect(fleet.pair.primary.url())
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS harness_commits (id bigserial PRIMARY KEY, at timestamptz)")
            cur.execute(f"SET synchronous_commit = {mode}")
            conn.commit()
            latencies = []
            for _ in range(commits):
                started = time.monotonic()
                cur.execute("INSERT INTO harness_commits (at) VALUES (now())")
                conn.commit()
                latencies.append(time.monotonic() - started)
    finally:
        conn.close()
    ordered = sorted(latencies)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
    }
