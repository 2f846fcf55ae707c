"""Database.run and Database.read: one transaction (or one autocommit statement) in one thread hop, bounded."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from consent.errors import ServiceUnavailable
from geo_offers.kit.database import Database
from tests.helpers import make_settings, run_async

_IN_A_TRANSACTION = text("SELECT now() <> statement_timestamp()")  # now() is the transaction's start


def _in_a_transaction(session: Session) -> bool:
    session.execute(text("SELECT pg_sleep(0.01)"))
    return bool(session.execute(_IN_A_TRANSACTION).scalar_one())


def test_run_is_one_transaction_and_read_is_autocommit_on_the_same_connection(database_url: str) -> None:
    db = Database(make_settings(database_url, db_pool_size=1))

    async def scenario() -> list[bool]:
        return [
            await db.run(_in_a_transaction),
            await db.read(_in_a_transaction),
            await db.run(_in_a_transaction),  # the pooled connection left autocommit behind
        ]

    try:
        assert run_async(scenario()) == [True, False, True]
    finally:
        db.dispose()


def test_run_rolls_back_when_the_work_raises(database_url: str) -> None:
    db = Database(make_settings(database_url))
    name = f"rollback probe {uuid.uuid4()}"

    def write_then_fail(session: Session) -> None:
        session.execute(text("INSERT INTO merchants (name) VALUES (:name)"), {"name": name})
        raise ValueError("refused")

    def probe_exists(session: Session) -> bool:
        found = session.execute(text("SELECT count(*) FROM merchants WHERE name = :name"), {"name": name})
        return bool(found.scalar_one())

    async def scenario() -> bool:
        with pytest.raises(ValueError, match="refused"):
            await db.run(write_then_fail)
        return await db.read(probe_exists)

    try:
        assert run_async(scenario()) is False
    finally:
        db.dispose()


def test_no_more_run_at_once_than_the_pool_holds_and_a_long_wait_answers_503(database_url: str) -> None:
    db = Database(make_settings(database_url, db_pool_size=1, db_connect_timeout_s=1))
    release = threading.Event()

    def hold(_: Session) -> None:
        release.wait(10)

    async def scenario() -> None:
        holder = asyncio.create_task(db.run(hold))
        await asyncio.sleep(0.1)
        try:
            with pytest.raises(ServiceUnavailable):
                await db.read(lambda session: session.execute(text("SELECT 1")).scalar_one())
        finally:
            release.set()
            await holder

    try:
        run_async(scenario())
    finally:
        db.dispose()
