"""One match request, from a validated body to the answer's bytes: consent gate, coarsening, index lookup.

Shared by the FastAPI route (which documents the operation) and the ASGI fast path (which serves it).
"""

from __future__ import annotations

import h3.api.basic_int as h3

from consent.errors import InvalidInput, ServiceUnavailable
from geo_offers.matching.schemas import COARSEST_MATCH_RES, MatchRequest
from geo_offers.places.cells import coarsen, parse_cell, resolution
from geo_offers.services import Services


async def serve_match(body: MatchRequest, services: Services) -> bytes:
    """The JSON answer of a match; ConsentRequired, InvalidInput or ServiceUnavailable otherwise."""
    if not services.feed.ready.is_set():
        raise ServiceUnavailable("the offer index is loading; retry shortly", retry_after_s=2)
    now = services.clock()
    use = await services.gate.location(body.subject_id, now)
    if body.cell is not None:
        cell = parse_cell(body.cell)
        if resolution(cell) < COARSEST_MATCH_RES:
            raise InvalidInput(
                f"cells coarser than resolution {COARSEST_MATCH_RES} are not matched; use /v1/offers/area/{{cell}}"
            )
        cell = coarsen(cell, use.precision_res)
    else:
        assert body.location is not None  # the model demands exactly one of cell and location
        cell = int(h3.latlng_to_cell(body.location.lat, body.location.lon, use.precision_res))
    categories = tuple(dict.fromkeys(body.categories)) if body.categories else ()
    answer = services.matcher.match(cell, categories, body.limit, now)
    if use.counted:  # only with offer_analytics consent; in memory, written by the counter's background flush
        services.counter.served(body.subject_id, answer.deal_ids, cell, now)
    return answer.body
