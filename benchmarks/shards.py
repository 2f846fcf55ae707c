"""How evenly the Citus plan spreads the 1M-deal benchmark dataset and population-weighted match requests.

    python -m benchmarks.shards [--deals 1000000] [--requests 1000000] [--shards 8,32,128] [--keys 3,4,5]

Nothing is loaded: the deals are placed exactly as ``benchmarks.dataset`` places them (the same seeds: store
positions from ``Geography``, each deal's store and radius from its chunk's generator), in memory. Each deal and
each request is given the distribution key of the plan, the H3 parent at resolution 3 (alternatives: 4, 5) of
its cell, and that key goes to a shard the way Citus does it for a bigint column: PostgreSQL's ``hashint8`` of
the value, the 32-bit hash space cut into equal ranges, one per shard. A deal's coverage rows are counted at the
shard of the store's cell with the average number of resolution-8 cells of its radius (a 5 km circle rarely
crosses a resolution-3 edge, ~60 km). Requests come from people, not from stores: 31 % in the 46 big cities
(by population, scattered as in the dataset), 49 % in 2,000 towns (Zipf-sized), 20 % anywhere in Germany.

Prints, per key resolution and shard count: how many shards hold anything, the hottest shard's share of deals,
of coverage rows and of requests, hottest / mean, and the hottest distribution keys with their city.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence

import h3.api.basic_int as h3
import numpy as np

from benchmarks.dataset import CHUNK, DEALS_PER_STORE, POLYGON_SHARE, RADII, RADIUS_WEIGHTS, _star_polygon
from benchmarks.fastcover import CellGeometry, cover_circle
from benchmarks.germany import CITIES, TOWNS, Geography, _scatter, _uniform
from geo_offers.places.coverage import cover

INDEX_RES = 8
PEOPLE_SHARES = (0.31, 0.49, 0.20)  # big cities, towns, everywhere else (Germany: ~26 of 83 million in the 46)
_MASK = 0xFFFFFFFF


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _MASK


def hashint8(value: int) -> int:
    """PostgreSQL's ``hashint8`` (what Citus hashes a bigint distribution column with), as a signed int32."""
    lo, hi = value & _MASK, (value >> 32) & _MASK
    lo ^= hi if value >= 0 else (~hi & _MASK)
    a = b = c = (0x9E3779B9 + 4 + 3923095) & _MASK
    a = (a + lo) & _MASK
    c ^= b
    c = (c - _rot(b, 14)) & _MASK
    a ^= c
    a = (a - _rot(c, 11)) & _MASK
    b ^= a
    b = (b - _rot(a, 25)) & _MASK
    c ^= b
    c = (c - _rot(b, 16)) & _MASK
    a ^= c
    a = (a - _rot(c, 4)) & _MASK
    b ^= a
    b = (b - _rot(a, 14)) & _MASK
    c ^= b
    c = (c - _rot(b, 24)) & _MASK
    return c - (1 << 32) if c & 0x80000000 else c


