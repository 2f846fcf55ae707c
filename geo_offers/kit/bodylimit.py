"""Request body size limits that answer 413 problem+json, with larger limits for named upload routes."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consent.errors import PayloadTooLarge
from geo_offers.kit.problems import render


class BodyLimitMiddleware:
    """Refuses bodies over the limit: at once from Content-Length, or while streaming when it is absent.

    A streamed body (chunked, no Content-Length) is refused by answering 413 here as soon as the limit is
    passed and telling the app the client has gone. Raising from ``receive`` instead would not work: FastAPI
    reads the body inside a handler that turns any failure into a 400 "error parsing the body".
    """

    def __init__(self, app: ASGIApp, default_limit: int, route_limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.default_limit = default_limit
        self.route_limits = route_limits or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.route_limits.get(scope["path"], self.default_limit)
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await render(_too_large(limit))(scope, receive, send)
                    return
                break
        received = 0
        refused = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if started:  # too late for a 413: the app answered before reading its body
                        raise _too_large(limit)
                    refused = True
                    await render(_too_large(limit))(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 is out; whatever the app answers to the disconnect goes nowhere
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the request body is larger than {limit} bytes", limit_bytes=limit)
