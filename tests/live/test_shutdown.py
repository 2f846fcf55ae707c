"""A stopping server ends its live streams cleanly (the last chunk is sent), so clients reconnect elsewhere."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from tests.helpers import wait_until
from tests.live.conftest import READ_TIMEOUT_S, Headers, Shop, Stream
from tests.live.test_events import ready


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_sigterm_ends_open_streams_cleanly_and_the_server_exits(
    database_url: str, app_headers: Headers, shop: Shop
) -> None:
    port = free_port()
    env = {**os.environ, "GEO_OFFERS_DATABASE_URL": database_url, "GEO_OFFERS_ENVIRONMENT": "test"}
    command = [sys.executable, "-c", "from geo_offers.cli import main; main()", "serve", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=httpx.Timeout(10.0, read=READ_TIMEOUT_S)) as http:

            def up() -> bool:
                try:
                    return http.get(f"{base}/readyz").status_code == 200
                except httpx.TransportError:
                    return False

            wait_until(up, timeout=60)
            stream = Stream(http, f"{base}/v1/offers/area/{shop.area()}/events", app_headers)
            ready(stream)
            started = time.monotonic()
            server.send_signal(signal.SIGTERM)
            assert stream.next() is None  # the response ended with its last chunk: no error while reading
            stream.close()
        # uvicorn re-raises the signal it handled once it has shut down
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
        assert time.monotonic() - started < 30  # ended by the server, not by uvicorn's 10 s drain timeout
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
