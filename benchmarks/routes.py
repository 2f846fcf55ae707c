"""Routes that exist only for the benchmarks, mounted by their app factory (``benchmarks.app``), never by the product.

``GET /bench/trivial`` is the ceiling of the stack: a tiny JSON answer through the same middleware, without
authentication or any work. ``POST /bench/naive-match`` answers a match the way one would without the deal
index: the same body, key and consent gate as ``/v1/offers/match``, then one PostGIS ``ST_DWithin`` query per
request over stores near the cell centre joined to their live deals, weekly windows evaluated in Python. It is
the baseline the indexed match is measured against, not a route for clients.
"""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime
from typing import Any

import h3.api.basic_int as h3
import orjson
from fastapi import APIRouter
from starlette.responses import Response

from consent.errors import InvalidInput
from geo_offers.kit.deps import AppKey, ServicesDep
from geo_offers.matching.schemas import COARSEST_MATCH_RES, MatchRequest
from geo_offers.places.cells import cell_str, centre, coarsen, distance_band, parse_cell, resolution
from geo_offers.places.schedule import LocalNow, Schedule, compile_windows, local_now

router = APIRouter(prefix="/bench", tags=["benchmark"], include_in_schema=False)

NAIVE_RADIUS_M = 3_000.0
_M_PER_DEG_LAT = 111_195.0
_PID = os.getpid()

# The degree-distance prefilter (it can use the GiST index on stores.location) keeps every store within the
# radius, since a degree of longitude is the shorter one; the geography test then applies the exact radius.
NAIVE_SQL = """
SELECT d.id, d.title, d.description, d.category, s.id, s.name, s.address, s.timezone, d.valid_until, d.windows,
       ST_Distance(s.location::geography, p.pt::geography) AS metres
  FROM (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS pt) p
  JOIN stores s ON ST_DWithin(s.location, p.pt, %(degrees)s)
               AND ST_DWithin(s.location::geography, p.pt::geography, %(radius)s)
  JOIN deals d ON d.store_id = s.id
 WHERE d.status = 'active'
   AND d.valid_from <= %(now)s AND d.valid_until > %(now)s
   AND (d.max_redemptions IS NULL OR d.redemptions < d.max_redemptions)
   AND (%(categories)s::text[] IS NULL OR d.category = ANY(%(categories)s::text[]))
 ORDER BY metres
 LIMIT %(fetch)s
"""

_schedules: dict[str, Schedule] = {}


def _schedule(windows: list[dict[str, Any]]) -> Schedule:
    key = orjson.dumps(windows).decode()
    found = _schedules.get(key)
    if found is None:
        found = _schedules[key] = compile_windows(windows)
    return found


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@router.get("/trivial", response_class=Response)
async def trivial() -> Response:
    """A tiny JSON answer: what the stack costs with no work at all."""
    return Response(orjson.dumps({"ok": True, "worker": _PID}), media_type="application/json")


@router.post("/naive-match", response_class=Response)
async def naive_match(body: MatchRequest, _: AppKey, services: ServicesDep) -> Response:
    """A match without the index: consent gate, then one ST_DWithin query; same answer shape as the match."""
    now = services.clock()
    precision = (await services.gate.location(body.subject_id, now)).precision_res
    if body.cell is not None:
        cell = parse_cell(body.cell)
        if resolution(cell) < COARSEST_MATCH_RES:
            raise InvalidInput(f"cells coarser than resolution {COARSEST_MATCH_RES} are not matched")
        cell = coarsen(cell, precision)
    else:
        assert body.location is not None
        cell = int(h3.latlng_to_cell(body.location.lat, body.location.lon, precision))
    lat, lon = centre(cell)
    categories = list(dict.fromkeys(body.categories)) if body.categories else None
    rows = await services.pool.fetch(
        NAIVE_SQL,
        {
            "lat": lat,
            "lon": lon,
            "degrees": NAIVE_RADIUS_M / (_M_PER_DEG_LAT * math.cos(math.radians(lat))),
            "radius": NAIVE_RADIUS_M,
            "now": now,
            "categories": categories,
            "fetch": body.limit * 3,  # windows are checked below; fetch spares for deals outside theirs
        },
    )
    zones: dict[str, LocalNow] = {}
    offers: list[dict[str, Any]] = []
    for deal_id, title, description, category, store_id, name, address, tz, valid_until, windows, metres in rows:
        window_end = None
        schedule = _schedule(windows)
        if not schedule.always:
            local = zones.get(tz)
            if local is None:
                local = zones[tz] = local_now(now, tz)
            end = schedule.end_if_open(local.second_of_week)
            if end is None:
                continue
            window_end = _utc(local.to_utc(end))
        offers.append(
            {
                "deal_id": deal_id,
                "title": title,
                "description": description,
                "category": category,
                "store": {"id": store_id, "name": name, "address": address},
                "valid_until": _utc(valid_until),
                "distance_band": distance_band(metres),
                "window_ends_at": window_end,
            }
        )
        if len(offers) == body.limit:
            break
    answer = {"cell": cell_str(cell), "resolution": resolution(cell), "offers": offers}
    return Response(orjson.dumps(answer), media_type="application/json")
