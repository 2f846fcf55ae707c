"""RFC 9457 problem+json: one renderer, and handlers that map every error class to it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
import psycopg2.errors
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from consent.errors import Conflict, DomainError, InvalidInput, ServiceUnavailable

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
_HTTP_SLUGS = {
    400: ("bad-request", "Bad request"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


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
    if isinstance(orig, psycopg2.errors.QueryCanceled):
        return ServiceUnavailable("the database took too long to answer; retry shortly")
    if isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError)) or isinstance(
        orig, (psycopg2.OperationalError, psycopg2.InterfaceError)
    ):
        return ServiceUnavailable("the database is not reachable; retry shortly")
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return ServiceUnavailable("the database connection was lost; retry shortly")
    return None


def _validation_errors(error: RequestValidationError) -> list[dict[str, Any]]:
    # The offending input is deliberately left out: it may be a subject id or a coordinate.
    return [
        {
            "loc": [str(part) for part in item.get("loc", ())],
            "msg": item.get("msg", ""),
            "type": item.get("type"),
        }
        for item in error.errors()
    ]


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(DomainError)
    async def _domain(_: Request, error: DomainError) -> Response:
        return render(error)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, error: RequestValidationError) -> Response:
        return problem_response(
            422,
            InvalidInput.slug,
            InvalidInput.title,
            "the request does not match the schema; see errors",
            errors=_validation_errors(error),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> Response:
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
