"""Where stores are in the benchmark dataset: dense around German cities, thinner in towns, sparse in between.

Positions are drawn from a mixture: big cities weighted by population with a Gaussian scatter that widens with
the city's size, a few thousand random towns with a tight scatter, and a uniform share over a coarse outline of
Germany. Every point is kept inside the outline (a point scattered into a neighbouring country is redrawn).
"""

from __future__ import annotations

import math

import numpy as np
import shapely

#: (name, lat, lon, population in thousands) of the 46 largest German cities, roughly.
CITIES: tuple[tuple[str, float, float, int], ...] = (
    ("Berlin", 52.520, 13.405, 3645),
    ("Hamburg", 53.551, 9.993, 1841),
    ("München", 48.137, 11.575, 1472),
    ("Köln", 50.938, 6.960, 1086),
    ("Frankfurt am Main", 50.110, 8.682, 753),
    ("Stuttgart", 48.776, 9.183, 635),
    ("Düsseldorf", 51.227, 6.773, 619),
    ("Leipzig", 51.340, 12.375, 587),
    ("Dortmund", 51.514, 7.468, 588),
    ("Essen", 51.456, 7.011, 583),
    ("Bremen", 53.079, 8.801, 567),
    ("Dresden", 51.050, 13.738, 556),
    ("Hannover", 52.375, 9.732, 536),
    ("Nürnberg", 49.452, 11.077, 518),
    ("Duisburg", 51.435, 6.762, 498),
    ("Bochum", 51.482, 7.216, 365),
    ("Wuppertal", 51.256, 7.150, 355),
    ("Bielefeld", 52.030, 8.532, 334),
    ("Bonn", 50.737, 7.098, 327),
    ("Münster", 51.960, 7.626, 315),
    ("Mannheim", 49.487, 8.466, 310),
    ("Karlsruhe", 49.007, 8.404, 308),
    ("Augsburg", 48.366, 10.898, 296),
    ("Wiesbaden", 50.078, 8.240, 278),
    ("Mönchengladbach", 51.180, 6.440, 261),
    ("Gelsenkirchen", 51.517, 7.086, 260),
    ("Aachen", 50.776, 6.084, 249),
    ("Braunschweig", 52.269, 10.520, 249),
    ("Kiel", 54.323, 10.123, 246),
    ("Chemnitz", 50.830, 12.920, 243),
    ("Halle (Saale)", 51.482, 11.970, 238),
    ("Magdeburg", 52.120, 11.627, 236),
    ("Freiburg im Breisgau", 47.999, 7.842, 231),
    ("Krefeld", 51.338, 6.585, 227),
    ("Mainz", 49.993, 8.247, 217),
    ("Lübeck", 53.866, 10.686, 216),
    ("Erfurt", 50.978, 11.029, 213),
    ("Oberhausen", 51.470, 6.852, 209),
    ("Rostock", 54.092, 12.099, 209),
    ("Kassel", 51.312, 9.479, 201),
    ("Hagen", 51.367, 7.463, 189),
    ("Potsdam", 52.390, 13.065, 183),
    ("Saarbrücken", 49.234, 6.997, 180),
    ("Regensburg", 49.013, 12.101, 153),
    ("Würzburg", 49.791, 9.953, 127),
    ("Ulm", 48.401, 9.987, 127),
)

#: A coarse outline of Germany as (lon, lat); good to a few kilometres, which is all the dataset needs.
OUTLINE = shapely.Polygon(
    [
        (7.0, 53.3), (7.2, 53.6), (8.0, 53.7), (8.6, 53.9), (8.6, 54.4), (8.3, 54.9), (9.9, 54.8),
        (10.9, 54.4), (12.2, 54.2), (13.4, 54.6), (14.2, 53.9), (14.4, 53.3), (14.7, 52.6), (14.6, 51.8),
        (15.0, 51.1), (14.3, 50.9), (12.9, 50.4), (12.1, 50.3), (12.5, 49.7), (13.8, 48.8), (13.45, 48.57),
        (12.9, 47.7), (11.4, 47.5), (10.2, 47.3), (9.6, 47.55), (8.6, 47.65), (7.6, 47.6), (7.6, 48.3),
        (8.2, 48.98), (6.4, 49.2), (6.4, 49.8), (6.1, 50.2), (6.0, 50.8), (5.9, 51.1), (6.2, 51.5),
        (6.0, 51.85), (6.7, 52.0), (7.0, 52.4), (7.0, 53.3),
    ]
)  # fmt: skip
_BOUNDS = OUTLINE.bounds  # (min lon, min lat, max lon, max lat)
_KM_PER_DEG_LAT = 111.2

