"""A read database next to the primary: where reads go, what happens while it is down, how its lag is measured,
and the request deadline that answers every request while a database does not.

The real primary-and-standby pair is in tests/test_replicas.py (a private cluster made by the harness); these
tests use the suite's database, a database URL on a port where nothing listens, and plain ASGI apps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import h3.api.basic_int as h3
import pytest
from fastapi.testclient import TestClient
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from consent.errors import ServiceUnavailable
from geo_offers.app import create_app, make_pool
from geo_offers.kit.database import Database, libpq_dsn
from geo_offers.kit.deadline import DeadlineMiddleware, DeadlineStats
from geo_offers.kit.readtarget import ReadPool, ReadTarget
from geo_offers.kit.replication import LagClock, ReplicationMonitor
from geo_offers.settings import Settings
from tests.helpers import FakeClock, assert_problem, make_settings

NOWHERE = "postgresql://postgres@127.0.0.1:18499/nowhere"  # in this branch's port range; nothing listens there
_T = TypeVar("_T")


def run(scenario: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine on a loop of its own, in a thread of its own (the browser tests leave a loop running in the
    test thread, where ``asyncio.run`` refuses to start)."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, scenario).result()


def test_the_lag_is_the_age_of_the_oldest_position_not_replayed() -> None:
    lag = LagClock()
    lag.primary_at(10.0, 100)
    assert lag.lag(10.5, 100) == 0.0  # replayed what the primary was seen to write
    lag.primary_at(11.0, 200)
    lag.primary_at(12.0, 200)  # an idle primary: the same position again is no new work
    lag.primary_at(13.0, 300)
    assert lag.lag(14.0, 100) == 3.0  # position 200, first seen at 11.0, is missing
    assert lag.lag(14.0, 250) == 1.0  # 200 replayed; 300 (seen at 13.0) is missing
    assert lag.lag(15.0, 300) == 0.0
    assert lag.lag(99.0, 300) == 0.0  # nothing written since: no lag however long it is idle


def test_a_read_target_retries_the_read_database_after_its_pause() -> None:
    now = [0.0]
    target = ReadTarget(separate=True, fallback=True, retry_s=1.0, clock=lambda: now[0])
    assert target.use_read()
    target.failed()
    assert not target.use_read() and not target.up
    now[0] = 1.0
    assert target.use_read()
    target.succeeded()
    assert target.up
    assert not ReadTarget(separate=False, fallback=True).use_read()


def _pools(settings: Settings) -> tuple[ReadPool, ReadTarget]:
    primary = make_pool(settings, libpq_dsn(settings.database_url))
    read = make_pool(settings, libpq_dsn(NOWHERE))
    target = ReadTarget(separate=True, fallback=settings.read_fallback)
    return ReadPool(primary, read, target), target


def test_reads_fall_back_to_the_primary_while_the_read_database_is_down(database_url: str) -> None:
    settings = make_settings(database_url, read_database_url=NOWHERE, db_connect_timeout_s=1)

    async def scenario() -> None:
        pool, target = _pools(settings)
        try:
            assert await pool.fetch("SELECT pg_is_in_recovery()") == [(False,)]
            assert not target.up and target.fallbacks == 1
            assert await pool.fetch_named("SELECT 1 AS one") == [{"one": 1}]  # straight to the primary meanwhile
            assert target.fallbacks == 2
        finally:
            await pool.close()
            await pool.primary.close()

    run(scenario())


def test_without_fallback_reads_answer_503_while_the_read_database_is_down(database_url: str) -> None:
    settings = make_settings(database_url, read_database_url=NOWHERE, read_fallback=False, db_connect_timeout_s=1)

    async def scenario() -> None:
        pool, _ = _pools(settings)
        try:
            with pytest.raises(ServiceUnavailable):
                await pool.fetch("SELECT 1")
        finally:
            await pool.close()
            await pool.primary.close()

    run(scenario())


def test_sessions_read_from_the_primary_while_the_read_database_is_down(database_url: str) -> None:
    db = Database(make_settings(database_url, read_database_url=NOWHERE, db_connect_timeout_s=1))
    try:
        with db.reading() as conn:
            assert conn.exec_driver_sql("SELECT current_setting('transaction_read_only')").scalar() == "on"
        assert db.target.fallbacks == 0 and not db.target.up  # counted by the pools; the state is shared
    finally:
        db.dispose()


def test_a_monitor_reports_no_lag_for_a_read_url_that_names_a_primary(database_url: str) -> None:
    settings = make_settings(database_url)

    async def scenario() -> float | None:
        pool = make_pool(settings, libpq_dsn(database_url))
        monitor = ReplicationMonitor(pool.fetch, pool.fetch, interval=0.1)
        try:
            await monitor.probe()
            return monitor.seconds
        finally:
            await pool.close()

    assert run(scenario()) == 0.0


@pytest.fixture
def replica_client(database_url: str, clock: FakeClock) -> Iterator[TestClient]:
    # The suite's database stands in for the standby: the wiring is what is tested here.
    settings = make_settings(database_url, read_database_url=database_url, replica_lag_probe_s=0.05)
    with TestClient(create_app(settings, clock=clock, log=False)) as client:
        yield client


def test_an_instance_with_a_read_database_reports_it_ready_and_its_lag(replica_client: TestClient) -> None:
    ready = replica_client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["read_database"]["separate"] is True
    metrics = replica_client.get("/metrics").text
    assert "geo_offers_read_database_lag_seconds" in metrics and "geo_offers_read_database_up" in metrics


def test_the_area_catalogue_answers_from_the_primary_while_the_read_database_is_down(
    database_url: str, clock: FakeClock, app_headers: dict[str, str]
) -> None:
    cell = format(h3.latlng_to_cell(52.52, 13.405, 5), "x")
    settings = make_settings(database_url, read_database_url=NOWHERE, db_connect_timeout_s=1)
    with TestClient(create_app(settings, clock=clock, log=False)) as client:
        assert client.get(f"/v1/offers/area/{cell}", headers=app_headers).status_code == 200
    strict = make_settings(database_url, read_database_url=NOWHERE, read_fallback=False, db_connect_timeout_s=1)
    with TestClient(create_app(strict, clock=clock, log=False)) as client:
        response = client.get(f"/v1/offers/area/{cell}", headers=app_headers)
        assert_problem(response, 503, "service-unavailable")
        assert response.headers["Retry-After"]
        assert_problem(client.get("/readyz"), 503, "service-unavailable")


def test_a_match_answers_503_when_the_primary_cannot_be_reached(clock: FakeClock) -> None:
    # The match fast path answers outside FastAPI's error handlers: a key lookup that cannot reach the
    # database is a 503 problem there too, never a bare 500.
    settings = make_settings(NOWHERE, db_connect_timeout_s=1, index_load_timeout_s=0.1)
    with TestClient(create_app(settings, clock=clock, log=False)) as client:
        key = "gok_0123456789ab_" + "A" * 43
        body = {"subject_id": "2f1c1d0e-9a4b-4c55-8f0a-1b2c3d4e5f60", "cell": "871f1d489ffffff"}
        response = client.post("/v1/offers/match", json=body, headers={"Authorization": f"Bearer {key}"})
    assert_problem(response, 503, "service-unavailable")
    assert response.headers["Retry-After"]


async def _hanging(scope: Scope, receive: Receive, send: Send) -> None:
    """An app whose database never answers."""
    if scope["path"] == "/stream":
        response: Response = StreamingResponse(_slow_body())
    else:
        await asyncio.Event().wait()
        response = Response(b"never")
    await response(scope, receive, send)


async def _slow_body() -> Iterator[bytes]:  # type: ignore[misc]
    yield b"first "
    await asyncio.sleep(0.3)
    yield b"second"


def test_a_request_that_cannot_be_answered_in_time_gets_503_problem_json() -> None:
    stats = DeadlineStats()
    app = DeadlineMiddleware(_hanging, timeout_s=0.1, stats=stats)
    client = TestClient(app)  # no lifespan: the app is only its requests
    response = client.get("/anything")
    assert_problem(response, 503, "service-unavailable")
    assert response.headers["Retry-After"] == "2"
    assert stats.expired == 1
    # An answer that has started is not cut off by the deadline.
    assert client.get("/stream").text == "first second"
    assert stats.expired == 1
