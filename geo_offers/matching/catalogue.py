"""The area catalogue: every live deal whose coverage falls in a coarse cell, so an app can match on the device.

Read from PostgreSQL with one range scan over ``deal_cells`` (the descendants of a cell at the index resolution
are one contiguous integer range) and paginated by deal id. "Live" here is status active, inside the validity
dates, quota and codes left; weekly windows are not filtered but sent with the store's time zone, because a catalogue
is cached for a while and the device checks the window at the moment it matches; frequency rules are sent for
the device to apply as well.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import h3.api.basic_int as h3
import orjson

from geo_offers.places.cells import cell_str, descendant_range, resolution

Fetch = Callable[[str, dict[str, Any]], Awaitable[Sequence[tuple[Any, ...]]]]

AREA_SQL = """
SELECT d.id, d.title, d.description, d.category, s.id, s.name, s.address, ST_X(s.location), ST_Y(s.location),
       s.timezone, d.windows, d.valid_from, d.valid_until,
       ARRAY(SELECT c.cell FROM deal_cells c WHERE c.deal_id = d.id ORDER BY c.cell),
       d.frequency_rules, d.codes_left IS NOT NULL
  FROM deals d
  JOIN stores s ON s.id = d.store_id
 WHERE d.id IN (SELECT c.deal_id FROM deal_cells c WHERE c.cell BETWEEN %(low)s AND %(high)s)
   AND d.id > %(after)s
   AND d.status = 'active'
   AND d.valid_from <= %(now)s AND d.valid_until > %(now)s
   AND (d.max_redemptions IS NULL OR d.redemptions < d.max_redemptions)
   AND (d.codes_left IS NULL OR d.codes_left > 0)
 ORDER BY d.id
 LIMIT %(limit)s
"""


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _deal(row: tuple[Any, ...]) -> dict[str, Any]:
    (deal_id, title, description, category, store_id, name, address, lon, lat, tz, windows, valid_from,
     valid_until, cells, rules, one_time_codes) = row  # fmt: skip
    return {
        "deal_id": deal_id,
        "title": title,
        "description": description,
        "category": category,
        "store": {
            "id": store_id,
            "name": name,
            "address": address,
            "location": {"type": "Point", "coordinates": [lon, lat]},
            "timezone": tz,
        },
        "windows": windows,
        "valid_from": _utc(valid_from),
        "valid_until": _utc(valid_until),
        "cells": sorted(cell_str(int(c)) for c in h3.compact_cells(cells)),
        "frequency_rules": rules,
        "one_time_codes": one_time_codes,
    }


async def catalogue(fetch: Fetch, cell: int, index_res: int, now: datetime, after: int, limit: int) -> bytes:
    """One page of the catalogue of ``cell`` as JSON bytes."""
    low, high = descendant_range(cell, index_res)
    rows = await fetch(AREA_SQL, {"low": low, "high": high, "after": after, "now": now, "limit": limit + 1})
    page = [_deal(row) for row in rows[:limit]]
    return orjson.dumps(
        {
            "cell": cell_str(cell),
            "resolution": resolution(cell),
            "index_resolution": index_res,
            "deals": page,
            "next_after": page[-1]["deal_id"] if len(rows) > limit else None,
        }
    )


def etag(body: bytes) -> str:
    """A strong validator of a catalogue page."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def matches(if_none_match: str | None, tag: str) -> bool:
    """Whether an If-None-Match header names ``tag`` (or is ``*``); weak comparison as RFC 9110 asks."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        value = candidate.strip()
        if value == "*" or value.removeprefix("W/") == tag:
            return True
    return False
