"""The area catalogue: every live deal whose coverage falls in a coarse cell, so an app can match on the device.

Read from PostgreSQL with one range scan over ``deal_cells`` (the descendants of a cell at the index resolution
are one contiguous integer range) and paginated by deal id. "Live" here is status active, not yet past its end,
quota and codes left. Neither the start date nor the weekly windows are filtered: both are sent (windows with the
store's time zone) and the device checks them at the moment it matches, because a catalogue is cached for a while
and kept current by the live stream (``geo_offers.live``), and no change is written when a deal's start date
arrives. Frequency rules are sent for the device to apply as well.

``deal_json`` is the one rendering of a deal for the device: the catalogue pages and the live stream's events
both use it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import h3.api.basic_int as h3
import orjson

from consent.errors import InvalidInput
from geo_offers.matching.records import DealRecord
from geo_offers.matching.source import DEAL_COLUMNS
from geo_offers.places.cells import cell_str, descendant_range, parse_cell, resolution

Fetch = Callable[[str, dict[str, Any]], Awaitable[Sequence[dict[str, Any]]]]

AREA_SQL = f"""
SELECT {DEAL_COLUMNS}
  FROM deals d
  JOIN stores s ON s.id = d.store_id
 WHERE d.id IN (SELECT c.deal_id FROM deal_cells c WHERE c.cell BETWEEN %(low)s AND %(high)s)
   AND d.id > %(after)s
   AND d.status = 'active'
   AND d.valid_until > %(now)s
   AND (d.max_redemptions IS NULL OR d.redemptions < d.max_redemptions)
   AND (d.codes_left IS NULL OR d.codes_left > 0)
 ORDER BY d.id
 LIMIT %(limit)s
"""


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def deal_json(record: DealRecord) -> dict[str, Any]:
    """A deal as the device receives it, in catalogue pages and live events alike."""
    return {
        "deal_id": record.deal_id,
        "title": record.title,
        "description": record.description,
        "category": record.category,
        "store": {
            "id": record.store_id,
            "name": record.store_name,
            "address": record.store_address,
            "location": {"type": "Point", "coordinates": [record.lon, record.lat]},
            "timezone": record.timezone,
        },
        "windows": record.windows,
        "valid_from": _utc(record.valid_from),
        "valid_until": _utc(record.valid_until),
        "cells": sorted(cell_str(int(c)) for c in h3.compact_cells(record.cells)),
        "frequency_rules": record.frequency_rules,
        "one_time_codes": record.one_time_codes,
    }


async def catalogue(fetch: Fetch, cell: int, index_res: int, now: datetime, after: int, limit: int) -> bytes:
    """One page of the catalogue of ``cell`` as JSON bytes (``fetch`` answers rows as dicts by column name)."""
    low, high = descendant_range(cell, index_res)
    rows = await fetch(AREA_SQL, {"low": low, "high": high, "after": after, "now": now, "limit": limit + 1})
    page = [deal_json(DealRecord(**row)) for row in rows[:limit]]
    return orjson.dumps(
        {
            "cell": cell_str(cell),
            "resolution": resolution(cell),
            "index_resolution": index_res,
            "deals": page,
            "next_after": page[-1]["deal_id"] if len(rows) > limit else None,
        }
    )


def area_cell(text: str, allowed: range) -> int:
    """The area cell named by ``text`` (422 unless it is a valid cell of a resolution in ``allowed``)."""
    cell = parse_cell(text)
    res = resolution(cell)
    if res not in allowed:
        raise InvalidInput(
            f"areas are served for cells of resolution {allowed.start} to {allowed.stop - 1}; "
            f"this cell has resolution {res}"
        )
    return cell


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
