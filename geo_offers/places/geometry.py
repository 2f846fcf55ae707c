"""Deal areas: validated with Shapely, as a radius around the store or a GeoJSON (Multi)Polygon.

Every area ends up as a MultiPolygon in lon/lat (EPSG:4326). A radius becomes a circumscribed 64-gon, so the
polygon contains the whole circle and its H3 coverage misses no cell the circle touches. Polygons crossing the
antimeridian are refused (split them at 180 degrees); so are areas over the configured size cap.
"""

from __future__ import annotations

import math
from typing import Any

from shapely import MultiPolygon, Polygon
from shapely.validation import explain_validity

from consent.errors import InvalidInput
from geo_offers.places.cells import EARTH_RADIUS_M

CIRCLE_VERTICES = 64
MIN_RADIUS_M = 50
MAX_RADIUS_M = 50_000


def circle(lat: float, lon: float, radius_m: float) -> MultiPolygon:
    """A polygon around (lat, lon) that contains the geodesic circle of ``radius_m``."""
    if abs(lat) > 85:
        raise InvalidInput("radius areas are not supported within 5 degrees of the poles")
    # Circumscribed: vertices at r / cos(pi / n), so every edge lies outside the circle.
    reach = radius_m / math.cos(math.pi / CIRCLE_VERTICES) / EARTH_RADIUS_M
    phi, lam = math.radians(lat), math.radians(lon)
    ring = []
    for i in range(CIRCLE_VERTICES):
        bearing = 2 * math.pi * i / CIRCLE_VERTICES
        p2 = math.asin(math.sin(phi) * math.cos(reach) + math.cos(phi) * math.sin(reach) * math.cos(bearing))
        l2 = lam + math.atan2(
            math.sin(bearing) * math.sin(reach) * math.cos(phi), math.cos(reach) - math.sin(phi) * math.sin(p2)
        )
        x = math.degrees(l2)
        if not -180 <= x <= 180:
            raise InvalidInput("this radius around the store would cross the antimeridian; use a polygon instead")
        ring.append((x, math.degrees(p2)))
    ring.append(ring[0])
    return MultiPolygon([Polygon(ring)])


def _ring(raw: Any, where: str) -> list[tuple[float, float]]:
    if not isinstance(raw, list) or len(raw) < 4:
        raise InvalidInput(f"{where}: a linear ring needs at least 4 positions")
    ring: list[tuple[float, float]] = []
    for position in raw:
        if not isinstance(position, list) or len(position) not in (2, 3):
            raise InvalidInput(f"{where}: each position is [lon, lat]")
        lon, lat = position[0], position[1]
        if isinstance(lon, bool) or isinstance(lat, bool) or not all(isinstance(v, (int, float)) for v in (lon, lat)):
            raise InvalidInput(f"{where}: coordinates must be numbers")
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise InvalidInput(f"{where}: coordinates must be finite")
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise InvalidInput(f"{where}: a position lies outside lon [-180, 180] / lat [-90, 90]")
        ring.append((float(lon), float(lat)))
    if ring[0] != ring[-1]:
        raise InvalidInput(f"{where}: the ring is not closed (first and last position differ)")
    for (x1, _), (x2, _) in zip(ring, ring[1:], strict=False):
        if abs(x2 - x1) > 180:
            raise InvalidInput(f"{where}: the polygon crosses the antimeridian; split it at 180 degrees")
    return ring


def parse_geojson_area(geometry: dict[str, Any]) -> MultiPolygon:
    """A GeoJSON Polygon or MultiPolygon as a valid Shapely MultiPolygon, or InvalidInput."""
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates")
    if kind == "Polygon":
        polygons_raw = [coordinates]
    elif kind == "MultiPolygon" and isinstance(coordinates, list):
        polygons_raw = coordinates
    else:
        raise InvalidInput("area must be {'radius_m': N} or a GeoJSON Polygon or MultiPolygon")
    if not isinstance(polygons_raw, list) or not polygons_raw:
        raise InvalidInput("the polygon has no coordinates")
    polygons = []
    for i, rings in enumerate(polygons_raw):
        if not isinstance(rings, list) or not rings:
            raise InvalidInput(f"polygon {i}: needs an exterior ring")
        shell = _ring(rings[0], f"polygon {i} exterior")
        holes = [_ring(r, f"polygon {i} hole {j}") for j, r in enumerate(rings[1:])]
        polygons.append(Polygon(shell, holes))
    area = MultiPolygon(polygons)
    if area.is_empty or not area.is_valid:
        raise InvalidInput(f"the polygon is not valid: {explain_validity(area)}")
    return area


def _ring_area_m2(coords: list[tuple[float, float]]) -> float:
    # Spherical excess of a lon/lat ring (Chamberlain & Duquette), as in geojson-area.
    total = 0.0
    n = len(coords)
    for i in range(n - 1):
        lon1, lat1 = coords[i]
        lon2, lat2 = coords[i + 1]
        total += math.radians(lon2 - lon1) * (2 + math.sin(math.radians(lat1)) + math.sin(math.radians(lat2)))
    return abs(total * EARTH_RADIUS_M**2 / 2)


def area_km2(area: MultiPolygon) -> float:
    """Geodesic area of a lon/lat MultiPolygon in square kilometres."""
    m2 = 0.0
    for polygon in area.geoms:
        m2 += _ring_area_m2(list(polygon.exterior.coords))
        m2 -= sum(_ring_area_m2(list(hole.coords)) for hole in polygon.interiors)
    return m2 / 1e6


def check_size(area: MultiPolygon, cap_km2: float) -> None:
    """InvalidInput when the area is larger than the cap."""
    size = area_km2(area)
    if size > cap_km2:
        raise InvalidInput(f"the area covers {size:,.0f} km², more than the allowed {cap_km2:,.0f} km²")
