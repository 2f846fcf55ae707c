"""H3 helpers on the integer API: parsing, coarsening to the consented resolution, index-resolution lookups.

An H3 index keeps its resolution digits from coarse to fine, unused digits set to 7, so the descendants at
resolution R of a cell P are exactly the resolution-R cells between P with its digits r+1..R set to 0 and P
with them set to 6: a B-tree range scan finds them.
"""

from __future__ import annotations

import math
from typing import Any

import h3.api.basic_int as h3
import numpy as np
import numpy.typing as npt

from consent.errors import InvalidInput

EARTH_RADIUS_M = 6_371_008.8
_RES_SHIFT = 52
_DIGIT_BITS = 3


def parse_cell(text: str) -> int:
    """An H3 cell index from its hex string (either case, 15 digits or 16 with a leading 0, whitespace around it
    ignored), or InvalidInput. ``cell_patterns.cell_pattern`` states the same rule in the OpenAPI document."""
    candidate = text.strip().lower()
    if not 1 <= len(candidate) <= 16 or any(c not in "0123456789abcdef" for c in candidate):
        raise InvalidInput("cell must be an H3 cell index in hexadecimal, like 871f1d489ffffff")
    value = int(candidate, 16)
    if not h3.is_valid_cell(value):
        raise InvalidInput("cell is not a valid H3 cell index")
    return value


def cell_str(cell: int) -> str:
    """The hex string of a cell."""
    return format(cell, "x")


def resolution(cell: int) -> int:
    """The resolution of a valid cell."""
    return int((cell >> _RES_SHIFT) & 0xF)


def coarsen(cell: int, finest: int) -> int:
    """The cell itself when it is at most as fine as ``finest``, else its ancestor at ``finest``."""
    res = resolution(cell)
    return cell if res <= finest else int(h3.cell_to_parent(cell, finest))


def descendant_range(cell: int, res: int) -> tuple[int, int]:
    """The inclusive integer range holding every descendant of ``cell`` at resolution ``res``."""
    parent_res = resolution(cell)
    if res < parent_res:
        raise ValueError("res must not be coarser than the cell")
    base = (cell & ~(0xF << _RES_SHIFT)) | (res << _RES_SHIFT)
    low = high = base
    for digit in range(parent_res + 1, res + 1):
        shift = (15 - digit) * _DIGIT_BITS
        low &= ~(0b111 << shift)
        high = (high & ~(0b111 << shift)) | (0b110 << shift)
    return low, high


def compact(cell: int, res: int) -> int:
    """The meaningful bits of a cell at resolution ``res`` (base cell and digits 1..res); keeps the order."""
    return (cell >> ((15 - res) * _DIGIT_BITS)) & ((1 << (7 + _DIGIT_BITS * res)) - 1)


def cells_at(cell: int, res: int) -> list[int]:
    """The cell mapped to resolution ``res``: its children there, or its ancestor."""
    own = resolution(cell)
    if own == res:
        return [cell]
    if own > res:
        return [int(h3.cell_to_parent(cell, res))]
    return [int(c) for c in h3.cell_to_children(cell, res)]


def centre(cell: int) -> tuple[float, float]:
    """(lat, lon) of the cell's centre."""
    lat, lon = h3.cell_to_latlng(cell)
    return float(lat), float(lon)


def distances_m(lat: float, lon: float, lats: npt.NDArray[np.float64], lons: npt.NDArray[np.float64]) -> Any:
    """Great-circle distances in metres (haversine) from one point to many."""
    p1 = math.radians(lat)
    p2 = np.radians(lats)
    a = np.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(np.radians(lons - lon) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a)))


DISTANCE_BANDS = ((1_000.0, "under_1km"), (3_000.0, "1_to_3km"), (10_000.0, "3_to_10km"))


def distance_band(metres: float) -> str:
    """The coarse band a distance falls in; exact distances are never returned."""
    for limit, label in DISTANCE_BANDS:
        if metres < limit:
            return label
    return "over_10km"
