"""Offer routes (app key): matching a consenting subject's coarse cell, and the area catalogue.

The routes are built for the app's settings, because the area catalogue's cell pattern in the OpenAPI document
states the resolutions these settings serve. (No ``from __future__ import annotations`` here: FastAPI reads the
route signatures, and a postponed annotation cannot name the factory's local parameter type.)
"""

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query
from starlette.responses import Response

from geo_offers.kit.deps import AppKey, ServicesDep
from geo_offers.kit.params import BIGINT_MAX
from geo_offers.matching import catalogue as area
from geo_offers.matching.schemas import COARSEST_MATCH_RES, AreaCatalogue, MatchRequest, MatchResponse
from geo_offers.matching.service import serve_match
from geo_offers.places.cell_patterns import cell_pattern
from geo_offers.settings import Settings

CHANGE_SEQ_HEADER = {
    "description": "The deal change number this page is at least as new as: open the area's live stream with "
    "`Last-Event-ID` set to it to miss nothing after the page (absent while the deal index is loading).",
    "schema": {"type": "integer", "minimum": 0},
}


def build_router(settings: Settings) -> APIRouter:
    """The offer routes of an app with these settings."""
    router = APIRouter(prefix="/v1/offers", tags=["offers"])
    catalogue_res = range(settings.area_min_res, COARSEST_MATCH_RES + 1)
    area_cell = Path(
        description=f"An H3 cell of resolution {catalogue_res.start} to {catalogue_res.stop - 1}.",
        examples=["851f1d4bfffffff"],
        json_schema_extra={"pattern": cell_pattern(catalogue_res)},
    )

    @router.post(
        "/match",
        response_class=Response,
        responses={200: {"model": MatchResponse, "description": "Live deals near the coarse cell, nearest first."}},
    )
    async def match(body: MatchRequest, _: AppKey, services: ServicesDep) -> Response:
        """Live deals near a consenting subject, at the resolution the subject allowed (403 without consent).

        A finer cell is replaced by its ancestor at the consented resolution; a lat/lon is snapped to that
        resolution at once and dropped. Answers the cell used, its resolution and up to `limit` offers.
        """
        return Response(await serve_match(body, services), media_type="application/json")

    @router.get(
        "/area/{cell}",
        response_class=Response,
        responses={
            200: {
                "model": AreaCatalogue,
                "description": "One page of the live deals covering the cell.",
                "headers": {"Change-Seq": CHANGE_SEQ_HEADER},
            },
            304: {
                "description": "Unchanged since the ETag sent in If-None-Match.",
                "headers": {"Change-Seq": CHANGE_SEQ_HEADER},
            },
        },
    )
    async def area_catalogue(
        cell: Annotated[str, area_cell],
        _: AppKey,
        services: ServicesDep,
        after: Annotated[int, Query(ge=0, le=BIGINT_MAX, description="Deal id to continue after (`next_after`).")] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 500,
        if_none_match: Annotated[str | None, Header()] = None,
    ) -> Response:
        """Every live deal whose coverage falls in a coarse cell (resolution 5 or coarser), with its coverage
        cells (compacted), windows and time zone, so an app can match on the device and the server never learns
        where the person is. No subject id is asked for. Cacheable: ETag, Cache-Control, 304 on If-None-Match.
        The start date and the weekly windows are for the device to check; `Change-Seq` is where to start the
        area's live stream (`GET /v1/offers/area/{cell}/events` with `Last-Event-ID`).
        """
        parsed = area.area_cell(cell, catalogue_res)
        # Read before the page: the page is at least this new, so a stream resumed from it misses nothing.
        seq = services.feed.seq if services.feed.ready.is_set() else None
        fetch = services.reads.fetch_named
        body = await area.catalogue(fetch, parsed, settings.index_res, services.clock(), after, limit)
        tag = area.etag(body)
        headers = {"ETag": tag, "Cache-Control": f"private, max-age={settings.area_max_age_s}"}
        if seq is not None:
            headers["Change-Seq"] = str(seq)
        if area.matches(if_none_match, tag):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    return router
