"""The live area stream (app key): ``GET /v1/offers/area/{cell}/events``, Server-Sent Events via sse-starlette.

The route takes the area cell and, optionally, ``Last-Event-ID``; nothing else, and nothing about a person: no
subject id, no finer cell, no position. The stream is answered by ``EventSourceResponse`` (heartbeat comments,
client disconnects, the server's shutdown); ``LiveResponse`` adds that the stream's subscription always ends
with the response, however the response ends, and that a shutdown ends the stream cooperatively (the last
chunk is sent, so the client sees a clean end and reconnects elsewhere with its last id).

The order of a resume avoids the race between replay and live changes: subscribe first (live changes queue),
replay from the database up to its newest change, then send the queue, skipping changes the replay covered.
(No ``from __future__ import annotations``: FastAPI reads the route signatures.)
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Path
from sse_starlette import EventSourceResponse
from starlette.types import Receive, Scope, Send

from consent.errors import ServiceUnavailable
from geo_offers.kit.deps import AppKey, ServicesDep
from geo_offers.live.frames import ready_event, reload_event
from geo_offers.live.hub import FINEST_AREA_RES, Subscription
from geo_offers.live.replay import replay
from geo_offers.matching import catalogue as area
from geo_offers.places.cell_patterns import cell_pattern
from geo_offers.places.cells import cell_str
from geo_offers.services import Services
from geo_offers.settings import Settings

#: Seconds a stream may take, once the server is stopping, to send what it has and end.
SHUTDOWN_GRACE_S = 2.0

_EVENTS_DOC = """Server-Sent Events, one per change to the area's catalogue:

- `deal`: a deal published or changed in the area, as the area catalogue renders it;
- `removed`: `{"deal_id", "reason"}`, a deal that left the area (reason `paused`, `ended`, `draft`, `used_up`,
  `deleted`, `elsewhere` or `unavailable`);
- `ready`: `{"cell", "seq"}`, everything up to `seq` has been sent; what follows is live;
- `reload` (no id): fetch the catalogue again and reconnect with its `Change-Seq`; the stream ends.

Heartbeats are comment lines (`: ping ...`)."""


class LiveResponse(EventSourceResponse):
    """An event stream whose subscription ends with it, and that ends cooperatively at shutdown."""

    def __init__(self, sub: Subscription, services: Services, content: AsyncIterator[bytes]) -> None:
        self._sub = sub
        self._stopping = anyio.Event()
        live = services.settings.live
        super().__init__(
            content,
            ping=live.live_heartbeat_s,
            send_timeout=live.live_send_timeout_s,
            shutdown_event=self._stopping,
            shutdown_grace_period=SHUTDOWN_GRACE_S,
        )

    async def _close_on_shutdown(self) -> None:
        await self._stopping.wait()
        self._sub.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        watcher = asyncio.get_running_loop().create_task(self._close_on_shutdown())
        try:
            await super().__call__(scope, receive, send)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            self._sub.close()


async def _stream(sub: Subscription, services: Services, after: int | None) -> AsyncIterator[bytes]:
    settings = services.settings
    if after is not None:
        cutoff = services.clock() - timedelta(days=1)
        try:
            resumed = await replay(
                services.pool.fetch_named,
                sub.cell,
                after,
                coarsest_res=settings.area_min_res,
                limit=settings.live.live_resume_max_changes,
                cutoff=cutoff,
            )
        except ServiceUnavailable:
            return  # the database is away: end the stream; the client reconnects later with the same id
        if resumed is None:
            yield reload_event("resume_too_old")
            return
        sub.since = max(sub.since, resumed.upto)
        for chunk in resumed.chunks:
            yield chunk
    yield ready_event(sub.since, cell_str(sub.cell))
    while (live := await sub.next()) is not None:
        yield live


def build_router(settings: Settings) -> APIRouter:
    """The live stream route of an app with these settings."""
    router = APIRouter(prefix="/v1/offers", tags=["offers"])
    allowed = range(settings.area_min_res, FINEST_AREA_RES + 1)
    responses: dict[int | str, dict[str, Any]] = {
        200: {"description": _EVENTS_DOC, "content": {"text/event-stream": {"schema": {"type": "string"}}}},
        429: {
            "description": "Too many open streams (in this worker, or of this key in it); see Retry-After.",
            "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
        },
        503: {"description": "The deal index is still loading; see Retry-After."},
    }

    @router.get("/area/{cell}/events", response_class=EventSourceResponse, responses=responses)
    async def area_events(
        cell: Annotated[
            str,
            Path(
                description=f"An H3 cell of resolution {allowed.start} to {allowed.stop - 1}.",
                examples=["851f1d4bfffffff"],
                json_schema_extra={"pattern": cell_pattern(allowed)},
            ),
        ],
        principal: AppKey,
        services: ServicesDep,
        last_event_id: Annotated[
            str | None,
            Header(
                alias="Last-Event-ID",
                pattern=r"^[0-9]{1,18}$",
                description="The id of the last event received, or the catalogue's `Change-Seq`: the stream "
                "first sends what changed in the area since then (or `reload` when that is too long ago).",
            ),
        ] = None,
    ) -> LiveResponse:
        """The changes to a coarse area's catalogue as they happen (Server-Sent Events), so an app holding the
        area's catalogue stays current without polling and without saying where the person is: no subject id,
        nothing but the area. Each event's id is a deal change number; reconnecting with `Last-Event-ID` resumes
        without loss. Streams are bounded per worker and per key within a worker (429 with Retry-After).
        """
        parsed = area.area_cell(cell, allowed)
        if not services.feed.ready.is_set():
            raise ServiceUnavailable("the deal index is loading; try again shortly")
        sub = services.hub.subscribe(parsed, principal.key_id)
        after = int(last_event_id) if last_event_id is not None else None
        return LiveResponse(sub, services, _stream(sub, services, after))

    return router
