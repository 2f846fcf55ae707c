"""psycopg2 in asynchronous mode on the asyncio loop: a small query pool and a LISTEN connection.

The hot paths (key lookups, the consent gate of a match, index refreshes) run on the event loop without a
thread hop; everything else uses the synchronous SQLAlchemy engine in ``geo_offers.kit.database``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import psycopg2
import psycopg2.extensions as pgext

from consent.errors import ServiceUnavailable

log = logging.getLogger(__name__)


async def wait_ready(conn: Any, timeout: float) -> None:
    """Drive an asynchronous psycopg2 connection until its current operation finishes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        state = conn.poll()
        if state == pgext.POLL_OK:
            return
        fut: asyncio.Future[None] = loop.create_future()
        fd = conn.fileno()

        def _ready(f: asyncio.Future[None] = fut) -> None:
            if not f.done():
                f.set_result(None)

        if state == pgext.POLL_READ:
            loop.add_reader(fd, _ready)
            remove: Callable[[int], bool] = loop.remove_reader
        elif state == pgext.POLL_WRITE:
            loop.add_writer(fd, _ready)
            remove = loop.remove_writer
        else:  # pragma: no cover - psycopg2 only answers the three states above
            raise psycopg2.OperationalError(f"unexpected poll state {state}")
        try:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation that arrives as
            # the socket becomes ready, and the cancelled task would carry on as if nothing happened.
            async with asyncio.timeout(remaining):
                await fut
        finally:
            remove(fd)


#: TCP keepalives notice a silently dropped connection (the LISTEN socket may be idle for hours).
DEFAULT_OPTIONS: Mapping[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}


async def connect(
    dsn: str, role: str, timeout: float, setup: Sequence[str] = (), options: Mapping[str, Any] = DEFAULT_OPTIONS
) -> Any:
    """Open an asynchronous connection, take the service role and run ``setup`` statements.

    ``options`` are libpq connection parameters (keepalives, tcp_user_timeout); ``timeout`` bounds the whole
    connection set-up, a server that accepts but never answers included.
    """
    conn = psycopg2.connect(dsn, async_=True, **options)
    try:
        await wait_ready(conn, timeout)
        statements = ([f'SET ROLE "{role}"'] if role else []) + list(setup)
        for statement in statements:
            cur = conn.cursor()
            cur.execute(statement)
            await wait_ready(conn, timeout)
    except BaseException:
        conn.close()
        raise
    return conn


_Rows = TypeVar("_Rows")


def _tuples(cur: Any) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = cur.fetchall() if cur.description is not None else []
    return rows


