"""``POST /v1/offers/match`` served straight from ASGI, without FastAPI's routing and dependency machinery.

Match is the one route called on every foreground moment of every phone, and the framework's per-request work
(route matching over every route, dependency resolution, body parsing through several layers) costs more than
the match itself. This middleware answers that one path with the same checks in the same order as the
documented FastAPI route (API key, rate limit, role, body schema, then ``serve_match``) and the same
problem+json errors; ``tests/test_fastpath.py`` holds the two to identical answers. Every other request, and
match too when ``match_fast_path`` is off, goes on to the app.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from consent.errors import DomainError, Forbidden, Unauthorized
from geo_offers.kit.problems import malformed_json, render, validation_problem
from geo_offers.matching.schemas import MatchRequest
from geo_offers.matching.service import serve_match
from geo_offers.services import Services

MATCH_PATH = "/v1/offers/match"


class _Route:
    """What the metrics middleware reads from ``scope["route"]``: the route template."""

    path = MATCH_PATH


_ROUTE = _Route()


class MatchFastPath:
    """Serves match requests itself; passes everything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != MATCH_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        services: Services = scope["app"].state.services
        if not services.settings.match_fast_path:
            await self.app(scope, receive, send)
            return
        scope["route"] = _ROUTE
        try:
            response = await self._answer(scope, receive, services)
        except DomainError as error:
            response = render(error)
        except ValidationError as error:
            response = validation_problem(
                [
                    {"loc": ["body", *(str(p) for p in item["loc"])], "msg": item["msg"], "type": item["type"]}
                    for item in error.errors()
                ]
            )
        await response(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, services: Services) -> Response:
        # The order of the framework route: the body is read as JSON before anything else (a 400 even without a
        # key), then the key, its rate limit and its role, then the schema. ContractMiddleware, outside this one,
        # has already refused unknown query parameters and bodies that are not application/json.
        body = await _read_body(receive)
        request: MatchRequest | None = None
        invalid: ValidationError | None = None
        if body:
            try:
                request = MatchRequest.model_validate_json(body)
            except ValidationError as error:
                malformed = [item for item in error.errors() if item["type"] == "json_invalid"]
                if malformed:
                    raise malformed_json(str(malformed[0]["ctx"]["error"])) from error
                invalid = error
        authorization = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("send an API key as 'Authorization: Bearer <key>'")
        principal = await services.keys.authenticate(token.strip())
        services.limiter.hit(principal.key_id)
        if principal.role != "app":
            raise Forbidden("this route needs a key with role app")
        if invalid is not None:
            raise invalid
        if request is None:
            return validation_problem([{"loc": ["body"], "msg": "Field required", "type": "missing"}])
        return Response(await serve_match(request, services), media_type="application/json")


async def _read_body(receive: Receive) -> bytes:
    chunks: list[Any] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
