"""Abuse: rate limits, body limits, probing another tenant's ids, keys in logs, SQL injection, revoked keys."""

from __future__ import annotations

import csv
import io
import logging
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg2
import pytest
from fastapi.testclient import TestClient

from geo_offers.app import create_app
from geo_offers.cli import main as cli_main
from geo_offers.kit.database import Database
from geo_offers.kit.logs import configure_logging
from geo_offers.settings import Settings
from geo_offers.tenants import keys as key_repo
from tests.helpers import (
    FakeClock,
    Keys,
    assert_problem,
    deal_body,
    grant,
    make_settings,
    new_subject,
    notice_body,
    store_body,
    wait_until,
)

Headers = dict[str, str]


# --- rate limits --------------------------------------------------------------------------------------------


def test_a_key_over_its_rate_gets_429_with_retry_after_and_other_keys_do_not(
    database_url: str, keys: Keys, clock: FakeClock, notice_version: int
) -> None:
    settings = make_settings(database_url, rate_limit_per_s=0.5, rate_limit_burst=3)
    noisy, quiet = keys.headers("app"), keys.headers("app")
    with TestClient(create_app(settings, clock=clock, log=False)) as client:
        path = f"/v1/consents/{new_subject()}"
        answers = [client.get(path, headers=noisy) for _ in range(5)]
        assert [a.status_code for a in answers[:3]] == [200, 200, 200]
        for refused in answers[3:]:
            problem = assert_problem(refused, 429, "rate-limited")
            assert int(refused.headers["retry-after"]) >= 1
            assert "gok_" not in refused.text and problem["detail"]
        assert client.get(path, headers=quiet).status_code == 200


# --- body limits --------------------------------------------------------------------------------------------


@pytest.fixture
def small_body_client(database_url: str, clock: FakeClock) -> Iterator[TestClient]:
    settings = make_settings(database_url, max_body_bytes=1024)
    with TestClient(create_app(settings, clock=clock, log=False)) as client:
        yield client


def _store_count(db: Database, merchant_id: int) -> int:
    with db.engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM stores WHERE merchant_id = %s", (merchant_id,)).scalar())


def test_a_body_over_the_limit_is_refused_from_its_content_length(
    small_body_client: TestClient, keys: Keys, db: Database
) -> None:
    merchant = keys.merchant()
    body = store_body(address="x" * 2000)
    answer = small_body_client.post("/v1/stores", json=body, headers=keys.headers("merchant", merchant))
    assert_problem(answer, 413, "payload-too-large")
    assert _store_count(db, merchant) == 0


def test_a_chunked_body_over_the_limit_is_refused_while_streaming(
    small_body_client: TestClient, keys: Keys, db: Database
) -> None:
    merchant = keys.merchant()

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "Laden", "address": "'
        for _ in range(10):
            yield b"x" * 200
        yield b'", "location": {"type": "Point", "coordinates": [13.4, 52.5]}, "timezone": "Europe/Berlin"}'

    headers = {**keys.headers("merchant", merchant), "Content-Type": "application/json"}
    answer = small_body_client.post("/v1/stores", content=chunks(), headers=headers)
    assert "content-length" not in answer.request.headers
    assert_problem(answer, 413, "payload-too-large")
    assert _store_count(db, merchant) == 0


# --- tenant isolation ---------------------------------------------------------------------------------------


@pytest.fixture
def two_merchants(client: TestClient, keys: Keys) -> tuple[Headers, Headers, int, int]:
    """Merchant A with a store and a deal, and merchant B's headers."""
    owner = keys.headers("merchant", keys.merchant("A GmbH"))
    prober = keys.headers("merchant", keys.merchant("B GmbH"))
    store = client.post("/v1/stores", json=store_body(), headers=owner)
    assert store.status_code == 201, store.text
    deal = client.post("/v1/deals", json=deal_body(store.json()["id"]), headers=owner)
    assert deal.status_code == 201, deal.text
    return owner, prober, store.json()["id"], deal.json()["id"]


def _missing_id(client: TestClient, headers: Headers) -> int:
    return 2**62 + int(time.time_ns() % 10**9)


