"""Reading matchable deals from PostgreSQL for the in-memory index: all at once, or by deal or store ids."""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import psycopg2

from geo_offers.index import DealIndex, DealRecord

# Matchable: active, not yet past its validity (by more than a day of clock skew), quota not used up.
_SELECT = """
SELECT d.id, d.title, d.description, d.category, s.id, s.name, s.address,
       ST_Y(s.location), ST_X(s.location), s.timezone, d.valid_from, d.valid_until, d.windows,
       ARRAY(SELECT c.cell FROM deal_cells c WHERE c.deal_id = d.id ORDER BY c.cell)
  FROM deals d
  JOIN stores s ON s.id = d.store_id
 WHERE d.status = 'active'
   AND d.valid_until > %(cutoff)s
   AND (d.max_redemptions IS NULL OR d.redemptions < d.max_redemptions)
"""
BY_DEALS = _SELECT + " AND d.id = ANY(%(ids)s)"
BY_STORES = _SELECT + " AND d.store_id = ANY(%(ids)s)"


def record(row: tuple[Any, ...]) -> DealRecord:
    """A DealRecord from one row of the queries above."""
    (
        deal_id,
        title,
        description,
        category,
        store_id,
        store_name,
        address,
        lat,
        lon,
        tz,
        valid_from,
        valid_until,
        windows,
        cells,
    ) = row
    return DealRecord(
        deal_id,
        title,
        description,
        category,
        store_id,
        store_name,
        address,
        lat,
        lon,
        tz,
        valid_from,
        valid_until,
        windows,
        cells,
    )


def load_index(
    dsn: str, role: str, res: int, cutoff: datetime, progress: Callable[[int], None] | None = None
) -> DealIndex:
    """Build a complete index from a fresh connection (blocking; run it in a thread)."""
    index = DealIndex(res)
    conn = psycopg2.connect(dsn)
    try:
        conn.set_session(readonly=True)
        with conn.cursor() as cur:
            if role:
                cur.execute(f'SET ROLE "{role}"')
        with conn.cursor(name="deal_index_load") as cur:
            cur.itersize = 20_000
            cur.execute(_SELECT, {"cutoff": cutoff})
            for n, row in enumerate(cur, 1):
                index.add(record(row))
                if progress is not None and n % 100_000 == 0:
                    progress(n)
    finally:
        conn.close()
    index.freeze()
    release_free_memory()
    return index


def release_free_memory() -> None:
    """Hand memory freed by the load (rows, sort buffers) back to the system (glibc keeps it otherwise)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def ids_from(payloads: Iterable[str]) -> tuple[set[int], set[int]]:
    """Deal ids and store ids named by ``d:<id>`` and ``s:<id>`` notifications."""
    deals: set[int] = set()
    stores: set[int] = set()
    for payload in payloads:
        kind, _, value = payload.partition(":")
        if value.isdigit():
            (deals if kind == "d" else stores if kind == "s" else set()).add(int(value))
    return deals, stores
