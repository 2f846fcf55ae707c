"""Request body size limits that answer 413 problem+json, with larger limits for named upload routes."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consent.errors import PayloadTooLarge
from geo_offers.problems import render


class BodyLimitMiddleware:
    """Refuses bodies over the limit: at once from Content-Length, or while streaming when it is absent."""

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

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _too_large(limit)
            return message

        await self.app(scope, limited_receive, send)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the request body is larger than {limit} bytes", limit_bytes=limit)
