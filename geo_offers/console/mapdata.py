"""What the console map draws: stores, deal areas and their H3 coverage cells, as GeoJSON.

The coverage is recomputed from each deal's stored area (as the API returns it) with the function that wrote
``deal_cells``, at the index resolution, so the map shows the cells a match is looked up in. Cells are compacted
(seven children become their parent) and capped, so a large area stays drawable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import h3.api.basic_int as h3
from shapely.geometry import MultiPolygon, shape

from geo_offers.places.coverage import cover

#: Most cells drawn on one page (compacted); beyond it the map says that not every cell is shown.
MAX_CELLS = 2500


def store_features(stores: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Stores as GeoJSON points with their id, name and time zone."""
    return [
        {
            "type": "Feature",
            "geometry": store["location"],
            "properties": {"id": store["id"], "name": store["name"], "timezone": store["timezone"]},
        }
        for store in stores
    ]


def area_features(deals: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Deal areas as GeoJSON MultiPolygons with the deal's id, title and status."""
    return [
        {
            "type": "Feature",
            "geometry": deal["area_geojson"],
            "properties": {"id": deal["id"], "title": deal["title"], "status": deal["status"]},
        }
        for deal in deals
    ]


def _ring(cell: int) -> list[list[float]]:
    points = [[round(lng, 6), round(lat, 6)] for lat, lng in h3.cell_to_boundary(cell)]
    return [*points, points[0]]


def cell_features(deals: Iterable[Mapping[str, Any]], res: int, cap: int = MAX_CELLS) -> tuple[list[Any], bool]:
    """The compacted coverage cells of the deals as polygons, and whether the cap left some out."""
    features: list[dict[str, Any]] = []
    for deal in deals:
        area = shape(deal["area_geojson"])
        if not isinstance(area, MultiPolygon):
            area = MultiPolygon([area])
        cells = [int(c) for c in h3.compact_cells(cover(area, res))]
        for cell in sorted(cells):
            if len(features) >= cap:
                return features, True
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Polygon", "coordinates": [_ring(cell)]},
                    "properties": {"deal": deal["id"], "cell": format(cell, "x"), "res": h3.get_resolution(cell)},
                }
            )
    return features, False


def map_data(stores: Sequence[Mapping[str, Any]], deals: Sequence[Mapping[str, Any]], res: int) -> dict[str, Any]:
    """Everything one map draws."""
    cells, truncated = cell_features(deals, res)
    return {
        "stores": store_features(stores),
        "areas": area_features(deals),
        "cells": cells,
        "cells_truncated": truncated,
    }
