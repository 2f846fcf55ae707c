"""The consent ledger: append-only in the database itself, hash-chained, and verifiable under concurrency."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import UTC, datetime

import psycopg2
import psycopg2.errors
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from consent import decisions
from consent.canonical import canonical_json, chain_hash
from consent.decisions import Decision
from consent.ledger import chain as ledger
from geo_offers.kit.database import Database
from geo_offers.settings import Settings
from tests.helpers import grant, new_subject, scan_database


def _superuser(url: str) -> psycopg2.extensions.connection:
    conn = psycopg2.connect(url)  # the test URL is a superuser and does not take the service role
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cur.fetchone() == (True,)
    return conn


def _verify(db: Database) -> ledger.Verification:
    with db.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        return ledger.verify(conn)


@pytest.fixture
def some_event(client: TestClient, app_headers: dict[str, str], notice_version: int) -> int:
    return int(grant(client, app_headers, new_subject(), notice_version).json()["ledger"]["seq"])


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE consent_events SET event_type = 'withdraw' WHERE seq = {seq}",
        "DELETE FROM consent_events WHERE seq = {seq}",
        "TRUNCATE consent_events",
    ],
)
def test_superuser_cannot_change_the_ledger(database_url: str, some_event: int, statement: str) -> None:
    conn = _superuser(database_url)
    try:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="append-only"), conn.cursor() as cur:
            cur.execute(statement.format(seq=some_event))
    finally:
        conn.close()


def test_the_service_role_has_no_update_or_delete_privilege(database_url: str, some_event: int) -> None:
    conn = _superuser(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SET ROLE geo_offers_app")
            for statement in (
                "UPDATE consent_events SET tag = tag",
                "DELETE FROM consent_events",
                "TRUNCATE consent_events",
            ):
                with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="permission denied"):
                    cur.execute(statement)
    finally:
        conn.close()


def test_an_insert_that_does_not_continue_the_chain_is_refused(database_url: str, some_event: int) -> None:
    conn = _superuser(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT seq, hash FROM ledger_head")
            seq, head = cur.fetchone()
            canonical = canonical_json({"type": "grant", "forged": True})
            for prev in (bytes(32), bytes(head)):
                digest = chain_hash(prev, canonical) if prev == bytes(32) else b"\x01" * 32
                with pytest.raises(psycopg2.errors.IntegrityConstraintViolation):
                    cur.execute(
                        "INSERT INTO consent_events (seq, occurred_at, event_type, tag, purposes, canonical, "
                        "prev_hash, hash) VALUES (%s, now(), 'grant', gen_random_uuid(), '{}', %s, %s, %s)",
                        (seq + 1, canonical, prev, digest),
                    )
    finally:
        conn.close()


@pytest.mark.slow
def test_chain_verifies_after_10000_events_from_concurrent_writers(
    db: Database, settings: Settings, client: TestClient, notice_version: int
) -> None:
    writers, target = 8, 10_000
    errors: list[BaseException] = []
    written = [0]
    lock = threading.Lock()

    def work(seed: int) -> None:
        rng = random.Random(seed)
        subjects = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(40)]
        try:
            i = 0
            while True:
                with lock:
                    if written[0] >= target:
                        return
                i += 1
                subject = rng.choice(subjects)
                now = datetime.now(UTC)
                with db.transaction() as session:
                    state = {
                        p.purpose: p.status
                        for p in decisions.subject_state(session, settings.consent, subject, now).purposes
                    }
                    if state["location_offers"] == "active" and i % 2:
                        receipt = decisions.withdraw(session, settings.consent, subject, None, False, now)
                    else:
                        receipt = decisions.grant(
                            session,
                            settings.consent,
                            Decision(
                                subject_id=subject,
                                notice_version=notice_version,
                                purposes=["location_offers", "offer_analytics"],
                                source="test",
                                locale="de",
                                precision_res=5 + (i % 4),
                            ),
                            now,
                        )
                if not receipt.replayed:
                    with lock:
                        written[0] += 1
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    with db.engine.connect() as conn:
        before = conn.execute(text("SELECT seq FROM ledger_head")).scalar_one()
    threads = [threading.Thread(target=work, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:3]
    result = _verify(db)
    assert result.ok, result
    assert result.head_seq - before >= target
    assert result.events_checked == result.head_seq


def test_tampering_is_found_at_the_changed_row(fresh_database_url: str) -> None:
    from tests.helpers import make_settings

    settings = make_settings(fresh_database_url)
    db = Database(settings)
    with db.transaction() as session:
        from consent import notices
        from tests.helpers import notice_body

        body = notice_body()
        notices.publish(session, body["purposes"], body["texts"], [], "test", datetime.now(UTC))
    for _ in range(5):
        with db.transaction() as session:
            decisions.grant(
                session,
                settings.consent,
                Decision(
                    subject_id=new_subject(), notice_version=1, purposes=["location_offers"], source="t", locale="de"
                ),
                datetime.now(UTC),
            )
    assert _verify(db).ok
    conn = _superuser(fresh_database_url)
    with conn.cursor() as cur:
        cur.execute("ALTER TABLE consent_events DISABLE TRIGGER consent_events_guard")
        cur.execute(
            "UPDATE consent_events SET canonical = replace(canonical, '\"grant\"', '\"decline\"') WHERE seq = 3"
        )
        cur.execute("ALTER TABLE consent_events ENABLE TRIGGER consent_events_guard")
    result = _verify(db)
    assert not result.ok and result.first_bad_seq == 3 and result.events_checked == 2
    with conn.cursor() as cur:
        cur.execute("ALTER TABLE consent_events DISABLE TRIGGER consent_events_guard")
        cur.execute("DELETE FROM consent_events WHERE seq >= 3")
        cur.execute("ALTER TABLE consent_events ENABLE TRIGGER consent_events_guard")
    cut = _verify(db)
    assert not cut.ok and cut.first_bad_seq == 3  # the head still points at event 6
    conn.close()
    db.dispose()


def test_no_raw_subject_id_anywhere_in_the_database(
    client: TestClient, app_headers: dict[str, str], notice_version: int, database_url: str
) -> None:
    subject = new_subject()
    grant(client, app_headers, subject, notice_version, extra_headers={"Sec-GPC": "1"})
    client.get(f"/v1/consents/{subject}", headers=app_headers)
    client.post("/v1/consents/withdraw", json={"subject_id": subject}, headers=app_headers)
    client.post(
        "/v1/consents/decline",
        json={"subject_id": subject, "notice_version": notice_version, "source": "settings", "locale": "de"},
        headers=app_headers,
    )
    grant(client, app_headers, subject, notice_version)
    uuid_hex = uuid.UUID(subject).bytes.hex()
    assert scan_database(database_url, [subject, uuid_hex]) == []
