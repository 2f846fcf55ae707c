"""A harness-only variant of the service whose consent gate asks the read database (the standby), not the primary.

It exists to measure the option not taken: what a gate on a standby costs and gives. It is never a product
setting, because it is exact only while every consent write commits with ``synchronous_commit = remote_apply``
to that very standby; with an asynchronous standby a withdrawal can be acknowledged before the standby shows it,
and the harness counts how often a match then still answers 200.

    uvicorn --factory tests.faults.gate_standby:create_app_from_env     (GEO_OFFERS_READ_DATABASE_URL set)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from consent.gate import ConsentGate
from geo_offers.app import create_app, make_pool
from geo_offers.kit.database import libpq_dsn
from geo_offers.services import Services
from geo_offers.settings import Settings


def create_app_from_env() -> FastAPI:
    """The service from the environment, its gate asking the read database."""
    settings = Settings()
    if settings.read_database_url is None:
        raise RuntimeError("set GEO_OFFERS_READ_DATABASE_URL: the gate is to ask the standby")
    app = create_app(settings)
    service_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_lifespan(app):
            services: Services = app.state.services
            assert settings.read_database_url is not None
            pool = make_pool(settings, libpq_dsn(settings.read_database_url), setup=[ConsentGate.SETUP])
            services.gate = ConsentGate(pool.fetch, settings.consent.pepper.get_secret_value())
            try:
                yield
            finally:
                await pool.close()

    app.router.lifespan_context = lifespan
    return app
