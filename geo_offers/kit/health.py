"""Liveness, readiness and metrics."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from consent.errors import ServiceUnavailable
from geo_offers.kit.deps import ServicesDep
from geo_offers.kit.migrate import current_revision
from geo_offers.kit.problems import translate_db_error
from geo_offers.services import Services

router = APIRouter(tags=["operations"])
_OK = orjson.dumps({"status": "ok"})


@router.get("/healthz", summary="The process is alive", response_class=Response)
async def healthz() -> Response:
    """Answers 200 while the process runs; it never touches the database."""
    return Response(_OK, media_type="application/json")


def _check_database(services: Services) -> dict[str, Any]:
    try:
        with services.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            revision = current_revision(conn)
    except SQLAlchemyError as exc:
        domain = translate_db_error(exc)
        if domain is None:
            raise
        raise ServiceUnavailable("the database is not reachable", retry_after_s=5) from exc
    head = services.head_revision
    if revision != head:
        raise ServiceUnavailable(
            f"the database is at revision {revision}, the code expects {head}; run `geo-offers db upgrade`",
            retry_after_s=30,
        )
    if not services.feed.ready.is_set():
        raise ServiceUnavailable("the offer index is still loading", retry_after_s=2)
    lag = services.replication.seconds
    limit = services.settings.max_replica_lag_seconds
    if lag is None and services.db.separate_reads and not services.settings.read_fallback:
        raise ServiceUnavailable("the read database is not reachable", retry_after_s=2)
    if lag is not None and lag > limit:
        raise ServiceUnavailable(
            f"the read database is {lag:.1f} s behind the primary (at most {limit:g} s allowed)", retry_after_s=5
        )
    return {
        "status": "ready",
        "revision": revision,
        "listener": services.listener.connected,
        "deals_indexed": len(services.matcher.index),
        "read_database": _read_state(services, lag),
    }


def _read_state(services: Services, lag: float | None) -> dict[str, Any]:
    """Where reads go and how far behind that is."""
    if not services.db.separate_reads:
        return {"separate": False}
    return {"separate": True, "reachable": lag is not None and services.db.target.up, "lag_seconds": lag}


@router.get("/readyz", summary="The database is reachable and migrated to the newest revision")
async def readyz(services: ServicesDep) -> dict[str, Any]:
    """200 when the database answers and its schema is at the head revision; 503 problem+json otherwise."""
    return await run_in_threadpool(_check_database, services)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(services: ServicesDep) -> Response:
    """Request counts and latency histograms per route, in the Prometheus text format."""
    body, content_type = services.metrics.render()
    return Response(body, media_type=content_type)
