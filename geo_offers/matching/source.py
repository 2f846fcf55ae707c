"""Reading matchable deals from PostgreSQL for the in-memory index: all at once, or by deal or store ids.

The full load streams through the service's SQLAlchemy engine (a server-side cursor, in a thread) and notes the
number of the last deal-changing transaction it sees (``deal_change_head``, in the same snapshot); the small
re-reads of the changes after that number (``deal_changes``) go through the asynchronous pool on the event loop.
Both send the same statement in the driver's own parameter style and read its columns by name (the fields of
``DealRecord``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, text

from geo_offers.matching.index import DealIndex
from geo_offers.matching.records import DealRecord

#: The columns of a ``DealRecord`` but its cells (tables ``d`` deals and ``s`` stores).
_FIELDS = """
d.id AS deal_id, d.title, d.description, d.category, s.id AS store_id, s.name AS store_name,
s.address AS store_address, ST_Y(s.location) AS lat, ST_X(s.location) AS lon, s.timezone,
d.valid_from, d.valid_until, d.windows, d.frequency_rules, d.codes_left IS NOT NULL AS one_time_codes
"""
#: The columns of a ``DealRecord``: the index's small re-reads, the area catalogue and the live streams read a deal
#: through this one list (the full load takes the same fields with the cells packed, below).
DEAL_COLUMNS = _FIELDS + ", ARRAY(SELECT c.cell FROM deal_cells c WHERE c.deal_id = d.id ORDER BY c.cell) AS cells"

# Matchable: active, not yet past its validity (by more than a day of clock skew), quota and codes not used up.
_COLUMNS = "SELECT " + _FIELDS + ",\n"
_MATCHABLE = """
  FROM deals d
  JOIN stores s ON s.id = d.store_id
 WHERE d.status = 'active'
   AND d.valid_until > %(cutoff)s
   AND (d.max_redemptions IS NULL OR d.redemptions < d.max_redemptions)
   AND (d.codes_left IS NULL OR d.codes_left > 0)
"""
SELECT_ALL = "SELECT " + DEAL_COLUMNS + _MATCHABLE
# The full load takes each deal's cells as one bytea of 8-byte big-endian integers: no Python int per cell.
_BULK = (
    _COLUMNS
    + "(SELECT string_agg(int8send(c.cell), ''::bytea) FROM deal_cells c WHERE c.deal_id = d.id) AS coverage"
    + _MATCHABLE
)
BY_DEALS = SELECT_ALL + " AND d.id = ANY(%(ids)s)"
BY_STORES = SELECT_ALL + " AND d.store_id = ANY(%(ids)s)"
_LOAD_BATCH = 20_000

#: Changes after a transaction number, oldest first (``seq`` is gap-free among committed transactions).
CHANGES_AFTER = """
SELECT seq, deal_id, store_id FROM deal_changes WHERE seq > %(after)s ORDER BY seq, id LIMIT %(limit)s
"""
_HEAD = "SELECT seq FROM deal_change_head"


def record(row: Mapping[Any, Any]) -> DealRecord:
    """A DealRecord from one row of the queries above, by column name."""
    return DealRecord(**row)


#: Opens a connection in a new transaction (``Database.reading``: the read database, or the primary).
Connect = Callable[[], AbstractContextManager[Connection]]


def load_index(
    connect: Connect, res: int, cutoff: datetime, progress: Callable[[int], None] | None = None
) -> tuple[DealIndex, int]:
    """Build a complete index (blocking; run it in a thread), streaming rows through a server-side cursor.

    Also returns the number of the last deal-changing transaction the load saw: one snapshot holds both, so the
    index is exactly the deals as of that transaction, and every later change has a larger number. On a standby
    that holds as well: ``deal_changes`` and the deals replicate in the same transactions.
    """
    index = DealIndex(res)
    with connect() as conn:
        conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        # A million deals take longer than one statement may on the request path.
        conn.execute(text("SET LOCAL statement_timeout = 0"))
        seq = int(conn.exec_driver_sql(_HEAD).scalar_one())
        streamed = conn.execution_options(stream_results=True, yield_per=_LOAD_BATCH)
        result = streamed.exec_driver_sql(_BULK, {"cutoff": cutoff})
        names = list(result.keys())
        while batch := result.fetchmany(_LOAD_BATCH):
            _add_batch(index, names, batch)
            if progress is not None:
                progress(index.size)
    index.freeze()
    release_free_memory()
    return index, seq


def _add_batch(index: DealIndex, names: list[str], rows: Sequence[Sequence[Any]]) -> None:
    records, blobs = [], []
    for row in rows:  # plain tuples: a RowMapping per row costs more than the rest of the row's work
        fields = dict(zip(names, row, strict=True))
        blobs.append(fields.pop("coverage") or b"")
        records.append(DealRecord(cells=[], **fields))
    first = index.add_deals(records)
    cells = np.frombuffer(b"".join(blobs), dtype=">i8").astype(np.int64)
    counts = np.fromiter((len(blob) // 8 for blob in blobs), dtype=np.int64, count=len(blobs))
    index.add_coverage(np.repeat(np.arange(first, first + len(blobs), dtype=np.int64), counts), cells)


def release_free_memory() -> None:
    """Hand memory freed by the load (rows, sort buffers) back to the system (glibc keeps it otherwise)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


@dataclass(slots=True)
class ChangeBatch:
    """Consecutive changes read from ``deal_changes``: the deals and stores they name, up to transaction ``last``."""

    last: int
    rows: int = 0
    deal_ids: set[int] = field(default_factory=set)
    store_ids: set[int] = field(default_factory=set)


def batch_from(rows: Iterable[tuple[int, int | None, int | None]], after: int) -> ChangeBatch | None:
    """The changes of ``rows`` (``CHANGES_AFTER``) continuing from ``after``; None if some are missing before them.

    A first row numbered above ``after + 1`` means the changes in between were pruned: the reader must reload.
    """
    batch = ChangeBatch(last=after)
    for seq, deal_id, store_id in rows:
        if batch.rows == 0 and seq != after + 1:
            return None
        batch.last = seq
        batch.rows += 1
        if deal_id is not None:
            batch.deal_ids.add(deal_id)
        if store_id is not None:
            batch.store_ids.add(store_id)
    return batch
