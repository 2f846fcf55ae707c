"""Prometheus metrics: request counts and latency histograms per route template, as an ASGI middleware.

With several worker processes, ``geo-offers serve`` sets PROMETHEUS_MULTIPROC_DIR so that /metrics
aggregates every worker.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("geo_offers.access")

_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class Metrics:
    """The service's metric families, kept in a registry of its own (one per app)."""

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = CollectorRegistry(auto_describe=True)
        target = None if self.multiprocess else self.registry
        self.requests = Counter(
            "geo_offers_http_requests_total",
            "HTTP requests answered, by route template, method and status.",
            ("route", "method", "status"),
            registry=target,
        )
        self.latency = Histogram(
            "geo_offers_http_request_duration_seconds",
            "Time from the request's arrival to the end of its response, by route template.",
            ("route", "method"),
            buckets=_BUCKETS,
            registry=target,
        )
        self.internal = Counter(
            "geo_offers_internal_total",
            "The service's own machinery, by kind: match_cache_hits, match_cache_misses, index_changes_applied, "
            "counter_rows_flushed, counter_rows_dropped (insight counts lost while the database was down), "
            "consent_decisions_committed, consent_decision_groups_committed (their ratio is the group size), "
            "read_fallbacks (reads sent to the primary while the read database was down), deadline_answers "
            "(requests answered 503 by the request deadline).",
            ("kind",),
            registry=target,
        )
        self.read_lag = Gauge(
            "geo_offers_read_database_lag_seconds",
            "How far the read database (a streaming standby) is behind the primary; 0 without a read database, "
            "-1 while it cannot be asked.",
            registry=target,
            multiprocess_mode="max",
        )
        self.read_up = Gauge(
            "geo_offers_read_database_up",
            "1 while reads reach the read database (or no read database is set), 0 while they fall back or fail.",
            registry=target,
            multiprocess_mode="min",
        )
        # "liveall": one series per worker process (a pid label in multi-process mode), gone when it stops
        self.live_streams = Gauge(
            "geo_offers_live_streams",
            "Live area streams (Server-Sent Events) open in this worker.",
            registry=target,
            multiprocess_mode="liveall",
        )
        self._gauges: list[tuple[Gauge, Callable[[], float]]] = []
        self._sources: dict[str, Callable[[], int]] = {}
        self._published: dict[str, int] = {}

    def track(self, kind: str, read: Callable[[], int]) -> None:
        """Publish a running count that a component keeps as a plain int (cheap on the hot path) as
        ``geo_offers_internal_total{kind=...}``; its growth is copied over by :meth:`publish`."""
        self._sources[kind] = read
        self.internal.labels(kind)  # present (as 0) before the first increment

    def gauge(self, gauge: Gauge, read: Callable[[], float]) -> None:
        """Set ``gauge`` from ``read()`` at every publication."""
        self._gauges.append((gauge, read))

    def publish(self) -> None:
        """Copy what the tracked counts grew by since the last call (each worker calls it for itself)."""
        for gauge, read_value in self._gauges:
            gauge.set(read_value())
        for kind, read in self._sources.items():
            value = read()
            grown = value - self._published.get(kind, 0)
            if grown > 0:
                self.internal.labels(kind).inc(grown)
            self._published[kind] = value

    async def publish_every(self, seconds: float) -> None:
        """Publish forever, every ``seconds`` (so /metrics on any worker shows every worker's counts)."""
        while True:
            await asyncio.sleep(seconds)
            self.publish()

    def render(self) -> tuple[bytes, str]:
        """The text exposition of every metric (of every worker in multi-process mode)."""
        self.publish()
        if self.multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Counts and times each HTTP request under its route template (never the raw path)."""

    def __init__(self, app: ASGIApp, metrics: Metrics, log_access: bool = False) -> None:
        self.app = app
        self.metrics = metrics
        self.log_access = log_access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.requests.labels(template, method, str(status)).inc()
            self.metrics.latency.labels(template, method).observe(elapsed)
            if self.log_access:
                access_log.info(
                    "request",
                    extra={
                        "route": template,
                        "method": method,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
