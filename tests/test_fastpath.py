"""The ASGI fast path of match answers exactly like the documented FastAPI route."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from geo_offers.app import create_app
from tests.helpers import FakeClock, Keys, grant, make_settings, new_subject

Headers = dict[str, str]


@pytest.fixture
def both(database_url: str, clock: FakeClock) -> Iterator[tuple[TestClient, TestClient]]:
    fast = create_app(make_settings(database_url, match_fast_path=True), clock=clock, log=False)
    slow = create_app(make_settings(database_url, match_fast_path=False), clock=clock, log=False)
    with TestClient(fast) as fast_client, TestClient(slow) as slow_client:
        yield fast_client, slow_client


def _shape(response: Any) -> tuple[int, str, Any]:
    body = response.json()
    if response.headers["content-type"].startswith("application/problem+json"):
        # pydantic names a non-object body model_type when parsing JSON, model_attributes_type otherwise.
        same = {"model_attributes_type": "model_type"}
        errors = [(e["loc"][0], same.get(e["type"], e["type"])) for e in body.get("errors", [])]
        body = {"type": body["type"], "status": body["status"], "errors": errors}
    return response.status_code, response.headers["content-type"], body


def test_fast_and_framework_paths_agree(
    both: tuple[TestClient, TestClient], keys: Keys, app_headers: Headers, notice_version: int
) -> None:
    fast, slow = both
    subject = new_subject()
    assert grant(fast, app_headers, subject, notice_version, precision_res=6).status_code == 201
    merchant = keys.headers("merchant", keys.merchant())
    cell = "8a1f1d489ffffff"
    cases: list[tuple[dict[str, str], Any]] = [
        (app_headers, {"subject_id": subject, "cell": cell}),
        (app_headers, {"subject_id": subject, "location": {"lat": 52.52, "lon": 13.405}, "limit": 3}),
        (app_headers, {"subject_id": subject, "cell": cell, "categories": ["cafe", "sports"]}),
        (app_headers, {"subject_id": new_subject(), "cell": cell}),  # no consent
        (app_headers, {"subject_id": "someone@example.com", "cell": cell}),
        (app_headers, {"subject_id": subject}),
        (app_headers, {"subject_id": subject, "cell": "zz"}),
        (app_headers, {"subject_id": subject, "cell": "841f1d5ffffffff"}),  # coarser than 5
        (app_headers, {"subject_id": subject, "cell": cell, "limit": 0}),
        (app_headers, {"subject_id": subject, "cell": cell, "extra": 1}),
        (app_headers, [1, 2]),
        (merchant, {"subject_id": subject, "cell": cell}),
        ({"Authorization": "Bearer gok_000000000000_" + "A" * 43}, {"subject_id": subject, "cell": cell}),
        ({}, {"subject_id": subject, "cell": cell}),
        ({"Authorization": "Basic abc"}, {"subject_id": subject, "cell": cell}),
    ]
    for headers, body in cases:
        answers = [_shape(client.post("/v1/offers/match", json=body, headers=headers)) for client in both]
        assert answers[0] == answers[1], (headers, body)
    empty = [client.post("/v1/offers/match", content=b"", headers=app_headers) for client in both]
    assert [r.status_code for r in empty] == [422, 422]


def test_the_fast_path_is_counted_under_its_route(both: tuple[TestClient, TestClient], app_headers: Headers) -> None:
    fast, _ = both
    fast.post("/v1/offers/match", json={"subject_id": new_subject(), "cell": "8a1f1d489ffffff"}, headers=app_headers)
    metrics = fast.get("/metrics").text
    assert 'route="/v1/offers/match"' in metrics and 'status="403"' in metrics
