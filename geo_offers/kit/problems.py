"""RFC 9457 problem+json: one renderer, and handlers that map every error class to it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
import psycopg2.errors
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from consent.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    MalformedBody,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from geo_offers.kit.routes import methods_at

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
#: Statuses Starlette and FastAPI answer themselves. Their only 400 is a body that cannot be read as JSON.
_HTTP_SLUGS = {
    400: (MalformedBody.slug, MalformedBody.title),
    404: (NotFound.slug, NotFound.title),
    413: (PayloadTooLarge.slug, PayloadTooLarge.title),
    415: (UnsupportedMediaType.slug, UnsupportedMediaType.title),
}
SCHEMA_DETAIL = "the request does not match the schema; see errors"


def problem_type(slug: str) -> str:
    """The problem ``type`` URI; it resolves to a description served by this service."""
    return f"/problems/{slug}"


def problem_response(
    status: int, slug: str, title: str, detail: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> Response:
    """A problem+json response."""
    body = {"type": problem_type(slug), "title": title, "status": status, "detail": detail, **extra}
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def render(error: DomainError) -> Response:
    """The response for a domain error."""
    return problem_response(
        error.status, error.slug, error.title, error.detail, headers=error.headers or None, **error.extensions
    )


def translate_db_error(error: Exception) -> DomainError | None:
    """The domain error a database failure means, or None when it is a bug."""
    if isinstance(error, sa_exc.TimeoutError):
        return ServiceUnavailable("the database is busy; retry shortly")
    orig = getattr(error, "orig", None)
    if isinstance(orig, psycopg2.errors.UniqueViolation):
        return Conflict("an object with these unique values exists already")
    if isinstance(orig, psycopg2.errors.ForeignKeyViolation):
        return Conflict("the change refers to an object that does not exist or is still referred to")
    if isinstance(orig, (psycopg2.errors.CheckViolation, psycopg2.errors.NotNullViolation)):
        return InvalidInput("the values break a rule of the data model")
    if isinstance(orig, psycopg2.errors.DataError):  # a time zone offset or a date beyond what the database holds
        return InvalidInput("a value is outside the range the database accepts")
    if isinstance(orig, psycopg2.errors.QueryCanceled):
        return ServiceUnavailable("the database took too long to answer; retry shortly")
    if isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError)) or isinstance(
        orig, (psycopg2.OperationalError, psycopg2.InterfaceError)
    ):
        return ServiceUnavailable("the database is not reachable; retry shortly")
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return ServiceUnavailable("the database connection was lost; retry shortly")
    return None


def schema_detail(errors: list[dict[str, Any]]) -> str:
    """The detail of a schema 422: the fields it concerns, by their place in the request (``body.title``)."""
    places = list(dict.fromkeys(".".join(str(part) for part in e.get("loc", ())) for e in errors if e.get("loc")))
    shown = ", ".join(places[:5]) + (f" and {len(places) - 5} more" if len(places) > 5 else "")
    return f"the request does not match the schema at {shown}; see errors" if places else SCHEMA_DETAIL


def validation_problem(errors: list[dict[str, Any]], detail: str | None = None) -> Response:
    """The 422 answer for a request that breaks the schema, with one entry per error (loc, msg, type)."""
    return problem_response(422, InvalidInput.slug, InvalidInput.title, detail or schema_detail(errors), errors=errors)


def malformed_json(reason: str) -> MalformedBody:
    """The 400 for a body that is not JSON at all (it never reached the schema)."""
    return MalformedBody(f"the body is not valid JSON: {reason}")


def _message(item: Mapping[str, Any]) -> str:
    """Pydantic's message, without the "Value error, " it puts before the text of our own validators."""
    msg = str(item.get("msg", ""))
    return msg.removeprefix("Value error, ") if item.get("type") == "value_error" else msg


def _validation_errors(error: RequestValidationError) -> list[dict[str, Any]]:
    # The offending input is deliberately left out: it may be a subject id or a coordinate.
    return [
        {
            "loc": [str(part) for part in item.get("loc", ())],
            "msg": _message(item),
            "type": item.get("type"),
        }
        for item in error.errors()
    ]


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem detail; `type` resolves to a description of the problem.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "examples": ["/problems/invalid-input"]},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}, "description": "Schema errors (422 only)."},
    },
}
_PROBLEM_CONTENT = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
_PROBLEM_RESPONSES = {
    "4XX": {
        "description": "The request was refused: 400 the body is not valid JSON, 401 no valid key, 403 wrong role "
        "or no consent, 404, 405 with Allow, 409 it does not fit the current state, 413 body too large, 415 a body "
        "in a media type the operation does not take, 422 it breaks a rule of this document (also a query "
        "parameter the operation does not list, or a single-valued one sent twice), 429 rate limited with "
        "Retry-After",
        "content": _PROBLEM_CONTENT,
    },
    "5XX": {"description": "503 with Retry-After while the database is unavailable", "content": _PROBLEM_CONTENT},
}


def document(app: FastAPI) -> None:
    """Make the OpenAPI document say what the service answers on errors: problem+json, on every operation.

    FastAPI would document a 422 as `application/json` with its own error shape, which this service never sends.
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        schemas["Problem"] = PROBLEM_SCHEMA
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                responses.update(_PROBLEM_RESPONSES)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    """Register the handlers on ``app`` and document them in its OpenAPI document."""
    document(app)

    @app.exception_handler(DomainError)
    async def _domain(_: Request, error: DomainError) -> Response:
        return render(error)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, error: RequestValidationError) -> Response:
        for item in error.errors():
            if item.get("type") == "json_invalid":  # FastAPI parses the body before it validates anything
                return render(malformed_json(str(item.get("ctx", {}).get("error", "JSON decode error"))))
        return validation_problem(_validation_errors(error))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 405:  # Starlette's Allow names only the first route at the path
            methods = methods_at(request.app, request.url.path)
            detail = f"{request.method} is not a method of this resource; it takes {', '.join(methods)}"
            return render(MethodNotAllowed(detail, allow=methods))
        slug, title = _HTTP_SLUGS.get(error.status_code, ("http-error", "HTTP error"))
        detail = error.detail if isinstance(error.detail, str) else title
        return problem_response(error.status_code, slug, title, detail, headers=error.headers)

    @app.exception_handler(sa_exc.SQLAlchemyError)
    async def _database(request: Request, error: sa_exc.SQLAlchemyError) -> Response:
        domain = translate_db_error(error)
        if domain is None:
            return await _unexpected(request, error)
        return render(domain)

    @app.exception_handler(psycopg2.Error)
    async def _driver(request: Request, error: psycopg2.Error) -> Response:
        wrapped = sa_exc.DBAPIError(None, None, error)
        domain = translate_db_error(wrapped)
        if domain is None:
            return await _unexpected(request, error)
        return render(domain)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, error: Exception) -> Response:
        log.error("unhandled error: %s", type(error).__name__, exc_info=error)
        return problem_response(500, "internal-error", "Internal error", "an unexpected error occurred")
