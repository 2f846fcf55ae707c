"""The audit access log: every call to an audit route, with its outcome, refused calls included.

An attempt to read audit data is exactly what the log is for, so a call refused for a missing or bad key (401,
logged without a key id: an unauthenticated id proves nothing), the wrong role (403), invalid filters (422) or a
rate limit (429) is logged like an answered one.

Two writes, so that neither an answer nor a refusal goes unlogged:

- an admitted call (a dpo key) adds its line, with status 200, to the transaction that answers it, before the
  route reads anything: no answer is committed or sent without its line, and the access log's own page lists the
  call that reads it;
- a call that fails (refused, invalid, or an error while answering) rolls that transaction back, line included,
  and ``AuditedRoute`` then writes the line with the real status in a transaction of its own, so the failure of
  the request cannot take its log line with it. If even that write fails, the caller gets that error.

Query parameters are logged by name, never by value (a value may be a subject id); a name the audit routes do not
know is logged as ``(unknown)``, since a name is chosen by the caller too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from consent.audit import events as audit
from consent.errors import DomainError
from geo_offers.kit.deps import DpoKey, NowDep, SessionDep
from geo_offers.kit.problems import translate_db_error
from geo_offers.services import Services
from geo_offers.tenants.auth import Principal

#: Query parameters of the audit routes whose names the log keeps.
LOGGED_PARAMS = frozenset(
    {
        "since",
        "until",
        "type",
        "purpose",
        "notice_version",
        "subject",
        "by",
        "after",
        "limit",
        "format",
        "key_id",
        "status",
        "merchant_id",
    }
)
UNKNOWN_PARAM = "(unknown)"


def status_of(error: Exception) -> int:
    """The HTTP status the service answers ``error`` with (as the problem handlers map it)."""
    if isinstance(error, DomainError):
        return error.status
    if isinstance(error, RequestValidationError):
        return 422
    if isinstance(error, HTTPException):
        return error.status_code
    translated = translate_db_error(error)
    return translated.status if translated is not None else 500


def _names(request: Request) -> list[str]:
    return [name if name in LOGGED_PARAMS else UNKNOWN_PARAM for name in request.query_params]


def _route(request: Request) -> str:
    route: Any = request.scope.get("route")
    return str(getattr(route, "path_format", "?"))


def audited(request: Request, principal: DpoKey, session: SessionDep, now: NowDep) -> Principal:
    """Admit dpo keys only, and log the call in the transaction that answers it (status 200: if the call fails,
    that transaction rolls back and ``AuditedRoute`` logs the failure instead)."""
    audit.record_access(
        session,
        key_id=principal.key_id,
        method=request.method,
        route=_route(request),
        params=_names(request),
        status=200,
        now=now,
    )
    request.state.audit_logged = True
    return principal


#: The officer: a dpo key, the call logged (use it on every route of an ``AuditedRoute`` router).
Auditor = Annotated[Principal, Depends(audited)]


def _write(services: Services, key_id: str | None, method: str, route: str, params: list[str], status: int) -> None:
    with services.db.transaction() as session:
        audit.record_access(
            session,
            key_id=key_id,
            method=method,
            route=route,
            params=params,
            status=status,
            now=services.clock(),
        )


async def log_call(request: Request, route: str, status: int) -> None:
    """Write one log line for a call of ``route`` answered with ``status``, in its own transaction."""
    services: Services = request.app.state.services
    principal = getattr(request.state, "principal", None)
    key_id = principal.key_id if principal is not None else None
    await run_in_threadpool(_write, services, key_id, request.method, route, _names(request), status)


class AuditedRoute(APIRoute):
    """A route whose every call is logged with its outcome (see the module docstring)."""

    async def log_refusal(self, request: Request, status: int) -> None:
        """Log a call refused before it reached the route (an unknown query parameter, a body of the wrong type),
        under the key that sent it when that key authenticates."""
        services: Services = request.app.state.services
        authorization = request.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        principal = None
        if scheme.lower() == "bearer" and token:
            with contextlib.suppress(DomainError):
                principal = await services.keys.authenticate(token.strip())
        request.state.principal = principal
        await log_call(request, self.path_format, status)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's own handler, wrapped so that the log line is written whatever happens."""
        answer = super().get_route_handler()
        route = self.path_format

        async def handler(request: Request) -> Response:
            try:
                response = await answer(request)
            except Exception as error:
                # The request's transaction is rolled back when this propagates: log in a transaction of its own.
                await log_call(request, route, status_of(error))
                raise
            if not getattr(request.state, "audit_logged", False):  # a route that forgot the Auditor dependency
                await log_call(request, route, response.status_code)
            return response

        return handler
