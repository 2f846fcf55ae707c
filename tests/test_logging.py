"""Invariant 1 and 4 in logs: no coordinates, subject ids, API keys or client IPs reach a log line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from geo_offers.app import create_app
from geo_offers.kit.logs import configure_logging, redact
from geo_offers.settings import Settings

SUBJECT = "6f1c2d9e-8a43-4b7e-9a51-2f0c7d3e4b15"
LAT, LON = "52.520008", "13.404954"
CLIENT_IP = "203.0.113.77"
CLIENT_IP6 = "2001:db8:85a3::8a2e:370:7334"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = configure_logging("DEBUG", stream)
    yield stream
    logging.getLogger().removeHandler(handler)


def _lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if line.strip()]


def _assert_clean(text: str, *secrets: str) -> None:
    for secret in (SUBJECT, LAT, LON, CLIENT_IP, CLIENT_IP6, *secrets):
        assert secret not in text, f"{secret!r} leaked into the log"


def test_every_line_is_json(captured: io.StringIO) -> None:
    logging.getLogger("geo_offers.test").info("hello %s", "world")
    for line in _lines(captured):
        assert json.loads(line)["msg"]


def test_values_in_messages_args_and_tracebacks_are_scrubbed(captured: io.StringIO) -> None:
    key = "gok_0123456789ab_" + "Zz9_-" * 8 + "abc"
    log = logging.getLogger("sqlalchemy.engine")
    log.warning("subject %s at lat=%s lon=%s from %s / %s with %s", SUBJECT, LAT, LON, CLIENT_IP, CLIENT_IP6, key)
    log.warning("Authorization: Bearer %s", "some-opaque-token-value")
    try:
        raise ValueError(f"bad point POINT({LON} {LAT}) for {SUBJECT} via {CLIENT_IP}")
    except ValueError:
        log.exception("failed")
    text = captured.getvalue()
    _assert_clean(text, key, "some-opaque-token-value")
    assert "[id]" in text and "[coord]" in text and "[ip]" in text and "[key]" in text


def test_geojson_coordinates_are_scrubbed() -> None:
    line = '{"location": {"type": "Point", "coordinates": [13, 52]}, "n": 5}'
    assert "13, 52" not in redact(line)
    assert '"n": 5' in redact(line)


def test_requests_carrying_personal_data_leave_no_trace(database_url: str, captured: io.StringIO) -> None:
    key_marker = "gok_ffffffffffff_" + "Q" * 43
    settings = Settings(environment="test", database_url=database_url, access_log=True)
    app = create_app(settings, log=False)

    async def explode() -> None:
        raise RuntimeError(f"crash near {LAT},{LON} for {SUBJECT} from {CLIENT_IP}")

    app.add_api_route("/test-only/explode", explode, methods=["POST"])
    with TestClient(app, raise_server_exceptions=False) as client:
        client.get(
            f"/v1/consents/{SUBJECT}",
            headers={"Authorization": f"Bearer {key_marker}", "X-Forwarded-For": CLIENT_IP},
        )
        client.post(
            "/v1/admin/merchants",
            json={"name": "x", "location": {"lat": float(LAT), "lon": float(LON)}, "subject_id": SUBJECT},
            headers={"Authorization": f"Bearer {key_marker}"},
        )
        response = client.post("/test-only/explode", json={"subject_id": SUBJECT})
    assert response.status_code == 500
    assert SUBJECT not in response.text and "Traceback" not in response.text
    text = captured.getvalue()
    assert "RuntimeError" in text  # the crash is logged, scrubbed
    assert '"route":' in text  # the access log ran
    _assert_clean(text, key_marker)
