"""Where reads go: the read database (a streaming standby) while it answers, the primary while it does not.

A failed read marks the read database down for ``retry_s``; reads in that time go straight to the primary (or
fail fast with 503 when ``read_fallback`` is off) instead of each waiting for a connection attempt. The next read
after that time tries the read database again, so an instance comes back to its standby by itself.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import psycopg2

from consent.errors import ServiceUnavailable
from geo_offers.kit.pgasync import AsyncPool

_Rows = TypeVar("_Rows")

#: Errors of a hot standby that mean "ask elsewhere": a query cancelled by a conflict with WAL replay.
_STANDBY_ERRORS = (psycopg2.extensions.TransactionRollbackError,)


class ReadTarget:
    """The state of the read database as reads found it: up, or down until a moment."""

    def __init__(
        self, *, separate: bool, fallback: bool, retry_s: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.separate = separate
        self.fallback = fallback
        self._retry_s = retry_s
        self._clock = clock
        self._down_until = 0.0
        self.up = True
        self.fallbacks = 0  # reads served by the primary because the read database failed

    def use_read(self) -> bool:
        """Whether the next read should try the read database."""
        return self.separate and (self.up or self._clock() >= self._down_until)

    def failed(self) -> None:
        """A read of the read database failed: keep away from it for a while."""
        self.up = False
        self._down_until = self._clock() + self._retry_s

    def succeeded(self) -> None:
        """A read of the read database worked."""
        self.up = True


class ReadPool:
    """The asynchronous pool of the read database with the primary's pool behind it (same two calls)."""

    def __init__(self, primary: AsyncPool, read: AsyncPool | None, target: ReadTarget) -> None:
        self.primary = primary
        self.read = read
        self.target = target

    async def fetch(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        """Rows as tuples, from the read database or (while it is down) the primary."""
        return await self._run(AsyncPool.fetch, sql, params)

    async def fetch_named(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        """Rows as dicts, from the read database or (while it is down) the primary."""
        return await self._run(AsyncPool.fetch_named, sql, params)

    async def _run(
        self,
        query: Callable[[AsyncPool, str, Sequence[Any] | dict[str, Any]], Awaitable[_Rows]],
        sql: str,
        params: Sequence[Any] | dict[str, Any],
    ) -> _Rows:
        """``query`` on the read database while it answers, else on the primary (fallback rules below)."""
        if self.read is not None and self.target.use_read():
            try:
                rows = await query(self.read, sql, params)
            except (ServiceUnavailable, *_STANDBY_ERRORS):
                self._failed()
            else:
                self.target.succeeded()
                return rows
        self._may_fall_back()
        return await query(self.primary, sql, params)

    def _failed(self) -> None:
        self.target.failed()

    def _may_fall_back(self) -> None:
        if self.read is None:
            return
        if not self.target.fallback:
            raise ServiceUnavailable("the read database is not reachable", retry_after_s=1)
        self.target.fallbacks += 1

    async def close(self) -> None:
        """Close the read database's connections (the primary's pool is closed by its owner)."""
        if self.read is not None:
            await self.read.close()
