"""Every request is answered within a bounded time, even when the database stops answering.

A database whose host freezes (or a partition that silently drops packets) keeps its connections open: a query
on it blocks until TCP keepalives give up, minutes later, and a frozen server whose kernel still acknowledges
never trips them at all. The asynchronous pool bounds its own waits; the synchronous SQLAlchemy routes run in
threads that cannot be interrupted. This middleware bounds what a client sees: a request that has not started
its answer after ``timeout_s`` gets 503 problem+json with Retry-After, and whatever the route still does runs
to its end in the background with its answer dropped (a write in progress may still commit, as with any
timeout: the 503 says the outcome is unknown and acknowledges nothing). Once an answer has started (a stream,
an export), the deadline no longer applies. Paths in ``longer`` (bulk imports) get their own deadline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consent.errors import ServiceUnavailable
from geo_offers.kit.problems import problem_response

log = logging.getLogger(__name__)
DETAIL = (
    "the service could not answer in time (the database is not answering); a write in this request may or may "
    "not have taken effect: read it back or retry"
)


def _retrieve(task: asyncio.Task[None]) -> None:
    """Collect the outcome of a request answered by the deadline, so its error is logged once, not lost."""
    if not task.cancelled() and task.exception() is not None:
        log.warning("a request answered by the deadline failed later: %s", type(task.exception()).__name__)


@dataclass
class DeadlineStats:
    """How many requests the deadline answered (shared with the metrics)."""

    expired: int = 0


class DeadlineMiddleware:
    """Answers 503 for any HTTP request whose answer has not started within its deadline."""

    def __init__(
        self, app: ASGIApp, timeout_s: float, stats: DeadlineStats, longer: Mapping[str, float] | None = None
    ) -> None:
        self.app = app
        self.timeout_s = timeout_s
        self.stats = stats
        self.longer = dict(longer or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        abandoned = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if abandoned:
                return  # the client has had its 503 already
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        timeout = self.longer.get(scope["path"], self.timeout_s)
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if task in done or started:
            await task
            return
        abandoned = True
        self.stats.expired += 1
        task.add_done_callback(_retrieve)
        error = ServiceUnavailable(DETAIL, retry_after_s=2)
        response = problem_response(error.status, error.slug, error.title, error.detail, headers=error.headers)
        await response(scope, receive, send)
