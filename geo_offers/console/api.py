"""The console's way to the API: the service's own routes, called in-process as the signed-in key.

Every console page reads and writes through the public API with the person's key in an ``Authorization``
header, exactly as a script with that key would: the same authentication, rate limit, role and tenant checks,
validation, audit access log and privacy-budget log. The console holds no query of its own on stores, deals,
insights or the ledger, so it can never show more than the key may see. The request goes straight into the
ASGI app (no socket, no second server); answers are read whole, or streamed for exports.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.types import Message

Params = Mapping[str, Any] | Sequence[tuple[str, Any]]


@dataclass(frozen=True, slots=True)
class Problem:
    """An RFC 9457 problem the API answered, as the console shows it."""

    status: int
    title: str
    detail: str
    type: str = ""
    errors: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, status: int, body: Any) -> Problem:
        """The problem of an error answer (a body that is not a problem still gives a title and detail)."""
        if isinstance(body, dict):
            return cls(
                status=status,
                title=str(body.get("title") or f"HTTP {status}"),
                detail=str(body.get("detail") or ""),
                type=str(body.get("type") or ""),
                errors=[e for e in body.get("errors") or [] if isinstance(e, dict)],
            )
        return cls(status=status, title=f"HTTP {status}", detail="the service gave no explanation")


@dataclass(frozen=True, slots=True)
class Answer:
    """A whole API answer: status, headers (lower-case names) and the parsed JSON body (None when empty)."""

    status: int
    headers: dict[str, str]
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def problem(self) -> Problem:
        return Problem.of(self.status, self.body)


@dataclass
class Streamed:
    """An API answer whose body is still arriving."""

    status: int
    headers: dict[str, str]
    chunks: AsyncIterator[bytes]


def _query(params: Params | None) -> str:
    if not params:
        return ""
    items = params.items() if isinstance(params, Mapping) else params
    return urlencode([(k, v) for k, v in items if v is not None and v != ""], doseq=True)


class Api:
    """Calls the app this request reached, with the signed-in key."""

    def __init__(self, request: Request, api_key: str) -> None:
        self._request = request
        self._auth = f"Bearer {api_key}".encode()

    def _scope(self, method: str, path: str, params: Params | None, content_type: str | None) -> dict[str, Any]:
        outer = self._request.scope
        headers = [(b"authorization", self._auth), (b"accept", b"application/json")]
        if content_type is not None:
            headers.append((b"content-type", content_type.encode()))
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": outer.get("scheme", "http"),
            "server": outer.get("server"),
            "client": outer.get("client"),
            "root_path": "",
            "path": path,
            "raw_path": path.encode(),
            "query_string": _query(params).encode(),
            "headers": headers,
            "state": dict(outer.get("state") or {}),
        }

    async def _start(
        self, method: str, path: str, params: Params | None, body: bytes, content_type: str | None
    ) -> tuple[asyncio.Task[None], asyncio.Queue[Message | None]]:
        scope = self._scope(method, path, params, content_type)
        if body:
            scope["headers"].append((b"content-length", str(len(body)).encode()))
        # A small queue: a streamed export waits for the browser instead of piling up in memory.
        queue: asyncio.Queue[Message | None] = asyncio.Queue(maxsize=16)
        finished = asyncio.Event()
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await finished.wait()  # the client "disconnects" only once the answer is complete
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            await queue.put(message)

        async def run() -> None:
            try:
                await self._request.app(scope, receive, send)
            except Exception:  # the app has answered 500 already, and its handler logged the error
                pass
            finally:
                finished.set()
                await queue.put(None)

        return asyncio.get_running_loop().create_task(run()), queue

    async def stream(
        self, method: str, path: str, params: Params | None = None, body: bytes = b"", content_type: str | None = None
    ) -> Streamed:
        """Start a call and return its status and headers as soon as the app sends them."""
        task, queue = await self._start(method, path, params, body, content_type)
        start = await queue.get()
        if start is None or start["type"] != "http.response.start":
            task.cancel()
            return Streamed(500, {}, _empty())
        headers = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}

        async def chunks() -> AsyncIterator[bytes]:
            try:
                while True:
                    message = await queue.get()
                    if message is None:
                        return
                    if message["type"] == "http.response.body":
                        if message.get("body"):
                            yield message["body"]
                        if not message.get("more_body", False):
                            return
            finally:
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

        return Streamed(int(start["status"]), headers, chunks())

    async def call(
        self, method: str, path: str, params: Params | None = None, body: bytes = b"", content_type: str | None = None
    ) -> Answer:
        """One call, read whole."""
        streamed = await self.stream(method, path, params, body, content_type)
        data = b"".join([chunk async for chunk in streamed.chunks])
        parsed: Any = None
        if data:
            try:
                parsed = orjson.loads(data)
            except orjson.JSONDecodeError:
                parsed = None
        return Answer(streamed.status, streamed.headers, parsed)

    async def get(self, path: str, params: Params | None = None) -> Answer:
        """GET, read whole."""
        return await self.call("GET", path, params)

    async def send_json(self, method: str, path: str, payload: Any) -> Answer:
        """A JSON write (POST, PATCH)."""
        return await self.call(method, path, body=orjson.dumps(payload), content_type="application/json")


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator
