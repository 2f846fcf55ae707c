"""Read replicas made real on one machine: a private primary, a streaming standby made with pg_basebackup, two
service instances reading from the standby and one from the primary (real uvicorn processes), then

  1. withdraw-then-match trials: a withdrawal through one instance is effective on the next match at every other,
  2. freshness: publish and pause through the primary reader, time until the standby readers' matches show it,
  3. the consent gate on the standby (the option not taken, a fourth, harness-only instance): stale answers with
     an asynchronous standby and with remote_apply; the costs: consent grants with an asynchronous standby and
     with a synchronous one (synchronous_commit = remote_apply), matches at each kind of instance, and what
     consent grants answer while a synchronous standby is down,
  4. faults under client load: standby down, primary down, standby lagging, primary frozen, standby frozen,
  5. checks: every acknowledged consent write is in the ledger on the primary and on the standby.

    bash scripts/faults [--trials 1000] [--rounds 30] [--outage 5]      (python -m tests.faults.replicas)

Prints the figures; exit status 0 only when no answer was stale, freshness met its targets (p50 < 1 s, max < 2 s),
every request during the faults got an answer (503s as problem+json with Retry-After) and no acknowledged write
was lost. Ports: PostgreSQL on 18401/18402, the instances on 18301-18303 (options to change them).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from tests.faults import promises, replica_faults
from tests.faults.durability import check_ledger, log
from tests.faults.fleet import Fleet
from tests.faults.pair import Pair


def _print(title: str, figures: dict[str, Any]) -> None:
    print(f"\n== {title}")
    for name, value in figures.items():
        shown = json.dumps(value, ensure_ascii=False, default=str) if isinstance(value, (dict, list)) else value
        print(f"  {name}: {shown}")


def _failures(trials: dict[str, Any], fresh: dict[str, Any], faults: dict[str, Any], lost: int) -> list[str]:
    failures = [f"{name}: {n} stale answers" for name, n in trials["stale"].items() if n]
    failures += [f"trials: {u}" for u in trials["unexpected"]]
    for kind in ("publish", "pause"):
        if fresh[kind]["p50_ms"] >= 1000 or fresh[kind]["max_ms"] >= 2000:
            failures.append(f"{kind} visibility {fresh[kind]} misses p50 < 1 s, max < 2 s")
    for fault, kinds in faults.items():
        for kind, figures in kinds.items():
            if not isinstance(figures, dict):
                if figures is None:
                    failures.append(f"{fault}: {kind} never happened")
                continue
            if figures["answered"] != figures["requests"]:
                failures.append(f"{fault}: {kind}: {figures['requests'] - figures['answered']} requests unanswered")
            if figures["malformed_503"]:
                failures.append(f"{fault}: {kind}: {figures['malformed_503']} 503s without problem+json/Retry-After")
            if "recovered_s" in figures and figures["recovered_s"] is None:
                failures.append(f"{fault}: {kind} did not recover")
    if lost:
        failures.append(f"{lost} acknowledged consent writes lost")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--primary-port", type=int, default=18401)
    parser.add_argument("--standby-port", type=int, default=18402)
    parser.add_argument("--ports", default="18301,18302,18303", help="service ports: the primary reader first")
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=30, help="publish/pause rounds")
    parser.add_argument("--outage", type=float, default=5.0, help="seconds each fault lasts")
    parser.add_argument("--max-lag", type=float, default=2.0, help="GEO_OFFERS_MAX_REPLICA_LAG_SECONDS")
    parser.add_argument("--request-timeout", type=float, default=3.0, help="GEO_OFFERS_REQUEST_TIMEOUT_S")
    parser.add_argument("--cost-seconds", type=float, default=5.0, help="seconds per cost figure (0: skip them)")
    parser.add_argument("--gate-port", type=int, default=18304, help="the gate-on-standby instance (0: none)")
    parser.add_argument("--gate-trials", type=int, default=300, help="trials against the gate-on-standby instance")
    parser.add_argument("--no-faults", action="store_true", help="only the trials and freshness")
    parser.add_argument("--logs", type=Path, help="copy the instances' and clusters' logs into this folder")
    args = parser.parse_args(argv)
    ports = [int(p) for p in args.ports.split(",")]

    pair = Pair(args.primary_port, args.standby_port)
    extra = {
        "GEO_OFFERS_MAX_REPLICA_LAG_SECONDS": str(args.max_lag),
        "GEO_OFFERS_REQUEST_TIMEOUT_S": str(args.request_timeout),
        "GEO_OFFERS_DB_CONNECT_TIMEOUT_S": "2",
    }
    fleet = Fleet(pair, ports, standby_readers=len(ports) - 1, extra_env=extra, gate_port=args.gate_port)
    began = time.monotonic()
    try:
        log(
            f"primary on {args.primary_port}, standby on {args.standby_port} (pg_basebackup -R), in {pair.primary.root}"
        )
        pair.create()
        log(f"instances on {ports}: the first reads from the primary, the others from the standby")
        fleet.prepare()
        log(f"{args.trials} withdraw-then-match trials")
        trials = promises.withdrawal_trials(fleet, args.trials)
        _print("withdrawal: stale answers after an acknowledged withdrawal", trials)
        log(f"{args.rounds} publish/pause rounds")
        fresh = promises.freshness(fleet, args.rounds)
        _print("freshness at the standby readers (acknowledged write to first answer showing it)", fresh)
        if fleet.gate_on_standby is not None and args.gate_trials:
            log(f"{args.gate_trials} trials against an instance whose gate asks the standby (the option not taken)")
            trials_standby = promises.gate_on_standby_trials(fleet, args.gate_trials)
            _print("gate on the standby: answers right after a write", trials_standby)
            _print("remote_apply with the standby down: consent grants", promises.synchronous_standby_down(fleet))
        if args.cost_seconds > 0:
            log("the consent gate's costs")
            _print("costs (closed loop)", promises.gate_costs(fleet, args.cost_seconds, 8))
        faults: dict[str, Any] = {}
        lost = 0
        if not args.no_faults:
            log("faults under load")
            faults, record = replica_faults.run_all(fleet, args.outage, args.max_lag)
            for name, figures in faults.items():
                _print(f"fault: {name}", figures)
            pair.wait_caught_up()
            found, problems = check_ledger(pair.url(), record.acks)
            found_standby, _ = check_ledger(pair.standby_url(), record.acks)
            lost = len(record.acks) - min(found, found_standby)
            _print(
                "acknowledged consent writes during the faults",
                {"acknowledged": len(record.acks), "on the primary": found, "on the standby": found_standby,
                 "lost": lost, "problems": problems[:5]},
            )  # fmt: skip
        failures = _failures(trials, fresh, faults, lost)
        print(f"\nwhole run: {time.monotonic() - began:.0f} s")
        for failure in failures[:30]:
            print("FAIL:", failure)
        print("OK" if not failures else f"{len(failures)} failures")
        return 1 if failures else 0
    finally:
        fleet.stop()
        if args.logs is not None:
            args.logs.mkdir(parents=True, exist_ok=True)
            for logfile in [*pair.primary.root.glob("*.log"), *pair.standby.root.glob("*.log")]:
                shutil.copy(logfile, args.logs / f"{logfile.parent.name}-{logfile.name}")
        pair.destroy()


if __name__ == "__main__":
    sys.exit(main())
