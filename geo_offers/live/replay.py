"""Resuming a stream after ``Last-Event-ID: N``: the changes after N that touch the area, as they are now.

The change table names what changed after N (deals, and stores whose deals changed); each is re-read as it is
now and rendered as the live stream would: a ``deal`` event when it is matchable with coverage in the area, a
``removed`` event otherwise. The database keeps no old coverage, so a deal that is now matchable elsewhere cannot
be shown never to have been in the area: it is named as ``removed`` with the reason ``elsewhere``, which an app
that does not hold it simply ignores. Events are ordered by the number of each deal's last change and carry it
as their id, so a resume cut off half way resumes again without loss. When the rows after N are gone (pruned by
retention), N is ahead of this database, or too many changes wait, the answer is None: the app reloads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby

from geo_offers.live.changes import FetchNamed, changes_after, read_states
from geo_offers.live.frames import deal_event, removed_event, with_id
from geo_offers.live.hub import areas_of


@dataclass(slots=True)
class Replay:
    """What a resumed stream sends before it goes live, and the change number it covers up to."""

    upto: int
    chunks: list[bytes] = field(default_factory=list)


async def replay(
    fetch: FetchNamed, cell: int, after: int, *, coarsest_res: int, limit: int, cutoff: datetime
) -> Replay | None:
    """The events a stream of ``cell`` missed after change ``after``; None when the app must reload."""
    missed = await changes_after(fetch, after, limit)
    if missed is None:
        return None
    states = await read_states(fetch, missed.deals, missed.stores, cutoff)
    events: list[tuple[int, bytes]] = []
    for deal_id, state in states.items():
        seq = max(missed.deals.get(deal_id, 0), missed.stores.get(state.record.store_id, 0))
        inside = cell in areas_of(state.record.cells, coarsest_res)
        if inside and state.reason is None:
            events.append((seq, deal_event(state.record)))
        else:
            events.append((seq, removed_event(deal_id, state.reason or "elsewhere")))
    gone = [(seq, deal_id) for deal_id, seq in missed.deals.items() if deal_id not in states]
    events.extend((seq, removed_event(deal_id, "deleted")) for seq, deal_id in gone)
    events.sort(key=lambda item: item[0])
    chunks = [with_id([event for _, event in group], seq) for seq, group in groupby(events, key=lambda item: item[0])]
    return Replay(upto=max(after, missed.last), chunks=chunks)
