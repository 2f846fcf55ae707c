"""Offer routes (app key): matching a consenting subject's coarse cell, and the area catalogue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query
from starlette.responses import Response

from consent.errors import InvalidInput
from geo_offers.kit.deps import AppKey, ServicesDep
from geo_offers.matching import catalogue as area
from geo_offers.matching.schemas import AreaCatalogue, MatchRequest, MatchResponse
from geo_offers.matching.service import COARSEST_MATCH_RES, serve_match
from geo_offers.places.cells import parse_cell, resolution

router = APIRouter(prefix="/v1/offers", tags=["offers"])


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
        200: {"model": AreaCatalogue, "description": "One page of the live deals covering the cell."},
        304: {"description": "Unchanged since the ETag sent in If-None-Match."},
    },
)
async def area_catalogue(
    cell: str,
    _: AppKey,
    services: ServicesDep,
    after: Annotated[int, Query(ge=0, description="Deal id to continue after (`next_after`).")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Every live deal whose coverage falls in a coarse cell (resolution 5 or coarser), with its coverage
    cells (compacted), windows and time zone, so an app can match on the device and the server never learns
    where the person is. No subject id is asked for. Cacheable: ETag, Cache-Control, 304 on If-None-Match.
    """
    parsed = parse_cell(cell)
    settings = services.settings
    res = resolution(parsed)
    if not settings.area_min_res <= res <= COARSEST_MATCH_RES:
        raise InvalidInput(
            f"area catalogues are served for cells of resolution {settings.area_min_res} to "
            f"{COARSEST_MATCH_RES}; this cell has resolution {res}"
        )
    body = await area.catalogue(services.pool.fetch, parsed, settings.index_res, services.clock(), after, limit)
    tag = area.etag(body)
    headers = {"ETag": tag, "Cache-Control": f"private, max-age={settings.area_max_age_s}"}
    if area.matches(if_none_match, tag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