def test_another_merchants_objects_answer_exactly_like_missing_ones(
    client: TestClient, two_merchants: tuple[Headers, Headers, int, int]
) -> None:
    owner, prober, store_id, deal_id = two_merchants
    missing = _missing_id(client, prober)
    probes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "/v1/stores/{}", None),
        ("PATCH", "/v1/stores/{}", {"name": "Übernommen"}),
        ("DELETE", "/v1/stores/{}", None),
        ("GET", "/v1/deals/{}", None),
        ("PATCH", "/v1/deals/{}", {"title": "Übernommen"}),
        ("DELETE", "/v1/deals/{}", None),
    ]
    for method, template, body in probes:
        existing_id = store_id if "stores" in template else deal_id
        theirs = client.request(method, template.format(existing_id), json=body, headers=prober)
        nobody = client.request(method, template.format(missing), json=body, headers=prober)
        assert_problem(theirs, 404, "not-found")
        assert (theirs.status_code, theirs.json(), theirs.headers["content-type"]) == (
            nobody.status_code,
            nobody.json(),
            nobody.headers["content-type"],
        ), (method, template)
    # Referring to the other merchant's store from one's own deal is a 404 like a missing store.
    for store_ref in (store_id, missing):
        answer = client.post("/v1/deals", json=deal_body(store_ref), headers=prober)
        assert_problem(answer, 404, "not-found")
    # Filters cannot reveal it either.
    assert client.get(f"/v1/deals?store_id={store_id}", headers=prober).json()["items"] == []
    # And nothing of the owner's changed.
    assert client.get(f"/v1/stores/{store_id}", headers=owner).json()["name"] == store_body()["name"]
    assert client.get(f"/v1/deals/{deal_id}", headers=owner).json()["title"] == deal_body(store_id)["title"]


def test_probing_another_merchants_ids_takes_as_long_as_probing_missing_ones(
    client: TestClient, two_merchants: tuple[Headers, Headers, int, int]
) -> None:
    """Same timing class: medians of interleaved probes within a generous factor (no tight timing assertion)."""
    _, prober, store_id, _ = two_merchants
    missing = _missing_id(client, prober)
    times: dict[int, list[float]] = {store_id: [], missing: []}
    for _ in range(50):
        for target in (store_id, missing):
            start = time.perf_counter()
            assert client.get(f"/v1/stores/{target}", headers=prober).status_code == 404
            times[target].append(time.perf_counter() - start)
    theirs, nobody = statistics.median(times[store_id]), statistics.median(times[missing])
    assert max(theirs, nobody) <= 3 * min(theirs, nobody) + 0.002, (theirs, nobody)


# --- keys never in logs or bodies ---------------------------------------------------------------------------


@pytest.fixture
def captured_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = configure_logging("DEBUG", stream)
    yield stream
    logging.getLogger().removeHandler(handler)


def test_api_keys_never_reach_a_log_line_or_an_answer(
    database_url: str, db: Database, clock: FakeClock, captured_log: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    with db.transaction() as session:
        valid = key_repo.create_key(session, "merchant", Keys(db).merchant()).key
        revoked_issued = key_repo.create_key(session, "app")
    with db.transaction() as session:
        key_repo.revoke_key(session, revoked_issued.id, clock())
    revoked = revoked_issued.key
    wrong_secret = valid[:-5] + ("A" if valid[-5] != "A" else "B") + valid[-4:]
    garbage = "gok_not-a-key-at-all-but-looks-secret-1234567890"
    secrets = [valid, revoked, wrong_secret, garbage]
    settings = make_settings(database_url, access_log=True, log_level="DEBUG")
    answers = []
    with caplog.at_level(logging.DEBUG), TestClient(create_app(settings, clock=clock, log=False)) as client:
        for key in secrets:
            headers = {"Authorization": f"Bearer {key}"}
            answers.append(client.get("/v1/stores", headers=headers))
            answers.append(client.post("/v1/stores", json={"name": key}, headers=headers))
            answers.append(client.get(f"/v1/stores/{key}", headers=headers))
        answers.append(client.get("/v1/stores", headers={"Authorization": valid}))  # no scheme
        answers.append(client.get("/v1/stores", headers={"X-Api-Key": valid}))
    assert answers[0].status_code == 200
    for answer in answers[3:]:
        assert answer.status_code in (401, 404, 422), answer.text
    emitted = captured_log.getvalue() + "\n".join(r.getMessage() for r in caplog.records)
    assert captured_log.getvalue(), "the access log should have written something"
    for key in secrets:
        # Keys are gok_<12-hex id>_<urlsafe secret>; the secret itself may contain "_" (split at most twice).
        secret_part = key.split("_", 2)[-1]
        assert len(secret_part) >= 20
        assert secret_part not in emitted
        for answer in answers:
            assert secret_part not in answer.text
            assert all(secret_part not in value for value in answer.headers.values())


# --- SQL injection ------------------------------------------------------------------------------------------

PAYLOADS = [
    "' OR 1=1 --",
    "'; DROP TABLE stores; --",
    '"; DROP TABLE consent_events; --',
    "1; DELETE FROM deals",
    "x') UNION SELECT secret_hash FROM api_keys --",
    "%' AND pg_sleep(1) --",
    "\\'; TRUNCATE ledger_head; --",
]


def _table_counts(url: str) -> dict[str, int]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'spatial_ref_sys'"
            )
            tables = sorted(row[0] for row in cur.fetchall())
            counts = {}
            for table in tables:
                cur.execute(f'SELECT count(*) FROM "{table}"')
                counts[table] = int(cur.fetchone()[0])
            return counts
    finally:
        conn.close()


