"""A fast equivalent of ``geo_offers.coverage.cover(geometry.circle(...))`` for the bulk loader.

The service covers a radius area by handing a circumscribed 64-gon to h3's polygon cover, which costs about
0.3 to 0.6 ms a deal: too slow for a million deals. Here the cells come from a disk of rings around the store's
cell, tested against the circle through the 64-gon's vertices: a cell whose inscribed circle reaches it is in,
one whose circumscribed circle does not is out, and the few in between get an exact hexagon-to-point distance.
Distances are planar around the store (mid-latitude scaling), exact to centimetres at these sizes.
``agreement`` measures how often the result equals the service's own cover on a sample.

The areas themselves are written as hex EWKB MultiPolygons built with numpy, vertex for vertex the same
polygon as ``geo_offers.geometry.circle``.
"""

from __future__ import annotations

import math
import struct

import h3.api.basic_int as h3
import numpy as np
import shapely

from geo_offers.places.cells import EARTH_RADIUS_M
from geo_offers.places.geometry import CIRCLE_VERTICES, circle

_M_PER_DEG = math.pi * EARTH_RADIUS_M / 180.0
_STRETCH = 1.0 / math.cos(math.pi / CIRCLE_VERTICES)  # vertex distance / radius of the circumscribed n-gon
_SLACK_M = 2.0  # planar distances are trusted only this far from a decision boundary


class CellGeometry:
    """Per-cell centre, inscribed and circumscribed radius (metres), computed once per cell and kept."""

    def __init__(self, res: int) -> None:
        self.res = res
        self._known: dict[int, tuple[float, float, float, float]] = {}
        edge = h3.average_hexagon_edge_length(res, "m")
        self.spacing_min = 1.2 * edge  # centre-to-centre distance of neighbours is about 1.73 edges
        self.reach_max = 1.4 * edge

    def get(self, cell: int) -> tuple[float, float, float, float]:
        """(lat, lon, inscribed radius, circumscribed radius) of a cell."""
        found = self._known.get(cell)
        if found is None:
            lat, lon = h3.cell_to_latlng(cell)
            kx = _M_PER_DEG * math.cos(math.radians(lat))
            pts = [((vlon - lon) * kx, (vlat - lat) * _M_PER_DEG) for vlat, vlon in h3.cell_to_boundary(cell)]
            circ = max(math.hypot(x, y) for x, y in pts)
            inner = min(_segment_distance(0.0, 0.0, a, b) for a, b in zip(pts, pts[1:] + pts[:1], strict=True))
            found = self._known[cell] = (lat, lon, inner, circ)
        return found


def _segment_distance(px: float, py: float, a: tuple[float, float], b: tuple[float, float]) -> float:
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    return math.hypot(ax + t * dx - px, ay + t * dy - py)


def _hexagon_distance(cell: int, lat: float, lon: float) -> float:
    """Planar distance in metres from (lat, lon) to the cell's boundary (the point lies outside the cell)."""
    kx = _M_PER_DEG * math.cos(math.radians(lat))
    pts = [((vlon - lon) * kx, (vlat - lat) * _M_PER_DEG) for vlat, vlon in h3.cell_to_boundary(cell)]
    return min(_segment_distance(0.0, 0.0, a, b) for a, b in zip(pts, pts[1:] + pts[:1], strict=True))


def cover_circle(geometry: CellGeometry, lat: float, lon: float, radius_m: float) -> list[int]:
    """Sorted cells at ``geometry.res`` touched by the circumscribed 64-gon of a radius around (lat, lon)."""
    reach = radius_m * _STRETCH
    origin = h3.latlng_to_cell(lat, lon, geometry.res)
    k = math.ceil((reach + geometry.reach_max) / geometry.spacing_min)
    cos_lat = math.cos(math.radians(lat))
    polygon: shapely.MultiPolygon | None = None
    out = []
    for cell in h3.grid_disk(origin, k):
        clat, clon, inner, circ = geometry.get(cell)
        kx = _M_PER_DEG * math.cos(math.radians((clat + lat) / 2)) if abs(clat - lat) > 0.01 else _M_PER_DEG * cos_lat
        d = math.hypot((clon - lon) * kx, (clat - lat) * _M_PER_DEG)
        if d <= radius_m + inner - _SLACK_M or cell == origin:
            out.append(cell)
        elif d <= reach + circ + _SLACK_M:
            gap = _hexagon_distance(cell, lat, lon)
            if gap <= radius_m - _SLACK_M:
                out.append(cell)
            elif gap <= reach + _SLACK_M:
                # Between the 64-gon's edges and its vertices: ask Shapely, as h3 would see it (lon/lat plane).
                if polygon is None:
                    polygon = circle(lat, lon, radius_m)
                hexagon = shapely.Polygon([(vlon, vlat) for vlat, vlon in h3.cell_to_boundary(cell)])
                if polygon.intersects(hexagon):
                    out.append(cell)
    out.sort()
    return out


_HEADER = struct.pack("<BIIIBII", 1, 0x20000006, 4326, 1, 1, 3, 1)  # MultiPolygon, SRID, 1 polygon, 1 ring


def circle_rings(lat: np.ndarray, lon: np.ndarray, radius_m: np.ndarray) -> np.ndarray:
    """Closed rings of circumscribed 64-gons, shape (n, 65, 2) as (lon, lat), like ``geometry.circle``."""
    n = CIRCLE_VERTICES
    reach = (radius_m * _STRETCH / EARTH_RADIUS_M)[:, None]
    phi = np.radians(lat)[:, None]
    lam = np.radians(lon)[:, None]
    bearing = (2 * np.pi * np.arange(n) / n)[None, :]
    p2 = np.arcsin(np.sin(phi) * np.cos(reach) + np.cos(phi) * np.sin(reach) * np.cos(bearing))
    l2 = lam + np.arctan2(np.sin(bearing) * np.sin(reach) * np.cos(phi), np.cos(reach) - np.sin(phi) * np.sin(p2))
    ring = np.stack([np.degrees(l2), np.degrees(p2)], axis=-1)
    return np.concatenate([ring, ring[:, :1]], axis=1)


def circle_ewkb_hex(lat: np.ndarray, lon: np.ndarray, radius_m: np.ndarray) -> list[str]:
    """Hex EWKB (SRID 4326) MultiPolygons of the circles, ready for COPY into a geometry column."""
    rings = circle_rings(lat, lon, radius_m)
    count = struct.pack("<I", rings.shape[1])
    head = _HEADER + count
    body = np.ascontiguousarray(rings, dtype="<f8")
    return [(head + body[i].tobytes()).hex() for i in range(len(body))]


def agreement(samples: int = 300, res: int = 8, seed: int = 1) -> float:
    """Share of random German circles whose fast cover equals ``geo_offers.coverage.cover`` exactly."""
    from geo_offers.places.coverage import cover

    rng = np.random.default_rng(seed)
    geometry = CellGeometry(res)
    same = 0
    for _ in range(samples):
        lat, lon = rng.uniform(47.5, 54.5), rng.uniform(6.0, 14.5)
        radius = float(rng.choice([100, 250, 500, 1000, 2000, 3000, 5000]))
        same += cover_circle(geometry, lat, lon, radius) == cover(circle(lat, lon, radius), res)
    return same / samples
