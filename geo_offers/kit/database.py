"""The synchronous SQLAlchemy engine and sessions used by every route except the hot match path."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from geo_offers.settings import Settings


def sqlalchemy_url(url: str) -> str:
    """The settings URL with the psycopg2 driver named, as SQLAlchemy wants it."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed.render_as_string(hide_password=False)


def libpq_dsn(url: str) -> str:
    """The settings URL as a plain libpq connection string (for raw psycopg2 connections)."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def make_engine(settings: Settings, *, pool_size: int | None = None, role: str | None = None) -> Engine:
    """An engine whose connections time out, cap statement time and drop to the service role."""
    size = pool_size if pool_size is not None else settings.db_pool_size
    engine = create_engine(
        sqlalchemy_url(settings.database_url),
        pool_size=size,
        max_overflow=size,
        pool_pre_ping=True,
        pool_timeout=settings.db_connect_timeout_s,
        connect_args={
            "connect_timeout": settings.db_connect_timeout_s,
            "application_name": "geo-offers",
            "options": f"-c statement_timeout={settings.db_statement_timeout_ms}",
        },
    )
    service_role = settings.database_role if role is None else role
    if service_role:

        @event.listens_for(engine, "connect")
        def _set_role(dbapi_connection: Any, _record: Any) -> None:
            with dbapi_connection.cursor() as cur:
                cur.execute(f'SET ROLE "{service_role}"')
            dbapi_connection.commit()

    return engine


class Database:
    """Engine and session factory, created in the app lifespan and disposed on shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.engine = make_engine(settings)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


@contextmanager
def open_database(settings: Settings) -> Iterator[Database]:
    """A Database for the length of a block (for commands and scripts)."""
    db = Database(settings)
    try:
        yield db
    finally:
        db.dispose()
