"""Issue 13, defect 3: the officer's filters and the summary answer by decision per purpose.

A refusal implied by Global Privacy Control sits inside a ``grant`` event; it is a refusal wherever the officer
looks, and it is counted and shown as implied by GPC.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from tests.audit_env import Env, open_env
from tests.helpers import FakeClock, assert_problem, grant, new_subject

DAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def env(fresh_database_url: str) -> Iterator[Env]:
    with open_env(fresh_database_url, FakeClock(DAY)) as environment:
        yield environment


def _decline(env: Env, subject: str, purposes: list[str] | None = None) -> None:
    body: dict[str, Any] = {"subject_id": subject, "notice_version": env.version, "source": "settings", "locale": "de"}
    if purposes:
        body["purposes"] = purposes
    response = env.client.post("/v1/consents/decline", json=body, headers=env.app)
    assert response.status_code == 201, response.text


def _three_refusals(env: Env) -> None:
    """a refuses everything, b refuses analytics, c grants location with Sec-GPC: 1 (analytics refused by GPC)."""
    _decline(env, new_subject())
    _decline(env, new_subject(), ["offer_analytics"])
    gpc = {"Sec-GPC": "1"}
    with_gpc = grant(env.client, env.app, new_subject(), env.version, ["location_offers"], extra_headers=gpc)
    assert with_gpc.status_code == 201 and with_gpc.json()["declined_purposes"] == ["offer_analytics"]


def _seqs(env: Env, **params: Any) -> list[int]:
    response = env.client.get("/v1/audit/consent-events", params=params, headers=env.dpo)
    assert response.status_code == 200, response.text
    return [item["seq"] for item in response.json()["items"]]


def test_a_gpc_refusal_is_a_refusal_in_every_filter(env: Env) -> None:
    _three_refusals(env)
    assert _seqs(env, type="grant", purpose="offer_analytics") == []  # was [3]: a refusal listed as a grant
    assert _seqs(env, type="decline", purpose="offer_analytics") == [1, 2, 3]
    assert _seqs(env, type="grant", purpose="location_offers") == [3]
    assert _seqs(env, type="decline", purpose="location_offers") == [1]
    assert _seqs(env, type="decline") == [1, 2, 3]
    assert _seqs(env, type="decline", by="gpc") == [3]
    assert _seqs(env, type="decline", by="person") == [1, 2]
    assert _seqs(env, by="gpc", purpose="location_offers") == []
    assert _seqs(env, purpose="offer_analytics") == [1, 2, 3]
    assert _seqs(env, type="grant") == [3]

    event = env.client.get("/v1/audit/consent-events", params={"by": "gpc"}, headers=env.dpo).json()["items"][0]
    assert event["type"] == "grant"
    assert event["decisions"] == [
        {"purpose": "location_offers", "decision": "grant", "by": "person"},
        {"purpose": "offer_analytics", "decision": "decline", "by": "gpc"},
    ]

    exported = env.client.get(
        "/v1/audit/consent-events/export",
        params={"format": "jsonl", "type": "decline", "purpose": "offer_analytics"},
        headers=env.dpo,
    )
    assert exported.status_code == 200
    header, *events = [orjson.loads(line) for line in exported.content.splitlines() if line.strip()]
    assert header["scope"] == "filtered"
    assert [event["seq"] for event in events] == [1, 2, 3]
    assert env.client.get("/v1/audit/ledger/verify", headers=env.dpo).json()["ok"]  # the event format is unchanged


def test_the_summary_counts_every_refusal_and_shows_the_gpc_ones(env: Env) -> None:
    _three_refusals(env)
    day_one = {"since": "2026-11-23", "until": "2026-11-23"}
    response = env.client.get("/v1/audit/summary", params=day_one, headers=env.dpo)
    assert response.status_code == 200, response.text
    day = response.json()["days"][0]
    analytics, location = day["purposes"]["offer_analytics"], day["purposes"]["location_offers"]
    assert analytics["declines"] == 3 and analytics["declines_by_gpc"] == 1  # was 2 and (no such count)
    assert analytics["grants"] == 0 and analytics["active_end_of_day"] == 0
    assert location["grants"] == 1 and location["declines"] == 1 and location["declines_by_gpc"] == 0
    assert location["active_end_of_day"] == 1
    assert day["events"] == {"grants": 1, "declines": 2, "withdrawals": 0, "expiries": 0, "erasures": 0}


@pytest.mark.parametrize("params", [{"by": "robot"}, {"type": "refuse"}])
def test_unknown_decisions_and_deciders_are_refused(env: Env, params: dict[str, str]) -> None:
    assert_problem(env.client.get("/v1/audit/consent-events", params=params, headers=env.dpo), 422, "invalid-input")