@pytest.fixture
def private_app(fresh_database_url: str, clock: FakeClock) -> Iterator[tuple[TestClient, Keys, str]]:
    db = Database(make_settings(fresh_database_url))
    with TestClient(create_app(make_settings(fresh_database_url), clock=clock, log=False)) as client:
        yield client, Keys(db), fresh_database_url
    db.dispose()


def test_sql_injection_in_every_string_field_and_filter_changes_nothing(
    private_app: tuple[TestClient, Keys, str],
) -> None:
    client, keys, url = private_app
    admin, app = keys.headers("admin"), keys.headers("app")
    merchant = keys.headers("merchant", keys.merchant())
    assert client.post("/v1/notices", json=notice_body(), headers=admin).status_code == 201
    store = client.post("/v1/stores", json=store_body(), headers=merchant).json()
    deal = client.post("/v1/deals", json=deal_body(store["id"]), headers=merchant).json()
    subject = new_subject()
    assert grant(client, app, subject, 1).status_code == 201
    before = _table_counts(url)
    created: dict[str, int] = {}
    stored: list[tuple[str, str, str]] = []  # (url, field, literal) that must read back unchanged

    def send(method: str, path: str, headers: Headers, **kwargs: Any) -> Any:
        answer = client.request(method, path, headers=headers, **kwargs)
        assert answer.status_code < 500, (method, path, kwargs, answer.text)
        if answer.status_code >= 400:
            assert answer.headers["content-type"].startswith("application/problem+json")
        return answer

    for payload in PAYLOADS:
        for field in ("name", "address", "timezone"):
            answer = send("POST", "/v1/stores", merchant, json=store_body(**{field: payload}))
            if answer.status_code == 201:
                created["stores"] = created.get("stores", 0) + 1
                stored.append((f"/v1/stores/{answer.json()['id']}", field, payload))
        send("POST", "/v1/stores", merchant, json=store_body(categories=[payload]))
        answer = send("PATCH", f"/v1/stores/{store['id']}", merchant, json={"name": payload})
        assert answer.status_code == 200 and answer.json()["name"] == payload
        for field in ("title", "description", "category", "valid_from"):
            answer = send("POST", "/v1/deals", merchant, json=deal_body(store["id"], **{field: payload}))
            if answer.status_code == 201:
                created["deals"] = created.get("deals", 0) + 1
                created["deal_cells"] = created.get("deal_cells", 0) + answer.json()["coverage_cells"]
                stored.append((f"/v1/deals/{answer.json()['id']}", field, payload))
        send(
            "POST",
            "/v1/deals",
            merchant,
            json=deal_body(store["id"], windows=[{"days": [payload], "start": "10:00", "end": "12:00"}]),
        )
        send("PATCH", f"/v1/deals/{deal['id']}", merchant, json={"status": payload})
        for query in ("status", "store_id", "after", "limit"):
            send("GET", "/v1/deals", merchant, params={query: payload})
            send("GET", "/v1/stores", merchant, params={query: payload})
        send("GET", f"/v1/stores/{payload}", merchant)
        send("DELETE", f"/v1/deals/{payload}", merchant)
        for field in ("subject_id", "source", "locale"):
            body = {
                "subject_id": subject,
                "notice_version": 1,
                "purposes": ["location_offers"],
                "source": "app",
                "locale": "de-DE",
            }
            body[field] = payload
            send("POST", "/v1/consents", app, json=body)
            send("POST", "/v1/consents/decline", app, json=body)
        send(
            "POST",
            "/v1/consents",
            app,
            json={
                "subject_id": subject,
                "notice_version": 1,
                "purposes": [payload],
                "source": "app",
                "locale": "de-DE",
            },
        )
        send("POST", "/v1/consents/withdraw", app, json={"subject_id": payload})
        send("POST", "/v1/consents/withdraw", app, json={"subject_id": subject, "purposes": [payload]})
        send("GET", f"/v1/consents/{payload}", app)
        send("GET", "/v1/notices/current", app, params={"locale": payload})
        send("POST", "/v1/offers/match", app, json={"subject_id": subject, "cell": payload})
        send(
            "POST",
            "/v1/offers/match",
            app,
            json={"subject_id": subject, "cell": "881f1d4893fffff", "categories": [payload]},
        )
        send("GET", f"/v1/offers/area/{payload}", app)
        answer = send("POST", "/v1/admin/merchants", admin, json={"name": payload})
        if answer.status_code == 201:
            created["merchants"] = created.get("merchants", 0) + 1
        send("GET", "/v1/admin/merchants", admin, params={"after": payload})
        answer = send("POST", "/v1/admin/keys", admin, json={"role": "dpo", "label": payload})
        if answer.status_code == 201:
            created["api_keys"] = created.get("api_keys", 0) + 1
        send("POST", f"/v1/admin/keys/{payload}/revoke", admin)
        rows = io.StringIO()
        csv.writer(rows).writerows([["name", "address", "lon", "lat"], [payload, payload, "13.4", "52.5"]])
        answer = send("POST", "/v1/stores/import", {**merchant, "Content-Type": "text/csv"}, content=rows.getvalue())
        assert answer.json()["imported"] == 1, answer.text
        stored.append((f"/v1/stores/{answer.json()['store_ids'][0]}", "address", payload))

    after = _table_counts(url)
    assert set(after) == set(before), "a table appeared or vanished"
    imported = after["stores"] - before["stores"] - created.get("stores", 0)
    assert imported == len(PAYLOADS)  # each CSV import stored its row literally
    expected = {**before}
    expected["stores"] += created.get("stores", 0) + imported
    for table in ("deals", "merchants", "api_keys"):
        expected[table] += created.get(table, 0)
    changed = {t for t in after if after[t] != expected[t]}
    # Coverage rows and change rows follow the deals; nothing else may have moved (no consent event, no ledger
    # change).
    assert changed <= {"deal_cells", "deal_changes"}, {t: (before[t], after[t]) for t in changed}
    for path, field, literal in stored:
        assert client.get(path, headers=merchant).json()[field] == literal


