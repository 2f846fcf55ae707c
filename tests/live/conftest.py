"""Fixtures of the live stream tests: a real uvicorn server, a reader of its event streams, and a shop to publish.

Streams are read over real HTTP (httpx against ``LiveServer``): an endless response cannot be read faithfully
through the in-process test client. Deals are published through a second instance (the ``client`` fixture), so
every event crosses the database as it does between instances in production.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

import h3.api.basic_int as h3
import httpx
import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from geo_offers.app import create_app
from geo_offers.live.hub import Hub
from geo_offers.live.settings import LiveSettings
from tests.helpers import FakeClock, Keys, LiveServer, deal_body, make_settings, somewhere, store_body

Headers = dict[str, str]
READ_TIMEOUT_S = 20.0  # a bound for a broken test, not a speed check (speed: benchmarks/live.py)


@dataclass(frozen=True)
class Event:
    """One Server-Sent Event as a client sees it."""

    name: str
    data: Any
    id: str | None


class Stream:
    """An open event stream, read event by event (heartbeat comments are skipped)."""

    def __init__(self, http: httpx.Client, url: str, headers: Headers) -> None:
        self._context = http.stream("GET", url, headers=headers)
        self.response = self._context.__enter__()
        self._lines = self.response.iter_lines()
        self.comments = 0

    def next(self) -> Event | None:
        """The next event, or None when the stream ended (fails when none comes within READ_TIMEOUT_S, although
        heartbeats keep the connection itself busy)."""
        deadline = time.monotonic() + READ_TIMEOUT_S
        fields: dict[str, str] = {}
        for line in self._lines:
            assert time.monotonic() < deadline, f"no event within {READ_TIMEOUT_S} s (only heartbeats)"
            if not line:
                if fields:
                    data = fields.get("data")
                    return Event(fields.get("event", "message"), orjson.loads(data) if data else None, fields.get("id"))
                continue
            if line.startswith(":"):
                self.comments += 1
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        return None

    def take(self, count: int) -> list[Event]:
        """The next ``count`` events (fails if the stream ends first)."""
        events = []
        for _ in range(count):
            event = self.next()
            assert event is not None, f"the stream ended after {events}"
            events.append(event)
        return events

    def close(self) -> None:
        self._context.__exit__(None, None, None)


class Shop:
    """A merchant with a store at a random spot, far from every other test's; publishes and changes deals."""

    def __init__(self, client: TestClient, keys: Keys) -> None:
        self.client = client
        self.headers = keys.headers("merchant", keys.merchant())
        self.lon, self.lat = somewhere()
        response = client.post("/v1/stores", json=store_body(self.lon, self.lat), headers=self.headers)
        assert response.status_code == 201, response.text
        self.store_id = int(response.json()["id"])

    def area(self, res: int = 5) -> str:
        """The area at ``res`` holding the store's own coverage cell. H3 parents do not contain their children
        exactly: the coarse cell of the store's point can miss its resolution-8 cell near an edge. Finer than 8:
        the cell of the point itself."""
        cell = h3.latlng_to_cell(self.lat, self.lon, max(res, 8))
        return format(h3.cell_to_parent(cell, res) if res < 8 else cell, "x")

    def publish(self, **deal: Any) -> int:
        body = deal_body(self.store_id, **{"area": {"radius_m": 300}, **deal})
        response = self.client.post("/v1/deals", json=body, headers=self.headers)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    def change(self, deal_id: int, **fields: Any) -> None:
        response = self.client.patch(f"/v1/deals/{deal_id}", json=fields, headers=self.headers)
        assert response.status_code == 200, response.text


@dataclass
class Live:
    """A running server and what a test needs to talk to it."""

    app: FastAPI
    server: LiveServer
    http: httpx.Client
    app_headers: Headers

    @property
    def hub(self) -> Hub:
        hub: Hub = self.app.state.services.hub
        return hub

    def call(self, function: Callable[[], object]) -> None:
        """Run ``function`` in the server's event loop (where the hub and its streams live) and wait for it."""

        async def run() -> None:
            function()

        self.run(run)

    def run(self, coroutine: Callable[[], Coroutine[Any, Any, object]]) -> None:
        """Run a coroutine in the server's event loop and wait for it."""
        loop = self.hub._task.get_loop()  # type: ignore[union-attr]  # noqa: SLF001 - the loop the hub runs in
        asyncio.run_coroutine_threadsafe(coroutine(), loop).result(timeout=30)

    def open(self, cell: str, last_event_id: str | int | None = None, headers: Headers | None = None) -> Stream:
        sent = dict(self.app_headers if headers is None else headers)
        if last_event_id is not None:
            sent["Last-Event-ID"] = str(last_event_id)
        stream = Stream(self.http, f"{self.server.url}/v1/offers/area/{cell}/events", sent)
        assert stream.response.status_code == 200, stream.response.read()
        return stream


def serve(database_url: str, clock: FakeClock, app_headers: Headers, **overrides: Any) -> Iterator[Live]:
    """A server whose settings take ``overrides`` (``live_*`` ones for the live streams)."""
    live = {"live_heartbeat_s": 1.0, **{k: v for k, v in overrides.items() if k.startswith("live_")}}
    rest = {k: v for k, v in overrides.items() if not k.startswith("live_")}
    settings = make_settings(database_url, live=LiveSettings(**live), **rest)
    app = create_app(settings, clock=clock, log=False)
    timeout = httpx.Timeout(10.0, read=READ_TIMEOUT_S)
    with LiveServer(app) as server, httpx.Client(timeout=timeout) as http:
        yield Live(app=app, server=server, http=http, app_headers=app_headers)


@pytest.fixture
def live(database_url: str, clock: FakeClock, app_headers: Headers) -> Iterator[Live]:
    yield from serve(database_url, clock, app_headers)


@pytest.fixture
def live_with(database_url: str, clock: FakeClock, app_headers: Headers) -> Iterator[Callable[..., Live]]:
    """A server with settings of the test's own (bounds, queue sizes)."""
    started: list[Iterator[Live]] = []

    def make(**overrides: Any) -> Live:
        running = serve(database_url, clock, app_headers, **overrides)
        started.append(running)
        return next(running)

    yield make
    for running in started:
        next(running, None)


@pytest.fixture
def shop(client: TestClient, keys: Keys) -> Shop:
    return Shop(client, keys)
