"""The application factory."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from consent import endpoints as consent_api
from consent.decisions import DecisionWriter
from consent.gate import ConsentGate
from geo_offers import console
from geo_offers.codes import endpoints as codes
from geo_offers.compliance import audit, records, subjects
from geo_offers.insights import endpoints as insights
from geo_offers.insights import events
from geo_offers.insights.counter import Counter
from geo_offers.kit import docs, health, problem_docs, problems
from geo_offers.kit.bodylimit import BodyLimitMiddleware
from geo_offers.kit.clock import Clock, utc_now
from geo_offers.kit.contract import ContractMiddleware
from geo_offers.kit.database import Database, keepalive_options, libpq_dsn
from geo_offers.kit.deadline import DeadlineMiddleware, DeadlineStats
from geo_offers.kit.deps import consent_ports
from geo_offers.kit.logs import configure_logging
from geo_offers.kit.metrics import Metrics, MetricsMiddleware
from geo_offers.kit.migrate import head_revision
from geo_offers.kit.pgasync import AsyncPool, Listener
from geo_offers.kit.ratelimit import RateLimiter
from geo_offers.kit.readtarget import ReadPool
from geo_offers.kit.replication import ReplicationMonitor
from geo_offers.live import endpoints as live
from geo_offers.live.hub import Hub
from geo_offers.matching import endpoints as offers
from geo_offers.matching.fastpath import MatchFastPath
from geo_offers.matching.feed import IndexFeed, Loader
from geo_offers.matching.index import DealIndex
from geo_offers.matching.matcher import Matcher
from geo_offers.matching.shared import SnapshotStore, default_directory
from geo_offers.matching.source import load_index
from geo_offers.places.deals import endpoints as deals
from geo_offers.places.stores import endpoints as stores
from geo_offers.services import Services
from geo_offers.settings import Settings
from geo_offers.tenants import endpoints as admin
from geo_offers.tenants.auth import KeyStore

logger = logging.getLogger(__name__)
SHUTDOWN_STEP_S = 10.0
METRICS_PUBLISH_S = 5.0

DESCRIPTION = """
Privacy-first geolocation offers. Stores publish deals; apps ask, for a person who opted in, which deals are
near that person's *coarse* location (an H3 cell) right now. Every request needs an API key
(`Authorization: Bearer gok_...`); errors are RFC 9457 problem+json.
"""


def make_pool(settings: Settings, dsn: str, setup: Sequence[str] = ()) -> AsyncPool:
    """An asynchronous pool with the service's timeouts, keepalives and statement time limit."""
    return AsyncPool(
        dsn,
        size=settings.db_pool_size,
        role=settings.database_role,
        timeout=float(settings.db_connect_timeout_s),
        setup=[f"SET statement_timeout = {settings.db_statement_timeout_ms}", *setup],
        options=keepalive_options(settings),
    )


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock = utc_now,
    log: bool = True,
    extra_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """Build the app. Nothing connects here: the lifespan opens and closes every connection.

    ``extra_routers`` are mounted after the product's own (a harness's routes, such as the benchmarks').
    """
    settings = settings or Settings()
    if log:
        configure_logging(settings.log_level)
    metrics = Metrics()
    deadline = DeadlineStats()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings)
        dsn = libpq_dsn(settings.database_url)
        timeout = float(settings.db_connect_timeout_s)
        listener = Listener(dsn, role=settings.database_role, timeout=timeout, options=keepalive_options(settings))
        pool = make_pool(settings, dsn, setup=[ConsentGate.SETUP])
        read_pool = make_pool(settings, libpq_dsn(settings.read_database_url)) if settings.read_database_url else None
        reads = ReadPool(pool, read_pool, db.target)
        replication = ReplicationMonitor(
            pool.fetch, read_pool.fetch if read_pool else None, interval=settings.replica_lag_probe_s
        )
        keys = KeyStore(db.sessions, settings.key_cache_ttl_s, trust_cache=lambda: listener.connected)
        listener.on("geo_offers_keys", keys.invalidate)
        listener.on_reset(keys.clear)
        matcher = Matcher(DealIndex(settings.index_res), max_entries=settings.match_cache_entries)
        loader, snapshots = index_loader(settings, db)
        feed = IndexFeed(matcher, reads, listener, loader=loader, clock=clock, poll_s=settings.index_poll_s)
        hub = Hub(
            feed,
            reads.fetch_named,
            settings.live,
            coarsest_res=settings.area_min_res,
            clock=clock,
            on_count=metrics.live_streams.set,
        )
        services = Services(
            settings=settings,
            db=db,
            pool=pool,
            listener=listener,
            keys=keys,
            limiter=RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst),
            metrics=metrics,
            head_revision=head_revision(settings),
            gate=ConsentGate(pool.fetch, settings.consent.pepper.get_secret_value()),
            decisions=DecisionWriter(db.sessions),
            matcher=matcher,
            feed=feed,
            counter=Counter(pool.fetch, settings.counter_flush_s, clock=clock),
            reads=reads,
            replication=replication,
            code_claims=RateLimiter(settings.codes.code_claims_per_key_per_s, settings.codes.code_claims_per_key_burst),
            hub=hub,
            clock=clock,
            snapshots=snapshots,
        )
        app.state.services = services
        metrics.track("match_cache_hits", lambda: matcher.hits)
        metrics.track("match_cache_misses", lambda: matcher.misses)
        metrics.track("index_changes_applied", lambda: feed.applied)
        metrics.track("index_reloads", lambda: feed.reloads)
        if snapshots is not None:
            metrics.track("index_snapshot_builds", lambda: snapshots.builds)
            metrics.track("index_snapshot_maps", lambda: snapshots.maps)
        metrics.track("counter_rows_flushed", lambda: services.counter.flushed_rows)
        metrics.track("counter_rows_dropped", lambda: services.counter.dropped_rows)
        metrics.track("consent_decisions_committed", lambda: services.decisions.decisions)
        metrics.track("consent_decision_groups_committed", lambda: services.decisions.batches)
        metrics.track("read_fallbacks", lambda: db.target.fallbacks)
        metrics.track("deadline_answers", lambda: deadline.expired)
        metrics.gauge(metrics.read_lag, lambda: -1.0 if replication.seconds is None else replication.seconds)
        metrics.gauge(metrics.read_up, lambda: float(db.target.up and replication.seconds is not None))
        services.decisions.start()
        await replication.start()
        publisher = asyncio.get_running_loop().create_task(metrics.publish_every(METRICS_PUBLISH_S))
        await feed.start()
        hub.start()
        await listener.start()
        await services.counter.start()
        # Serve once the deal index is loaded, so a new worker answers matches at once. When the database is
        # down (or the load is slow) start anyway: /readyz and match answer 503 until the index is there.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(feed.settled.wait(), settings.index_load_timeout_s)
        if settings.openapi_at_start:
            app.openapi()  # once per process, before serving, not inside the first requests' time
        if settings.gc_freeze:
            # What start-up built (modules, routes, settings, the index's bookkeeping) lives as long as the
            # worker: keep it out of the collector's passes, which otherwise scan it all at every full pass.
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            publisher.cancel()
            # Each step is bounded: a stuck step must not keep the process from exiting.
            for name, step in (
                ("live streams", hub.stop),
                ("consent writer", services.decisions.close),
                ("counter", services.counter.stop),
                ("index feed", feed.stop),
                ("listener", listener.stop),
                ("replication monitor", replication.stop),
                ("read pool", reads.close),
                ("pool", pool.close),
            ):
                try:
                    await asyncio.wait_for(step(), SHUTDOWN_STEP_S)
                except TimeoutError:
                    logger.warning("shutdown step did not finish in time", extra={"step": name})
            db.dispose()

    app = FastAPI(
        title="geo-offers",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    docs.install(app)
    problems.install(app)
    app.add_middleware(MatchFastPath)
    app.add_middleware(ContractMiddleware)  # outside the fast path: both ways of serving match keep its rules
    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=settings.max_body_bytes,
        route_limits={"/v1/stores/import": settings.import_max_bytes, console.IMPORT_PATH: settings.import_max_bytes},
    )
    imports = {"/v1/stores/import": settings.import_timeout_s, console.IMPORT_PATH: settings.import_timeout_s}
    app.add_middleware(DeadlineMiddleware, timeout_s=settings.request_timeout_s, stats=deadline, longer=imports)
    app.add_middleware(MetricsMiddleware, metrics=metrics, log_access=settings.access_log)
    for router in (
        health.router,
        problem_docs.router,
        admin.router,
        consent_api.build_router(consent_ports()),
        stores.router,
        deals.router,
        offers.build_router(settings),
        live.build_router(settings),
        audit.router,
        subjects.router,
        records.router,
        events.router,
        insights.build_router(settings),
        insights.audit_router,
        codes.pool_router,
        codes.claim_router,
        codes.till_router,
    ):
        app.include_router(router)
    console.install(app)
    for router in extra_routers:
        app.include_router(router)
    return app


def index_loader(settings: Settings, db: Database) -> tuple[Loader, SnapshotStore | None]:
    """How this process gets a complete deal index: from the machine's shared snapshot, or loaded on its own."""
    res = settings.index_res
    if settings.index_shared:
        store = SnapshotStore(settings.index_dir or default_directory(), settings, db.reading)
        return store.obtain, store
    return (lambda cutoff, _newer: load_index(db.reading, res, cutoff)), None


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory``: settings from the environment."""
    return create_app(Settings())
