"""Per-key token buckets (per process: with N workers the effective limit is N times higher)."""

from __future__ import annotations

import math
import time

from consent.errors import RateLimited


class RateLimiter:
    """A token bucket per key: ``rate`` tokens a second, at most ``burst`` saved up."""

    def __init__(self, rate: float, burst: int, max_keys: int = 100_000) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def hit(self, key: str, now: float | None = None) -> None:
        """Take one token for ``key`` or raise RateLimited with the seconds until one is back."""
        t = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(key, (self._burst, t))
        tokens = min(self._burst, tokens + (t - last) * self._rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, t)
            retry = max(1, math.ceil((1.0 - tokens) / self._rate))
            raise RateLimited("this key sent too many requests; slow down", retry_after_s=retry)
        if len(self._buckets) >= self._max_keys and key not in self._buckets:
            self._buckets.clear()  # a flood of distinct keys cannot grow memory without bound
        self._buckets[key] = (tokens - 1.0, t)