def shard_of(value: int, shards: int) -> int:
    """The shard (0-based) whose hash range holds ``hashint8(value)``: Citus cuts the int32 range evenly."""
    step = (1 << 32) // shards
    return min((hashint8(value) + (1 << 31)) // step, shards - 1)


def store_positions(deals: int, seed: int = 1) -> np.ndarray:
    """The stores of a ``benchmarks.dataset`` load of ``deals`` deals, as (lat, lon) rows."""
    rng = np.random.default_rng(seed)
    return Geography().sample(rng, max(1, deals // DEALS_PER_STORE))


def deal_stores_and_radii(deals: int, stores: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each deal's store index, radius and whether it is a polygon, drawn as ``build_chunk`` draws them."""
    store_idx, radius, polygon = [], [], []
    for k, start in enumerate(range(0, deals, CHUNK)):
        n = min(CHUNK, deals - start)
        rng = np.random.default_rng(seed * 1_000_003 + k)
        store_idx.append(rng.integers(0, stores, n))
        polygon.append(rng.random(n) < POLYGON_SHARE)
        radius.append(rng.choice(RADII, n, p=RADIUS_WEIGHTS).astype(float))
    return np.concatenate(store_idx), np.concatenate(radius), np.concatenate(polygon)


def mean_cells(samples: int = 40) -> tuple[dict[float, float], float]:
    """Average resolution-8 cells of a deal per radius, and of a dataset polygon, at German latitudes."""
    rng = np.random.default_rng(3)
    geometry = CellGeometry(INDEX_RES)
    spots = Geography().sample(rng, samples)
    per_radius = {
        float(r): float(np.mean([len(cover_circle(geometry, float(la), float(lo), float(r))) for la, lo in spots]))
        for r in RADII
    }
    polygons = float(np.mean([len(cover(_star_polygon(rng, float(la), float(lo)), INDEX_RES)) for la, lo in spots]))
    return per_radius, polygons


def people(n: int, seed: int = 11) -> np.ndarray:
    """``n`` request positions, population-weighted (see the module's description)."""
    geo = Geography()
    rng = np.random.default_rng(seed)
    kind = rng.choice(3, size=n, p=PEOPLE_SHARES)
    out = np.empty((n, 2))
    cities = np.flatnonzero(kind == 0)
    pick = rng.choice(len(CITIES), size=cities.size, p=geo.city_weights)
    out[cities] = _scatter(rng, geo.city_centres[pick, 0], geo.city_centres[pick, 1], geo.city_sigma_km[pick])
    towns = np.flatnonzero(kind == 1)
    pick = rng.choice(TOWNS, size=towns.size, p=geo.town_weights)
    out[towns] = _scatter(rng, geo.towns[pick, 0], geo.towns[pick, 1], np.full(towns.size, 1.2))
    rest = np.flatnonzero(kind == 2)
    out[rest] = _uniform(rng, rest.size)
    return out


def keys_of(points: np.ndarray, res: int) -> np.ndarray:
    """The resolution-``res`` cell of each (lat, lon) row (the parent of its resolution-8 cell)."""
    return np.array([h3.cell_to_parent(h3.latlng_to_cell(la, lo, INDEX_RES), res) for la, lo in points], dtype=np.int64)


def balance(weights: Counter[int], shards: int) -> dict[str, float]:
    """Spread of ``weights`` (key -> amount) over ``shards`` hash shards."""
    load = np.zeros(shards)
    for key, amount in weights.items():
        load[shard_of(int(key), shards)] += amount
    total = load.sum()
    return {
        "used": int((load > 0).sum()),
        "hottest_pct": round(100 * load.max() / total, 1),
        "hot_over_mean": round(load.max() / (total / shards), 2),
        "coldest_pct": round(100 * load.min() / total, 2),
    }


def _city(cell: int, geo: Geography) -> str:
    """The big cities whose centre lies in ``cell`` (else the nearest one, with "near")."""
    res = h3.get_resolution(cell)
    inside = [name for name, lat, lon, _ in CITIES if h3.latlng_to_cell(lat, lon, res) == cell]
    if inside:
        return "+".join(inside)
    lat, lon = h3.cell_to_latlng(cell)
    return "near " + geo.city_of(lat, lon)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--shards", default="8,32,128")
    parser.add_argument("--keys", default="3,4,5", help="resolutions of the distribution key")
    args = parser.parse_args(argv)
    shard_counts = [int(s) for s in args.shards.split(",")]
    geo = Geography()
    stores = store_positions(args.deals)
    store_idx, radius, polygon = deal_stores_and_radii(args.deals, len(stores))
    per_radius, per_polygon = mean_cells()
    cells_per_deal = np.where(polygon, per_polygon, np.vectorize(per_radius.get)(radius))
    requests = people(args.requests)
    print(f"{args.deals:,} deals at {len(stores):,} stores (benchmarks.dataset, seed 1); {args.requests:,} requests")
    print(f"coverage cells a deal (res 8): radius {per_radius}, polygon {per_polygon:.1f}")
    for res in (int(r) for r in args.keys.split(",")):
        store_keys = keys_of(stores, res)
        deal_keys = store_keys[store_idx]
        deal_weights = Counter(deal_keys.tolist())
        row_weights: Counter[int] = Counter()  # key -> coverage rows (fractional: an average per deal)
        np_rows = np.bincount(np.unique(deal_keys, return_inverse=True)[1], weights=cells_per_deal)
        for key, rows in zip(np.unique(deal_keys), np_rows, strict=True):
            row_weights[int(key)] = int(round(rows))
        request_weights = Counter(keys_of(requests, res).tolist())
        print(f"\n== distribution key: the resolution-{res} parent "
              f"({len(deal_weights)} keys hold deals, {len(request_weights)} keys get requests)")  # fmt: skip
        print(f"{'shards':>6} | {'used':>4} | {'deals: hottest %':>16} {'x mean':>6} | {'coverage rows':>13} "
              f"{'x mean':>6} | {'requests: hottest %':>19} {'x mean':>6} {'coldest %':>9}")  # fmt: skip
        for shards in shard_counts:
            d, c, q = balance(deal_weights, shards), balance(row_weights, shards), balance(request_weights, shards)
            print(f"{shards:>6} | {d['used']:>4} | {d['hottest_pct']:>16} {d['hot_over_mean']:>6} | "
                  f"{c['hottest_pct']:>13} {c['hot_over_mean']:>6} | {q['hottest_pct']:>19} {q['hot_over_mean']:>6} "
                  f"{q['coldest_pct']:>9}")  # fmt: skip
        total_deals, total_requests = sum(deal_weights.values()), sum(request_weights.values())
        print("hottest keys:", "; ".join(
            f"{_city(key, geo)} {format(key, 'x')}: {100 * deal_weights[key] / total_deals:.1f} % of deals, "
            f"{100 * request_weights[key] / total_requests:.1f} % of requests"
            for key, _ in request_weights.most_common(4)
        ))  # fmt: skip
        print("the cell of each hot city's centre:", "; ".join(
            f"{name} {format(key, 'x')}: {100 * deal_weights[key] / total_deals:.1f} % of deals, "
            f"{100 * request_weights[key] / total_requests:.1f} % of requests"
            for name, key in ((name, h3.latlng_to_cell(lat, lon, res)) for name, lat, lon, _ in CITIES[:3])
        ))  # fmt: skip
        floor = max(request_weights.values()) / total_requests
        print(f"no shard count can take the hottest shard's request share below the hottest key's: {100 * floor:.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
