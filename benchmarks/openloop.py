"""An open-loop load client: requests leave at a fixed rate by the clock, whatever the answers do.

A closed-loop tool (wrk) sends the next request on a connection only after the previous answer, so a slow
answer also delays the requests that should have been sent meanwhile, and their waiting is never counted
("coordinated omission"): at saturation its p99 measures its own queue. Here request ``i`` is due at
``start + i / rate``; it goes out on a free keep-alive connection at once, or waits for one, and its latency is
measured from when it was *due* to when its answer arrived, so every delay a client would see is counted.

It is a small asyncio client (uvloop when present) speaking HTTP/1.1 over raw connections, with the request
bytes prepared in advance, so a few thousand requests a second cost it little of the machine it shares with the
service. ``run`` reports answered/late/error counts and p50/p99/p99.9.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class OpenLoopResult:
    """What one fixed-rate run saw."""

    rate: float
    seconds: float
    sent: int = 0
    answered: int = 0
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    #: requests that left more than 1 ms after they were due (every connection busy, or the client itself behind);
    #: their latency still counts from the due time
    late: int = 0

    def percentile(self, q: float) -> float:
        """Latency percentile in milliseconds (``q`` in 0..100)."""
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    @property
    def achieved(self) -> float:
        """Answers per second."""
        return self.answered / self.seconds


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection with one request in flight at a time."""

    def __init__(self, on_answer: asyncio.Queue[_Connection]) -> None:
        self.transport: asyncio.Transport | None = None
        self._free = on_answer
        self._buffer = b""
        self._due = 0.0
        self._result: OpenLoopResult | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send(self, request: bytes, due: float, result: OpenLoopResult) -> None:
        assert self.transport is not None
        self._due, self._result = due, result
        if time.perf_counter() - due > 0.001:
            result.late += 1
        result.sent += 1
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self._buffer[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            total = end + 4 + length
            if len(self._buffer) < total:
                return
            status = int(head[9:12])
            self._buffer = self._buffer[total:]
            self._answered(status)

    def _answered(self, status: int) -> None:
        result = self._result
        if result is not None:
            result.latencies_ms.append((time.perf_counter() - self._due) * 1000)
            result.answered += 1
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status >= 500:
                result.errors += 1
        self._result = None
        self._free.put_nowait(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._result is not None:
            self._result.errors += 1
            self._result = None
        if not self.closed.done():
            self.closed.set_result(None)


def _request(host: str, method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _run(
    host: str, port: int, requests: Sequence[bytes], rate: float, seconds: float, connections: int
) -> OpenLoopResult:
    loop = asyncio.get_running_loop()
    free: asyncio.Queue[_Connection] = asyncio.Queue()
    opened: list[_Connection] = []
    for _ in range(connections):
        _, conn = await loop.create_connection(lambda: _Connection(free), host, port)
        opened.append(conn)
        free.put_nowait(conn)
    result = OpenLoopResult(rate=rate, seconds=seconds)
    total = int(rate * seconds)
    backlog: deque[tuple[float, bytes]] = deque()
    start = time.perf_counter() + 0.05
    for i in range(total):
        due = start + i / rate
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        backlog.append((due, requests[i % len(requests)]))
        while backlog:
            try:
                conn = free.get_nowait()
            except asyncio.QueueEmpty:
                break
            queued_due, request = backlog.popleft()
            conn.send(request, queued_due, result)
    while backlog:  # the end of the schedule: what still waits goes out as connections free up
        conn = await free.get()
        queued_due, request = backlog.popleft()
        conn.send(request, queued_due, result)
    deadline = time.perf_counter() + 30
    while result.answered + result.errors < result.sent and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    for conn in opened:
        if conn.transport is not None:
            conn.transport.close()
    return result


def run(
    base: str,
    method: str,
    path: str,
    bodies: Sequence[bytes],
    *,
    rate: float,
    seconds: float,
    headers: dict[str, str] | None = None,
    connections: int = 64,
) -> OpenLoopResult:
    """Send ``rate`` requests a second for ``seconds`` to ``base + path`` (bodies cycled) and measure them."""
    host_port = base.split("://", 1)[1].rstrip("/")
    host, _, port = host_port.partition(":")
    wanted = {"Content-Type": "application/json", **(headers or {})}
    requests = [_request(host_port, method, path, wanted, body) for body in (bodies or [b""])]
    try:
        import uvloop

        return uvloop.run(_run(host, int(port or 80), requests, rate, seconds, connections))
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.run(_run(host, int(port or 80), requests, rate, seconds, connections))
