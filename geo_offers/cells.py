"""H3 helpers on the integer API: parsing, coarsening to the consented resolution, index-resolution lookups.

An H3 index keeps its resolution digits from coarse to fine, unused digits set to 7, so the descendants at
resolution R of a cell P are exactly the resolution-R cells between P with its digits r+1..R set to 0 and P
with them set to 6: a B-tree range scan finds them.
"""

from __future__ import annotations

import math

import h3.api.basic_int as h3

from consent.errors import InvalidInput

EARTH_RADIUS_M = 6_371_008.8
_RES_SHIFT = 52
_DIGIT_BITS = 3


def parse_cell(text: str) -> int:
    """An H3 cell index from its hex string, or InvalidInput."""
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


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


DISTANCE_BANDS = ((1_000.0, "under_1km"), (3_000.0, "1_to_3km"), (10_000.0, "3_to_10km"))


def distance_band(metres: float) -> str:
    """The coarse band a distance falls in; exact distances are never returned."""
    for limit, label in DISTANCE_BANDS:
        if metres < limit:
            return label
    return "over_10km"


def band_rank(metres: float) -> int:
    """0 for the nearest band, 3 for the farthest."""
    for rank, (limit, _) in enumerate(DISTANCE_BANDS):
        if metres < limit:
            return rank
    return len(DISTANCE_BANDS)
