"""How far the read database is behind the primary, in seconds, measured from the primary's WAL positions.

Every ``interval`` seconds the monitor notes the primary's flushed WAL position (the first moment each new
position was seen) and asks the read database how far it has replayed. The lag is the age of the oldest noted
position the standby has not replayed yet: 0 when it has replayed everything the primary was seen to write (an
idle primary is no lag), growing by the second while replay stands still. It needs no privileges beyond the
built-in functions and no table of its own. While the primary cannot be asked, the lag is measured against
what it was last seen to write; while the read database cannot be asked, it is unknown (``None``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from consent.errors import ServiceUnavailable

log = logging.getLogger(__name__)

Fetch = Callable[[str], Awaitable[Sequence[tuple[Any, ...]]]]
PRIMARY_SQL = "SELECT pg_wal_lsn_diff(pg_current_wal_flush_lsn(), '0/0')::bigint"
#: On a standby, how far it has replayed; on a primary (a read URL that names one), where it is.
STANDBY_SQL = """
SELECT pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN COALESCE(pg_last_wal_replay_lsn(), '0/0')
                            ELSE pg_current_wal_flush_lsn() END, '0/0')::bigint
"""


class LagClock:
    """The arithmetic: primary positions with the moment each was first seen, against the replayed position."""

    def __init__(self) -> None:
        self._seen: deque[tuple[float, int]] = deque()
        self._newest = -1

    def primary_at(self, moment: float, position: int) -> None:
        """The primary was at ``position`` at ``moment``."""
        if position > self._newest:
            self._newest = position
            self._seen.append((moment, position))

    def lag(self, moment: float, replayed: int) -> float:
        """Seconds since the oldest position not yet replayed was first seen (0 when nothing is missing)."""
        while self._seen and self._seen[0][1] <= replayed:
            self._seen.popleft()
        if not self._seen:
            return 0.0
        return max(0.0, moment - self._seen[0][0])


class ReplicationMonitor:
    """Measures the read database's lag in the background (nothing to do without a read database)."""

    def __init__(
        self,
        primary: Fetch,
        read: Fetch | None,
        *,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._primary = primary
        self._read = read
        self._interval = interval
        self._clock = clock
        self._lag = LagClock()
        self._task: asyncio.Task[None] | None = None
        self.seconds: float | None = 0.0 if read is None else None

    async def probe(self) -> None:
        """One measurement."""
        if self._read is None:
            return
        with contextlib.suppress(ServiceUnavailable):
            rows = await self._primary(PRIMARY_SQL)
            self._lag.primary_at(self._clock(), int(rows[0][0]))
        try:
            rows = await self._read(STANDBY_SQL)
        except ServiceUnavailable:
            self.seconds = None
            return
        self.seconds = self._lag.lag(self._clock(), int(rows[0][0]))

    async def start(self) -> None:
        """Measure every ``interval`` seconds until stopped."""
        if self._read is not None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop measuring."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.probe()
            except Exception:  # noqa: BLE001 - a failed probe leaves the lag unknown and is tried again
                log.exception("measuring the replication lag failed")
                self.seconds = None
            await asyncio.sleep(self._interval)
