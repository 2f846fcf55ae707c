"""Group commit of consent decisions: many decisions, one transaction and one flush, each its own answer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from consent import decisions
from consent.decisions import Decision, DecisionWriter, Receipt
from consent.errors import NotFound
from consent.ledger import chain as ledger
from consent.pseudonyms import pseudonym
from geo_offers.kit.database import Database
from geo_offers.settings import Settings
from tests.helpers import new_subject


@pytest.fixture
def writer(db: Database) -> Iterator[DecisionWriter]:
    made = DecisionWriter(db.sessions)
    yield made
    made.stop()


def _granting(settings: Settings, subject: str, version: int) -> Callable[[Session], decisions.Outcome]:
    request = Decision(
        subject_id=subject, notice_version=version, purposes=["location_offers"], source="test", locale="de"
    )
    return lambda session: decisions.prepare_grant(session, settings.consent, request, datetime.now(UTC))


def _withdrawing(settings: Settings, subject: str) -> Callable[[Session], decisions.Outcome]:
    return lambda session: decisions.prepare_withdraw(
        session, settings.consent, subject, None, False, datetime.now(UTC)
    )


def _order(settings: Settings, subject: str) -> bytes:
    return pseudonym(settings.consent.pepper.get_secret_value(), subject)


def _ledger_ok(db: Database) -> ledger.Verification:
    with db.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        return ledger.verify(conn)


def test_a_group_commits_once_and_answers_each_decision_with_its_own_receipt(
    db: Database, settings: Settings, writer: DecisionWriter, client: TestClient, notice_version: int
) -> None:
    subjects = [new_subject() for _ in range(20)]
    granted = [writer.submit(_granting(settings, s, notice_version), _order(settings, s)) for s in subjects]
    unknown = new_subject()
    refused = writer.submit(_withdrawing(settings, unknown), _order(settings, unknown))
    writer.start()  # everything above was queued before: one group
    receipts = [future.result(timeout=30) for future in granted]
    with pytest.raises(NotFound):
        refused.result(timeout=30)
    assert writer.batches == 1 and writer.decisions == 20
    seqs = sorted(r.seq for r in receipts)
    assert seqs == list(range(seqs[0], seqs[0] + 20))  # one contiguous run of the chain, each its own event
    assert len({r.consent_id for r in receipts}) == 20
    assert _ledger_ok(db).ok
    with db.engine.connect() as conn:
        hashes = dict(
            conn.execute(
                text("SELECT seq, encode(hash, 'hex') FROM consent_events WHERE seq = ANY(:s)"), {"s": seqs}
            ).all()
        )
    assert {r.seq: r.hash for r in receipts} == hashes  # each receipt names its own event's hash


def test_decisions_of_one_subject_in_a_group_apply_in_arrival_order(
    db: Database, settings: Settings, writer: DecisionWriter, client: TestClient, notice_version: int
) -> None:
    subject = new_subject()
    order = _order(settings, subject)
    first = writer.submit(_granting(settings, subject, notice_version), order)
    second = writer.submit(_withdrawing(settings, subject), order)
    writer.start()
    grant, withdrawal = first.result(timeout=30), second.result(timeout=30)
    assert (grant.event, withdrawal.event) == ("grant", "withdraw") and withdrawal.seq == grant.seq + 1
    with db.sessions() as session:
        state = decisions.subject_state(session, settings.consent, subject, datetime.now(UTC))
    assert {p.purpose: p.status for p in state.purposes}["location_offers"] == "withdrawn"


def test_a_group_whose_commit_fails_acknowledges_none_of_its_decisions(
    db: Database, settings: Settings, writer: DecisionWriter, client: TestClient, notice_version: int
) -> None:
    subjects = [new_subject() for _ in range(5)]
    futures: list[Future[Receipt]] = [
        writer.submit(_granting(settings, s, notice_version), _order(settings, s)) for s in subjects
    ]

    def lose_the_connection(session: Session) -> decisions.Outcome:
        session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        raise AssertionError("unreachable: the connection is gone")

    futures.append(writer.submit(lose_the_connection, b"\xff" * 32))  # last in the group's order
    with db.engine.connect() as conn:
        before = conn.execute(text("SELECT seq FROM ledger_head")).scalar_one()
    writer.start()
    for future in futures:
        with pytest.raises(Exception) as failed:
            future.result(timeout=30)
        assert not isinstance(failed.value, AssertionError)
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT seq FROM ledger_head")).scalar_one() == before
    # the writer goes on: the next group commits
    subject = new_subject()
    assert (
        writer.submit(_granting(settings, subject, notice_version), _order(settings, subject)).result(30).seq > before
    )
    assert _ledger_ok(db).ok
