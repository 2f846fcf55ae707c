"""FastAPI dependencies as ``Annotated`` aliases: services, sessions, and callers by role."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from consent.decisions import DecisionWriter
from consent.endpoints import Ports
from consent.errors import Forbidden
from consent.settings import ConsentSettings
from geo_offers.kit.database import Database
from geo_offers.services import Services
from geo_offers.settings import Settings
from geo_offers.tenants.auth import Principal

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer gok_...`")


async def get_services(request: Request) -> Services:
    """The per-process services of this app."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_settings(services: ServicesDep) -> Settings:
    """The settings the app was created with."""
    return services.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_consent_settings(services: ServicesDep) -> ConsentSettings:
    """The consent part of the settings."""
    return services.settings.consent


async def get_decision_writer(services: ServicesDep) -> DecisionWriter:
    """The process's group-commit writer of consent decisions."""
    return services.decisions


async def get_now(services: ServicesDep) -> datetime:
    """The current time from the app's clock (settable in tests)."""
    return services.clock()


NowDep = Annotated[datetime, Depends(get_now)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    """A session whose transaction commits when the handler returns and rolls back if it raises.

    Declared with ``scope="function"`` so the commit happens before the response is sent: a client never
    sees a success for a write that did not commit.
    """
    with services.db.sessions() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_read_session(services: ServicesDep) -> Iterator[Session]:
    """A read-only session on the read database (the primary while none is set, or while it is down and
    ``read_fallback`` allows), for figures that may be a moment old; closed before the response is sent."""
    with services.db.reading() as conn, Session(bind=conn) as session:
        yield session


ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]


async def get_database(services: ServicesDep) -> Database:
    """The process's database, for async routes that run their transaction with ``Database.run``."""
    return services.db


DatabaseDep = Annotated[Database, Depends(get_database)]


async def get_principal(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The authenticated caller (401 otherwise), after its rate limit."""
    token = credentials.credentials if credentials is not None else None
    principal = await services.keys.authenticate(token)
    request.state.principal = principal  # before the limit, so a refused call is still attributed to its key
    services.limiter.hit(principal.key_id)
    return principal


def require(*roles: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that admits only callers with one of ``roles`` (403 for the others)."""

    async def dependency(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if principal.role not in roles:
            raise Forbidden(f"this route needs a key with role {' or '.join(roles)}")
        return principal

    return dependency


AppKey = Annotated[Principal, Depends(require("app"))]
MerchantKey = Annotated[Principal, Depends(require("merchant"))]
DpoKey = Annotated[Principal, Depends(require("dpo"))]
AdminKey = Annotated[Principal, Depends(require("admin"))]


def consent_ports() -> Ports:
    """The dependencies the consent routers are built with."""
    return Ports(
        session=get_session,
        settings=get_consent_settings,
        now=get_now,
        app_caller=require("app"),
        admin_caller=require("admin"),
        notice_reader=require("app", "dpo", "admin"),
        writer=get_decision_writer,
    )
