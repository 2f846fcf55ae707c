"""The per-process objects a request needs, built in the app lifespan and kept on ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass

from geo_offers.auth import KeyStore
from geo_offers.clock import Clock, utc_now
from geo_offers.counter import Counter
from geo_offers.db import Database
from geo_offers.gatekeeper import Gatekeeper
from geo_offers.index_feed import IndexFeed
from geo_offers.matching import Matcher
from geo_offers.metrics import Metrics
from geo_offers.pgasync import AsyncPool, Listener
from geo_offers.ratelimit import RateLimiter
from geo_offers.settings import Settings


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
    gatekeeper: Gatekeeper
    matcher: Matcher
    feed: IndexFeed
    counter: Counter
    clock: Clock = utc_now
