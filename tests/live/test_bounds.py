"""What a live stream refuses (fine or huge cells, anything but an app key and the area, streams past the bounds),
how it sheds a slow reader, what it shows on /metrics and that it writes nothing about a person in the log."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from typing import Any

import h3.api.basic_int as h3
import httpx
import pytest
from fastapi.testclient import TestClient

from geo_offers.kit.logs import configure_logging
from tests.helpers import Keys, assert_problem, wait_until
from tests.live.conftest import Headers, Live, Shop, Stream
from tests.live.test_events import ready


def url(cell: str) -> str:
    return f"/v1/offers/area/{cell}/events"


@pytest.mark.parametrize("res", [6, 8, 2])
def test_cells_finer_than_5_or_coarser_than_3_are_refused(client: TestClient, app_headers: Headers, res: int) -> None:
    cell = format(h3.latlng_to_cell(52.52, 13.405, res), "x")
    problem = assert_problem(client.get(url(cell), headers=app_headers), 422, "invalid-input")
    assert "resolution" in problem["detail"] or problem.get("errors"), problem


@pytest.mark.parametrize("cell", ["not-a-cell", "851f1d4bfffffffff", "ffffffffffffffff"])
def test_garbage_cells_are_refused(client: TestClient, app_headers: Headers, cell: str) -> None:
    assert_problem(client.get(url(cell), headers=app_headers), 422, "invalid-input")


def test_nothing_but_the_area_is_taken(client: TestClient, app_headers: Headers, shop: Shop) -> None:
    subject = "6f1c2d9e-8a43-4b7e-9a51-2f0c7d3e4b15"
    for query in (f"subject_id={subject}", "lat=52.52&lon=13.4", f"cell={shop.area(9)}"):
        assert_problem(client.get(f"{url(shop.area())}?{query}", headers=app_headers), 422, "invalid-input")
    bad_id = {**app_headers, "Last-Event-ID": subject}
    assert_problem(client.get(url(shop.area()), headers=bad_id), 422, "invalid-input")


def test_only_an_app_key_may_open_a_stream(
    client: TestClient, shop: Shop, merchant_headers: Callable[..., Headers], dpo_headers: Headers
) -> None:
    assert_problem(client.get(url(shop.area()), headers=merchant_headers()), 403, "forbidden")
    assert_problem(client.get(url(shop.area()), headers=dpo_headers), 403, "forbidden")
    assert_problem(client.get(url(shop.area())), 401, "unauthorized")


def refused(live: Live, cell: str, headers: Headers) -> httpx.Response:
    response = live.http.get(f"{live.server.url}{url(cell)}", headers=headers)
    assert_problem(response, 429, "rate-limited")
    assert int(response.headers["retry-after"]) >= 1
    return response


def test_streams_past_the_bound_per_key_are_refused_with_retry_after(live_with: Any, shop: Shop, keys: Keys) -> None:
    live: Live = live_with(live_max_per_key=2, live_retry_after_s=7)
    first, second = live.open(shop.area()), live.open(shop.area(4))
    response = refused(live, shop.area(), live.app_headers)
    assert response.headers["retry-after"] == "7"
    other = live.open(shop.area(), headers=keys.headers("app"))  # another app's key has its own bound
    first.close()
    wait_until(lambda: live.hub.open == 2)
    again = live.open(shop.area())  # a closed stream frees its place
    for stream in (second, other, again):
        stream.close()


def test_streams_past_the_bound_per_worker_are_refused(live_with: Any, shop: Shop, keys: Keys) -> None:
    live: Live = live_with(live_max_per_worker=2)
    streams = [live.open(shop.area()), live.open(shop.area(), headers=keys.headers("app"))]
    refused(live, shop.area(), keys.headers("app"))
    for stream in streams:
        stream.close()


def test_a_reader_too_slow_for_its_queue_gets_reload_and_is_closed(live_with: Any, shop: Shop) -> None:
    live: Live = live_with(live_queue_steps=3)
    hub = live.hub
    stream = live.open(shop.area())
    ready(stream)
    (sub,) = [s for area in hub._areas.values() for s in area.subs]  # noqa: SLF001 - the one stream's queue
    # Pushed at once, as a reader that reads nothing would let them pile up; the hub never waits for a reader.
    portal_push = [(10**12 + n, f"event: deal\r\ndata: {n}\r\n\r\n".encode()) for n in range(4)]
    live.call(lambda: [sub.push(seq, chunk) for seq, chunk in portal_push])
    events = []
    while (event := stream.next()) is not None:
        events.append(event)
    assert [(e.name, e.data) for e in events] == [("reload", {"reason": "too_slow"})]
    assert hub.open == 0


def test_open_streams_are_counted_per_worker_on_metrics(live: Live, shop: Shop) -> None:
    stream = live.open(shop.area())
    ready(stream)
    metrics = live.http.get(f"{live.server.url}/metrics").text
    assert "geo_offers_live_streams 1.0" in metrics
    stream.close()
    wait_until(lambda: live.hub.open == 0)


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    sink = io.StringIO()
    handler = configure_logging("DEBUG", sink)
    yield sink
    logging.getLogger().removeHandler(handler)


def test_a_stream_leaves_no_trace_of_its_area_in_the_log(live_with: Any, shop: Shop, captured: io.StringIO) -> None:
    live: Live = live_with(access_log=True, log_level="DEBUG")
    stream: Stream = live.open(shop.area())
    ready(stream)
    shop.publish()
    stream.take(1)
    stream.close()
    wait_until(lambda: live.hub.open == 0)
    text = captured.getvalue()
    assert "/v1/offers/area/{cell}/events" in text  # the access log ran, with the route's template
    for res in (3, 4, 5):
        assert shop.area(res) not in text
