"""What the live streams read from PostgreSQL: the changes after a number, and the deals they name as they are now.

A deal is re-read whole (the columns of the index's ``DealRecord``) whether or not it is matchable, so that one
query per step tells both what to send for a deal still in an area and why a deal left (``reason``). "Matchable"
is the index's own rule (``geo_offers.matching.source``): active, not past its end by more than the clock-skew
day, quota and codes left.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from geo_offers.matching.records import DealRecord
from geo_offers.matching.source import CHANGES_AFTER, DEAL_COLUMNS, batch_from

FetchNamed = Callable[[str, dict[str, Any]], Awaitable[Sequence[dict[str, Any]]]]

STATES = f"""
SELECT {DEAL_COLUMNS}, d.status, d.max_redemptions, d.redemptions, d.codes_left
  FROM deals d
  JOIN stores s ON s.id = d.store_id
 WHERE d.id = ANY(%(deals)s) OR d.store_id = ANY(%(stores)s)
"""
HEAD = "SELECT seq FROM deal_change_head"
_EXTRA = ("status", "max_redemptions", "redemptions", "codes_left")


@dataclass(frozen=True, slots=True)
class DealState:
    """A deal as it is now: its record (coverage included) and, when it is not matchable, why not."""

    record: DealRecord
    reason: str | None  # None: matchable


def reason_of(row: dict[str, Any], cutoff: datetime) -> str | None:
    """Why a deal row is not matchable (the reasons of ``frames.REASONS``), or None when it is."""
    if row["status"] != "active":
        return str(row["status"])  # paused, ended or draft
    if row["valid_until"] <= cutoff:
        return "ended"
    if row["max_redemptions"] is not None and row["redemptions"] >= row["max_redemptions"]:
        return "used_up"
    if row["codes_left"] is not None and row["codes_left"] <= 0:
        return "used_up"
    return None


async def read_states(
    fetch: FetchNamed, deal_ids: Iterable[int], store_ids: Iterable[int], cutoff: datetime
) -> dict[int, DealState]:
    """The named deals, and every deal of the named stores, by deal id (a deleted deal is absent)."""
    rows = await fetch(STATES, {"deals": sorted(deal_ids), "stores": sorted(store_ids)})
    states: dict[int, DealState] = {}
    for row in rows:
        reason = reason_of(row, cutoff)
        record = DealRecord(**{name: value for name, value in row.items() if name not in _EXTRA})
        states[record.deal_id] = DealState(record=record, reason=reason)
    return states


@dataclass(slots=True)
class Missed:
    """The changes after some number: up to which number, and the number of each deal's and store's last change."""

    last: int
    deals: dict[int, int]
    stores: dict[int, int]


async def changes_after(fetch: FetchNamed, after: int, limit: int) -> Missed | None:
    """The changes after number ``after``, or None when they cannot all be had: some were pruned, ``after`` is
    ahead of this database, or more than ``limit`` rows wait (loading the catalogue again is cheaper then)."""
    head = int((await fetch(HEAD, {}))[0]["seq"])  # first: every row up to it is there unless pruned
    if after > head:
        return None
    rows = await fetch(CHANGES_AFTER, {"after": after, "limit": limit + 1})
    if len(rows) > limit or (not rows and after < head):
        return None
    triples = [(int(row["seq"]), row["deal_id"], row["store_id"]) for row in rows]
    batch = batch_from(triples, after)
    if batch is None:
        return None
    missed = Missed(last=batch.last, deals={}, stores={})
    for seq, deal_id, store_id in triples:  # ascending: the last change of each wins
        if deal_id is not None:
            missed.deals[deal_id] = seq
        if store_id is not None:
            missed.stores[store_id] = seq
    return missed