def _dicts(cur: Any) -> list[dict[str, Any]]:
    if cur.description is None:
        return []
    names = [column.name for column in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


class Queries(Protocol):
    """What the hot paths ask of a pool (``AsyncPool``, or ``ReadPool`` with its fallback)."""

    async def fetch(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]: ...

    async def fetch_named(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]: ...


class AsyncPool:
    """A fixed number of asynchronous connections, each used by one query at a time.

    Connections are opened lazily and replaced when they break, so the pool recovers by itself after the
    database restarts; while it is down, queries fail fast with ``ServiceUnavailable``.
    """

    def __init__(
        self,
        dsn: str,
        *,
        size: int,
        role: str,
        timeout: float,
        setup: Sequence[str] = (),
        options: Mapping[str, Any] = DEFAULT_OPTIONS,
    ) -> None:
        self._dsn = dsn
        self._role = role
        self._timeout = timeout
        self._setup = tuple(setup)
        self._options = dict(options)
        self._idle: asyncio.Queue[Any] = asyncio.Queue()
        for _ in range(size):
            self._idle.put_nowait(None)  # a free slot, connected on first use

    async def fetch(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement and return its rows as tuples; the statement runs in autocommit mode."""
        return await self._execute(sql, params, _tuples)

    async def fetch_named(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        """Run one statement and return its rows as dicts keyed by column name."""
        return await self._execute(sql, params, _dicts)

    async def _execute(self, sql: str, params: Sequence[Any] | dict[str, Any], read: Callable[[Any], _Rows]) -> _Rows:
        """Run one statement on a free connection and ``read`` its cursor before the connection is free again."""
        try:
            async with asyncio.timeout(self._timeout):
                conn = await self._idle.get()
        except TimeoutError as exc:
            raise ServiceUnavailable("the database pool is exhausted") from exc
        try:
            if conn is None or conn.closed:
                conn = await connect(self._dsn, self._role, self._timeout, self._setup, self._options)
            cur = conn.cursor()
            cur.execute(sql, params)
            await wait_ready(conn, self._timeout)
            return read(cur)
        except (psycopg2.OperationalError, psycopg2.InterfaceError, TimeoutError) as exc:
            if conn is not None:
                conn.close()
            conn = None
            raise ServiceUnavailable("the database is not reachable") from exc
        except BaseException:
            if conn is not None and conn.closed == 0 and conn.isexecuting():
                conn.cancel()
                conn.close()
                conn = None
            raise
        finally:
            self._idle.put_nowait(conn)

    async def close(self) -> None:
        """Close every open connection."""
        while not self._idle.empty():
            conn = self._idle.get_nowait()
            if conn is not None:
                conn.close()


NotifyHandler = Callable[[str], None]
ResetHandler = Callable[[], Any]


class Listener:
    """One LISTEN connection per process; calls handlers per channel and resets caches on reconnect.

    ``connected`` is True only while notifications are flowing; caches must not be trusted otherwise.
    """

    def __init__(
        self, dsn: str, *, role: str, timeout: float, retry_s: float = 0.5, options: Mapping[str, Any] = DEFAULT_OPTIONS
    ) -> None:
        self._dsn = dsn
        self._options = dict(options)
        self._role = role
        self._timeout = timeout
        self._retry_s = retry_s
        self._handlers: dict[str, list[NotifyHandler]] = {}
        self._resets: list[ResetHandler] = []
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self.settled = asyncio.Event()  # set once the first connection attempt succeeded or failed
        self.connected = False

    def on(self, channel: str, handler: NotifyHandler) -> None:
        """Call ``handler(payload)`` for each notification on ``channel``."""
        self._handlers.setdefault(channel, []).append(handler)

    def on_reset(self, handler: ResetHandler) -> None:
        """Call ``handler()`` (sync or async) after every (re)connection, once LISTEN is in place."""
        self._resets.append(handler)

    def _dispatch(self, conn: Any) -> None:
        while conn.notifies:
            note = conn.notifies.pop(0)
            for handler in self._handlers.get(note.channel, ()):
                handler(note.payload)

    async def start(self, wait: float = 0.0) -> None:
        """Start listening in the background; wait up to ``wait`` seconds for the first connection."""
        self._task = asyncio.get_running_loop().create_task(self._run())
        if wait:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), wait)

    async def stop(self) -> None:
        """Stop listening and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            conn = None
            try:
                listen = [f'LISTEN "{channel}"' for channel in self._handlers]
                conn = await connect(self._dsn, self._role, self._timeout, listen, self._options)
                for reset in self._resets:
                    result = reset()
                    if asyncio.iscoroutine(result):
                        await result
                self.connected = True
                self._ready.set()
                self.settled.set()
                await self._pump(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure means: reconnect
                log.warning("listener disconnected: %s", type(exc).__name__)
                self.settled.set()
            finally:
                self.connected = False
                if conn is not None:
                    conn.close()
            await asyncio.sleep(self._retry_s)

    async def _pump(self, conn: Any) -> None:
        loop = asyncio.get_running_loop()
        readable = asyncio.Event()
        fd = conn.fileno()
        loop.add_reader(fd, readable.set)
        try:
            while True:
                await readable.wait()
                readable.clear()
                conn.poll()
                self._dispatch(conn)
                if conn.closed:
                    raise psycopg2.OperationalError("listener connection closed")
        finally:
            loop.remove_reader(fd)
