"""Benchmark plumbing: a database of its own, and the real service run under uvicorn in a subprocess."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from geo_offers.matching.shared import default_directory
from tests import databases

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("GEO_OFFERS_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
LOG_DIR = ROOT / ".local" / "bench"
INDEX_DIR = default_directory().with_name(f"geo-offers-bench-{os.getuid()}")


def url_of(name: str) -> str:
    """The URL of database ``name`` on the benchmark server."""
    return databases.url_for(ADMIN_URL, name)


def fresh_database(name: str) -> str:
    """Drop and create database ``name`` with PostGIS, migrate it to head, and return its URL."""
    databases.drop_database(ADMIN_URL, name)
    return databases.create_database(ADMIN_URL, name)


def drop_database(name: str) -> None:
    """Drop a benchmark database (and the benchmarks' deal index snapshots, which hold memory on a tmpfs)."""
    databases.drop_database(ADMIN_URL, name)
    drop_snapshots()


def drop_snapshots() -> None:
    """Remove the deal index snapshots services started by the benchmarks have written."""
    shutil.rmtree(INDEX_DIR, ignore_errors=True)


@dataclass(frozen=True)
class Memory:
    """Resident memory of one worker process, MiB: now and at its peak."""

    pid: int
    rss_mib: float
    hwm_mib: float
    pss_mib: float = 0.0  # proportional set size: shared pages (the mapped index) count by their share


def _pss_kib(pid: int) -> float:
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return 0.0
    for line in lines:
        if line.startswith("Pss:"):
            return float(line.split()[1])
    return 0.0


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _status_kib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1])
    return 0.0


class Service:
    """The service (``benchmarks.app``: the product plus the baseline routes) in its own process group, with
    benchmark-friendly settings; a context manager."""

    def __init__(self, url: str, *, port: int, workers: int, name: str = "service", **env: str) -> None:
        self.url = url
        self.port = port
        self.workers = workers
        self.name = name
        self.base = f"http://127.0.0.1:{port}"
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "GEO_OFFERS_DATABASE_URL": url,
            # One key drives every request: the per-key limit would otherwise be what the benchmark measures.
            "GEO_OFFERS_RATE_LIMIT_PER_S": "1000000000",
            "GEO_OFFERS_RATE_LIMIT_BURST": "1000000000",
            "GEO_OFFERS_INDEX_LOAD_TIMEOUT_S": "900",
            "GEO_OFFERS_LOG_LEVEL": "WARNING",
            # The shared deal index snapshots of benchmark databases: a directory of their own (see drop_database).
            "GEO_OFFERS_INDEX_DIR": str(INDEX_DIR),
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 900.0) -> None:
        """Start the server and wait until /readyz answers 200 (index loaded in every worker)."""
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log = (LOG_DIR / f"{self.name}-{self.port}.log").open("wb")
        command = [sys.executable, "-m", "benchmarks.app", "--port", str(self.port), "--workers", str(self.workers)]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the service exited with {self.process.returncode}; see {LOG_DIR}")
            if self._ready() and len(self.worker_pids()) == self.workers:
                # Every worker loads the index before it serves; give a slower sibling the same chance.
                if all(self._ready() for _ in range(self.workers * 4)):
                    return
            time.sleep(0.5)
        raise TimeoutError(f"the service on port {self.port} did not become ready")

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.base + "/readyz", timeout=5) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def worker_pids(self) -> list[int]:
        """The processes that serve requests (uvicorn's workers, or the server itself with one worker)."""
        if self.process is None:
            return []
        if self.workers == 1:
            return [self.process.pid]
        pids = []
        for pid in _children(self.process.pid):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"spawn_main" in cmdline or b"--multiprocessing-fork" in cmdline:
                pids.append(pid)
        return pids

    def memory(self) -> list[Memory]:
        """RSS, peak RSS (VmHWM) and PSS of each worker."""
        return [
            Memory(pid, _status_kib(pid, "VmRSS") / 1024, _status_kib(pid, "VmHWM") / 1024, _pss_kib(pid) / 1024)
            for pid in self.worker_pids()
        ]

    def stop(self) -> None:
        """Stop the server (SIGTERM to its process group, SIGKILL after 20 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        pgid = os.getpgid(self.process.pid)
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.process.wait(5)

    def __enter__(self) -> Service:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
