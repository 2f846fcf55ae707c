"""Issue 13, defect 4: every audit call is in the access log with its outcome, refused calls included.

401 (no key or a bad key: logged without a key id), 403 (wrong role), 422 (invalid filters) and answered calls;
the log line is written in a transaction of its own, so a failed request does not take it with it, and an
answer whose log line cannot be written is not sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.audit_env import Env, open_env, superuser
from tests.helpers import FakeClock, assert_problem, new_subject, scan_database

DAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
EVENTS = "/v1/audit/consent-events"


@pytest.fixture
def env(fresh_database_url: str) -> Iterator[Env]:
    with open_env(fresh_database_url, FakeClock(DAY)) as environment:
        yield environment


def _log(env: Env, **params: Any) -> list[dict[str, Any]]:
    response = env.client.get("/v1/audit/access-log", params={"limit": 1000, **params}, headers=env.dpo)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _key_id(headers: dict[str, str]) -> str:
    return headers["Authorization"].split("_")[1]


def test_refused_audit_calls_are_logged_with_their_outcome(env: Env) -> None:
    subject = new_subject()
    assert_problem(env.client.get(EVENTS), 401, "unauthorized")
    forged = {"Authorization": "Bearer gok_0123456789ab_" + "x" * 43}
    assert_problem(env.client.get(EVENTS, headers=forged), 401, "unauthorized")
    assert_problem(env.client.get("/v1/audit/summary", headers=env.app), 403, "forbidden")
    assert_problem(env.client.get(EVENTS, params={"limit": 0}, headers=env.dpo), 422, "invalid-input")
    bad_subject = {"subject": subject.upper() + "x"}
    assert_problem(env.client.get(EVENTS, params=bad_subject, headers=env.dpo), 422, "invalid-input")
    assert env.client.get(EVENTS, params={"subject": subject}, headers=env.dpo).status_code == 200
    assert_problem(env.client.get("/v1/audit/privacy-budget", headers=env.app), 403, "forbidden")

    logged = [(i["key_id"], i["route"], i["params"], i["status"]) for i in _log(env)]
    dpo, app = _key_id(env.dpo), _key_id(env.app)
    assert logged == [
        (None, EVENTS, [], 401),
        (None, EVENTS, [], 401),  # a key id that failed authentication proves nothing: not logged
        (app, "/v1/audit/summary", [], 403),
        (dpo, EVENTS, ["limit"], 422),
        (dpo, EVENTS, ["subject"], 422),
        (dpo, EVENTS, ["subject"], 200),
        (app, "/v1/audit/privacy-budget", [], 403),
        (dpo, "/v1/audit/access-log", ["limit"], 200),  # the call that reads the log is in its own page
    ]
    assert all(i["at"].startswith("2026-11-23T10:00") and i["method"] == "GET" for i in _log(env))
    assert scan_database(env.url, [subject]) == []  # filter values are never logged, refused or not

    refused = _log(env, status=[401, 403])  # the officer asks for the refused calls
    assert [i["status"] for i in refused] == [401, 401, 403, 403]
    assert [i["key_id"] for i in _log(env, key_id=app)] == [app, app]


def test_unknown_parameter_names_are_logged_as_unknown(env: Env) -> None:
    """The call is refused before it reaches the route (422 naming the parameter), and logged all the same."""
    sent = {"limit": 5, "someone@example.com": "1"}
    assert_problem(env.client.get(EVENTS, params=sent, headers=env.dpo), 422, "invalid-input")
    assert_problem(env.client.get(EVENTS, params=sent, headers=env.app), 422, "invalid-input")
    assert_problem(env.client.get(EVENTS, params=sent), 422, "invalid-input")
    logged = [(i["key_id"], i["params"], i["status"]) for i in _log(env)[:3]]
    assert logged == [
        (_key_id(env.dpo), ["(unknown)", "limit"], 422),
        (_key_id(env.app), ["(unknown)", "limit"], 422),
        (None, ["(unknown)", "limit"], 422),
    ]
    assert scan_database(env.url, ["someone@example.com"]) == []


def test_an_answer_whose_log_line_cannot_be_written_is_not_sent(env: Env) -> None:
    conn = superuser(env.url)
    try:
        with conn.cursor() as cur:
            cur.execute("REVOKE INSERT ON audit_access_log FROM geo_offers_app")
        response = env.client.get("/v1/audit/processing-record", headers=env.dpo)
        assert response.status_code >= 500 and "controller" not in response.text
        with conn.cursor() as cur:
            cur.execute("GRANT INSERT ON audit_access_log TO geo_offers_app")
    finally:
        conn.close()
    assert [i["route"] for i in _log(env)] == ["/v1/audit/access-log"]  # only the call that reads the log
