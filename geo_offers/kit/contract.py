"""The request rules the OpenAPI document states and FastAPI does not enforce by itself.

FastAPI ignores query parameters a route does not declare and keeps the last value of a scalar one sent twice, so
a typo such as ``?subject_id=`` for ``?subject=`` silently dropped a filter and answered every subject's events.
It also reads a body of any declared media type as text to validate. Here every documented operation takes
exactly what its entry in the document lists:

- a query parameter it does not list is a 422 naming it, as an unknown body field is;
- a parameter it lists as one value (not an array) sent more than once is a 422 naming it;
- a body in a media type it does not list (or with no ``Content-Type`` at all) is a 415.

The rules are read from the app's own document, so what clients are told and what the server does cannot drift
apart. This middleware sits outside the match fast path, so both ways of serving match apply the same rules; it
looks a route up only when a request has a query string or a body that is not ``application/json``, which keeps
the hot path (a match carries neither) free of it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.routing import RouteContext
from starlette.types import ASGIApp, Receive, Scope, Send

from consent.errors import DomainError, UnsupportedMediaType
from geo_offers.kit.problems import render, validation_problem
from geo_offers.kit.routes import route_for

JSON = "application/json"
_METHODS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True)
class Operation:
    """What one documented operation takes besides its schemas."""

    query: dict[str, bool]  # parameter name -> may be repeated (an array)
    media_types: tuple[str, ...]  # the body's media types; empty when it takes no body


def _is_array(schema: dict[str, Any]) -> bool:
    if schema.get("type") == "array":
        return True
    return any(_is_array(option) for option in [*schema.get("anyOf", []), *schema.get("oneOf", [])])


def operations(document: dict[str, Any]) -> dict[tuple[str, str], Operation]:
    """Every operation of an OpenAPI document by (path template, METHOD)."""
    found: dict[tuple[str, str], Operation] = {}
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            query = {
                p["name"]: _is_array(p.get("schema", {}))
                for p in operation.get("parameters", [])
                if p.get("in") == "query"
            }
            media = tuple(operation.get("requestBody", {}).get("content", {}))
            found[(path, method.upper())] = Operation(query=query, media_types=media)
    return found


def media_type(content_type: str) -> str:
    """``type/subtype`` of a Content-Type value, lower case, without parameters."""
    return content_type.split(";", 1)[0].strip().lower()


def query_errors(query_string: bytes, operation: Operation) -> list[dict[str, Any]]:
    """The schema errors of a query string: names the operation does not take, and single values sent twice."""
    # Parsed as Starlette parses it, so that the names are the ones the route would see.
    counts = Counter(name for name, _ in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
    takes = ", ".join(operation.query) or "no query parameters"
    errors: list[dict[str, Any]] = []
    for name, count in counts.items():
        if name not in operation.query:
            errors.append(
                {
                    "loc": ["query", name],
                    "msg": f"unknown query parameter; this route takes {takes}",
                    "type": "extra_forbidden",
                }
            )
        elif count > 1 and not operation.query[name]:
            errors.append(
                {"loc": ["query", name], "msg": f"sent {count} times; it takes one value", "type": "repeated_parameter"}
            )
    return errors


def media_error(content_type: str | None, operation: Operation) -> DomainError | None:
    """A 415 for a body the operation does not take in that media type, or None."""
    if not operation.media_types:
        return None  # the operation documents no body; whatever is sent is not read
    if content_type is not None and media_type(content_type) in operation.media_types:
        return None
    wanted = " or ".join(operation.media_types)
    sent = f"not {media_type(content_type)}" if content_type else "with a Content-Type header"
    return UnsupportedMediaType(f"send the body as {wanted}, {sent}")


async def _refused(route: RouteContext | None, scope: Scope, status: int) -> None:
    """Tell a route that keeps a log of its calls (the audit routes) that one was refused before reaching it."""
    hook = getattr(route.original_route, "log_refusal", None) if route is not None else None
    if hook is not None:
        await hook(Request(scope), status)


class ContractMiddleware:
    """Refuses requests that break the rules above before they reach a route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._operations: dict[tuple[str, str], Operation] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        content_type: str | None = None
        has_body = False
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"content-length":
                has_body = value.strip() not in (b"0", b"")
            elif name == b"transfer-encoding":
                has_body = True
        check_media = has_body and (content_type is None or media_type(content_type) != JSON)
        if not scope["query_string"] and not check_media:
            await self.app(scope, receive, send)
            return
        route, operation = self._operation(scope)
        if operation is not None:
            error: DomainError | None = None
            if scope["query_string"] and (errors := query_errors(scope["query_string"], operation)):
                names = ", ".join(str(e["loc"][1]) for e in errors)
                response = validation_problem(errors, detail=f"query parameters not taken as sent: {names}; see errors")
                scope["route"] = route  # counted under its route in the metrics
                await _refused(route, scope, 422)
                await response(scope, receive, send)
                return
            if check_media:
                error = media_error(content_type, operation)
            if error is not None:
                scope["route"] = route
                await _refused(route, scope, error.status)
                await render(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _operation(self, scope: Scope) -> tuple[RouteContext | None, Operation | None]:
        app: FastAPI = scope["app"]
        if self._operations is None:
            self._operations = operations(app.openapi())
        route = route_for(scope)
        if route is None or not getattr(route, "include_in_schema", False):
            return None, None  # the router answers 404 or 405, or an undocumented page (the docs) answers
        return route, self._operations.get((str(route.path_format), scope["method"]))