CITY_SHARE = 0.6
TOWN_SHARE = 0.3
TOWNS = 2_000


def _scatter(rng: np.random.Generator, lat: np.ndarray, lon: np.ndarray, sigma_km: np.ndarray) -> np.ndarray:
    dlat = rng.normal(0.0, 1.0, lat.size) * sigma_km / _KM_PER_DEG_LAT
    dlon = rng.normal(0.0, 1.0, lat.size) * sigma_km / (_KM_PER_DEG_LAT * np.cos(np.radians(lat)))
    return np.column_stack([lat + dlat, lon + dlon])


def _uniform(rng: np.random.Generator, n: int) -> np.ndarray:
    min_lon, min_lat, max_lon, max_lat = _BOUNDS
    return np.column_stack([rng.uniform(min_lat, max_lat, n), rng.uniform(min_lon, max_lon, n)])


class Geography:
    """A fixed set of towns (drawn from ``seed``) and the mixture to sample store positions from."""

    def __init__(self, seed: int = 7) -> None:
        rng = np.random.default_rng(seed)
        self.towns = self._inside(rng, _uniform(rng, TOWNS * 2))[:TOWNS]
        # Town sizes follow a Zipf-like law, so a few towns are busy and most are quiet.
        weights = 1.0 / np.arange(1, TOWNS + 1) ** 0.8
        self.town_weights = weights / weights.sum()
        population = np.array([c[3] for c in CITIES], dtype=float)
        self.city_weights = population / population.sum()
        self.city_centres = np.array([(c[1], c[2]) for c in CITIES])
        self.city_sigma_km = 2.0 + 4.0 * np.sqrt(population / 1000.0)

    @staticmethod
    def _inside(rng: np.random.Generator, points: np.ndarray) -> np.ndarray:
        keep = shapely.contains_xy(OUTLINE, points[:, 1], points[:, 0])
        inside: np.ndarray = points[keep]
        return inside

    def _draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        kind = rng.choice(3, size=n, p=[CITY_SHARE, TOWN_SHARE, 1.0 - CITY_SHARE - TOWN_SHARE])
        out = np.empty((n, 2))
        cities = np.flatnonzero(kind == 0)
        pick = rng.choice(len(CITIES), size=cities.size, p=self.city_weights)
        centres = self.city_centres[pick]
        out[cities] = _scatter(rng, centres[:, 0], centres[:, 1], self.city_sigma_km[pick])
        towns = np.flatnonzero(kind == 1)
        pick = rng.choice(TOWNS, size=towns.size, p=self.town_weights)
        centres = self.towns[pick]
        out[towns] = _scatter(rng, centres[:, 0], centres[:, 1], np.full(towns.size, 1.2))
        rest = np.flatnonzero(kind == 2)
        out[rest] = _uniform(rng, rest.size)
        return out

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` positions as an array of (lat, lon) rows, all inside Germany."""
        found: list[np.ndarray] = []
        missing = n
        while missing > 0:
            batch = self._inside(rng, self._draw(rng, int(missing * 1.3) + 16))[:missing]
            found.append(batch)
            missing -= len(batch)
        return np.concatenate(found)

    def city_of(self, lat: float, lon: float) -> str:
        """The name of the nearest big city (for addresses)."""
        d = (self.city_centres[:, 0] - lat) ** 2 + ((self.city_centres[:, 1] - lon) * math.cos(math.radians(lat))) ** 2
        return CITIES[int(np.argmin(d))][0]
