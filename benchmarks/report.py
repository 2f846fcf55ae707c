"""Medians and spreads of repeated runs, printed as small tables."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.service import LOG_DIR
from benchmarks.wrk import Result


def spread(values: Sequence[float], fmt: str = "{:,.0f}") -> str:
    """``median [min-max]`` of the values."""
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.median(values))} [{fmt.format(min(values))}-{fmt.format(max(values))}]"


def row(name: str, results: Sequence[Result]) -> str:
    """One table row: throughput, p50, p99 and errors over repeated runs."""
    return (
        f"  {name:<22} {spread([r.rps for r in results]):>26} {spread([r.p50_ms for r in results], '{:.2f}'):>20}"
        f" {spread([r.p99_ms for r in results], '{:.2f}'):>20} {sum(r.errors for r in results):>8}"
    )


HEADER = f"  {'endpoint':<22} {'req/s median [min-max]':>26} {'p50 ms':>20} {'p99 ms':>20} {'errors':>8}"


def verdict(ok: bool) -> str:
    """A word for a target check."""
    return "met" if ok else "MISSED"


def save(name: str, payload: dict[str, Any]) -> Path:
    """Write the raw figures as JSON under .local/bench/ and return the path."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    path = LOG_DIR / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path
