"""H3 coverage of a deal area: every cell at the index resolution that the area touches."""

from __future__ import annotations

import h3.api.basic_int as h3
from shapely import MultiPolygon

from consent.errors import InvalidInput

MAX_COVERAGE_CELLS = 200_000


def cover(area: MultiPolygon, res: int) -> list[int]:
    """Sorted cells at ``res`` overlapping ``area`` (not only those whose centre lies inside)."""
    polygons = []
    for polygon in area.geoms:
        # h3 takes (lat, lng); GeoJSON and Shapely hold (lon, lat).
        outer = [(lat, lon) for lon, lat in polygon.exterior.coords[:-1]]
        holes = [[(lat, lon) for lon, lat in hole.coords[:-1]] for hole in polygon.interiors]
        polygons.append(h3.LatLngPoly(outer, *holes))
    shape = polygons[0] if len(polygons) == 1 else h3.LatLngMultiPoly(*polygons)
    cells = sorted(int(c) for c in h3.h3shape_to_cells_experimental(shape, res, contain="overlap"))
    if not cells:  # cannot happen with "overlap", but a deal without coverage must never be stored
        raise InvalidInput("the area covers no H3 cell")
    if len(cells) > MAX_COVERAGE_CELLS:
        raise InvalidInput("the area is too large for the index; make it smaller")
    return cells
