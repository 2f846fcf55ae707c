"""The synchronous SQLAlchemy engine and sessions used by every route except the hot match path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from consent.errors import ServiceUnavailable
from geo_offers.kit.readtarget import ReadTarget
from geo_offers.settings import Settings

T = TypeVar("T")


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


def keepalive_options(settings: Settings) -> dict[str, int]:
    """libpq options that notice a connection whose peer is gone: TCP keepalives and the TCP user timeout.

    They cover a host that left the network; a server that is alive but frozen (its kernel still acknowledges)
    is bounded by the request deadline (``geo_offers.kit.deadline``) and the asynchronous pool's own timeouts.
    """
    options = {
        "keepalives": 1,
        "keepalives_idle": settings.db_keepalive_idle_s,
        "keepalives_interval": 2,
        "keepalives_count": 3,
    }
    if settings.db_tcp_user_timeout_ms:
        options["tcp_user_timeout"] = settings.db_tcp_user_timeout_ms
    return options


def make_engine(
    settings: Settings, *, url: str | None = None, pool_size: int | None = None, role: str | None = None
) -> Engine:
    """An engine whose connections time out, cap statement time and drop to the service role.

    ``url`` defaults to the primary (``database_url``).
    """
    size = pool_size if pool_size is not None else settings.db_pool_size
    engine = create_engine(
        sqlalchemy_url(url or settings.database_url),
        pool_size=size,
        max_overflow=size,
        pool_pre_ping=True,
        pool_timeout=settings.db_connect_timeout_s,
        connect_args={
            "connect_timeout": settings.db_connect_timeout_s,
            "application_name": "geo-offers",
            "options": f"-c statement_timeout={settings.db_statement_timeout_ms}",
            **keepalive_options(settings),
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
    """Engines and session factories, created in the app lifespan and disposed on shutdown.

    ``engine``/``sessions`` reach the primary; ``read_engine``/``read_sessions`` the read database when one is
    set (``read_database_url``), else the very same primary objects. ``reading()`` picks between them while the
    read database is down (``ReadTarget``).
    """

    def __init__(self, settings: Settings) -> None:
        self.engine = make_engine(settings)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.separate_reads = settings.read_database_url is not None
        self.read_engine = self.engine
        self.read_sessions = self.sessions
        if self.separate_reads:
            self.read_engine = make_engine(settings, url=settings.read_database_url)
            self.read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)
        self.target = ReadTarget(separate=self.separate_reads, fallback=settings.read_fallback)
        # One read statement is its own transaction: in autocommit psycopg2 sends no BEGIN and COMMIT around it.
        self._reads = sessionmaker(self.engine.execution_options(isolation_level="AUTOCOMMIT"))
        self._threads = settings.db_pool_size
        self._wait_s = float(settings.db_connect_timeout_s)
        self._limiter: anyio.CapacityLimiter | None = None  # made on the event loop, at first use

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one transaction on a worker thread, from an async route: committed when it returns,
        rolled back if it raises.

        Why not a sync route with ``SessionDep``: FastAPI runs such a route in four thread hops (the session's
        set-up, the handler, the answer's validation, the commit), each waiting for the GIL behind a busy event
        loop, and holds a pooled connection across all of them; under load more requests than the pool holds
        then opened overflow connections (a new backend each) or waited out the pool's timeout. Here a request
        is one hop, and at most as many run at once as the pool holds connections; the others wait on the
        event loop, and answer 503 when no slot frees within the connect timeout.
        """
        return await self._in_thread(self._in_transaction, work)

    async def read(self, work: Callable[[Session], T]) -> T:
        """``run`` for ``work`` that only reads, in one statement, on the primary (a merchant reads its own writes):
        run in autocommit, where that statement is its own transaction (two round trips fewer than BEGIN ...
        COMMIT around it)."""
        return await self._in_thread(self._reading, work)

    async def _in_thread(self, how: Callable[[Callable[[Session], T]], T], work: Callable[[Session], T]) -> T:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self._threads)
        limiter = self._limiter
        with anyio.move_on_after(self._wait_s) as waited:
            await limiter.acquire()
        if waited.cancelled_caught:
            raise ServiceUnavailable("the database is busy; retry shortly")
        try:
            return await anyio.to_thread.run_sync(how, work)
        finally:
            limiter.release()

    def _in_transaction(self, work: Callable[[Session], T]) -> T:
        with self.transaction() as session:
            return work(session)

    def _reading(self, work: Callable[[Session], T]) -> T:
        with self._reads() as session:
            return work(session)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read-only connection to the read database (or to the primary while it is down and
        ``read_fallback`` allows), in a transaction that ends with the block."""
        engine = self.engine
        if self.target.use_read():
            try:
                conn = self.read_engine.connect()
            except OperationalError:
                self.target.failed()
                if not self.target.fallback:
                    raise
            else:
                self.target.succeeded()
                with conn, conn.begin():
                    conn.execute(text("SET TRANSACTION READ ONLY"))
                    yield conn
                return
        with engine.connect() as conn, conn.begin():
            conn.execute(text("SET TRANSACTION READ ONLY"))
            yield conn

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
        if self.separate_reads:
            self.read_engine.dispose()


@contextmanager
def open_database(settings: Settings) -> Iterator[Database]:
    """A Database for the length of a block (for commands and scripts)."""
    db = Database(settings)
    try:
        yield db
    finally:
        db.dispose()
