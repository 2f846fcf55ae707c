"""Load generation with wrk (one thread, N connections, keep-alive, loopback) driven by a Lua script.

wrk is written in C and costs a fraction of a core at these rates, so the client is not what is measured.
Request bodies come from a file (one per line), cycled through; ``done`` prints the figures as one JSON line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_REPORT = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.stderr:write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""

_BODIES = r"""
local requests = {}
local next_one = 0
init = function(args)
  for line in io.lines(args[1]) do
    requests[#requests + 1] = wrk.format(args[2], args[3], {["Content-Type"] = "application/json",
      ["Authorization"] = args[4]}, line)
  end
end
request = function()
  next_one = next_one % #requests + 1
  return requests[next_one]
end
"""

_GET = r"""
init = function(args) req = wrk.format("GET", args[1]) end
request = function() return req end
"""


@dataclass(frozen=True)
class Result:
    """Figures of one wrk run; ``errors`` counts non-2xx/3xx answers and socket errors."""

    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        """Successful requests per second."""
        return (self.requests - self.errors) / self.seconds


def available() -> bool:
    """Whether wrk is installed."""
    return shutil.which("wrk") is not None


def _run(script: str, base: str, args: list[str], seconds: float, connections: int, extra: list[str]) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script + _REPORT)
        path = f.name
    try:
        command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s", "-s", path, *extra, base]
        done = subprocess.run([*command, "--", *args], capture_output=True, text=True, timeout=seconds + 60)
    finally:
        Path(path).unlink()
    for line in done.stderr.splitlines():
        if line.startswith("WRKJSON "):
            raw = json.loads(line[len("WRKJSON ") :])
            errors = sum(raw[k] for k in ("connect", "read", "write", "status", "timeout"))
            return Result(
                raw["requests"],
                raw["duration_us"] / 1e6,
                errors,
                raw["p50_us"] / 1000,
                raw["p90_us"] / 1000,
                raw["p99_us"] / 1000,
                raw["max_us"] / 1000,
            )
    raise RuntimeError(f"wrk gave no report: {done.stdout}\n{done.stderr}")


def get(base: str, path: str, *, seconds: float, connections: int) -> Result:
    """Load a GET route."""
    return _run(_GET, base, [path], seconds, connections, [])


def post_bodies(base: str, path: str, bodies: list[bytes], token: str, *, seconds: float, connections: int) -> Result:
    """Load a POST route with JSON bodies cycled in order."""
    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl", delete=False) as f:
        f.write(b"\n".join(bodies) + b"\n")
        data = f.name
    try:
        return _run(_BODIES, base, [data, "POST", path, f"Bearer {token}"], seconds, connections, [])
    finally:
        Path(data).unlink()


def run_script(base: str, script: str, args: list[str], *, seconds: float, connections: int) -> Result:
    """Load with a custom Lua script (it defines ``init``/``request``/``response``; the report is added)."""
    return _run(script, base, args, seconds, connections, [])
