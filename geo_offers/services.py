"""The per-process objects a request needs, built in the app lifespan and kept on ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass

from consent.decisions import DecisionWriter
from consent.gate import ConsentGate
from geo_offers.insights.counter import Counter
from geo_offers.kit.clock import Clock, utc_now
from geo_offers.kit.database import Database
from geo_offers.kit.metrics import Metrics
from geo_offers.kit.pgasync import AsyncPool, Listener
from geo_offers.kit.ratelimit import RateLimiter
from geo_offers.kit.readtarget import ReadPool
from geo_offers.kit.replication import ReplicationMonitor
from geo_offers.live.hub import Hub
from geo_offers.matching.feed import IndexFeed
from geo_offers.matching.matcher import Matcher
from geo_offers.matching.shared import SnapshotStore
from geo_offers.settings import Settings
from geo_offers.tenants.auth import KeyStore


@dataclass
class Services:
    """Everything a handler may reach: settings, the database, caches and the clock."""

    settings: Settings
    db: Database
    pool: AsyncPool
    listener: Listener
    keys: KeyStore
    limiter: RateLimiter
    metrics: Metrics
    head_revision: str | None
    gate: ConsentGate
    decisions: DecisionWriter
    matcher: Matcher
    feed: IndexFeed
    counter: Counter
    reads: ReadPool  # the read database's pool (the primary's while none is set or it is down)
    replication: ReplicationMonitor
    code_claims: RateLimiter  # code claims per app key (geo_offers/codes)
    hub: Hub  # the live area streams of this worker (geo_offers/live)
    clock: Clock = utc_now
    snapshots: SnapshotStore | None = None  # the machine's shared deal index (None: this worker loads its own)