# --- revoked keys -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["cli", "repository"])
def test_a_revoked_key_stops_working_at_once_on_every_instance(
    database_url: str,
    db: Database,
    clock: FakeClock,
    how: str,
    monkeypatch: pytest.MonkeyPatch,
    notice_version: int,
) -> None:
    settings = make_settings(database_url, key_cache_ttl_s=300.0)  # a long cache: only invalidation can help
    monkeypatch.setenv("GEO_OFFERS_DATABASE_URL", database_url)
    revoke: Callable[[str], None]
    if how == "cli":

        def revoke(key_id: str) -> None:
            assert cli_main(["keys", "revoke", key_id]) == 0

    else:

        def revoke(key_id: str) -> None:
            with Database(Settings(database_url=database_url)).transaction() as session:
                key_repo.revoke_key(session, key_id, clock())

    with (
        TestClient(create_app(settings, clock=clock, log=False)) as first,
        TestClient(create_app(settings, clock=clock, log=False)) as second,
    ):
        for _ in range(10):
            with db.transaction() as session:
                issued = key_repo.create_key(session, "app")
            headers = {"Authorization": f"Bearer {issued.key}"}
            path = f"/v1/consents/{new_subject()}"
            for instance in (first, second):  # both instances have the key in their cache now
                assert instance.get(path, headers=headers).status_code == 200
            revoke(issued.id)
            # The revocation reaches the other instances' key caches by NOTIFY, which PostgreSQL sends to the
            # listeners at commit, a few milliseconds after the revoking client got its answer: wait for that,
            # with the same one-second bound as a deal change.
            for instance in (first, second):
                wait_until(lambda i=instance, p=path, h=headers: i.get(p, headers=h).status_code == 401, timeout=1.0)
                assert_problem(instance.get(path, headers=headers), 401, "unauthorized")
